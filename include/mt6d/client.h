/* SPDX-License-Identifier: MIT */
/*
 * libmt6d client of the session protocol (docs/sessions.md): the state
 * machine LOOKUP -> INTRO -> SESSION, and BACKOFF when a step fails or the
 * server goes silent. Like the server (mt6d/server.h) it takes the time as
 * an argument and calls back to send, deliver and report; no I/O.
 */
#ifndef MT6D_CLIENT_H
#define MT6D_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mt6d/mt6d.h"
#include "mt6d/rebind.h"
#include "mt6d/rendezvous.h"
#include "mt6d/session.h"
#include "mt6d/tunnel.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mt6d_cli_state {
	MT6D_CLI_LOOKUP = 0, /* the rendezvous (its own lookup, or mt6d_cli_lookup_done) */
	MT6D_CLI_INTRO,      /* request sent on the introduction session */
	MT6D_CLI_SESSION,    /* the client session is up */
	MT6D_CLI_BACKOFF,    /* waiting before the next lookup */
	MT6D_CLI_CLOSED,     /* mt6d_cli_close() */
};
const char *mt6d_cli_state_name(enum mt6d_cli_state st);

struct mt6d_cli_stats {
	uint64_t lookups, lookups_failed, requests_sent, responses, sessions;
	uint64_t rx_not_ours; /* to an endpoint of no current slot */
	uint64_t rx_truncated, rx_forged, rx_replayed, rx_bad_inner, rx_bad_msg;
	uint64_t tx_no_session; /* inner packets while no session is up */
	uint64_t teardowns_rx, server_silent, intro_timeouts;
	/* rebinding */
	uint64_t replies_rx;      /* unrecognized-connection replies acted on */
	uint64_t replies_ignored; /* replies whose echo is none of ours */
	uint64_t claims_sent;
	uint64_t rebinds;        /* claims answered: the session continued */
	uint64_t prefix_changes; /* mt6d_cli_set_prefix with a new /64 */
	uint64_t renewals_rx;    /* renewals (message 4) taken */
	uint64_t no_underlay;    /* configurations without the underlay (underlay mode) */
};

struct mt6d_cli_config {
	uint8_t client_priv[MT6D_KEY_LEN]; /* copied; wiped by mt6d_cli_free */
	uint8_t server_pub[MT6D_KEY_LEN];
	uint8_t prefix[MT6D_PREFIX_LEN];         /* the client's outer /64 */
	uint32_t keepalive_s;                    /* 0: MT6D_KEEPALIVE_S */
	uint32_t dead_intervals;                 /* 0: MT6D_DEAD_INTERVALS */
	uint32_t request_every_ms;               /* 0: MT6D_REQUEST_EVERY_MS */
	uint32_t request_tries;                  /* 0: MT6D_REQUEST_TRIES */
	uint32_t backoff_min_ms, backoff_max_ms; /* 0: 1 s, 60 s */
	/* Underlay mode: talk to the server's underlay endpoint (from the
	 * rendezvous, version 2) from one socket whose address the caller does
	 * not know; send is called with an all-zero `from`. */
	bool underlay;
	/* The data path's buffers, MT6D_IID_LEN + MT6D_BURST_BUF and
	 * MT6D_RX_HEADROOM + MT6D_RX_BUF bytes: NULL and the client makes its
	 * own; a caller running many clients in one thread may share one pair. */
	uint8_t *tx_buf, *rx_buf;
	mt6d_send_fn send;
	/* An authentic inner packet for the TUN device: one packet, or TCP
	 * segments coalesced into one (off->gso_size). */
	void (*deliver)(void *arg, uint8_t *pkt, size_t len, const struct mt6d_offload *off);
	/* Slots of the active MT6D session (introduction, then client). */
	mt6d_tun_slot_cb on_slot;
	/* The state changed. */
	void (*on_state)(void *arg, enum mt6d_cli_state from, enum mt6d_cli_state to);
	/*
	 * The rendezvous. With dht set, the client runs it itself: in LOOKUP
	 * it starts an mt6d_lookup on that node (periods and transports as in
	 * struct mt6d_lookup_config), takes its result when the DHT calls
	 * back, and gives up after lookup_timeout_ms (0: 30 s), cancelling
	 * it. clock reads the caller's clocks (the DHT's monotonic ms and the
	 * Unix ms) when a lookup starts and ends; on_lookup (may be NULL)
	 * reports each result (NULL: timed out, or could not start) and how
	 * long it took. With dht NULL the caller runs the rendezvous and
	 * reports it with mt6d_cli_lookup_done.
	 */
	struct mt6d_dht *dht;
	uint32_t periods[MT6D_LOOKUP_MAX_PERIODS];
	int transports;
	uint32_t lookup_timeout_ms;
	void (*clock)(void *arg, uint64_t *mono_ms, uint64_t *unix_ms);
	void (*on_lookup)(void *arg, const struct mt6d_lookup_result *res, uint64_t elapsed_ms);
	/* An authentic keepalive from the server carried its time: offset_ms
	 * is unix_ms (when it arrived) minus that time, so the one-way delay
	 * counts as ahead. May be NULL. Feeds struct mt6d_clock_est. */
	void (*on_server_time)(void *arg, int64_t offset_ms, uint64_t unix_ms);
	void *arg;
};

