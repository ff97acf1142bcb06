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
 * A window at the start of one already there adds into it, as the agent's
 * upsert does (histograms merged): late rows after a roll-up.
 */
#include "hist.h"
#include "store.h"

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

static void exec_ok(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die(sqlite3_errmsg(db));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		die(sqlite3_errmsg(db));
	return st;
}

static void do_window(sqlite3 *db, sqlite3_stmt *ins, char *rest)
{
	struct fl_hist h = FL_HIST_INIT;
	long long edge, req, err, cerr, connerr, reqb = 0, respb = 0;
	uint64_t sum = 0;
	char start[64], src[32] = "ebpf", *tok, *save;
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
	sqlite3_bind_int64(ins, 1, edge);
	sqlite3_bind_int64(ins, 2, parse_start(start));
	sqlite3_bind_int64(ins, 3, req);
	sqlite3_bind_int64(ins, 4, err);
	sqlite3_bind_int64(ins, 5, cerr);
	sqlite3_bind_int64(ins, 6, connerr);
	sqlite3_bind_int64(ins, 7, (int64_t)sum);
	if (h.count) {
		uint8_t *blob;
		size_t len;
		if (fl_hist_encode(&h, &blob, &len))
			die("out of memory");
		sqlite3_bind_blob(ins, 8, blob, (int)len, free);
	}
	sqlite3_bind_text(ins, 9, src, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(ins, 10, reqb);
	sqlite3_bind_int64(ins, 11, respb);
	exec_ok(db, ins);
	fl_hist_release(&h);
}

static void do_link(sqlite3 *db, sqlite3_stmt *ins, char *rest)
{
	long long parent, child, count, width = 60;
	char method[64], start[64];

	if (sscanf(rest, "%lld %lld %63s %63s %lld %lld", &parent, &child, method,
		   start, &count, &width) < 5)
		die("link PARENT CHILD METHOD START COUNT [WIDTH_S]");
	sqlite3_bind_int64(ins, 1, parent);
	sqlite3_bind_int64(ins, 2, child);
	sqlite3_bind_text(ins, 3, method, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(ins, 4, parse_start(start));
	sqlite3_bind_int64(ins, 5, width);
	sqlite3_bind_int64(ins, 6, count);
	exec_ok(db, ins);
}

static void do_blob(sqlite3 *db, sqlite3_stmt *ins, char *rest)
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
	sqlite3_bind_int64(ins, 1, edge);
	sqlite3_bind_int64(ins, 2, parse_start(start));
	sqlite3_bind_int64(ins, 3, 1);
	sqlite3_bind_int64(ins, 4, 0);
	sqlite3_bind_int64(ins, 5, 0);
	sqlite3_bind_int64(ins, 6, 0);
	sqlite3_bind_int64(ins, 7, 0);
	sqlite3_bind_blob(ins, 8, raw, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_text(ins, 9, "ebpf", -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 10, 0);
	sqlite3_bind_int64(ins, 11, 0);
	exec_ok(db, ins);
}

int main(int argc, char **argv)
{
	char line[4096], errbuf[256];
	sqlite3_stmt *svc, *edge, *win, *cnt, *lnk, *src;
	sqlite3 *db;

	if (argc != 2) {
		fprintf(stderr, "usage: mkfixture STORE < SPEC\n");
		return 2;
	}
	if (fl_store_open(argv[1], true, &db, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "mkfixture: %s\n", errbuf);
		return 2;
	}
	svc = prep(db, "INSERT INTO services(name, kind, first_seen_ns, last_seen_ns) "
		       "VALUES (?1, ?2, 0, 0)");
	edge = prep(db, "INSERT INTO edges(client_id, server_id, protocol, operation, "
			"first_seen_ns, last_seen_ns) VALUES ("
			"(SELECT id FROM services WHERE name = ?1), "
			"(SELECT id FROM services WHERE name = ?2), ?3, ?4, ?5, ?6)");
	win = prep(db, "INSERT INTO edge_windows(edge_id, window_start, requests, "
		       "errors, client_errors, conn_errors, latency_sum_ns, latency_hist, "
		       "source, req_bytes, resp_bytes) "
		       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
		       "ON CONFLICT(edge_id, source, window_start) DO UPDATE SET "
		       "requests = requests + excluded.requests, "
		       "errors = errors + excluded.errors, "
		       "client_errors = client_errors + excluded.client_errors, "
		       "conn_errors = conn_errors + excluded.conn_errors, "
		       "latency_sum_ns = latency_sum_ns + excluded.latency_sum_ns, "
		       "req_bytes = req_bytes + excluded.req_bytes, "
		       "resp_bytes = resp_bytes + excluded.resp_bytes, "
		       "latency_hist = fl_hist_merge(latency_hist, excluded.latency_hist)");
	src = prep(db, "INSERT INTO edge_sources(edge_id, source, samples, "
		       "first_seen_ns, last_seen_ns) VALUES (?1, ?2, ?3, ?4, ?5)");
	cnt = prep(db, "INSERT INTO agent_counters(name, value, updated_ns) "
		       "VALUES (?1, ?2, ?3)");
	lnk = prep(db, "INSERT INTO path_links(parent_edge_id, child_edge_id, method, "
		       "window_start, width_s, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
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
			sqlite3_bind_text(svc, 1, a, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(svc, 2, c, -1, SQLITE_TRANSIENT);
			exec_ok(db, svc);
		} else if (!strcmp(kw, "edge")) {
			int m = 0;
			if (sscanf(line + n, "%255s %255s %63s %lld %lld %n", a, b, c,
				   &first, &last, &m) != 5 || !m)
				die("edge CLIENT SERVER PROTO FIRST_NS LAST_NS OPERATION");
			sqlite3_bind_text(edge, 1, a, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(edge, 2, b, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(edge, 3, c, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(edge, 4, line + n + m, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(edge, 5, first);
			sqlite3_bind_int64(edge, 6, last);
			exec_ok(db, edge);
		} else if (!strcmp(kw, "window")) {
			do_window(db, win, line + n);
		} else if (!strcmp(kw, "blob")) {
			do_blob(db, win, line + n);
		} else if (!strcmp(kw, "link")) {
			do_link(db, lnk, line + n);
		} else if (!strcmp(kw, "source")) {
			char f[64], l[64];
			long long e, samples;
			if (sscanf(line + n, "%lld %63s %lld %63s %63s", &e, c, &samples,
				   f, l) != 5)
				die("source EDGE NAME SAMPLES FIRST_NS LAST_NS");
			sqlite3_bind_int64(src, 1, e);
			sqlite3_bind_text(src, 2, c, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(src, 3, samples);
			sqlite3_bind_int64(src, 4, parse_ns(f));
			sqlite3_bind_int64(src, 5, parse_ns(l));
			exec_ok(db, src);
		} else if (!strcmp(kw, "counter")) {
			if (sscanf(line + n, "%255s %lld %lld", a, &first, &last) != 3)
				die("counter NAME VALUE UPDATED_NS");
			sqlite3_bind_text(cnt, 1, a, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(cnt, 2, first);
			sqlite3_bind_int64(cnt, 3, last);
			exec_ok(db, cnt);
		} else {
			die("unknown statement");
		}
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
		die(sqlite3_errmsg(db));
	sqlite3_finalize(svc);
	sqlite3_finalize(edge);
	sqlite3_finalize(win);
	sqlite3_finalize(cnt);
	sqlite3_finalize(lnk);
	sqlite3_finalize(src);
	sqlite3_close(db);
	return 0;
}
