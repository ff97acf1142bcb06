/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The backlog of agent/aggregate.c: windows pending while the store cannot
 * be written are kept up to the cap, each minute its own window (never
 * folded into another minute, however long the outage), then records are
 * dropped and counted (a window drop once per edge and minute); a flush that
 * fails keeps everything, the next one that succeeds writes it all and
 * empties the backlog.
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
#define MIN_NS 60000000000ull

static char db_path[64];

static sqlite3 *db_fresh(void)
{
	char err[256];
	sqlite3 *db = NULL;
	int fd;

	snprintf(db_path, sizeof(db_path), "/tmp/fl-test-backlog.XXXXXX");
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

static int rec(struct aggregator *a, const char *op, uint64_t wall_ns)
{
	struct fl_record r = { .proto = FL_PROTO_REDIS, .start_ns = 1000, .end_ns = 2000 };

	snprintf(r.operation, sizeof(r.operation), "%s", op);
	return agg_record(a, "web", "cache", SVC_CACHE, &r, false, wall_ns, NULL);
}

static long long q(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int flush(struct aggregator *a, sqlite3 *db, bool quiet)
{
	struct agent_stats stats = { 0 };
	char err[256];
	int rc = agg_flush(a, db, &stats, err, sizeof(err));

	if (rc && !quiet)
		fprintf(stderr, "  flush: %s\n", err);
	return rc;
}

/* At the cap: new windows refused, records dropped and counted exactly. */
static void test_cap_and_drops(void)
{
	struct aggregator *a = agg_new("ebpf");
	sqlite3 *db = db_fresh();
	const struct agg_backlog *b;
	char op[16];

	CHECK(a && db);
	if (!a || !db)
		goto out;
	agg_set_backlog(a, 3);
	b = agg_backlog(a);
	for (int i = 0; i < 5; i++) {	/* 5 edges, one minute: 3 fit */
		snprintf(op, sizeof(op), "CMD%d", i);
		CHECK_EQ_INT(rec(a, op, T0), 0);
	}
	CHECK_EQ_INT(rec(a, "CMD0", T0 + 1), 0);	/* a kept window takes more */
	CHECK_EQ_INT(rec(a, "CMD4", T0 + 2), 0);	/* a refused one: one more record */
	CHECK_EQ_INT(rec(a, "CMD0", T0 + MIN_NS), 0); /* a new minute: refused too */
	CHECK_EQ_INT(b->windows, 3);
	CHECK_EQ_INT(b->peak, 3);
	CHECK_EQ_INT(b->windows_dropped, 3);	/* CMD3, CMD4, CMD0 minute 2 */
	CHECK_EQ_INT(b->records_dropped, 4);
	CHECK_EQ_INT(flush(a, db, false), 0);
	CHECK_EQ_INT(b->windows, 0);
	CHECK_EQ_INT(q(db, "SELECT sum(requests) FROM edge_windows"), 4);
	CHECK_EQ_INT(q(db, "SELECT count(*) FROM edge_windows"), 3);
	/* after the flush there is room again */
	CHECK_EQ_INT(rec(a, "CMD4", T0 + MIN_NS), 0);
	CHECK_EQ_INT(b->windows, 1);
	CHECK_EQ_INT(b->records_dropped, 4);
out:
	agg_free(a);
	if (db)
		db_done(db);
}

/* A long outage: every minute its own window, written once the store is back. */
static void test_outage_then_recovery(void)
{
	struct aggregator *a = agg_new("ebpf");
	sqlite3 *db = db_fresh(), *ro = NULL;
	const struct agg_backlog *b;

	CHECK(a && db);
	if (!a || !db)
		goto out;
	b = agg_backlog(a);
	CHECK_EQ_INT(sqlite3_open_v2(db_path, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	/* 30 minutes of one edge, i + 1 requests in minute i, the store failing */
	for (int i = 0; i < 30; i++) {
		for (int k = 0; k <= i; k++)
			CHECK_EQ_INT(rec(a, "GET", T0 + (uint64_t)i * MIN_NS + (uint64_t)k), 0);
		CHECK(flush(a, ro, true) != 0);
	}
	CHECK_EQ_INT(b->windows, 30);
	CHECK_EQ_INT(b->records_dropped, 0);
	CHECK_EQ_INT(q(db, "SELECT count(*) FROM edge_windows"), 0);
	CHECK_EQ_INT(flush(a, db, false), 0);
	CHECK_EQ_INT(b->windows, 0);
	CHECK_EQ_INT(q(db, "SELECT count(*) FROM edge_windows"), 30);
	CHECK_EQ_INT(q(db, "SELECT sum(requests) FROM edge_windows"), 30 * 31 / 2);
	/* minute i holds exactly i + 1: nothing folded into another minute */
	CHECK_EQ_INT(q(db, "SELECT count(*) FROM edge_windows WHERE "
			   "requests != (window_start - 1795237200) / 60 + 1"), 0);
	/* a second flush writes nothing twice */
	CHECK_EQ_INT(flush(a, db, false), 0);
	CHECK_EQ_INT(q(db, "SELECT sum(requests) FROM edge_windows"), 30 * 31 / 2);
out:
	sqlite3_close(ro);
	agg_free(a);
	if (db)
		db_done(db);
}

/* Conn errors share the cap. */
static void test_conn_errors_capped(void)
{
	struct aggregator *a = agg_new("ebpf");
	const struct agg_backlog *b;

	CHECK(a != NULL);
	if (!a)
		return;
	agg_set_backlog(a, 1);
	b = agg_backlog(a);
	CHECK_EQ_INT(agg_conn_error(a, "web", "10.0.0.1:80", SVC_EXTERNAL, -ECONNREFUSED, T0), 0);
	CHECK_EQ_INT(agg_conn_error(a, "web", "10.0.0.2:80", SVC_EXTERNAL, -ECONNREFUSED, T0), 0);
	CHECK_EQ_INT(b->windows, 1);
	CHECK_EQ_INT(b->records_dropped, 1);
	CHECK_EQ_INT(b->windows_dropped, 1);
	agg_free(a);
}

RUN_TESTS(test_cap_and_drops, test_outage_then_recovery, test_conn_errors_capped)
