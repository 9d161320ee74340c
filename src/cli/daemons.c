/* SPDX-License-Identifier: MIT */
/*
 * mt6d server, mt6d client, mt6d tunnel: the options (`-c FILE`, `-v` for
 * the tunnel, `-h`), then the daemon layer's entry point (daemons.h). The
 * daemons themselves are in src/daemon; nothing there calls back up here.
 */
#include <stdbool.h>

#include "cli.h"
#include "daemons.h"

int cmd_server(int argc, char **argv)
{
	const char *path = NULL;
	int ret = cli_daemon_opts(argc, argv, "server", &path, NULL);

	if (ret)
		return ret < 0 ? 0 : ret;
	return srvd_main(path);
}

int cmd_client(int argc, char **argv)
{
	const char *path = NULL;
	int ret = cli_daemon_opts(argc, argv, "client", &path, NULL);

	if (ret)
		return ret < 0 ? 0 : ret;
	return clid_main(path);
}

int cmd_tunnel(int argc, char **argv)
{
	const char *path = NULL;
	bool verbose = false;
	int ret = cli_daemon_opts(argc, argv, "tunnel", &path, &verbose);

	if (ret)
		return ret < 0 ? 0 : ret;
	return tund_main(path, verbose);
}
