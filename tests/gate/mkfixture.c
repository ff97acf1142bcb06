// SPDX-License-Identifier: BSD-2-Clause
/*
 * mkfixture: build a faultline store for the gatectl tests from a text
 * spec on stdin, through lib/store.c (schema, 0600, WAL) and lib/hist.c
 * (real histogram encodings).
 *
 *   usage: mkfixture STORE < SPEC
 *
 * SPEC, one statement a line, '#' starts a comment:
 *   service NAME KIND
 *   edge CLIENT SERVER PROTO FIRST_NS LAST_NS OPERATION...
 *        (edges are numbered 1, 2, ... in order; OPERATION may be empty)
 *   window EDGE[@SOURCE] START REQ ERR CLIENT_ERR CONN_ERR [NS*COUNT ...] [bytes=REQ/RESP]
 *        (START: Unix seconds, or now-SECONDS floored to the minute;
 *         latency samples NS*COUNT; no samples: NULL histogram;
 *         SOURCE: edge_windows.source, default ebpf)
 *   blob EDGE START HEX   (a window of 1 request with a raw histogram blob)
 *   counter NAME VALUE UPDATED_NS   (a row of agent_counters)
 *   link PARENT CHILD METHOD START COUNT [WIDTH_S]
 *        (a row of path_links: edge numbers, method thread|traceparent|trace
 *         or anything else, START as for window, WIDTH_S default 60)
 *   source EDGE NAME SAMPLES FIRST_NS LAST_NS   (a row of edge_sources;
 *        FIRST_NS/LAST_NS may be now-SECONDS)
 * Rows go through lib/store_write.c with the agent's rules: a window at
 * the start of one already there adds into it, as the agent's upsert does
 * (histograms merged): late rows after a roll-up.
 */
#include "hist.h"
#include "store.h"
#include "store_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int lineno;

static void die(const char *what)
{
	fprintf(stderr, "mkfixture: line %d: %s\n", lineno, what);
	exit(2);
}

static int64_t parse_start(const char *s)
{
	if (!strncmp(s, "now-", 4)) {
		int64_t now = (int64_t)time(NULL) - strtoll(s + 4, NULL, 10);
		return now / 60 * 60;
	}
	return strtoll(s, NULL, 10);
}

/* ns since the epoch, or now-SECONDS */
static int64_t parse_ns(const char *s)
{
	if (!strncmp(s, "now-", 4))
		return ((int64_t)time(NULL) - strtoll(s + 4, NULL, 10)) * 1000000000LL;
	return strtoll(s, NULL, 10);
}

static struct fl_sw sw;

/* A write of lib/store_write.c succeeded, or the fixture is refused. */
static void sw_ok(int err)
{
	if (err)
		die(sw.err);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		die(sqlite3_errmsg(db));
	return st;
}

