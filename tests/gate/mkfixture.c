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
 *   window EDGE START REQ ERR CLIENT_ERR CONN_ERR [NS*COUNT ...]
 *        (START: Unix seconds, or now-SECONDS floored to the minute;
 *         latency samples NS*COUNT; no samples: NULL histogram)
 *   blob EDGE START HEX   (a window of 1 request with a raw histogram blob)
 *   counter NAME VALUE UPDATED_NS   (a row of agent_counters)
 *   source EDGE SOURCE SAMPLES FIRST_NS LAST_NS   (a row of edge_sources)
 *   link PARENT CHILD METHOD START COUNT           (a row of path_links)
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
	long long edge, req, err, cerr, connerr;
	uint64_t sum = 0;
	char start[64], *tok, *save;
	int n;

	if (sscanf(rest, "%lld %63s %lld %lld %lld %lld%n", &edge, start, &req,
		   &err, &cerr, &connerr, &n) != 6)
		die("window EDGE START REQ ERR CLIENT_ERR CONN_ERR [NS*COUNT...]");
	for (tok = strtok_r(rest + n, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		unsigned long long ns, cnt;
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
	exec_ok(db, ins);
	fl_hist_release(&h);
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
	exec_ok(db, ins);
}

int main(int argc, char **argv)
{
	char line[4096], errbuf[256];
	sqlite3_stmt *svc, *edge, *win, *cnt, *src, *link;
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
		       "errors, client_errors, conn_errors, latency_sum_ns, latency_hist) "
		       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		       "ON CONFLICT(edge_id, source, window_start) DO UPDATE SET "
		       "requests = requests + excluded.requests, "
		       "errors = errors + excluded.errors, "
		       "client_errors = client_errors + excluded.client_errors, "
		       "conn_errors = conn_errors + excluded.conn_errors, "
		       "latency_sum_ns = latency_sum_ns + excluded.latency_sum_ns, "
		       "latency_hist = fl_hist_merge(latency_hist, excluded.latency_hist)");
	src = prep(db, "INSERT INTO edge_sources(edge_id, source, samples, "
		       "first_seen_ns, last_seen_ns) VALUES (?1, ?2, ?3, ?4, ?5)");
	link = prep(db, "INSERT INTO path_links(parent_edge_id, child_edge_id, "
			"method, window_start, count) VALUES (?1, ?2, ?3, ?4, ?5)");
	cnt = prep(db, "INSERT INTO agent_counters(name, value, updated_ns) "
		       "VALUES (?1, ?2, ?3)");
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
		} else if (!strcmp(kw, "counter")) {
			if (sscanf(line + n, "%255s %lld %lld", a, &first, &last) != 3)
				die("counter NAME VALUE UPDATED_NS");
			sqlite3_bind_text(cnt, 1, a, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(cnt, 2, first);
			sqlite3_bind_int64(cnt, 3, last);
			exec_ok(db, cnt);
		} else if (!strcmp(kw, "source")) {
			long long e, samples;
			if (sscanf(line + n, "%lld %63s %lld %lld %lld", &e, c, &samples,
				   &first, &last) != 5)
				die("source EDGE SOURCE SAMPLES FIRST_NS LAST_NS");
			sqlite3_bind_int64(src, 1, e);
			sqlite3_bind_text(src, 2, c, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(src, 3, samples);
			sqlite3_bind_int64(src, 4, first);
			sqlite3_bind_int64(src, 5, last);
			exec_ok(db, src);
		} else if (!strcmp(kw, "link")) {
			long long p, ch, cnt_;
			if (sscanf(line + n, "%lld %lld %63s %255s %lld", &p, &ch, c, a,
				   &cnt_) != 5)
				die("link PARENT CHILD METHOD START COUNT");
			sqlite3_bind_int64(link, 1, p);
			sqlite3_bind_int64(link, 2, ch);
			sqlite3_bind_text(link, 3, c, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(link, 4, parse_start(a));
			sqlite3_bind_int64(link, 5, cnt_);
			exec_ok(db, link);
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
	sqlite3_finalize(src);
	sqlite3_finalize(link);
	sqlite3_close(db);
	return 0;
}
