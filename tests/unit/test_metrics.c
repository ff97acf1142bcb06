/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * agent/metrics.c without the kernel: the exposition text of known records
 * (service graph summed per client/server, faultline's per-edge family,
 * histogram buckets at their documented bounds, the status cap, label
 * escaping), snapshots that stay what they were when published, and
 * malformed listen addresses refused (no socket is opened here).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aggregate.h"
#include "harness.h"
#include "metrics.h"

static struct fl_record mkrec(enum fl_proto proto, int status,
			      const char *text, bool error)
{
	struct fl_record r = { .proto = proto, .status = status, .error = error };

	snprintf(r.status_text, sizeof(r.status_text), "%s", text);
	return r;
}

/* The value of the exposition line that starts with @series, or -1. */
static long long value_of(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

static char *render(struct metrics *m)
{
	struct agent_stats st = { 0 };
	struct mx_health h = { .hooks_loaded = 3, .hooks_total = 4 };
	size_t len;

	st.records = 11;
	st.bpf[FL_CNT_RINGBUF_DROPS] = 2;
	if (metrics_publish(m, &st, &h))
		return NULL;
	return metrics_render(m, &len);
}

static void test_families(void)
{
	struct metrics *m = metrics_new("9.9");
	struct mx_series *g, *p, *s;
	struct fl_record r;
	char *t;

	CHECK(m != NULL);
	if (!m)
		return;
	g = metrics_series(m, "web", "api", "service", "http", "GET /users/{id}", false);
	p = metrics_series(m, "web", "api", "service", "http", "POST /users", true);
	s = metrics_series(m, "api", "pg", "database", "postgresql", "SELECT ?", false);
	CHECK(g && p && s);
	CHECK(g == metrics_series(m, "web", "api", "service", "http", "GET /users/{id}", false));
	r = mkrec(FL_PROTO_HTTP, 200, "", false);
	for (int i = 0; i < 3; i++)
		metrics_observe(m, g, &r, 1000);	/* < 16384 ns: first bucket */
	r = mkrec(FL_PROTO_HTTP, 503, "", true);
	metrics_observe(m, g, &r, 16384);		/* == the first bound: next bucket */
	r = mkrec(FL_PROTO_HTTP, 201, "", false);
	metrics_observe(m, p, &r, 2000000);
	r = mkrec(FL_PROTO_POSTGRES, 0, "42P01", true);
	metrics_observe(m, s, &r, 5000);
	r = mkrec(FL_PROTO_POSTGRES, 0, "", false);
	metrics_observe(m, s, &r, 5000);
	t = render(m);
	CHECK(t != NULL);
	if (!t)
		goto out;
	CHECK_EQ_INT(value_of(t, "traces_service_graph_request_total{client=\"web\",server=\"api\"}"), 5);
	CHECK_EQ_INT(value_of(t, "traces_service_graph_request_failed_total{client=\"web\",server=\"api\"}"), 1);
	CHECK_EQ_INT(value_of(t, "traces_service_graph_request_total{client=\"api\",server=\"pg\",connection_type=\"database\"}"), 2);
	CHECK_EQ_INT(value_of(t, "traces_service_graph_request_server_seconds_bucket{client=\"web\",server=\"api\",le=\"1.6384e-05\"}"), 3);
	CHECK_EQ_INT(value_of(t, "traces_service_graph_request_server_seconds_bucket{client=\"web\",server=\"api\",le=\"6.5536e-05\"}"), 4);
	CHECK_EQ_INT(value_of(t, "traces_service_graph_request_server_seconds_bucket{client=\"web\",server=\"api\",le=\"0.004194304\"}"), 5);
	CHECK_EQ_INT(value_of(t, "traces_service_graph_request_server_seconds_bucket{client=\"web\",server=\"api\",le=\"+Inf\"}"), 5);
	CHECK_EQ_INT(value_of(t, "traces_service_graph_request_server_seconds_count{client=\"web\",server=\"api\"}"), 5);
	CHECK_EQ_INT(value_of(t, "faultline_requests_total{client=\"web\",server=\"api\",protocol=\"http\",operation=\"GET /users/{id}\",tls=\"false\",server_kind=\"service\",status_class=\"2xx\",status=\"200\"}"), 3);
	CHECK_EQ_INT(value_of(t, "faultline_requests_total{client=\"web\",server=\"api\",protocol=\"http\",operation=\"GET /users/{id}\",tls=\"false\",server_kind=\"service\",status_class=\"5xx\",status=\"503\"}"), 1);
	CHECK_EQ_INT(value_of(t, "faultline_requests_total{client=\"web\",server=\"api\",protocol=\"http\",operation=\"POST /users\",tls=\"true\",server_kind=\"service\",status_class=\"2xx\",status=\"201\"}"), 1);
	CHECK_EQ_INT(value_of(t, "faultline_requests_total{client=\"api\",server=\"pg\",protocol=\"postgresql\",operation=\"SELECT ?\",tls=\"false\",server_kind=\"database\",status_class=\"error\",status=\"42P01\"}"), 1);
	CHECK_EQ_INT(value_of(t, "faultline_requests_total{client=\"api\",server=\"pg\",protocol=\"postgresql\",operation=\"SELECT ?\",tls=\"false\",server_kind=\"database\",status_class=\"ok\",status=\"ok\"}"), 1);
	CHECK_EQ_INT(value_of(t, "faultline_agent_records_total"), 11);
	CHECK_EQ_INT(value_of(t, "faultline_agent_ringbuf_drops_total"), 2);
	CHECK_EQ_INT(value_of(t, "faultline_agent_hooks_loaded"), 3);
	CHECK_EQ_INT(value_of(t, "faultline_agent_hooks_unavailable"), 1);
	CHECK_EQ_INT(value_of(t, "faultline_agent_metrics_series"), 3);
	CHECK_EQ_INT(value_of(t, "faultline_agent_build_info{version=\"9.9\"}"), 1);
	CHECK(strstr(t, "# TYPE traces_service_graph_request_server_seconds histogram\n") != NULL);
	CHECK(strstr(t, "# TYPE faultline_requests_total counter\n") != NULL);
	free(t);
out:
	metrics_free(m);
}

static void test_cumulative_snapshots(void)
{
	struct metrics *m = metrics_new("1");
	struct mx_series *s = m ? metrics_series(m, "a", "b", "service", "http", "GET /", false) : NULL;
	struct fl_record r = mkrec(FL_PROTO_HTTP, 200, "", false);
	struct agent_stats st = { 0 };
	struct mx_health h = { 0 };
	char *t1, *t2;
	size_t len;
	const char *key = "traces_service_graph_request_total{client=\"a\",server=\"b\"}";

	CHECK(s != NULL);
	if (!s)
		goto out;
	metrics_observe(m, s, &r, 10);
	metrics_publish(m, &st, &h);
	metrics_observe(m, s, &r, 10);	/* after the snapshot: not in it yet */
	t1 = metrics_render(m, &len);
	metrics_publish(m, &st, &h);
	metrics_observe(m, s, &r, 10);
	metrics_publish(m, &st, &h);
	t2 = metrics_render(m, &len);
	CHECK(t1 && t2);
	if (t1 && t2) {
		CHECK_EQ_INT(value_of(t1, key), 1);
		CHECK_EQ_INT(value_of(t2, key), 3);	/* cumulative, not deltas */
	}
	free(t1);
	free(t2);
out:
	metrics_free(m);
}

static void test_status_cap_and_escaping(void)
{
	struct metrics *m = metrics_new("1");
	struct mx_series *s = m ? metrics_series(m, "c\"x\\y\nz", "s\xff", "service",
						 "http", "GET /", false) : NULL;
	char *t;
	int nstatus = 0;

	CHECK(s != NULL);
	if (!s)
		goto out;
	for (int code = 200; code < 220; code++) {
		struct fl_record r = mkrec(FL_PROTO_HTTP, code, "", false);
		metrics_observe(m, s, &r, 10);
	}
	struct fl_record r5 = mkrec(FL_PROTO_HTTP, 500, "", true);
	metrics_observe(m, s, &r5, 10);
	t = render(m);
	CHECK(t != NULL);
	if (!t)
		goto out;
	for (const char *p = t; (p = strstr(p, "\nfaultline_requests_total{")); p++)
		nstatus++;
	/* 8 named (200..207), the other twelve 2xx as one, 500 as _other/5xx */
	CHECK_EQ_INT(nstatus, 10);
	const char *lab = "faultline_requests_total{client=\"c\\\"x\\\\y\\nz\",server=\"s?\","
			  "protocol=\"http\",operation=\"GET /\",tls=\"false\",server_kind=\"service\",";
	char key[512];
	snprintf(key, sizeof(key), "%sstatus_class=\"2xx\",status=\"_other\"}", lab);
	CHECK_EQ_INT(value_of(t, key), 12);
	snprintf(key, sizeof(key), "%sstatus_class=\"5xx\",status=\"_other\"}", lab);
	CHECK_EQ_INT(value_of(t, key), 1);
	snprintf(key, sizeof(key), "%sstatus_class=\"2xx\",status=\"207\"}", lab);
	CHECK_EQ_INT(value_of(t, key), 1);
	free(t);
out:
	metrics_free(m);
}

/* The aggregator feeds the series: counts survive flushes (cumulative). */
static void test_through_aggregator(void)
{
	struct metrics *m = metrics_new("1");
	struct aggregator *a = agg_new("ebpf");
	struct fl_record r = mkrec(FL_PROTO_REDIS, 0, "ERR", true);
	char *t;

	CHECK(m && a);
	if (!m || !a)
		goto out;
	agg_set_metrics(a, m);
	snprintf(r.operation, sizeof(r.operation), "GET");
	r.start_ns = 1000;
	r.end_ns = 3000;
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(agg_record(a, "api", "redis", SVC_CACHE, &r, false,
					1795237200000000000ull, NULL), 0);
	CHECK_EQ_INT(agg_conn_error(a, "api", "ghost", SVC_EXTERNAL, -111,
				    1795237200000000000ull), 0);
	t = render(m);
	CHECK(t != NULL);
	if (t) {
		CHECK_EQ_INT(value_of(t, "faultline_requests_total{client=\"api\",server=\"redis\",protocol=\"redis\",operation=\"GET\",tls=\"false\",server_kind=\"cache\",status_class=\"error\",status=\"ERR\"}"), 4);
		CHECK_EQ_INT(value_of(t, "traces_service_graph_request_failed_total{client=\"api\",server=\"redis\",connection_type=\"database\"}"), 4);
		CHECK_EQ_INT(value_of(t, "faultline_connection_failures_total{client=\"api\",server=\"ghost\",server_kind=\"external\"}"), 1);
		CHECK(strstr(t, "server=\"ghost\",connection_type") == NULL);
		CHECK(value_of(t, "traces_service_graph_request_total{client=\"api\",server=\"ghost\"}") == -1);
	}
	free(t);
out:
	agg_free(a);
	metrics_free(m);
}

/* (Serving /metrics over TCP is tested by tests/integration/prom.sh, under
 * the host lock: a unit test must make no loopback traffic other agents see.) */
static void test_listen_refuses(void)
{
	struct metrics *m = metrics_new("1");
	char err[256];

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK_EQ_INT(metrics_listen(m, "127.0.0.1", err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(metrics_listen(m, "localhost:80", err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(metrics_listen(m, "[::1]:0", err, sizeof(err)), -EINVAL);
	metrics_free(m);
}

RUN_TESTS(test_families, test_cumulative_snapshots, test_status_cap_and_escaping,
	  test_through_aggregator, test_listen_refuses)
