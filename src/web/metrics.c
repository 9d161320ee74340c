/* SPDX-License-Identifier: MIT */
/*
 * /metrics: a status document (the one of `mt6d show --json`, server or client) as
 * Prometheus text exposition, version 0.0.4.
 *
 * Rules this file keeps:
 *  - Every value is read from the same document /api/v1/status serves, so the two agree
 *    when read at the same moment; the histograms and the mt6d_web_* counters are this
 *    process's own (from the event stream).
 *  - Names are pinned by issue 12: mt6d_sessions, mt6d_rx_bytes_total, mt6d_tx_bytes_total,
 *    mt6d_rotations_total, mt6d_dropped_packets_total{reason}, mt6d_claims_total{result}.
 *  - Drops by reason come from the document's "dropped" object when it has one; otherwise
 *    from the drop counters its "stats" holds. Label values are restricted to
 *    [A-Za-z0-9_]; anything else is skipped.
 *  - Only counters, gauges and names: the document holds no secret, and nothing but numbers
 *    and known names is copied from it.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "web.h"

static const struct {
	const char *key, *reason;
} drop_keys[] = {
        {"rx_forged", "forged"},
        {"rx_replayed", "replayed"},
        {"rx_truncated", "truncated"},
        {"rx_bad_inner", "bad_inner"},
        {"rx_spoofed", "spoofed"},
        {"rx_no_session", "no_session"},
        {"rx_not_ours", "not_ours"},
        {"rx_bad_msg", "bad_msg"},
        {"intro_unknown", "intro_unknown"},
        {"intro_bad_source", "intro_bad_source"},
        {"intro_forged", "intro_forged"},
        {"intro_replayed", "intro_replayed"},
        {"intro_stale", "intro_stale"},
        {"intro_bad_msg", "intro_bad_msg"},
};

static const struct {
	const char *key, *result;
} claim_keys[] = {
        {"claims_accepted", "accepted"},
        {"claims_refused_bad", "refused_bad"},
        {"claims_refused_location", "refused_location"},
        {"claims_refused_stale", "refused_stale"},
        {"claims_refused_replayed", "refused_replayed"},
        {"claims_sent", "sent"},
};

static bool label_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '_') ||
		    n >= 64)
			return false;
	return n > 0;
}

static void value(FILE *out, json_t *v)
{
	if (json_is_integer(v))
		fprintf(out, "%" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
	else
		fprintf(out, "%.17g\n", json_number_value(v));
}

static void head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The sum of key over the server's sessions, or the client's top-level value. */
static json_int_t sum(json_t *doc, const char *key, bool server)
{
	json_t *s, *v;
	json_int_t t = 0;
	size_t i;

	if (!server) {
		v = json_object_get(doc, key);
		return json_is_integer(v) ? json_integer_value(v) : 0;
	}
	json_array_foreach(json_object_get(doc, "sessions"), i, s)
	{
		v = json_object_get(s, key);
		if (json_is_integer(v))
			t += json_integer_value(v);
	}
	return t;
}

static void hist(FILE *out, const char *name, const char *help, const struct web_hist *h)
{
	uint64_t cum = 0;

	head(out, name, "histogram", help);
	for (unsigned i = 0; i < h->n; i++) {
		cum += h->count[i];
		fprintf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, h->le[i], cum);
	}
	fprintf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n",
	        name, h->total, name, h->sum, name, h->total);
}

static void own(FILE *out, struct web *w)
{
	struct web_hist pub, lookup;
	uint64_t events, dropped, reconnects;
	double dht;
	bool have_dht, connected;

	pthread_mutex_lock(&w->mu);
	pub = w->pub_hist;
	lookup = w->lookup_hist;
	events = w->events_total;
	dropped = w->sse_dropped;
	reconnects = w->reconnects;
	dht = w->dht_nodes;
	have_dht = w->have_dht;
	connected = w->connected;
	pthread_mutex_unlock(&w->mu);
	hist(out, "mt6d_publication_duration_seconds",
	     "Duration of the publication rounds seen by this process.", &pub);
	hist(out, "mt6d_lookup_duration_seconds", "Duration of the lookups seen by this process.",
	     &lookup);
	if (have_dht) {
		head(out, "mt6d_dht_nodes", "gauge", "Nodes in the daemon's DHT routing table.");
		fprintf(out, "mt6d_dht_nodes %.0f\n", dht);
	}
	head(out, "mt6d_web_events_connected", "gauge",
	     "Whether this process follows the daemon's event stream.");
	fprintf(out, "mt6d_web_events_connected %d\n", connected ? 1 : 0);
	head(out, "mt6d_web_events_total", "counter", "Events received from the daemon.");
	fprintf(out, "mt6d_web_events_total %" PRIu64 "\n", events);
	head(out, "mt6d_web_sse_dropped_total", "counter",
	     "SSE clients dropped for falling a whole ring behind.");
	fprintf(out, "mt6d_web_sse_dropped_total %" PRIu64 "\n", dropped);
	head(out, "mt6d_web_reconnects_total", "counter", "Times the event stream was lost.");
	fprintf(out, "mt6d_web_reconnects_total %" PRIu64 "\n", reconnects);
}

