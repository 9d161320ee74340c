/* SPDX-License-Identifier: MIT */
/*
 * bench/binding: hold n addresses the way mode = ndp does (src/daemon/ndp.c:
 * the receive rule and route, the responder, the address set), without
 * sessions, so the neighbour's prober can time them.
 *
 *   ndp_hold UPLINK PREFIX/64 ADDRFILE STATEFILE
 *
 * ADDRFILE: one address of the /64 a line. Prints "ready N" once all are
 * in the set and the responder listens; runs until SIGINT or SIGTERM, then
 * removes its rule and route. Rules this file keeps: everything it adds is
 * in the state file first (a killed run is undone by the next one).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <sodium.h>

#include <mt6d/mt6d.h>

#include "daemon.h"
#include "ndp.h"

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	uint8_t prefix[16], a[16];
	char line[128], err[256];
	unsigned plen;
	struct nl *nl = NULL;
	struct state st;
	struct ndp *n;
	ev_signal si, st_;
	long pid;
	size_t count = 0;
	FILE *f;
	int ret = 1;

	if (argc != 5 || sodium_init() < 0 || !loop) {
		fprintf(stderr, "usage: ndp_hold UPLINK PREFIX/64 ADDRFILE STATEFILE\n");
		return 2;
	}
	if (mt6d_prefix_parse(prefix, &plen, argv[2], 64) < 0) {
		fprintf(stderr, "ndp_hold: not an IPv6 prefix ADDRESS/64: `%s'\n", argv[2]);
		return 2;
	}
	if (nl_open(&nl) < 0 ||
	    state_recover(argv[4], nl, &pid, &(struct state_allow){.uplink = argv[1]}) < 0 ||
	    state_init(&st, argv[4]) < 0 || state_write(&st) < 0) {
		fprintf(stderr, "ndp_hold: netlink or state file %s: %s\n", argv[4],
		        strerror(errno));
		return 1;
	}
	if ((ret = ndp_routing(nl, &st, true, argv[1], prefix)) < 0) {
		fprintf(stderr, "ndp_hold: rule and route: %s\n", strerror(-ret));
		goto out;
	}
	n = ndp_open(loop, argv[1], prefix, err, sizeof(err));
	if (!n) {
		fprintf(stderr, "ndp_hold: %s\n", err);
		goto routing;
	}
	f = fopen(argv[3], "re");
	if (!f) {
		fprintf(stderr, "ndp_hold: %s: %s\n", argv[3], strerror(errno));
		goto close;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (mt6d_prefix_parse(a, &plen, line, 0) < 0 || plen != 128) {
			fprintf(stderr, "ndp_hold: %s: not an IPv6 address: `%s'\n", argv[3], line);
			fclose(f);
			goto close;
		}
		ndp_slot(n, a, true);
		count++;
	}
	fclose(f);
	printf("ready %zu\n", ndp_count(n));
	fflush(stdout);
	ev_signal_init(&si, on_signal, SIGINT);
	ev_signal_init(&st_, on_signal, SIGTERM);
	ev_signal_start(loop, &si);
	ev_signal_start(loop, &st_);
	ev_run(loop, 0);
	{
		struct ndp_stats s;

		ndp_get_stats(n, &s);
		fprintf(stderr,
		        "ndp_hold: %zu addresses, %llu solicitations, %llu answered, %llu lost\n",
		        count, (unsigned long long)s.ns_rx, (unsigned long long)s.na_tx,
		        (unsigned long long)s.rx_lost);
	}
	ret = 0;
close:
	ndp_close(n);
routing:
	ndp_routing(nl, &st, false, argv[1], prefix);
out:
	if (st.n == 0)
		remove(st.path);
	state_free(&st);
	nl_close(nl);
	return ret;
}