/* Read-only outside client.c. */
struct mt6d_cli {
	struct mt6d_cli_config cfg;
	enum mt6d_cli_state state;
	uint8_t s[MT6D_KEY_LEN];        /* shared secret with the server */
	struct mt6d_config intro;       /* the configuration found (INTRO, SESSION) */
	uint8_t seed_iid[MT6D_IID_LEN]; /* C_IID */
	struct mt6d_tun_session tun;    /* introduction or client session */
	bool have_tun;
	uint64_t request_id;
	unsigned tries;
	uint64_t next_ms; /* next request, or end of backoff */
	uint32_t backoff_ms;
	/* the session (SESSION) */
	uint8_t client_tun[16], server_tun[16];
	uint8_t tun_prefix_len;
	uint32_t idle_timeout_s;
	uint64_t session_ms, last_rx_ms, last_tx_ms;
	struct mt6d_cli_stats stats;
	/* the client's own rendezvous (cfg.dht): running while lk is set */
	struct mt6d_lookup *lk;
	uint64_t lookup_started_ms, lookup_deadline_ms; /* Unix */
	/* rebinding (docs/rebind.md) */
	struct mt6d_endpoint underlay; /* the server's, underlay mode */
	struct mt6d_rebind_grant grant;
	bool have_grant;
	bool claim_pending;   /* a claim is out, nothing authentic since */
	unsigned claim_tries; /* claims sent for the current move */
	uint64_t claim_t;     /* t of the last claim (each is newer) */
	uint64_t claim_ms;    /* when the last claim was sent */
	struct mt6d_rebind_loc claim_loc;
	struct mt6d_rebind_echoes *echoes;
	/* the data path's buffers (mt6d_burst_seal, mt6d_rx) */
	uint8_t *tx_raw, *rx_buf;
	bool own_bufs;
	struct mt6d_burst tx;
	struct mt6d_rx rx;
};

struct mt6d_cli *mt6d_cli_new(const struct mt6d_cli_config *cfg);
void mt6d_cli_free(struct mt6d_cli *c); /* NULL is a no-op */
/* Enter LOOKUP (on_state is called); with cfg.dht the lookup starts. */
void mt6d_cli_start(struct mt6d_cli *c, uint64_t unix_ms);
/* The rendezvous ended: cfg found, or NULL (BACKOFF). For a caller that
 * runs the rendezvous itself (cfg.dht NULL). */
void mt6d_cli_lookup_done(struct mt6d_cli *c, const struct mt6d_config *cfg, uint64_t unix_ms);
/* What one receive brought to local (a slot endpoint) from remote: one
 * datagram, or a UDP GRO batch (each gso bytes, the last shorter; 0: one),
 * as mt6d_srv_input_batch. */
