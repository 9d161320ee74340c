/* SPDX-License-Identifier: MIT */
/* libFuzzer: the daemons' state file (state_load, src/daemon/state.c), read
 * at a restart as root. Whatever the bytes, every item accepted is one mt6d
 * writes: an mt6dPORT table, a /64 local route on lo, or a /128 address on
 * the uplink. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/mt6d-fuzz-state-XXXXXX", path[64];
static int devnull = -1, saved = -1;

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_allow allow = {.uplink = "veth0"};
	struct state_item *items;
	size_t n;
	unsigned refused;
	long pid;
	int fd, ret;

	if (size > 65536)
		return 0;
	if (!path[0]) {
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/f.state", dir);
		atexit(cleanup);
		devnull = open("/dev/null", O_WRONLY);
		saved = dup(2);
		if (devnull < 0 || saved < 0)
			abort();
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	/* the refusals are logged on stderr, libFuzzer's stats too: silence
	 * only the former */
	fflush(stderr);
	dup2(devnull, 2);
	ret = state_load(path, &allow, &items, &n, &pid, &refused);
	fflush(stderr);
	dup2(saved, 2);
	if (ret > 0 || (ret < 0 && n))
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct state_item *it = &items[i];
		if (it->kind == STATE_NFT_TABLE && (strncmp(it->ifname, "mt6d", 4) || it->plen))
			abort();
		if (it->kind == STATE_ROUTE_LOCAL && (strcmp(it->ifname, "lo") || it->plen != 64))
			abort();
		if (it->kind == STATE_ADDR && (strcmp(it->ifname, "veth0") || it->plen != 128))
			abort();
	}
	free(items);
	return 0;
}