static void do_window(char *rest)
{
	struct fl_hist h = FL_HIST_INIT;
	long long edge, req, err, cerr, connerr, reqb = 0, respb = 0;
	uint64_t sum = 0;
	char start[64], src[32] = "ebpf", *tok, *save;
	uint8_t *blob = NULL;
	size_t len = 0;
	int n;

	if (sscanf(rest, "%lld@%31s", &edge, src) == 2)
		rest = strchr(rest, '@') + strcspn(strchr(rest, '@'), " \t");
	else if (sscanf(rest, "%lld%n", &edge, &n) == 1)
		rest += n;
	else
		die("window EDGE[@SOURCE] ...");
	if (sscanf(rest, "%63s %lld %lld %lld %lld%n", start, &req,
		   &err, &cerr, &connerr, &n) != 5)
		die("window EDGE[@SOURCE] START REQ ERR CLIENT_ERR CONN_ERR [NS*COUNT...]");
	for (tok = strtok_r(rest + n, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		unsigned long long ns, cnt;
		if (sscanf(tok, "bytes=%lld/%lld", &reqb, &respb) == 2)
			continue;
		if (sscanf(tok, "%llu*%llu", &ns, &cnt) != 2)
			die("latency sample is NS*COUNT");
		if (fl_hist_add(&h, ns, (uint32_t)cnt))
			die("out of memory");
		sum += ns * cnt;
	}
	if (h.count && fl_hist_encode(&h, &blob, &len))
		die("out of memory");
	struct fl_sw_window w = {
		.source = src, .start_s = parse_start(start), .width_s = FL_STORE_WINDOW_S,
		.requests = (uint64_t)req, .errors = (uint64_t)err,
		.client_errors = (uint64_t)cerr, .conn_errors = (uint64_t)connerr,
		.req_bytes = (uint64_t)reqb, .resp_bytes = (uint64_t)respb,
		.latency_sum_ns = sum, .hist = blob, .hist_len = len,
	};
	sw_ok(fl_sw_window(&sw, edge, &w));
	free(blob);
	fl_hist_release(&h);
}

static void do_link(char *rest)
{
	long long parent, child, count, width = 60;
	char method[64], start[64];

	if (sscanf(rest, "%lld %lld %63s %63s %lld %lld", &parent, &child, method,
		   start, &count, &width) < 5)
		die("link PARENT CHILD METHOD START COUNT [WIDTH_S]");
	sw_ok(fl_sw_link(&sw, parent, child, method, parse_start(start), width,
			 (uint64_t)count));
}

static void do_blob(char *rest)
{
	long long edge;
	char start[64], hex[1024];
	uint8_t raw[512];
	size_t len = 0;

	if (sscanf(rest, "%lld %63s %1023s", &edge, start, hex) != 3)
		die("blob EDGE START HEX");
	for (const char *p = hex; p[0] && p[1] && len < sizeof(raw); p += 2) {
		unsigned v;
		if (sscanf(p, "%2x", &v) != 1)
			die("bad hex");
		raw[len++] = (uint8_t)v;
	}
	struct fl_sw_window w = {
		.source = "ebpf", .start_s = parse_start(start),
		.width_s = FL_STORE_WINDOW_S, .requests = 1, .hist = raw, .hist_len = len,
	};
	sw_ok(fl_sw_window(&sw, edge, &w));
}

/* services.id of @name, declared before. */
static int64_t service_id(sqlite3_stmt *find, const char *name)
{
	int64_t id = 0;

	sqlite3_bind_text(find, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(find) != SQLITE_ROW)
		die("edge of an undeclared service");
	id = sqlite3_column_int64(find, 0);
	sqlite3_reset(find);
	return id;
}

int main(int argc, char **argv)
{
	char line[4096], errbuf[256];
	sqlite3_stmt *find;
	sqlite3 *db;

	if (argc != 2) {
		fprintf(stderr, "usage: mkfixture STORE < SPEC\n");
		return 2;
	}
	if (fl_store_open(argv[1], true, &db, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "mkfixture: %s\n", errbuf);
		return 2;
	}
	fl_sw_init(&sw, db, NULL);	/* the agent's rules */
	find = prep(db, "SELECT id FROM services WHERE name = ?1");
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	while (fgets(line, sizeof(line), stdin)) {
		char kw[16], a[256], b[256], c[64];
		long long first, last;
		int n;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%15s%n", kw, &n) != 1 || kw[0] == '#')
			continue;
		if (!strcmp(kw, "service")) {
			if (sscanf(line + n, "%255s %63s", a, c) != 2)
				die("service NAME KIND");
			sw_ok(fl_sw_service(&sw, a, c, 0, 0, NULL));
		} else if (!strcmp(kw, "edge")) {
			int m = 0;
			if (sscanf(line + n, "%255s %255s %63s %lld %lld %n", a, b, c,
				   &first, &last, &m) != 5 || !m)
				die("edge CLIENT SERVER PROTO FIRST_NS LAST_NS OPERATION");
			struct fl_sw_edge e = {
				.client_id = service_id(find, a),
				.server_id = service_id(find, b),
				.protocol = c, .operation = line + n + m,
				.first_ns = first, .last_ns = last,
			};
			sw_ok(fl_sw_edge(&sw, &e, NULL));
		} else if (!strcmp(kw, "window")) {
			do_window(line + n);
		} else if (!strcmp(kw, "blob")) {
			do_blob(line + n);
		} else if (!strcmp(kw, "link")) {
			do_link(line + n);
		} else if (!strcmp(kw, "source")) {
			char f[64], l[64];
			long long e, samples;
			if (sscanf(line + n, "%lld %63s %lld %63s %63s", &e, c, &samples,
				   f, l) != 5)
				die("source EDGE NAME SAMPLES FIRST_NS LAST_NS");
			sw_ok(fl_sw_source(&sw, e, c, (uint64_t)samples, parse_ns(f),
					   parse_ns(l)));
		} else if (!strcmp(kw, "counter")) {
			if (sscanf(line + n, "%255s %lld %lld", a, &first, &last) != 3)
				die("counter NAME VALUE UPDATED_NS");
			sw_ok(fl_sw_counter(&sw, a, first, last));
		} else {
			die("unknown statement");
		}
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
		die(sqlite3_errmsg(db));
	sqlite3_finalize(find);
	fl_sw_release(&sw);
	sqlite3_close(db);
	return 0;
}