void mt6d_cli_input_batch(struct mt6d_cli *c, const struct mt6d_endpoint *local,
                          const struct mt6d_endpoint *remote, uint8_t *buf, size_t len, size_t gso,
                          uint64_t unix_ms);
/* Deliver the packets still being coalesced (call when a read loop ends;
 * batches of one session are coalesced across calls until then). */
void mt6d_cli_flush(struct mt6d_cli *c);
/* The same for one datagram (and flushed at once). */
void mt6d_cli_input(struct mt6d_cli *c, const struct mt6d_endpoint *local,
                    const struct mt6d_endpoint *remote, uint8_t *dgram, size_t len,
                    uint64_t unix_ms);
/* As mt6d_srv_output, to the server. */
void mt6d_cli_output(struct mt6d_cli *c, const uint8_t *pkt, size_t len,
                     const struct mt6d_offload *off, uint64_t unix_ms);
/* Requests, rotation, keepalives, silence, backoff. Returns when to call again. */
uint64_t mt6d_cli_tick(struct mt6d_cli *c, uint64_t unix_ms);
/*
 * The client's /64 changed (MT6D mode): its slot endpoints move to the new
 * prefix (on_slot reports the old ones leaving and the new ones coming)
 * and, with a session up, a claim goes to the server at once. Before a
 * session the introduction starts over from the new prefix.
 */
void mt6d_cli_set_prefix(struct mt6d_cli *c, const uint8_t prefix[static MT6D_PREFIX_LEN],
                         uint64_t unix_ms);
/* What made the steps fail is gone (e.g. the clock was set right): in
 * BACKOFF, end it and look up now; in INTRO, send the request now with all
 * its tries; the backoff starts over. Elsewhere nothing. */
void mt6d_cli_retry(struct mt6d_cli *c, uint64_t unix_ms);
/* Send message 2 if a session is up; the client is CLOSED after. */
void mt6d_cli_close(struct mt6d_cli *c, uint64_t unix_ms);

/*
 * How far the client's clock seems from the server's (clock.c,
 * docs/sessions.md "Clocks"). Samples come from the server's keepalives
 * (on_server_time); between them, and after the session is gone, the
 * estimate follows the wall clock (unix_ms) against a clock that does not
 * step (mono_ms, e.g. CLOCK_BOOTTIME): setting the wall clock N s forward
 * moves the estimate N s. Positive: the local clock is ahead.
 */
struct mt6d_clock_est {
	bool have;                 /* a sample was taken */
	int64_t offset_ms;         /* local minus the server's, at the sample */
	uint64_t unix_ms, mono_ms; /* when it was taken */
	uint64_t samples;
	bool off;        /* mt6d_clock_est_news: beyond the tolerance */
	int64_t said_ms; /* the estimate last reported by it */
};
enum mt6d_clock_news {
	MT6D_CLOCK_NO_NEWS = 0,
	MT6D_CLOCK_OFF,   /* it went beyond the tolerance */
	MT6D_CLOCK_MOVED, /* still beyond, by max(tolerance, 1 s) more or less than said */
	MT6D_CLOCK_BACK,  /* within half the tolerance again */
};
/* Half a slot (rot_ms 0: the default): receivers accept one slot either side. */
uint32_t mt6d_clock_tolerance_ms(uint32_t rot_ms);
void mt6d_clock_est_sample(struct mt6d_clock_est *e, int64_t offset_ms, uint64_t unix_ms,
                           uint64_t mono_ms);
/* false: no sample yet (unknown). */
bool mt6d_clock_est_get(const struct mt6d_clock_est *e, uint64_t unix_ms, uint64_t mono_ms,
                        int64_t *offset_ms);
/* What changed since it was last asked; *offset_ms is set when known. */
enum mt6d_clock_news mt6d_clock_est_news(struct mt6d_clock_est *e, uint64_t unix_ms,
                                         uint64_t mono_ms, uint32_t tolerance_ms,
                                         int64_t *offset_ms);

#ifdef __cplusplus
}
#endif
#endif
