/* SPDX-License-Identifier: MIT */
/* mt6d web without a network: the status document as Prometheus text (pinned names,
 * values as the document has them, "dropped" preferred to the stats), and the event
 * feed (what is relayed, what is dropped, the histograms). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "web.h"

static const char server_doc[] =
        "{\"role\":\"server\",\"session_count\":2,\"clients\":3,"
        "\"publisher\":{\"window\":7,\"period\":20,\"rotation_ms\":1000,\"round_window\":8,"
        "\"done\":3,\"total\":3,\"failed\":0},"
        "\"stats\":{\"rx_forged\":5,\"rx_no_session\":9,\"claims_accepted\":4,"
        "\"claims_refused_bad\":1,\"claims_refused_location\":0,\"claims_refused_stale\":2,"
        "\"claims_refused_replayed\":0,\"unrecognized\":11},"
        "\"sessions\":[{\"name\":\"a\",\"rx_bytes\":100,\"tx_bytes\":7,\"rotations\":3,"
        "\"rebinds\":1},{\"name\":\"b\",\"rx_bytes\":23,\"tx_bytes\":1,\"rotations\":4,"
        "\"rebinds\":0}]}";

static char *metrics_of(const char *doc, struct web *w, int *ret)
{
	char *buf = NULL, err[200];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*ret = web_metrics(f, doc, strlen(doc), w, err, sizeof(err));
	fclose(f);
	return buf;
}

static void test_metrics_server(void **state)
{
	int ret;
	char *m = metrics_of(server_doc, NULL, &ret);

	assert_int_equal(ret, 0);
	assert_non_null(strstr(m, "\nmt6d_sessions 2\n"));
	assert_non_null(strstr(m, "# TYPE mt6d_sessions gauge\n"));
	assert_non_null(strstr(m, "\nmt6d_rx_bytes_total 123\n"));
	assert_non_null(strstr(m, "# TYPE mt6d_rx_bytes_total counter\n"));
	assert_non_null(strstr(m, "\nmt6d_tx_bytes_total 8\n"));
	assert_non_null(strstr(m, "\nmt6d_rotations_total 7\n"));
	assert_non_null(strstr(m, "\nmt6d_dropped_packets_total{reason=\"forged\"} 5\n"));
	assert_non_null(strstr(m, "\nmt6d_dropped_packets_total{reason=\"no_session\"} 9\n"));
	assert_non_null(strstr(m, "\nmt6d_claims_total{result=\"accepted\"} 4\n"));
	assert_non_null(strstr(m, "\nmt6d_claims_total{result=\"refused_stale\"} 2\n"));
	assert_non_null(strstr(m, "\nmt6d_unrecognized_total 11\n"));
	assert_non_null(strstr(m, "\nmt6d_rebinds_total 1\n"));
	assert_non_null(strstr(m, "\nmt6d_publication_done 3\n"));
	free(m);
}

static void test_metrics_dropped_object(void **state)
{
	/* The data path's drop counters by reason win over the stats; odd names are skipped. */
	static const char doc[] = "{\"role\":\"server\",\"session_count\":0,\"sessions\":[],"
	                          "\"stats\":{\"rx_forged\":5},"
	                          "\"dropped\":{\"forged\":6,\"short\":2,\"bad\\\"name\":1,"
	                          "\"x y\":3,\"ok\":\"text\"}}";
	int ret;
	char *m = metrics_of(doc, NULL, &ret);

	assert_int_equal(ret, 0);
	assert_non_null(strstr(m, "\nmt6d_dropped_packets_total{reason=\"forged\"} 6\n"));
	assert_non_null(strstr(m, "\nmt6d_dropped_packets_total{reason=\"short\"} 2\n"));
	assert_null(strstr(m, "bad"));
	assert_null(strstr(m, "x y"));
	assert_null(strstr(m, "reason=\"ok\""));
	free(m);
}

static void test_metrics_client(void **state)
{
	static const char doc[] = "{\"role\":\"client\",\"state\":\"session\",\"rx_bytes\":10,"
	                          "\"tx_bytes\":20,\"rotations\":30,"
	                          "\"stats\":{\"claims_sent\":2,\"rebinds\":1,\"rx_not_ours\":4}}";
	int ret;
	char *m = metrics_of(doc, NULL, &ret);

	assert_int_equal(ret, 0);
	assert_non_null(strstr(m, "\nmt6d_sessions 1\n"));
	assert_non_null(strstr(m, "\nmt6d_rx_bytes_total 10\n"));
	assert_non_null(strstr(m, "\nmt6d_rotations_total 30\n"));
	assert_non_null(strstr(m, "\nmt6d_claims_total{result=\"sent\"} 2\n"));
	assert_non_null(strstr(m, "\nmt6d_dropped_packets_total{reason=\"not_ours\"} 4\n"));
	assert_non_null(strstr(m, "\nmt6d_rebinds_total 1\n"));
	free(m);
}

