/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Statuses and footprints (agent/aggregate.c, agent/footprint.c): the
 * status string of each protocol's records, the per-window status rows and
 * their cap of 16 (in memory and in the store), attribution of records to
 * the test whose [begin, end] holds their start, one test at a time, and
 * the footprint rows written at the end.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate.h"
#include "compact.h"
#include "footprint.h"
#include "harness.h"
#include "store.h"

#define T0 1795237200000000000ull	/* 2026-11-21T05:00:00Z, ns */
#define S 1000000000ull

static char db_path[64];

static sqlite3 *db_fresh(void)
{
	char err[256];
	sqlite3 *db = NULL;
	int fd;

	snprintf(db_path, sizeof(db_path), "/tmp/fl-test-fp.XXXXXX");
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

static int64_t q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) {
		fprintf(stderr, "  sql: %s\n", sqlite3_errmsg(db));
		return -2;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A record of @proto/@op with @status/@text, @lat ns long, at @wall. */
static int rec(struct aggregator *a, const char *client, const char *server,
	       enum fl_proto proto, const char *op, int status,
	       const char *text, bool error, uint64_t lat, uint64_t wall)
{
	struct fl_record r = { .proto = proto, .status = status, .error = error,
			       .start_ns = 1000, .end_ns = 1000 + lat };

	snprintf(r.operation, sizeof(r.operation), "%s", op);
	snprintf(r.status_text, sizeof(r.status_text), "%s", text);
	return agg_record(a, client, server, SVC_SERVICE, &r, false, wall, NULL);
}

static void test_status_strings(void)
{
	struct fl_record r = { .proto = FL_PROTO_HTTP, .status = 404 };
	char s[AGG_STATUS_LEN];

	agg_status(&r, s);
	CHECK_EQ_STR(s, "404");
	r = (struct fl_record){ .proto = FL_PROTO_GRPC, .status = 14, .error = true };
	agg_status(&r, s);
	CHECK_EQ_STR(s, "grpc:14");
	r = (struct fl_record){ .proto = FL_PROTO_GRPC };
	agg_status(&r, s);
	CHECK_EQ_STR(s, "grpc:0");
	r = (struct fl_record){ .proto = FL_PROTO_POSTGRES, .error = true,
				.status_text = "42P01" };
	agg_status(&r, s);
	CHECK_EQ_STR(s, "42P01");
	r = (struct fl_record){ .proto = FL_PROTO_MYSQL };
	agg_status(&r, s);
	CHECK_EQ_STR(s, "ok");
	r = (struct fl_record){ .proto = FL_PROTO_REDIS, .error = true,
				.status_text = "WRONGTYPE" };
	agg_status(&r, s);
	CHECK_EQ_STR(s, "WRONGTYPE");
	r = (struct fl_record){ .proto = FL_PROTO_REDIS, .error = true };
	agg_status(&r, s);
	CHECK_EQ_STR(s, "ERR");
	r = (struct fl_record){ .proto = FL_PROTO_REDIS };
	agg_status(&r, s);
	CHECK_EQ_STR(s, "ok");
	CHECK_EQ_STR(agg_conn_status(-111), "conn_refused");
	CHECK_EQ_STR(agg_conn_status(-104), "conn_reset");
	CHECK_EQ_STR(agg_conn_status(-110), "conn_failed");
}

/* 20 statuses on one edge-window: 16 rows and _other with the other 4. */
static void test_window_status_cap(void)
{
	struct agent_stats stats = { 0 };
	struct aggregator *a = agg_new("ebpf");
	sqlite3 *db = db_fresh();
	char err[256];

	CHECK(a && db);
	if (!a || !db)
		goto out;
	for (int i = 0; i < 20; i++)
		for (int k = 0; k <= i % 3; k++)
			CHECK_EQ_INT(rec(a, "c", "s", FL_PROTO_HTTP, "GET /x",
					 200 + i, "", false, 10, T0), 0);
	CHECK_EQ_INT(agg_conn_error(a, "c", "s", SVC_SERVICE, -111, T0 + S), 0);
	CHECK_EQ_INT(agg_conn_error(a, "c", "s", SVC_SERVICE, -111, T0 + S), 0);
	CHECK_EQ_INT(agg_flush(a, db, &stats, err, sizeof(err)), 0);
	CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM edge_window_statuses s JOIN "
			   "edges e ON e.id = s.edge_id WHERE e.protocol = 'http'"), 17);
	/* statuses 216..219: 2+3+1+2 requests */
	CHECK_EQ_INT(q_int(db, "SELECT requests FROM edge_window_statuses WHERE "
			   "status = '_other'"), 8);
	CHECK_EQ_INT(q_int(db, "SELECT sum(requests) FROM edge_window_statuses s JOIN "
			   "edges e ON e.id = s.edge_id WHERE e.protocol = 'http'"),
		     q_int(db, "SELECT requests FROM edge_windows w JOIN edges e ON "
			   "e.id = w.edge_id WHERE e.protocol = 'http'"));
	CHECK_EQ_INT(q_int(db, "SELECT requests || errors || width_s FROM "
			   "edge_window_statuses WHERE status = 'conn_refused'"), 2260);
	/* a later flush in the same minute: known statuses add, new ones are
	 * _other because the window already has 16 in the store */
	CHECK_EQ_INT(rec(a, "c", "s", FL_PROTO_HTTP, "GET /x", 200, "", false, 10, T0), 0);
	CHECK_EQ_INT(rec(a, "c", "s", FL_PROTO_HTTP, "GET /x", 503, "", true, 10, T0), 0);
	CHECK_EQ_INT(agg_flush(a, db, &stats, err, sizeof(err)), 0);
	CHECK_EQ_INT(q_int(db, "SELECT requests FROM edge_window_statuses WHERE "
			   "status = '200'"), 2);
	CHECK_EQ_INT(q_int(db, "SELECT requests * 10 + errors FROM edge_window_statuses "
			   "WHERE status = '_other'"), 91);
	CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM edge_window_statuses WHERE "
			   "status = '503'"), 0);
