/* SPDX-License-Identifier: MIT */
/*
 * The daemon layer's entry points, the one header of src/daemon that
 * src/cli needs to start a daemon: the command line (`mt6d server -c FILE`
 * and so on, src/cli/daemons.c) parses the options and calls one of these,
 * which runs until SIGINT or SIGTERM. Each returns the process's exit code:
 * 0, or 1 after logging why (log.h).
 */
#ifndef MT6D_DAEMONS_H
#define MT6D_DAEMONS_H

#include <stdbool.h>

int srvd_main(const char *config_path);               /* mt6d server (srvd.c) */
int clid_main(const char *config_path);               /* mt6d client (clid.c) */
int tund_main(const char *config_path, bool verbose); /* mt6d tunnel (tund.c) */

#endif
