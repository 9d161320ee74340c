/* SPDX-License-Identifier: MIT */
/* Entry point: dispatch to a subcommand from the table, which also makes
 * the usage text. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char *cli_prog = "mt6d";

static const struct cli_command commands[] = {
        {"genkey", cmd_genkey, "print a new private key"},
        {"pubkey", cmd_pubkey, "read a private key on stdin, print its public key"},
        {"derive", cmd_derive,
         "compute a protocol v1 value (descriptor, seed-iid, address, bep44)"},
        {"seal", cmd_seal, "seal a configuration for a client, print it as hex"},
        {"open", cmd_open, "open a sealed configuration read as hex on stdin"},
        {"stuff", cmd_stuff, "hex message on stdin to announce ports, one per line"},
        {"unstuff", cmd_unstuff, "ports on stdin (optionally with their IP) to hex messages"},
        {"publish", cmd_publish, "publish sealed configurations for every registered client"},
        {"lookup", cmd_lookup, "find this client's configuration from the server's key"},
        {"status", cmd_status, "print a running daemon's status (JSON)"},
        {"set", cmd_set, "change a running daemon's publication or rotation period"},
        {"dht", cmd_dht, "BitTorrent Mainline DHT: run nodes, look up, announce, put, get"},
        {"tunnel", cmd_tunnel, "run a static two-peer MT6D tunnel from a config file"},
        {"server", cmd_server, "run the server: rendezvous, introduction, client sessions"},
        {"client", cmd_client, "run a client: find the server, establish a session, keep it"},
        {"show", cmd_show, "show a running server's or client's sessions and addresses"},
        {"teardown", cmd_teardown, "end a client's session on a running server"},
        {"web", cmd_web, "serve a running daemon's dashboard, HTTP API and metrics"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s <cmd> [<args>]\n\nAvailable subcommands:\n", cli_prog);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun '%s <cmd> --help' for a subcommand's options. See mt6d(8).\n", cli_prog);
}

static const struct cli_command *find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

/* `mt6d help NAME`: NAME's usage on stdout, exit 0; an unknown NAME (or
 * more than one) is a usage error. A subcommand prints its usage for
 * --help, on stderr when it does not take the option (a usage error, 2),
 * so it runs with stderr on stdout and 2 means its usage was printed. */
static int help(int argc, char **argv)
{
	const struct cli_command *c = find(argv[1]);
	char opt[] = "--help", *hargv[] = {argv[1], opt, NULL};
	int ret;

	if (!c || argc != 2) {
		fprintf(stderr, "%s: help: %s `%s'\n", cli_prog,
		        c ? "one subcommand at a time, not" : "no subcommand", argv[c ? 2 : 1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	fflush(stdout);
	if (dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
		return 1;
	ret = c->run(2, hargv);
	return ret == EXIT_USAGE ? 0 : ret;
}

int main(int argc, char **argv)
{
	const struct cli_command *c;

	if (mt6d_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to start\n", cli_prog);
		return 1;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help") && argc > 2)
		return help(argc - 1, argv + 1);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("mt6d %s\n", MT6D_VERSION);
		return 0;
	}
	c = find(argv[1]);
	if (c)
		return c->run(argc - 1, argv + 1);
	fprintf(stderr, "%s: invalid subcommand `%s'\n", cli_prog, argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
