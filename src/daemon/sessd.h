/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the daemons (srvd.c: mt6d server, clid.c: mt6d
 * client, tund.c: mt6d tunnel): formatting for mt6d show, and the one
 * state-file dance at start-up (refuse if a live daemon owns it, undo what
 * a dead one left, start a new one).
 */
#ifndef MT6D_SESSD_H
#define MT6D_SESSD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h"
#include "mt6d/tunnel.h"

const char *sessd_addr(char *buf, size_t len, const uint8_t a[static 16]);
/* s as the inside of a JSON string: `"' and `\' escaped, every byte outside
 * printable ASCII as \u00XX, so the document stays valid whatever a
 * configuration or the kernel allows in a name. Cut at an escape boundary
 * when buf is short; SESSD_JSON_LEN(n) bytes always hold n characters. */
#define SESSD_JSON_LEN(n) (6 * (n) + 1)
const char *sessd_json(char *buf, size_t len, const char *s);
/* The private key file of [server] or [client] private_key (0600), with
 * an error logged naming it. 0 or -errno. */
int sessd_private_key(uint8_t key[static MT6D_KEY_LEN], const char *path);
/* "12.3 KiB" */
const char *sessd_bytes(char *buf, size_t len, uint64_t b);
/* "1.2 s ago", "never" */
const char *sessd_ago(char *buf, size_t len, uint64_t now_ms, uint64_t then_ms);

/* Start the state file at path: -EBUSY when a running mt6d owns it;
 * otherwise undo what a previous run left (logged) and write a new one.
 * allow: what recovery accepts (state.c). */
int sessd_state_open(struct state *st, struct nl *nl, const char *path,
                     const struct state_allow *allow, const char *who);
/* Log once when the state file stops being written (a full disk, a
 * read-only directory) and once when it is written again. */
void sessd_state_note(struct state *st, const char *who);
/* The server's stored introduction configurations (introfile.c) live
 * beside its state file: X.state gives X.intro (X gives X.intro); "" when
 * the name does not fit. */
void sessd_intro_path(char *out, size_t len, const char *state_file);
/* Remove the file if nothing is left in it, and free. */
void sessd_state_close(struct state *st, const char *who);

#endif