static void test_metrics_bad_document(void **state)
{
	static const char *const bad[] = {"",
	                                  "[]",
	                                  "{}",
	                                  "{\"role\":\"router\"}",
	                                  "{\"role\":1}",
	                                  "not json",
	                                  "{\"role\":\"server\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret;
		char *m = metrics_of(bad[i], NULL, &ret);

		assert_int_equal(ret, -EINVAL);
		free(m);
	}
}

static struct web *new_web(void)
{
	struct web *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	web_init(w);
	return w;
}

static int feed(struct web *w, const char *line)
{
	return web_feed_line(w, line, strlen(line));
}

static void test_feed(void **state)
{
	struct web *w = new_web();
	int ret;
	char *m;

	assert_int_equal(feed(w, "{\"event\":\"rotation\",\"session\":\"a\",\"slot\":5,"
	                         "\"local\":\"[2001:db8::1]:1\",\"remote\":\"[2001:db8::2]:2\"}"),
	                 0);
	assert_int_equal(w->next, 1);
	assert_string_equal(w->ring[0].sse,
	                    "id: 0\nevent: rotation\ndata: {\"event\":\"rotation\",\"session\":"
	                    "\"a\",\"slot\":5,\"local\":\"[2001:db8::1]:1\",\"remote\":"
	                    "\"[2001:db8::2]:2\"}\n\n");
	/* Not relayed: not JSON, not an object, no or an odd event name, the greeting. */
	assert_int_equal(feed(w, "nonsense"), -EINVAL);
	assert_int_equal(feed(w, "[1]"), -EINVAL);
	assert_int_equal(feed(w, "{\"slot\":1}"), -EINVAL);
	assert_int_equal(feed(w, "{\"event\":\"a\\nevent: b\"}"), -EINVAL);
	assert_int_equal(feed(w, "{\"event\":\"Rotation\"}"), -EINVAL);
	assert_int_equal(feed(w, "{\"event\":5}"), -EINVAL);
	assert_int_equal(feed(w, "{\"event\":\"hello\",\"queue_max\":1}"), 0);
	assert_int_equal(w->next, 1);
	/* Durations become histograms; a round counts once, when it is over. */
	assert_int_equal(feed(w, "{\"event\":\"lookup\",\"ok\":true,\"duration_ms\":300}"), 0);
	assert_int_equal(feed(w, "{\"event\":\"publication\",\"round_window\":8,\"done\":1,"
	                         "\"failed\":0,\"total\":3,\"elapsed_ms\":0}"),
	                 0);
	assert_int_equal(feed(w, "{\"event\":\"publication\",\"round_window\":8,\"done\":3,"
	                         "\"failed\":0,\"total\":3,\"elapsed_ms\":4000}"),
	                 0);
	assert_int_equal(feed(w, "{\"event\":\"publication\",\"round_window\":8,\"done\":3,"
	                         "\"failed\":0,\"total\":3,\"elapsed_ms\":4000}"),
	                 0);
	assert_int_equal(feed(w, "{\"event\":\"dht\",\"nodes\":17,\"good\":9}"), 0);
	assert_int_equal(w->lookup_hist.total, 1);
	assert_int_equal(w->pub_hist.total, 1);
	assert_non_null(strstr(w->last_dht, "\"nodes\":17"));
	m = metrics_of(server_doc, w, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(m, "\nmt6d_lookup_duration_seconds_bucket{le=\"0.25\"} 0\n"));
	assert_non_null(strstr(m, "\nmt6d_lookup_duration_seconds_bucket{le=\"0.5\"} 1\n"));
	assert_non_null(strstr(m, "\nmt6d_lookup_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
	assert_non_null(strstr(m, "\nmt6d_lookup_duration_seconds_count 1\n"));
	assert_non_null(strstr(m, "\nmt6d_publication_duration_seconds_bucket{le=\"5\"} 1\n"));
	assert_non_null(strstr(m, "\nmt6d_publication_duration_seconds_sum 4.000000\n"));
	assert_non_null(strstr(m, "\nmt6d_dht_nodes 17\n"));
	assert_non_null(strstr(m, "\nmt6d_web_events_total 6\n"));
	free(m);
	web_free(w);
	free(w);
}

static void test_feed_ring_wraps(void **state)
{
	struct web *w = new_web();

	for (int i = 0; i < WEB_RING + 10; i++)
		assert_int_equal(feed(w, "{\"event\":\"x\"}"), 0);
	assert_int_equal(w->n, WEB_RING);
	assert_int_equal(w->next, WEB_RING + 10);
	assert_non_null(strstr(w->ring[(WEB_RING + 9) % WEB_RING].sse, "id: 32777\n"));
	web_free(w);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_metrics_server),
	        cmocka_unit_test(test_metrics_dropped_object),
	        cmocka_unit_test(test_metrics_client),
	        cmocka_unit_test(test_metrics_bad_document),
	        cmocka_unit_test(test_feed),
	        cmocka_unit_test(test_feed_ring_wraps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
