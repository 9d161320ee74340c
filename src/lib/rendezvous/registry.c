/* SPDX-License-Identifier: MIT */
/*
 * The server's registry of clients: one "PUBLICKEY NAME" line per client.
 * Parsing is strict and names the line of the first error; a registry with
 * an error is refused whole, so a typo never silently drops a client.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt6d/rendezvous.h"

#define REGISTRY_MAX_BYTES (64u << 20)

static int name_ok(const char *s, size_t len)
{
	if (len < 1 || len > MT6D_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '@'))
			return 0;
	}
	return 1;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(((const struct mt6d_client_entry *)a)->pub,
	              ((const struct mt6d_client_entry *)b)->pub, MT6D_KEY_LEN);
}

int mt6d_registry_parse(struct mt6d_registry *reg, const char *text, size_t len, char *err,
                        size_t errlen)
{
	struct mt6d_client_entry *v = NULL, *sorted = NULL;
	size_t n = 0, cap = 0, pos = 0, lineno = 0;
	int ret = -EINVAL;

	reg->clients = NULL;
	reg->n = 0;
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos, a = 0, b;
		char key[MT6D_KEY_B64_LEN + 1];

		pos += ll + (nl ? 1 : 0);
		lineno++;
		if (ll && line[ll - 1] == '\r')
			ll--;
		while (a < ll && (line[a] == ' ' || line[a] == '\t'))
			a++;
		if (a == ll || line[a] == '#')
			continue;
		if (memchr(line, '\0', ll)) {
			snprintf(err, errlen, "line %zu: contains a NUL byte", lineno);
			goto out;
		}
		b = a;
		while (b < ll && line[b] != ' ' && line[b] != '\t')
			b++;
		if (b - a != MT6D_KEY_B64_LEN) {
			snprintf(err, errlen, "line %zu: `%.*s' is not a base64 public key", lineno,
			         (int)(b - a > 60 ? 60 : b - a), line + a);
			goto out;
		}
		memcpy(key, line + a, MT6D_KEY_B64_LEN);
		key[MT6D_KEY_B64_LEN] = '\0';
		if (n == cap) {
			struct mt6d_client_entry *nv;
			cap = cap ? 2 * cap : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				ret = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			v = nv;
		}
		memset(&v[n], 0, sizeof(v[n]));
		if (mt6d_key_from_base64(v[n].pub, key) != 0) {
			snprintf(err, errlen, "line %zu: `%s' is not a base64 public key", lineno,
			         key);
			goto out;
		}
		while (b < ll && (line[b] == ' ' || line[b] == '\t'))
			b++;
		a = b;
		while (b < ll && line[b] != ' ' && line[b] != '\t')
			b++;
		if (!name_ok(line + a, b - a)) {
			snprintf(err, errlen,
			         "line %zu: name `%.*s' is not 1-%d characters of [A-Za-z0-9._@-]",
			         lineno, (int)(b - a > 80 ? 80 : b - a), line + a, MT6D_NAME_MAX);
			goto out;
		}
		memcpy(v[n].name, line + a, b - a);
		while (b < ll && (line[b] == ' ' || line[b] == '\t'))
			b++;
		if (b != ll) {
			snprintf(err, errlen, "line %zu: unexpected `%.*s' after the name", lineno,
			         (int)(ll - b > 40 ? 40 : ll - b), line + b);
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			if (!strcmp(v[i].name, v[n].name)) {
				snprintf(err, errlen, "line %zu: name `%s' is already used", lineno,
				         v[n].name);
				goto out;
			}
		n++;
	}
	/* Duplicate keys: sort a copy and compare neighbours. */
	if (n > 1) {
		sorted = malloc(n * sizeof(*sorted));
		if (!sorted) {
			ret = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		memcpy(sorted, v, n * sizeof(*v));
		qsort(sorted, n, sizeof(*sorted), key_cmp);
		for (size_t i = 1; i < n; i++)
			if (!key_cmp(&sorted[i - 1], &sorted[i])) {
				snprintf(err, errlen,
				         "clients `%s' and `%s' have the same public key",
				         sorted[i - 1].name, sorted[i].name);
				goto out;
			}
	}
	reg->clients = v;
	reg->n = n;
	v = NULL;
	ret = 0;
out:
	free(sorted);
	free(v);
	return ret;
}

int mt6d_registry_load(struct mt6d_registry *reg, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > REGISTRY_MAX_BYTES) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path,
		         REGISTRY_MAX_BYTES);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? -errno : -EIO;
			snprintf(err, errlen, "%s: short read", path);
			goto out;
		}
		len += (size_t)r;
	}
	ret = mt6d_registry_parse(reg, buf, len, err, errlen);
	if (ret < 0) {
		/* Prefix the path: "clients.txt: line 3: ..." */
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "%s: %s", path, tmp);
	}
out:
	free(buf);
	close(fd);
	return ret;
}

void mt6d_registry_free(struct mt6d_registry *reg)
{
	if (!reg)
		return;
	free(reg->clients);
	reg->clients = NULL;
	reg->n = 0;
}