int web_metrics(FILE *out, const char *status, size_t len, struct web *w, char *err, size_t errlen)
{
	json_t *doc = json_loadb(status, len, 0, NULL), *stats, *dropped, *v, *pub;
	const char *role = doc ? json_string_value(json_object_get(doc, "role")) : NULL;
	const char *key;
	bool server;

	if (!doc || !json_is_object(doc) || !role ||
	    (strcmp(role, "server") != 0 && strcmp(role, "client") != 0)) {
		snprintf(err, errlen, "the daemon's status is not a server's or client's document");
		json_decref(doc);
		return -EINVAL;
	}
	server = !strcmp(role, "server");
	stats = json_object_get(doc, "stats");
	head(out, "mt6d_up", "gauge", "Whether the daemon answered on its control socket.");
	fprintf(out, "mt6d_up 1\n");
	head(out, "mt6d_sessions", "gauge", "Sessions up.");
	if (server) {
		v = json_object_get(doc, "session_count");
		fprintf(out, "mt6d_sessions %" JSON_INTEGER_FORMAT "\n",
		        json_is_integer(v) ? json_integer_value(v) : 0);
	} else {
		const char *st = json_string_value(json_object_get(doc, "state"));
		fprintf(out, "mt6d_sessions %d\n", st && !strcmp(st, "session") ? 1 : 0);
	}
	head(out, "mt6d_rx_bytes_total", "counter", "Inner bytes received over the sessions up.");
	fprintf(out, "mt6d_rx_bytes_total %" JSON_INTEGER_FORMAT "\n",
	        sum(doc, "rx_bytes", server));
	head(out, "mt6d_tx_bytes_total", "counter", "Inner bytes sent over the sessions up.");
	fprintf(out, "mt6d_tx_bytes_total %" JSON_INTEGER_FORMAT "\n",
	        sum(doc, "tx_bytes", server));
	head(out, "mt6d_rx_packets_total", "counter", "Inner packets received.");
	fprintf(out, "mt6d_rx_packets_total %" JSON_INTEGER_FORMAT "\n",
	        sum(doc, "rx_packets", server));
	head(out, "mt6d_tx_packets_total", "counter", "Inner packets sent.");
	fprintf(out, "mt6d_tx_packets_total %" JSON_INTEGER_FORMAT "\n",
	        sum(doc, "tx_packets", server));
	head(out, "mt6d_rotations_total", "counter", "Slot rotations of the sessions up.");
	fprintf(out, "mt6d_rotations_total %" JSON_INTEGER_FORMAT "\n",
	        sum(doc, "rotations", server));

	head(out, "mt6d_dropped_packets_total", "counter", "Datagrams dropped, by reason.");
	dropped = json_object_get(doc, "dropped");
	if (json_is_object(dropped)) {
		json_object_foreach(dropped, key, v)
		{
			if (!label_ok(key) || !json_is_number(v))
				continue;
			fprintf(out, "mt6d_dropped_packets_total{reason=\"%s\"} ", key);
			value(out, v);
		}
	} else {
		for (size_t i = 0; i < sizeof(drop_keys) / sizeof(drop_keys[0]); i++) {
			v = json_object_get(stats, drop_keys[i].key);
			if (!json_is_number(v))
				continue;
			fprintf(out, "mt6d_dropped_packets_total{reason=\"%s\"} ",
			        drop_keys[i].reason);
			value(out, v);
		}
	}
	head(out, "mt6d_claims_total", "counter", "Rebinding claims, by result.");
	for (size_t i = 0; i < sizeof(claim_keys) / sizeof(claim_keys[0]); i++) {
		v = json_object_get(stats, claim_keys[i].key);
		if (!json_is_number(v))
			continue;
		fprintf(out, "mt6d_claims_total{result=\"%s\"} ", claim_keys[i].result);
		value(out, v);
	}
	v = json_object_get(stats, server ? "unrecognized" : "replies_rx");
	if (json_is_number(v)) {
		head(out, "mt6d_unrecognized_total", "counter",
		     server ? "Datagrams from a tuple no session expects."
		            : "Unrecognized-connection replies received.");
		fprintf(out, "mt6d_unrecognized_total ");
		value(out, v);
	}
	head(out, "mt6d_rebinds_total", "counter", "Rebinds of the sessions up.");
	fprintf(out, "mt6d_rebinds_total %" JSON_INTEGER_FORMAT "\n",
	        server ? sum(doc, "rebinds", true)
	               : (json_is_integer(json_object_get(stats, "rebinds"))
	                          ? json_integer_value(json_object_get(stats, "rebinds"))
	                          : 0));
	pub = json_object_get(doc, "publisher");
	if (json_is_object(pub)) {
		static const char *const k[] = {"window", "round_window", "done", "total",
		                                "failed"};

		for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
			char name[64];

			v = json_object_get(pub, k[i]);
			if (!json_is_number(v))
				continue;
			snprintf(name, sizeof(name), "mt6d_publication_%s", k[i]);
			head(out, name, "gauge", "The publisher's current round (show --json).");
			fprintf(out, "%s ", name);
			value(out, v);
		}
	}
	if (w)
		own(out, w);
	json_decref(doc);
	return 0;
}
