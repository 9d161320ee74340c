/* SPDX-License-Identifier: MIT */
/*
 * mt6d show [--socket PATH] [--json]: what a running server or client is
 * doing, like `wg show`: its sessions, their current addresses and ports,
 * slot, bytes and last packet. The daemon formats the text; --json asks
 * for the same as JSON (the `status` request), --brief for the JSON
 * without the list of sessions (a server may hold 100,000).
 *
 * mt6d teardown [--socket PATH] NAME: end that client's session on a
 * running server at once (message 2 is sent to the client).
 *
 * Both go through the control socket, which only root and the daemon's
 * own user may use (control.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "control.h"

#define DEFAULT_SOCKET "/run/mt6d/mt6d.sock"

static int ask(const char *sock, const char *req)
{
	int ret = control_request(sock, req, stdout);

	if (ret < 0)
		return cli_fail("control socket `%s': %s", sock, strerror(-ret));
	return 0;
}

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"socket", required_argument, NULL, 's'},
	        {"json", no_argument, NULL, 'j'},
	        {"brief", no_argument, NULL, 'b'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *sock = DEFAULT_SOCKET;
	int c, json = 0, brief = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:jbh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'b':
			brief = 1;
			break;
		case 'h':
			printf("Usage: %s show [--socket PATH] [--json [--brief]]\n", cli_prog);
			return 0;
		default:
			return cli_usage("Usage: %s show [--socket PATH] [--json [--brief]]",
			                 cli_prog);
		}
	}
	if (optind != argc)
		return cli_usage("Usage: %s show [--socket PATH] [--json [--brief]]", cli_prog);
	return ask(sock, brief ? "status brief" : json ? "status" : "show");
}

int cmd_teardown(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"socket", required_argument, NULL, 's'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *sock = DEFAULT_SOCKET;
	char req[128];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'h':
			printf("Usage: %s teardown [--socket PATH] CLIENT-NAME\n", cli_prog);
			return 0;
		default:
			return cli_usage("Usage: %s teardown [--socket PATH] CLIENT-NAME",
			                 cli_prog);
		}
	}
	if (optind != argc - 1 || strlen(argv[optind]) > 63 || strchr(argv[optind], '\n'))
		return cli_usage("Usage: %s teardown [--socket PATH] CLIENT-NAME", cli_prog);
	snprintf(req, sizeof(req), "teardown %s", argv[optind]);
	return ask(sock, req);
}
