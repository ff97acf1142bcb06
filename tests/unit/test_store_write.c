/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lib/store_write.c: each named rule does what its writers rely on, on a
 * real store (lib/store.c schema): kind promote/keep, histograms
 * merge/keep-null, counters set/add, TLS never cleared, width_s the max,
 * operations keeping their import, import items.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hist.h"
#include "store.h"
#include "store_write.h"

static char db_path[64];

static sqlite3 *db_fresh(void)
{
	char err[256];
	sqlite3 *db = NULL;
	int fd;

	snprintf(db_path, sizeof(db_path), "/tmp/fl-test-sw.XXXXXX");
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

/* The text of the first column of @sql's first row, into @buf; "" if none. */
static const char *q(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return buf;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		snprintf(buf, len, "NULL");
	sqlite3_finalize(st);
	return buf;
}

static void test_kind_rules(void)
{
	static const struct fl_sw_rules keep = { .kind = FL_SW_KIND_KEEP };
	sqlite3 *db = db_fresh();
	struct fl_sw w, k;
	int64_t id1 = 0, id2 = 0;
	char b[64];

	CHECK(db);
	if (!db)
		return;
	fl_sw_init(&w, db, NULL);
	fl_sw_init(&k, db, &keep);
	/* promote: external takes the kind it is seen with next; a protocol's
	 * kind is never lost */
	CHECK_EQ_INT(fl_sw_service(&w, "10.0.0.9:5432", "external", 5, 6, &id1), 0);
	CHECK_EQ_INT(fl_sw_service(&w, "10.0.0.9:5432", "database", 1, 9, &id2), 0);
	CHECK_EQ_INT(id1, id2);
	CHECK_EQ_STR(q(db, "SELECT kind FROM services WHERE id = 1", b, sizeof(b)), "database");
	CHECK_EQ_INT(fl_sw_service(&w, "10.0.0.9:5432", "service", 3, 4, NULL), 0);
	CHECK_EQ_STR(q(db, "SELECT kind || ' ' || first_seen_ns || ' ' || last_seen_ns "
		       "FROM services WHERE id = 1", b, sizeof(b)), "database 1 9");
	/* keep (import): an existing service keeps its kind */
	CHECK_EQ_INT(fl_sw_service(&w, "api", "external", 5, 5, NULL), 0);
	CHECK_EQ_INT(fl_sw_service(&k, "api", "service", 2, 8, NULL), 0);
	CHECK_EQ_STR(q(db, "SELECT kind || ' ' || first_seen_ns || ' ' || last_seen_ns "
		       "FROM services WHERE name = 'api'", b, sizeof(b)), "external 2 8");
	fl_sw_release(&w);
	fl_sw_release(&k);
	db_done(db);
}

static void test_edges_and_windows(void)
{
	static const struct fl_sw_rules merge = {
		.hist = FL_SW_HIST_KEEP_NULL, .counter = FL_SW_COUNTER_ADD,
	};
	struct fl_hist h = FL_HIST_INIT;
	sqlite3 *db = db_fresh();
	struct fl_sw w, m;
	struct fl_sw_edge e = { .protocol = "http", .operation = "GET /x",
				.first_ns = 10, .last_ns = 20, .tls = true };
	struct fl_sw_window win = { .source = "ebpf", .start_s = 3600, .width_s = 3600,
				    .requests = 5, .errors = 1 };
	int64_t eid = 0, eid2 = 0;
	uint8_t *blob = NULL;
	size_t len = 0;
	char b[64];

	CHECK(db);
	if (!db)
		return;
	fl_sw_init(&w, db, NULL);
	fl_sw_init(&m, db, &merge);
	CHECK_EQ_INT(fl_sw_service(&w, "a", "service", 0, 0, &e.client_id), 0);
	CHECK_EQ_INT(fl_sw_service(&w, "b", "service", 0, 0, &e.server_id), 0);
	CHECK_EQ_INT(fl_sw_edge(&w, &e, &eid), 0);
	e.tls = false;		/* an import cannot know: never clears the mark */
	e.first_ns = 5;
	CHECK_EQ_INT(fl_sw_edge(&w, &e, &eid2), 0);
	CHECK_EQ_INT(eid, eid2);
	CHECK_EQ_STR(q(db, "SELECT tls || ' ' || first_seen_ns || ' ' || last_seen_ns "
		       "FROM edges", b, sizeof(b)), "1 5 20");
	/* an hourly row, then a late minute row at its start: inside it */
	CHECK_EQ_INT(fl_sw_window(&m, eid, &win), 0);
	win.width_s = 60;
	CHECK_EQ_INT(fl_sw_window(&m, eid, &win), 0);
	CHECK_EQ_STR(q(db, "SELECT width_s || ' ' || requests || ' ' || errors || ' ' || "
		       "coalesce(latency_hist, 'NULL') FROM edge_windows", b, sizeof(b)),
		     "3600 10 2 NULL");
	/* keep-null: no latency on either side stays NULL; merge: becomes a blob */
	win.start_s = 7200;
	CHECK_EQ_INT(fl_sw_window(&w, eid, &win), 0);
	CHECK_EQ_INT(fl_sw_window(&w, eid, &win), 0);
	CHECK_EQ_STR(q(db, "SELECT typeof(latency_hist) FROM edge_windows "
		       "WHERE window_start = 7200", b, sizeof(b)), "blob");
	/* keep-null with one side: that side's blob as it is */
	CHECK_EQ_INT(fl_hist_add(&h, 1000000, 3), 0);
	CHECK_EQ_INT(fl_hist_encode(&h, &blob, &len), 0);
	win.hist = blob;
	win.hist_len = len;
	win.start_s = 3600;
	CHECK_EQ_INT(fl_sw_window(&m, eid, &win), 0);
	CHECK_EQ_STR(q(db, "SELECT length(latency_hist) || ' ' || requests FROM edge_windows "
		       "WHERE window_start = 3600", b, sizeof(b)),
		     (snprintf(b + 32, 32, "%zu 15", len), b + 32));
	/* sources add samples; links add counts, width the max */
	CHECK_EQ_INT(fl_sw_source(&w, eid, "trace", 2, 50, 60), 0);
	CHECK_EQ_INT(fl_sw_source(&w, eid, "trace", 3, 40, 55), 0);
	CHECK_EQ_STR(q(db, "SELECT samples || ' ' || first_seen_ns || ' ' || last_seen_ns "
		       "FROM edge_sources WHERE source = 'trace'", b, sizeof(b)), "5 40 60");
	CHECK_EQ_INT(fl_sw_link(&w, eid, eid, "thread", 3600, 3600, 4), 0);
	CHECK_EQ_INT(fl_sw_link(&w, eid, eid, "thread", 3600, 60, 1), 0);
	CHECK_EQ_STR(q(db, "SELECT width_s || ' ' || count FROM path_links", b, sizeof(b)),
		     "3600 5");
	free(blob);
	fl_hist_release(&h);
	fl_sw_release(&w);
	fl_sw_release(&m);
	db_done(db);
}

static void test_counters_imports_operations(void)
{
	static const struct fl_sw_rules add = { .counter = FL_SW_COUNTER_ADD };
	sqlite3 *db = db_fresh();
	struct fl_sw w, a;
	int64_t imp = 0, svc = 0;
	char b[64];

	CHECK(db);
	if (!db)
		return;
	fl_sw_init(&w, db, NULL);
	fl_sw_init(&a, db, &add);
	/* set: the agent's running total replaces; add: the nodes' total */
	CHECK_EQ_INT(fl_sw_counter(&w, "ringbuf_drops", 7, 100), 0);
	CHECK_EQ_INT(fl_sw_counter(&w, "ringbuf_drops", 9, 200), 0);
	CHECK_EQ_STR(q(db, "SELECT value || ' ' || updated_ns FROM agent_counters", b, sizeof(b)),
		     "9 200");
	CHECK_EQ_INT(fl_sw_counter(&a, "ringbuf_drops", 4, 150), 0);
	CHECK_EQ_STR(q(db, "SELECT value || ' ' || updated_ns FROM agent_counters", b, sizeof(b)),
		     "13 200");
	/* imports: a row, then its items */
	CHECK_EQ_INT(fl_sw_import(&w, "openapi", "api.json", "api", 1000, 0, &imp), 0);
	CHECK_EQ_INT(fl_sw_import_items(&w, imp, 12), 0);
	CHECK_EQ_STR(q(db, "SELECT kind || ' ' || service || ' ' || items FROM imports", b, sizeof(b)),
		     "openapi api 12");
	/* operations: a merged row (no import) keeps the import it has */
	CHECK_EQ_INT(fl_sw_service(&w, "api", "service", 0, 0, &svc), 0);
	CHECK_EQ_INT(fl_sw_operation(&w, svc, "http", "GET /u/{id}", "schema", imp, 1000, 1000), 0);
	CHECK_EQ_INT(fl_sw_operation(&w, svc, "http", "GET /u/{id}", "schema", 0, 500, 2000), 0);
	CHECK_EQ_STR(q(db, "SELECT import_id || ' ' || first_seen_ns || ' ' || last_seen_ns "
		       "FROM operations", b, sizeof(b)), "1 500 2000");
	/* an error is -EIO with SQLite's message: an edge of no service */
	struct fl_sw_edge bad = { .client_id = 999, .server_id = 998, .protocol = "http",
				  .operation = "x" };
	CHECK_EQ_INT(fl_sw_edge(&w, &bad, NULL), -EIO);
	CHECK(strstr(w.err, "FOREIGN KEY") != NULL);
	fl_sw_release(&w);
	fl_sw_release(&a);
	db_done(db);
}

RUN_TESTS(test_kind_rules, test_edges_and_windows, test_counters_imports_operations)
