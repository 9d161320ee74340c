/* SPDX-License-Identifier: MIT */
/*
 * The server's stored introduction configurations (daemon.h): the K and
 * SeedIPv6_S of every live window, so that a server restarted after a
 * crash opens the introduction endpoints its clients find in the DHT at
 * once, instead of 2-5 s later under a new K that the DHT does not hold
 * yet (issue 15: clients that looked up in that gap came back after ~12 s).
 *
 * Rules this file keeps:
 *  - The file holds K, a secret of the introduction channel: it is created
 *    0600 (a new file, renamed over the old), and every buffer that held K
 *    is wiped.
 *  - One line per window, "window T period N rot_ms R seed ADDR key HEX",
 *    after the line "mt6d-intro 1". Reading is strict: a line that is not
 *    exactly that is an error naming the line, and nothing is restored
 *    from a file with one (the server then makes new configurations, as
 *    without a file).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon.h"
#include "mt6d/rendezvous.h"

int introfile_save(const char *path, const struct mt6d_intro *v, size_t n)
{
	char tmp[4096], a[INET6_ADDRSTRLEN], key[2 * MT6D_INTRO_KEY_LEN + 1];
	int fd, ret = 0;
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		return ret;
	}
	errno = 0;
	fprintf(f, "mt6d-intro 1\n");
	for (size_t i = 0; i < n; i++) {
		inet_ntop(AF_INET6, v[i].seed_addr, a, sizeof(a));
		mt6d_hex_encode(key, v[i].key, MT6D_INTRO_KEY_LEN);
		fprintf(f,
		        "window %" PRIu64 " period %" PRIu32 " rot_ms %" PRIu32 " seed %s key %s\n",
		        v[i].window, v[i].period, v[i].rot_ms, a, key);
	}
	sodium_memzero(key, sizeof(key));
	if (fflush(f) != 0 || ferror(f))
		ret = errno ? -errno : -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int introfile_parse(const char *text, size_t len, struct mt6d_intro *v, size_t max, char *err,
                    size_t errlen)
{
	size_t pos = 0, lineno = 0, n = 0;
	int ret = 0;

	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		char buf[256], a[64], key[2 * MT6D_INTRO_KEY_LEN + 2], tail;
		uint64_t window;
		uint32_t period, rot_ms;
		struct mt6d_intro in = {0};

		pos += ll + (nl ? 1 : 0);
		lineno++;
		if (ll >= sizeof(buf) || memchr(line, '\0', ll)) {
			snprintf(err, errlen, "line %zu: too long or not text", lineno);
			ret = -EINVAL;
			break;
		}
		memcpy(buf, line, ll);
		buf[ll] = '\0';
		if (lineno == 1) {
			if (strcmp(buf, "mt6d-intro 1") != 0) {
				snprintf(err, errlen, "line 1: `%.40s' is not `mt6d-intro 1'", buf);
				ret = -EINVAL;
				break;
			}
			continue;
		}
		if (sscanf(buf,
		           "window %" SCNu64 " period %" SCNu32 " rot_ms %" SCNu32
		           " seed %63s key %33s %c",
		           &window, &period, &rot_ms, a, key, &tail) != 5 ||
		    period == 0 || rot_ms == 0 || window % period != 0 ||
		    inet_pton(AF_INET6, a, in.seed_addr) != 1 ||
		    mt6d_hex_decode(in.key, MT6D_INTRO_KEY_LEN, key) < 0) {
			snprintf(err, errlen,
			         "line %zu: not `window T period N rot_ms R seed ADDR key HEX'",
			         lineno);
			ret = -EINVAL;
		} else if (n == max) {
			snprintf(err, errlen, "line %zu: more than %zu windows", lineno, max);
			ret = -E2BIG;
		}
		sodium_memzero(buf, sizeof(buf));
		sodium_memzero(key, sizeof(key));
		if (ret < 0) {
			sodium_memzero(&in, sizeof(in));
			break;
		}
		in.window = window;
		in.period = period;
		in.rot_ms = rot_ms;
		v[n++] = in;
		sodium_memzero(&in, sizeof(in));
	}
	if (ret == 0 && lineno == 0) {
		snprintf(err, errlen, "empty");
		ret = -EINVAL;
	}
	if (ret < 0) {
		sodium_memzero(v, max * sizeof(*v));
		return ret;
	}
	return (int)n;
}

int introfile_load(const char *path, struct mt6d_intro *v, size_t max, char *err, size_t errlen)
{
	char text[4096];
	ssize_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	len = read(fd, text, sizeof(text));
	close(fd);
	if (len < 0 || (size_t)len == sizeof(text)) {
		snprintf(err, errlen, "%s: %s", path, len < 0 ? strerror(errno) : "too large");
		sodium_memzero(text, sizeof(text));
		return -EINVAL;
	}
	ret = introfile_parse(text, (size_t)len, v, max, err, errlen);
	sodium_memzero(text, sizeof(text));
	if (ret < 0) {
		char tmp[256];

		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "%s: %s", path, tmp);
	}
	return ret;
}
