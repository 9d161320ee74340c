/* SPDX-License-Identifier: MIT */
/*
 * Control-socket events (events.h).
 *
 * Rules this file keeps:
 *  - One rotation event per slot per session: the slot callback reports each slot that
 *    enters the window; the event is sent when the slot entering is the newest of a full
 *    window (cur-1, cur, cur+1), so start-up (three slots at once) and a late tick (two)
 *    each give one event, for the slot that is current.
 *  - Every value is an endpoint, a name, a counter or a time: no key passes through here.
 *  - Names are JSON-escaped; nothing is formatted unless someone subscribed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "events.h"
#include "sessd.h"

static const char *esc(char *buf, size_t len, const char *s)
{
	size_t j = 0;

	for (; *s && j + 7 < len; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			buf[j++] = '\\';
			buf[j++] = (char)ch;
		} else if (ch < 0x20) {
			j += (size_t)snprintf(buf + j, len - j, "\\u%04x", ch);
		} else {
			buf[j++] = (char)ch;
		}
	}
	buf[j] = '\0';
	return buf;
}

void events_slot(struct control *c, const char *session, const struct mt6d_tun_session *t,
                 const struct mt6d_tun_slot *sl, bool add)
{
	const struct mt6d_tun_slot *cur, *prev;
	char n[160], l[80], r[80];
	uint64_t k = sl->slot;

	if (!add || !control_listening(c) || k < 2)
		return;
	cur = &t->win[(k - 1) % MT6D_TUN_SLOTS];
	prev = &t->win[(k - 2) % MT6D_TUN_SLOTS];
	if (!cur->valid || cur->slot != k - 1 || !prev->valid || prev->slot != k - 2)
		return;
	control_emitf(c,
	              "{\"event\":\"rotation\",\"session\":\"%s\",\"slot\":%" PRIu64
	              ",\"local\":\"%s\",\"remote\":\"%s\",\"rotation_ms\":%u}",
	              esc(n, sizeof(n), session), k - 1,
	              mt6d_endpoint_format(l, sizeof(l), &cur->local),
	              mt6d_endpoint_format(r, sizeof(r), &cur->remote), t->rot_ms);
}

void events_session(struct control *c, const char *session, bool up, const char *reason)
{
	char n[160];

	control_emitf(c, "{\"event\":\"session\",\"session\":\"%s\",\"up\":%s,\"reason\":\"%s\"}",
	              esc(n, sizeof(n), session), up ? "true" : "false", reason);
}

void events_client_state(struct control *c, const struct mt6d_cli *cli, enum mt6d_cli_state from,
                         enum mt6d_cli_state to)
{
	if (!control_listening(c))
		return;
	control_emitf(c, "{\"event\":\"state\",\"from\":\"%s\",\"to\":\"%s\"}",
	              mt6d_cli_state_name(from), mt6d_cli_state_name(to));
	if (to == MT6D_CLI_SESSION)
		events_session(c, EVENTS_CLIENT_SESSION, true, "established");
	else if (from == MT6D_CLI_SESSION)
		events_session(c, EVENTS_CLIENT_SESSION, false,
		               to == MT6D_CLI_CLOSED ? "closed" : mt6d_cli_state_name(to));
}

void events_lookup(struct control *c, const struct mt6d_lookup_result *res, uint64_t ms)
{
	if (!res)
		control_emitf(c,
		              "{\"event\":\"lookup\",\"ok\":false,\"result\":\"timed out\","
		              "\"duration_ms\":%" PRIu64 "}",
		              ms);
	else
		control_emitf(
		        c,
		        "{\"event\":\"lookup\",\"ok\":%s,\"result\":\"%s\",\"window\":%" PRIu64
		        ",\"transport\":\"%s\",\"duration_ms\":%" PRIu64 "}",
		        res->step == MT6D_LOOKUP_OK ? "true" : "false",
		        mt6d_lookup_step_name(res->step), res->window,
		        mt6d_rdv_transport_name(res->transport), ms);
}

static void poll_dht(struct control *c, struct events_watch *w, const struct mt6d_dht *dht)
{
	struct mt6d_dht_stats ds;
	uint64_t nodes;

	if (!dht)
		return;
	mt6d_dht_get_stats(dht, &ds);
	nodes = (uint64_t)ds.nodes4 + ds.nodes6;
	if (w->primed && nodes == w->dht_nodes)
		return;
	w->dht_nodes = nodes;
	control_emitf(c,
	              "{\"event\":\"dht\",\"nodes\":%" PRIu64 ",\"good\":%u,\"nodes4\":%u,"
	              "\"nodes6\":%u}",
	              nodes, ds.good4 + ds.good6, ds.nodes4, ds.nodes6);
}

void events_poll_server(struct control *c, struct events_watch *w, const struct mt6d_srv *srv,
                        const struct mt6d_pub *pub, const struct mt6d_dht *dht, uint64_t now_ms)
{
	struct mt6d_srv_stats st;
	struct mt6d_pub_status ps;
	char n[160], r[80];

	if (!control_listening(c)) {
		w->primed = false; /* a new subscriber gets the current values */
		return;
	}
	mt6d_srv_get_stats(srv, &st);
	for (int i = 0; i < 4; i++) {
		if (w->primed && st.claims_refused[i] > w->claims_refused[i])
			control_emitf(
			        c,
			        "{\"event\":\"claim_refused\",\"reason\":\"%s\",\"count\":%" PRIu64
			        ",\"total\":%" PRIu64 "}",
			        mt6d_srv_claim_name((enum mt6d_srv_claim)i),
			        st.claims_refused[i] - w->claims_refused[i], st.claims_refused[i]);
		w->claims_refused[i] = st.claims_refused[i];
	}
	if (w->primed && st.claims_accepted > w->claims_accepted)
		for (const struct mt6d_srv_session *s = mt6d_srv_first(srv); s; s = s->next) {
			struct mt6d_endpoint le, re;

			if (!s->rebinds || s->rebind_ms < w->last_ms)
				continue;
			mt6d_srv_session_endpoints(s, &le, &re);
			control_emitf(
			        c,
			        "{\"event\":\"rebind\",\"session\":\"%s\",\"rebinds\":%" PRIu64
			        ",\"remote\":\"%s\"}",
			        esc(n, sizeof(n), s->name), s->rebinds,
			        mt6d_endpoint_format(r, sizeof(r), &re));
		}
	w->claims_accepted = st.claims_accepted;
	if (pub) {
		mt6d_pub_get_status(pub, &ps);
		if (!w->primed || ps.round_window != w->round_window ||
		    ps.round_done != w->round_done || ps.round_failed != w->round_failed ||
		    ps.round_total != w->round_total)
			control_emitf(c,
			              "{\"event\":\"publication\",\"window\":%" PRIu64
			              ",\"round_window\":%" PRIu64 ",\"done\":%zu,\"failed\":%zu,"
			              "\"total\":%zu,\"inflight\":%zu,\"elapsed_ms\":%" PRIu64 "}",
			              ps.window, ps.round_window, ps.round_done, ps.round_failed,
			              ps.round_total, ps.round_inflight, ps.round_elapsed_ms);
		w->round_window = ps.round_window;
		w->round_done = ps.round_done;
		w->round_failed = ps.round_failed;
		w->round_total = ps.round_total;
	}
	poll_dht(c, w, dht);
	w->last_ms = now_ms;
	w->primed = true;
}

void events_poll_client(struct control *c, struct events_watch *w, const struct mt6d_cli *cli,
                        const struct mt6d_dht *dht, uint64_t now_ms)
{
	if (!control_listening(c)) {
		w->primed = false;
		return;
	}
	if (w->primed && cli->stats.rebinds > w->client_rebinds)
		control_emitf(c,
		              "{\"event\":\"rebind\",\"session\":\"%s\",\"rebinds\":%" PRIu64 "}",
		              EVENTS_CLIENT_SESSION, cli->stats.rebinds);
	w->client_rebinds = cli->stats.rebinds;
	poll_dht(c, w, dht);
	w->last_ms = now_ms;
	w->primed = true;
}
