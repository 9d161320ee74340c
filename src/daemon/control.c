/* SPDX-License-Identifier: MIT */
/*
 * Control socket. Requests are short lines ("status", "set period=300");
 * each connection gets one answer and is closed, so a slow or hostile
 * client holds nothing: the request must arrive within one read of at most
 * 512 bytes, and the answer is written with a blocking send bounded by a
 * 1 s timeout. Permission: the socket file is 0600 and the peer's uid must
 * be 0 or ours (SO_PEERCRED), so group or ACL mistakes do not open it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *c = w->data;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct timeval tv = {.tv_sec = 1};
	struct pollfd pfd;
	char req[513];
	ssize_t n;
	FILE *out;
	int fd;

	fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid()))
		goto out;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 1000) != 1)
		goto out;
	n = recv(fd, req, sizeof(req) - 1, 0);
	if (n <= 0)
		goto out;
	req[n] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	out = fdopen(fd, "w");
	if (!out)
		goto out;
	c->fn(c->arg, req, out);
	fputc('\n', out);
	fclose(out); /* closes fd */
	return;
out:
	close(fd);
}

int control_start(struct control *c, struct ev_loop *loop, const char *path, control_fn fn,
                  void *arg, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	mode_t old;
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long: `%s'", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return ret;
	}
	/* A stale socket of a dead daemon is replaced; a live one is refused. */
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		snprintf(err, errlen, "`%s' is in use by a running daemon", path);
		close(c->fd);
		c->fd = -1;
		return -EADDRINUSE;
	}
	close(c->fd);
	c->fd = -1;
	/* Replace only a stale socket: a mistyped path must never delete a
	 * file (say, the private key) that happens to be there. */
	{
		struct stat st;
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "`%s' exists and is not a socket", path);
			return -EEXIST;
		}
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return ret;
	}
	(void)unlink(path);
	old = umask(077);
	ret = bind(c->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret < 0 || listen(c->fd, 16) < 0) {
		ret = -errno;
		snprintf(err, errlen, "control socket `%s': %s", path, strerror(errno));
		close(c->fd);
		c->fd = -1;
		return ret;
	}
	strcpy(c->path, path);
	c->loop = loop;
	c->fn = fn;
	c->arg = arg;
	ev_io_init(&c->io, on_accept, c->fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	return 0;
}

void control_stop(struct control *c)
{
	if (c->fd < 0)
		return;
	ev_io_stop(c->loop, &c->io);
	close(c->fd);
	c->fd = -1;
	(void)unlink(c->path);
}

int control_request(const char *path, const char *request, FILE *out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	char buf[4096], line[514];
	ssize_t n;
	int fd, ret = 0;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	/* One send: the daemon answers after one read and closes. */
	if (strlen(request) > 512)
		return -EMSGSIZE;
	snprintf(line, sizeof(line), "%s\n", request);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		ret = -errno;
		goto out;
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		fwrite(buf, 1, (size_t)n, out);
	if (n < 0)
		ret = -errno;
out:
	close(fd);
	return ret;
}
