/* SPDX-License-Identifier: MIT */
/*
 * The daemon's control socket: a Unix stream socket with no group or other access, that
 * accepts one request line and answers one JSON object, then closes. Peers
 * are checked with SO_PEERCRED: only root and the daemon's own user.
 */
#ifndef MT6D_CONTROL_H
#define MT6D_CONTROL_H

#include <stddef.h>
#include <stdio.h>

#include <ev.h>

/* Answer one request: write a JSON object to out. */
typedef void (*control_fn)(void *arg, const char *request, FILE *out);

struct control {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	char path[108];
	control_fn fn;
	void *arg;
};

int control_start(struct control *c, struct ev_loop *loop, const char *path, control_fn fn,
                  void *arg, char *err, size_t errlen);
void control_stop(struct control *c);
/* Client side: send request, copy the answer to out. 0 or -errno. */
int control_request(const char *path, const char *request, FILE *out);

#endif
