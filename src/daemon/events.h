/* SPDX-License-Identifier: MIT */
/*
 * The events of the control socket (docs/web.md): what the session daemons tell `events`
 * subscribers, one JSON object a line. Each daemon calls one function per place an event
 * happens; the counters that have no callback (claims refused, publication progress, the
 * DHT table) are compared with their last value on every tick. Nothing is formatted when
 * nobody subscribed. No event carries a key.
 */
#ifndef MT6D_EVENTS_H
#define MT6D_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "control.h"
#include "mt6d/client.h"
#include "mt6d/dht.h"
#include "mt6d/rendezvous.h"
#include "mt6d/server.h"

/* The last values seen by events_poll_*. Zeroed at start. */
struct events_watch {
	uint64_t claims_refused[4], claims_accepted, client_rebinds;
	uint64_t round_window, round_done, round_failed, round_total;
	uint64_t dht_nodes;
	uint64_t last_ms;
	bool primed;
};

/* The slot callback of a session's tunnel: a rotation event when slot sl completes the
 * window, i.e. the session's current slot became sl->slot - 1. */
void events_slot(struct control *c, const char *session, const struct mt6d_tun_session *t,
                 const struct mt6d_tun_slot *sl, bool add);
void events_session(struct control *c, const char *session, bool up, const char *reason);
/* The client daemon's state change. */
void events_client_state(struct control *c, const struct mt6d_cli *cli, enum mt6d_cli_state from,
                         enum mt6d_cli_state to);
/* res NULL: timed out. */
void events_lookup(struct control *c, const struct mt6d_lookup_result *res, uint64_t ms);
void events_poll_server(struct control *c, struct events_watch *w, const struct mt6d_srv *srv,
                        const struct mt6d_pub *pub, const struct mt6d_dht *dht, uint64_t now_ms);
void events_poll_client(struct control *c, struct events_watch *w, const struct mt6d_cli *cli,
                        const struct mt6d_dht *dht, uint64_t now_ms);

/* The session name a client daemon uses for its one session. */
#define EVENTS_CLIENT_SESSION "server"

#endif