out:
	agg_free(a);
	if (db)
		db_done(db);
}

/* begin/end: only records starting inside; one test at a time. */
static void test_attribution(void)
{
	struct agent_stats stats = { 0 };
	struct aggregator *a = agg_new("test");
	struct footprint *fp = footprint_new();
	struct footprint_state st;
	sqlite3 *db = db_fresh();
	uint64_t rows = 0;
	char err[256];

	CHECK(a && fp && db);
	if (!a || !fp || !db)
		goto out;
	agg_set_footprint(a, fp);
	/* before any test: counted in windows only */
	CHECK_EQ_INT(rec(a, "t", "web", FL_PROTO_HTTP, "GET /", 200, "", false, 100, T0), 0);
	CHECK_EQ_INT(footprint_begin(fp, 7, "bad name", T0 + 10 * S), -EINVAL);
	CHECK_EQ_INT(footprint_begin(fp, 7, "", T0 + 10 * S), -EINVAL);
	CHECK_EQ_INT(footprint_begin(fp, 7, "A", T0 + 10 * S), 0);
	CHECK_EQ_INT(footprint_begin(fp, 7, "B", T0 + 11 * S), -EBUSY);
	/* started before begin, arriving after: not A's */
	CHECK_EQ_INT(rec(a, "t", "web", FL_PROTO_HTTP, "GET /", 200, "", false, 100,
			 T0 + 9 * S), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(rec(a, "t", "web", FL_PROTO_HTTP, "GET /", 200, "", false,
				 1000 * (i + 1), T0 + 11 * S), 0);
	for (int i = 0; i < 2; i++)
		CHECK_EQ_INT(rec(a, "t", "web", FL_PROTO_HTTP, "GET /nope", 404, "",
				 false, 500, T0 + 12 * S), 0);
	CHECK_EQ_INT(rec(a, "web", "db", FL_PROTO_POSTGRES, "SELECT * FROM t", 0,
			 "42P01", true, 700, T0 + 12 * S), 0);
	CHECK_EQ_INT(agg_conn_error(a, "web", "cache", SVC_CACHE, -111, T0 + 13 * S), 0);
	CHECK_EQ_INT(footprint_mark_end(fp, 7, "B", T0 + 14 * S), -ENOENT);
	CHECK_EQ_INT(footprint_mark_end(fp, 8, "A", T0 + 14 * S), -ENOENT);
	CHECK_EQ_INT(footprint_mark_end(fp, 7, "A", T0 + 14 * S), 0);
	/* drained after end: started inside (counted), after (not) */
	CHECK_EQ_INT(rec(a, "t", "web", FL_PROTO_HTTP, "GET /nope", 404, "", false,
			 500, T0 + 14 * S), 0);
	CHECK_EQ_INT(rec(a, "t", "web", FL_PROTO_HTTP, "GET /", 200, "", false, 500,
			 T0 + 14 * S + 1), 0);
	footprint_state(fp, &st);
	CHECK(st.open);
	CHECK_EQ_INT(st.attributed, 8);
	CHECK_EQ_INT(st.outside, 1);
	CHECK_EQ_INT(footprint_write(fp, db, &rows, err, sizeof(err)), 0);
	CHECK_EQ_INT(rows, 4);
	footprint_state(fp, &st);
	CHECK(!st.open);
	CHECK_EQ_INT(st.tests_ended, 1);
	CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM footprints WHERE run_id = 7 AND test = 'A'"), 4);
	CHECK_EQ_INT(q_int(db, "SELECT requests * 100 + errors * 10 + (latency_sum_ns = 6000) "
			   "FROM footprints WHERE client = 't' AND server = 'web' AND "
			   "protocol = 'http' AND operation = 'GET /' AND status = '200'"), 301);
	CHECK_EQ_INT(q_int(db, "SELECT requests * 100 + errors * 10 + (latency_sum_ns = 1500) "
			   "FROM footprints WHERE operation = 'GET /nope' AND status = '404'"), 301);
	CHECK_EQ_INT(q_int(db, "SELECT requests * 100 + errors * 10 + (latency_hist IS NOT NULL) "
			   "FROM footprints WHERE server = 'db' AND status = '42P01'"), 111);
	CHECK_EQ_INT(q_int(db, "SELECT requests * 100 + errors * 10 + (latency_hist IS NULL) "
			   "FROM footprints WHERE server = 'cache' AND protocol = 'tcp' AND "
			   "operation = 'connect' AND status = 'conn_refused'"), 111);
	/* the histogram is lib/hist's: three values, merged exactly */
	CHECK_EQ_INT(q_int(db, "SELECT length(latency_hist) > 0 FROM footprints WHERE "
			   "status = '200'"), 1);
	/* after the end: nothing attributed, a new test may begin */
	CHECK_EQ_INT(rec(a, "t", "web", FL_PROTO_HTTP, "GET /", 200, "", false, 100,
			 T0 + 14 * S), 0);
	footprint_state(fp, &st);
	CHECK_EQ_INT(st.attributed, 8);
	CHECK_EQ_INT(footprint_begin(fp, 7, "B", T0 + 20 * S), 0);
	CHECK_EQ_INT(footprint_mark_end(fp, 7, "B", T0 + 21 * S), 0);
	CHECK_EQ_INT(footprint_write(fp, db, &rows, err, sizeof(err)), 0);
	CHECK_EQ_INT(rows, 0);
	/* windows counted everything, footprint or not */
	CHECK_EQ_INT(agg_flush(a, db, &stats, err, sizeof(err)), 0);
	CHECK_EQ_INT(q_int(db, "SELECT sum(requests) FROM edge_windows"), 11);
	CHECK_EQ_INT(q_int(db, "SELECT sum(requests) FROM edge_window_statuses WHERE "
			   "source = 'test'"), 12);
out:
	agg_free(a);
	footprint_free(fp);
	if (db)
		db_done(db);
}

/* 20 statuses in one test on one edge: 16 rows and _other. */
static void test_footprint_status_cap(void)
{
	struct footprint *fp = footprint_new();
	sqlite3 *db = db_fresh();
	uint64_t rows = 0;
	char err[256], status[16];

	CHECK(fp && db);
	if (!fp || !db)
		goto out;
	CHECK_EQ_INT(footprint_begin(fp, 1, "cap", T0), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(status, sizeof(status), "%d", 200 + i);
		CHECK_EQ_INT(footprint_add(fp, "c", "s", "http", "GET /", status,
					   false, true, 10, T0 + 1), 1);
	}
	CHECK_EQ_INT(footprint_mark_end(fp, 1, "cap", T0 + 2), 0);
	/* a write that fails keeps the rows: the retry writes them */
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	CHECK_EQ_INT(footprint_write(fp, db, &rows, err, sizeof(err)), -EIO);
	CHECK(strstr(err, "cannot write footprint") != NULL);
	CHECK_EQ_INT(footprint_begin(fp, 1, "next", T0 + 3), -EBUSY);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	CHECK_EQ_INT(footprint_mark_end(fp, 1, "cap", T0 + 3), 0);
	CHECK_EQ_INT(footprint_write(fp, db, &rows, err, sizeof(err)), 0);
	CHECK_EQ_INT(rows, 17);
	CHECK_EQ_INT(q_int(db, "SELECT requests FROM footprints WHERE status = '_other'"), 4);
out:
	footprint_free(fp);
	if (db)
		db_done(db);
}

/*
 * Roll-up: 20 statuses over two minutes of one hour become the 16 with
 * the most requests and _other; retention deletes status rows with their
 * windows; test runs expire but the newest learn run of each stack.
 */
static void test_compaction(void)
{
	sqlite3 *db = db_fresh();
	struct fl_compact_stats st = { 0 };
	int64_t h = (int64_t)(T0 / S);	/* an hour start */
	char sql[256], err[256];

	CHECK(db != NULL);
	if (!db)
		return;
	CHECK_EQ_INT(sqlite3_exec(db,
		"INSERT INTO services VALUES (1, 'c', 'service', 1, 1), (2, 's', 'service', 1, 1);"
		"INSERT INTO edges(id, client_id, server_id, protocol, operation, first_seen_ns, last_seen_ns) "
		"VALUES (1, 1, 2, 'http', 'GET /', 1, 1)", NULL, NULL, NULL), SQLITE_OK);
	/* status 200+i: i+1 requests, half in each minute; 1 in _other */
	for (int i = 0; i < 20; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO edge_window_statuses VALUES "
			 "(1, 'ebpf', %lld, 60, '%d', %d, %d), (1, 'ebpf', %lld, 60, '%d', 1, 0)",
			 (long long)h, 200 + i, i, i >= 10, (long long)h + 60, 200 + i);
		CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	snprintf(sql, sizeof(sql), "INSERT INTO edge_window_statuses VALUES "
		 "(1, 'ebpf', %lld, 60, '_other', 1, 1)", (long long)h + 60);
	CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	CHECK_EQ_INT(fl_store_compact(db, h + 2 * 3600, 3600, FL_COMPACT_NEVER, &st,
				      err, sizeof(err)), 0);
	CHECK_EQ_INT(st.statuses_rolled, 41);
	CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM edge_window_statuses WHERE width_s = 3600"), 17);
	/* statuses 200..203 (1..4 requests) go to _other with the minutes' 1 */
	CHECK_EQ_INT(q_int(db, "SELECT requests * 100 + errors FROM edge_window_statuses "
			   "WHERE status = '_other'"), 1101);
	CHECK_EQ_INT(q_int(db, "SELECT requests FROM edge_window_statuses WHERE status = '219'"), 20);
	CHECK_EQ_INT(q_int(db, "SELECT sum(requests) FROM edge_window_statuses"), 20 * 21 / 2 + 1);
	/* retention: the hour's rows go, then the edge (nothing refers to it) */
	CHECK_EQ_INT(fl_store_compact(db, h + 9 * 86400, FL_COMPACT_NEVER, 7 * 86400,
				      &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.statuses_expired, 17);
	CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM edge_window_statuses"), 0);
	CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM edges"), 0);

	/* test runs: 1, 2 learn (old), 3 gate (old), 4 gate (new) of stack e;
	 * 5 learn (old) of stack f; footprints of runs 1, 3, 4 and 99 (no row) */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO test_runs(id, kind, stack, started_ns) VALUES "
		 "(1, 'learn', 'e', 1), (2, 'learn', 'e', 2), (3, 'gate', 'e', 3), "
		 "(4, 'gate', 'e', %lld), (5, 'learn', 'f', 4)", (long long)T0);
	CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db,
		"INSERT INTO test_results(run_id, test, result) VALUES (1, 't', 'pass'), (3, 't', 'fail');"
		"INSERT INTO gate_runs(id, test_run_id, stack, changed, started_ns) VALUES (1, 3, 'e', '[]', 3);"
		"INSERT INTO footprints(run_id, test, client, server, protocol, operation, status, requests, errors) "
		"VALUES (1, 't', 'c', 's', 'http', 'GET /', '200', 1, 0), (3, 't', 'c', 's', 'http', 'GET /', '200', 1, 0),"
		" (4, 't', 'c', 's', 'http', 'GET /', '200', 1, 0), (99, 't', 'c', 's', 'http', 'GET /', '200', 1, 0)",
		NULL, NULL, NULL), SQLITE_OK);
	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(fl_store_expire_tests(db, (int64_t)(T0 / S) + 86400, 30 * 86400,
					   &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.test_runs_expired, 2);
	CHECK_EQ_INT(st.footprints_expired, 2);
	/* kept: 2 and 5 (each stack's newest learn), 4 (recent) */
	CHECK_EQ_INT(q_int(db, "SELECT sum(id * id) FROM test_runs"), 4 + 16 + 25);
	CHECK_EQ_INT(q_int(db, "SELECT sum(run_id) FROM footprints"), 4 + 99);
	CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM test_results"), 0);
	CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM gate_runs WHERE test_run_id IS NULL"), 1);
	CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	/* idempotent; never keeps everything */
	CHECK_EQ_INT(fl_store_expire_tests(db, (int64_t)(T0 / S) + 86400, 30 * 86400,
					   &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.test_runs_expired, 2);
	CHECK_EQ_INT(fl_store_expire_tests(db, (int64_t)(T0 / S) + 86400, FL_COMPACT_NEVER,
					   &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(q_int(db, "SELECT count(*) FROM test_runs"), 3);
	db_done(db);
}

RUN_TESTS(test_status_strings, test_window_status_cap, test_attribution,
	  test_footprint_status_cap, test_compaction)
