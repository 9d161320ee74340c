/* SPDX-License-Identifier: MIT */
/*
 * The mt6d command: one file per subcommand, a table in mt6d.c that also
 * makes the usage text. A subcommand returns its exit code: 0, 1 for an
 * error (message on stderr), 2 for a usage error.
 */
#ifndef MT6D_CLI_H
#define MT6D_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mt6d/mt6d.h"

#define EXIT_USAGE 2

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

extern const char *cli_prog; /* "mt6d" or what argv[0] was */

int cmd_genkey(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_derive(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_stuff(int argc, char **argv);
int cmd_unstuff(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_dht(int argc, char **argv);
int cmd_tunnel(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_teardown(int argc, char **argv);
int cmd_web(int argc, char **argv);

/* Print "mt6d: <message>" to stderr; return 1 (cli_fail) or 2 (cli_usage). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Each parser prints its own error naming the option and quoting the
 * value, and returns 0 or -1. */
int cli_u64(uint64_t *v, const char *opt, const char *s, uint64_t min, uint64_t max);
int cli_hex(uint8_t *out, size_t len, const char *opt, const char *s);
int cli_pubkey(uint8_t key[static MT6D_KEY_LEN], const char *opt, const char *s);
int cli_privkey_file(uint8_t key[static MT6D_KEY_LEN], const char *opt, const char *path);
int cli_ipv6(uint8_t addr[static 16], const char *opt, const char *s);
/* "ADDR/64": the first 8 bytes of ADDR. */
int cli_prefix64(uint8_t prefix[static 8], const char *opt, const char *s);
/* "A.B.C.D:PORT" or "[V6]:PORT", port 1-65535: the address as 16 bytes
 * (IPv4 as ::ffff:a.b.c.d) and the port. */
int cli_endpoint(uint8_t addr[static 16], uint16_t *port, const char *opt, const char *s);
/* (The reverse is mt6d_endpoint_format, include/mt6d/mt6d.h.) */
/*
 * The options of the daemons (`mt6d CMD`): `-c FILE` (required), `-v` when
 * verbose is not NULL, `-h`.
 * Returns 0 with *path set; -1 after printing help (exit 0); EXIT_USAGE
 * after printing usage.
 */
int cli_daemon_opts(int argc, char **argv, const char *cmd, const char **path, bool *verbose);
/* Read all of stdin (at most cap-1 bytes) as a NUL-terminated string;
 * -1 with a message when it is longer. */
int cli_read_stdin(char *buf, size_t cap);
/* A shared secret from a key file and a peer's public key, with messages. */
int cli_shared_secret(uint8_t s[static MT6D_KEY_LEN], const char *keyfile, const char *peer);

#endif
