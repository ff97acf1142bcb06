/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The route cardinality cap of agent/aggregate.c: at most max_routes
 * distinct HTTP operations per server service, the rest counted under
 * "METHOD {overflow}" (a non-standard method under "_OTHER {overflow}"),
 * other protocols uncapped, each server its own budget, and a restarted
 * aggregator seeded from the store naming the same routes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate.h"
#include "harness.h"
#include "store.h"

#define T0 1795237200000000000ull	/* 2026-11-21T05:00:00Z, ns */

static char db_path[64];

static sqlite3 *db_fresh(void)
{
	char err[256];
	sqlite3 *db = NULL;
	int fd;

	snprintf(db_path, sizeof(db_path), "/tmp/fl-test-routes.XXXXXX");
	fd = mkstemp(db_path);
	if (fd >= 0)
		close(fd);
	unlink(db_path);
	if (fl_store_open(db_path, true, &db, err, sizeof(err)))
		fprintf(stderr, "  store: %s\n", err);
	return db;
}

static void db_done(sqlite3 *db)
{
	char p[80];

	sqlite3_close(db);
	unlink(db_path);
	snprintf(p, sizeof(p), "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db_path);
	unlink(p);
}

static int rec(struct aggregator *a, const char *client, const char *server,
	       enum fl_proto proto, const char *op)
{
	struct fl_record r = { .proto = proto, .start_ns = 1000, .end_ns = 2000 };

	snprintf(r.operation, sizeof(r.operation), "%s", op);
	return agg_record(a, client, server, SVC_SERVICE, &r, false, T0, NULL);
}

/* Requests stored on the edge @client -> @server @op, -1 if no such edge. */
static long long stored(sqlite3 *db, const char *client, const char *server,
			const char *op)
{
	static const char sql[] =
		"SELECT sum(w.requests) FROM edges e "
		"JOIN services c ON c.id = e.client_id "
		"JOIN services s ON s.id = e.server_id "
		"JOIN edge_windows w ON w.edge_id = e.id "
		"WHERE c.name = ?1 AND s.name = ?2 AND e.operation = ?3";
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return -2;
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, server, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, op, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static long long count_edges(sqlite3 *db)
{
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM edges", -1, &st, NULL))
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int flush(struct aggregator *a, sqlite3 *db)
{
	struct agent_stats stats = { 0 };
	char err[256];
	int rc = agg_flush(a, db, &stats, err, sizeof(err));

	if (rc)
		fprintf(stderr, "  flush: %s\n", err);
	return rc;
}

static void test_cap_and_overflow(void)
{
	struct aggregator *a = agg_new("ebpf");
	sqlite3 *db = db_fresh();
	char op[32];

	CHECK(a && db);
	if (!a || !db)
		goto out;
	agg_set_max_routes(a, 3);
	/* 6 distinct routes, in order: the first 3 keep their names */
	for (int i = 0; i < 6; i++) {
		snprintf(op, sizeof(op), "GET /r%d", i);
		CHECK_EQ_INT(rec(a, "web", "api", FL_PROTO_HTTP, op), 0);
	}
	/* a known route stays named after the cap is reached */
	CHECK_EQ_INT(rec(a, "web", "api", FL_PROTO_HTTP, "GET /r0"), 0);
	/* another client of the same server shares the server's budget */
	CHECK_EQ_INT(rec(a, "cron", "api", FL_PROTO_HTTP, "GET /r1"), 0);
	CHECK_EQ_INT(rec(a, "cron", "api", FL_PROTO_HTTP, "GET /new"), 0);
	/* the method survives for standard methods, else _OTHER */
	CHECK_EQ_INT(rec(a, "web", "api", FL_PROTO_HTTP, "POST /orders"), 0);
	CHECK_EQ_INT(rec(a, "web", "api", FL_PROTO_HTTP, "BREW /pot"), 0);
	CHECK_EQ_INT(rec(a, "web", "api", FL_PROTO_HTTP, "GETX /pot"), 0);
	/* another server: its own budget */
	for (int i = 0; i < 3; i++) {
		snprintf(op, sizeof(op), "GET /s%d", i);
		CHECK_EQ_INT(rec(a, "web", "auth", FL_PROTO_HTTP, op), 0);
	}
	/* other protocols are not capped */
	for (int i = 0; i < 5; i++) {
		snprintf(op, sizeof(op), "CMD%d", i);
		CHECK_EQ_INT(rec(a, "web", "redis", FL_PROTO_REDIS, op), 0);
	}
	CHECK_EQ_INT(agg_routes_overflowed(a), 3 + 1 + 3);
	CHECK_EQ_INT(flush(a, db), 0);

	CHECK_EQ_INT(stored(db, "web", "api", "GET /r0"), 2);
	CHECK_EQ_INT(stored(db, "web", "api", "GET /r1"), 1);
	CHECK_EQ_INT(stored(db, "cron", "api", "GET /r1"), 1);
	CHECK_EQ_INT(stored(db, "web", "api", "GET /r2"), 1);
	CHECK_EQ_INT(stored(db, "web", "api", "GET /r3"), -1);
	CHECK_EQ_INT(stored(db, "web", "api", "GET {overflow}"), 3);
	CHECK_EQ_INT(stored(db, "cron", "api", "GET {overflow}"), 1);
	CHECK_EQ_INT(stored(db, "web", "api", "POST {overflow}"), 1);
	CHECK_EQ_INT(stored(db, "web", "api", "_OTHER {overflow}"), 2);
	for (int i = 0; i < 3; i++) {
		snprintf(op, sizeof(op), "GET /s%d", i);
		CHECK_EQ_INT(stored(db, "web", "auth", op), 1);
	}
	CHECK_EQ_INT(stored(db, "web", "redis", "CMD4"), 1);
	/* on api: web r0 r1 r2, cron r1, 4 overflow edges; 3 on auth, 5 on redis */
	CHECK_EQ_INT(count_edges(db), 8 + 3 + 5);
out:
	agg_free(a);
	if (db)
		db_done(db);
}

/*
 * The one method table (fl_http_methods): a registered method that is not
 * standard (WebDAV's PROPFIND) is HTTP to detection, yet over the route cap
 * it is counted under "_OTHER", as OpenTelemetry names methods it does not
 * know; every standard one keeps its name.
 */
static void test_overflow_methods(void)
{
	struct aggregator *a = agg_new("ebpf");
	sqlite3 *db = db_fresh();
	char op[64];
	size_t standard = 0;

	CHECK(a && db);
	if (!a || !db)
		goto out;
	agg_set_max_routes(a, 1);
	CHECK_EQ_INT(rec(a, "dav", "files", FL_PROTO_HTTP, "GET /first"), 0);
	for (size_t i = 0; i < fl_http_nmethods; i++) {
		snprintf(op, sizeof(op), "%s /over", fl_http_methods[i].name);
		CHECK_EQ_INT(rec(a, "dav", "files", FL_PROTO_HTTP, op), 0);
		standard += fl_http_methods[i].standard;
	}
	CHECK_EQ_INT(standard, 9);
	CHECK_EQ_INT(flush(a, db), 0);
	CHECK_EQ_INT(stored(db, "dav", "files", "PROPFIND {overflow}"), -1);
	CHECK_EQ_INT(stored(db, "dav", "files", "_OTHER {overflow}"),
		     (long long)(fl_http_nmethods - standard));
	CHECK_EQ_INT(stored(db, "dav", "files", "PATCH {overflow}"), 1);
	CHECK_EQ_INT(stored(db, "dav", "files", "GET {overflow}"), 1);
	/* detection takes every method of the table, PROPFIND included */
	for (size_t i = 0; i < fl_http_nmethods; i++) {
		bool more = true;
		snprintf(op, sizeof(op), "%s / HTTP/1.1\r\n", fl_http_methods[i].name);
		CHECK_EQ_INT(fl_detect((const uint8_t *)op, strlen(op), &more), FL_PROTO_HTTP);
	}
out:
	agg_free(a);
	if (db)
		db_done(db);
}

static void test_seed_from_store(void)
{
	struct aggregator *a = agg_new("ebpf"), *b = NULL, *c = NULL;
	sqlite3 *db = db_fresh();
	char err[256];

	CHECK(a && db);
	if (!a || !db)
		goto out;
	agg_set_max_routes(a, 2);
	rec(a, "web", "api", FL_PROTO_HTTP, "GET /first");
	rec(a, "web", "api", FL_PROTO_HTTP, "GET /second");
	rec(a, "web", "api", FL_PROTO_HTTP, "GET /third");	/* overflow */
	CHECK_EQ_INT(flush(a, db), 0);

	/* a restart with the same cap: same names, same overflow */
	b = agg_new("ebpf");
	agg_set_max_routes(b, 2);
	CHECK_EQ_INT(agg_seed_routes(b, db, err, sizeof(err)), 0);
	rec(b, "web", "api", FL_PROTO_HTTP, "GET /second");
	rec(b, "web", "api", FL_PROTO_HTTP, "GET /fourth");
	CHECK_EQ_INT(agg_routes_overflowed(b), 1);
	CHECK_EQ_INT(flush(b, db), 0);
	CHECK_EQ_INT(stored(db, "web", "api", "GET /second"), 2);
	CHECK_EQ_INT(stored(db, "web", "api", "GET /fourth"), -1);
	CHECK_EQ_INT(stored(db, "web", "api", "GET {overflow}"), 2);

	/* a larger cap: the overflow edge is not a route, room for one more */
	c = agg_new("ebpf");
	agg_set_max_routes(c, 3);
	CHECK_EQ_INT(agg_seed_routes(c, db, err, sizeof(err)), 0);
	rec(c, "web", "api", FL_PROTO_HTTP, "GET /fifth");
	rec(c, "web", "api", FL_PROTO_HTTP, "GET /sixth");
	CHECK_EQ_INT(agg_routes_overflowed(c), 1);
	CHECK_EQ_INT(flush(c, db), 0);
	CHECK_EQ_INT(stored(db, "web", "api", "GET /fifth"), 1);
	CHECK_EQ_INT(stored(db, "web", "api", "GET /sixth"), -1);
	CHECK_EQ_INT(stored(db, "web", "api", "GET {overflow}"), 3);
out:
	agg_free(a);
	agg_free(b);
	agg_free(c);
	if (db)
		db_done(db);
}

static void test_no_cap_and_growth(void)
{
	struct aggregator *a = agg_new("ebpf");
	sqlite3 *db = db_fresh();
	char op[32];

	CHECK(a && db);
	if (!a || !db)
		goto out;
	/* 0: no cap; 2000 routes grow the table well past its first size */
	agg_set_max_routes(a, 0);
	for (int i = 0; i < 2000; i++) {
		snprintf(op, sizeof(op), "GET /p%d", i);
		CHECK_EQ_INT(rec(a, "web", "api", FL_PROTO_HTTP, op), 0);
	}
	CHECK_EQ_INT(agg_routes_overflowed(a), 0);
	CHECK_EQ_INT(flush(a, db), 0);
	CHECK_EQ_INT(count_edges(db), 2000);
	agg_free(a);

	/* the default cap, 500, on the same server after a restart */
	a = agg_new("ebpf");
	CHECK(a != NULL);
	if (!a)
		goto out;
	char err[256];
	CHECK_EQ_INT(agg_seed_routes(a, db, err, sizeof(err)), 0);
	/* 500 of the stored 2000 are known again, the other 1500 overflow */
	for (int i = 0; i < 2000; i++) {
		snprintf(op, sizeof(op), "GET /p%d", i);
		CHECK_EQ_INT(rec(a, "web", "api", FL_PROTO_HTTP, op), 0);
	}
	CHECK_EQ_INT(agg_routes_overflowed(a), 1500);
	CHECK(agg_route_is_overflow("GET {overflow}"));
	CHECK(agg_route_is_overflow("_OTHER {overflow}"));
	CHECK(!agg_route_is_overflow("GET /{overflow}"));
	CHECK(!agg_route_is_overflow("{overflow}"));
out:
	agg_free(a);
	if (db)
		db_done(db);
}

RUN_TESTS(test_cap_and_overflow, test_overflow_methods, test_seed_from_store, test_no_cap_and_growth)
