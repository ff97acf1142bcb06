// SPDX-License-Identifier: BSD-2-Clause
/*
 * Roll-up and retention (compact.h). The SQL works on the schema 3 tables;
 * deleting edges and services checks every table whose foreign key names
 * them (read from the schema, so tables added by later migrations are
 * respected without changing this file).
 */
#include "compact.h"
#include "hist.h"
#include "store_write.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fl_hist_sum(blob): aggregate merge, NULL when no row has samples ---- */

struct hist_sum {
	struct fl_hist h;
	bool any;		/* a blob was merged */
	bool bad;		/* a malformed blob was seen */
};

static void hist_sum_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct hist_sum *s = sqlite3_aggregate_context(ctx, sizeof(*s));

	if (!s) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (s->bad || sqlite3_value_type(argv[0]) != SQLITE_BLOB)
		return;
	if (fl_hist_decode_merge(&s->h, sqlite3_value_blob(argv[0]),
				 (size_t)sqlite3_value_bytes(argv[0]))) {
		s->bad = true;
		sqlite3_result_error(ctx, "malformed latency histogram", -1);
		return;
	}
	s->any = true;
}

static void hist_sum_final(sqlite3_context *ctx)
{
	struct hist_sum *s = sqlite3_aggregate_context(ctx, 0);
	uint8_t *blob;
	size_t len;

	if (!s || !s->any || s->bad) {
		if (s && s->bad)
			sqlite3_result_error(ctx, "malformed latency histogram", -1);
		else
			sqlite3_result_null(ctx);
		goto out_release;
	}
	if (fl_hist_encode(&s->h, &blob, &len)) {
		sqlite3_result_error_nomem(ctx);
		goto out_release;
	}
	sqlite3_result_blob(ctx, blob, (int)len, free);
out_release:
	if (s)
		fl_hist_release(&s->h);
}

/* ---- the statements ---- */

#define WSUMS "requests, errors, client_errors, conn_errors, req_bytes, " \
	      "resp_bytes, latency_sum_ns"

/* ?1: roll-up cutoff, Unix s, a multiple of an hour */
static const char *const rollup_sql[] = {
	"CREATE TEMP TABLE fl_rollup_w AS SELECT edge_id, source, "
	"window_start - window_start % 3600 AS hour, sum(requests) AS requests, "
	"sum(errors) AS errors, sum(client_errors) AS client_errors, "
	"sum(conn_errors) AS conn_errors, sum(req_bytes) AS req_bytes, "
	"sum(resp_bytes) AS resp_bytes, sum(latency_sum_ns) AS latency_sum_ns, "
	"fl_hist_sum(latency_hist) AS latency_hist "
	/* by time: the rows before the cutoff, not the whole table */
	"FROM edge_windows INDEXED BY edge_windows_time "
	"WHERE width_s < 3600 AND window_start < ?1 GROUP BY edge_id, source, hour",
	"DELETE FROM edge_windows INDEXED BY edge_windows_time "
	"WHERE width_s < 3600 AND window_start < ?1",
	/* the only possible conflict: an hourly row of an earlier roll-up */
	"INSERT INTO edge_windows(edge_id, source, window_start, width_s, " WSUMS
	", latency_hist) SELECT edge_id, source, hour, 3600, " WSUMS
	", latency_hist FROM temp.fl_rollup_w WHERE true "
	FL_SW_WINDOW_CONFLICT(FL_SW_HIST_SQL_KEEP_NULL),
	"DROP TABLE temp.fl_rollup_w",
	"CREATE TEMP TABLE fl_rollup_l AS SELECT parent_edge_id, child_edge_id, "
	"method, window_start - window_start % 3600 AS hour, sum(count) AS count "
	"FROM path_links WHERE width_s < 3600 AND window_start < ?1 "
	"GROUP BY parent_edge_id, child_edge_id, method, hour",
	"DELETE FROM path_links WHERE width_s < 3600 AND window_start < ?1",
	"INSERT INTO path_links(parent_edge_id, child_edge_id, method, "
	"window_start, width_s, count) SELECT parent_edge_id, child_edge_id, "
	"method, hour, 3600, count FROM temp.fl_rollup_l WHERE true "
	FL_SW_LINK_CONFLICT,
	"DROP TABLE temp.fl_rollup_l",
	/*
	 * per-status rows (schema 5): the hour keeps the 16 statuses with the
	 * most requests, the rest (and the minutes' _other) under _other
	 */
	"CREATE TEMP TABLE fl_rollup_s AS SELECT edge_id, source, hour, "
	"CASE WHEN rk <= 16 AND status <> '_other' THEN status ELSE '_other' END "
	"AS status, sum(requests) AS requests, sum(errors) AS errors FROM ("
	"SELECT *, row_number() OVER (PARTITION BY edge_id, source, hour "
	"ORDER BY status = '_other', requests DESC, status) AS rk FROM ("
	"SELECT edge_id, source, window_start - window_start % 3600 AS hour, "
	"status, sum(requests) AS requests, sum(errors) AS errors "
	"FROM edge_window_statuses INDEXED BY edge_window_statuses_time "
	"WHERE width_s < 3600 AND window_start < ?1 "
	"GROUP BY edge_id, source, hour, status)) "
	"GROUP BY edge_id, source, hour, 4",
	"DELETE FROM edge_window_statuses INDEXED BY edge_window_statuses_time "
	"WHERE width_s < 3600 AND window_start < ?1",
	"INSERT INTO edge_window_statuses(edge_id, source, window_start, width_s, "
	"status, requests, errors) SELECT edge_id, source, hour, 3600, status, "
	"requests, errors FROM temp.fl_rollup_s WHERE true "
	"ON CONFLICT(edge_id, source, window_start, status) DO UPDATE SET "
	"width_s = 3600, requests = requests + excluded.requests, "
	"errors = errors + excluded.errors",
	"DROP TABLE temp.fl_rollup_s",
};
enum { RU_W_AGG, RU_W_DEL, RU_W_INS, RU_W_DROP, RU_L_AGG, RU_L_DEL, RU_L_INS,
       RU_L_DROP, RU_S_AGG, RU_S_DEL, RU_S_INS, RU_S_DROP, RU_COUNT };

/* ?1: retention cutoff, Unix s; ?2: the same in ns */
static const char *const expire_sql[] = {
	/* window_start < ?1 first: a range of edge_windows_time, not a scan */
	"DELETE FROM edge_windows WHERE window_start < ?1 AND window_start + width_s <= ?1",
	"DELETE FROM path_links WHERE window_start < ?1 AND window_start + width_s <= ?1",
	"DELETE FROM edge_window_statuses WHERE window_start < ?1 AND window_start + width_s <= ?1",
	"DELETE FROM edge_sources WHERE source <> 'schema' AND last_seen_ns < ?2 "
	"AND NOT EXISTS (SELECT 1 FROM edge_windows w WHERE w.edge_id = "
	"edge_sources.edge_id AND w.source = edge_sources.source)",
};
enum { EX_WINDOWS, EX_LINKS, EX_STATUSES, EX_SOURCES, EX_COUNT };

static int compact_fail(sqlite3 *db, int err, char *errbuf, size_t errlen,
			const char *what)
{
	const char *why = sqlite3_errmsg(db);

	if (strstr(why, "malformed latency histogram"))
		err = -EPROTO;
	snprintf(errbuf, errlen, "cannot %s: %s", what, why);
	return err;
}

/* Run @sql with ?1 = @a, ?2 = @b; OUT: *@changes (may be NULL). */
static int run(sqlite3 *db, const char *sql, int64_t a, int64_t b,
	       uint64_t *changes)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return -EIO;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, b);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	if (changes)
		*changes += (uint64_t)sqlite3_changes(db);
	return 0;
}

static int compact_rollup(sqlite3 *db, int64_t cutoff_s,
			  struct fl_compact_stats *st)
{
	uint64_t *counts[RU_COUNT] = {
		[RU_W_DEL] = &st->windows_rolled, [RU_W_INS] = &st->hours_written,
		[RU_L_DEL] = &st->links_rolled, [RU_L_INS] = &st->link_hours_written,
		[RU_S_DEL] = &st->statuses_rolled,
	};

	for (int i = 0; i < RU_COUNT; i++)
		if (run(db, rollup_sql[i], cutoff_s, 0, counts[i]))
			return -EIO;
	return 0;
}

/*
 * "NOT EXISTS (SELECT 1 FROM t WHERE t.col = @table.id) AND ..." for every
 * foreign key of the schema that refers to @table, appended to @buf.
 */
static int unreferenced(sqlite3 *db, const char *table, char *buf, size_t len)
{
	static const char *const sql =
		"SELECT m.name, f.\"from\" FROM sqlite_master m, "
		"pragma_foreign_key_list(m.name) f WHERE m.type = 'table' "
		"AND f.\"table\" = ?1 ORDER BY 1, 2";
	size_t used = strlen(buf);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return -EIO;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *q = sqlite3_mprintf(" AND NOT EXISTS (SELECT 1 FROM \"%w\" r "
					  "WHERE r.\"%w\" = \"%w\".id)",
					  sqlite3_column_text(st, 0),
					  sqlite3_column_text(st, 1), table);
		size_t n = q ? strlen(q) : 0;
		if (!q || used + n + 1 > len) {
			sqlite3_free(q);
			rc = SQLITE_NOMEM;
			break;
		}
		memcpy(buf + used, q, n + 1);
		used += n;
		sqlite3_free(q);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int compact_expire(sqlite3 *db, int64_t cutoff_s,
			  struct fl_compact_stats *st)
{
	uint64_t *counts[EX_COUNT] = { &st->windows_expired, &st->links_expired,
				       &st->statuses_expired, &st->sources_expired };
	static const char *const tables[] = { "edges", "services" };
	uint64_t *gone[] = { &st->edges_expired, &st->services_expired };
	int64_t cutoff_ns = cutoff_s * 1000000000LL;
	char sql[4096];

	for (int i = 0; i < EX_COUNT; i++)
		if (run(db, expire_sql[i], cutoff_s, cutoff_ns, counts[i]))
			return -EIO;
	/* edges before services: an edge refers to its two services */
	for (int i = 0; i < 2; i++) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE last_seen_ns < ?2",
			 tables[i]);
		if (unreferenced(db, tables[i], sql, sizeof(sql)) ||
		    run(db, sql, cutoff_s, cutoff_ns, gone[i]))
			return -EIO;
	}
	return 0;
}

int fl_store_compact(sqlite3 *db, int64_t now_s, int64_t rollup_after_s,
		     int64_t retention_s, struct fl_compact_stats *out,
		     char *errbuf, size_t errlen)
{
	struct fl_compact_stats st = { 0 };
	const char *what = "begin compaction";
	int err = -EIO;

	if ((rollup_after_s < 0 && rollup_after_s != FL_COMPACT_NEVER) ||
	    (retention_s < 0 && retention_s != FL_COMPACT_NEVER)) {
		snprintf(errbuf, errlen, "invalid compaction age");
		return -EINVAL;
	}
	if (sqlite3_create_function(db, "fl_hist_sum", 1, SQLITE_UTF8, NULL, NULL,
				    hist_sum_step, hist_sum_final) ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
		return compact_fail(db, -EIO, errbuf, errlen, what);
	/* expire first: rows about to be deleted are not worth rolling up */
	if (retention_s != FL_COMPACT_NEVER && now_s >= retention_s) {
		what = "expire windows";
		if (compact_expire(db, now_s - retention_s, &st))
			goto out_rollback;
	}
	if (rollup_after_s != FL_COMPACT_NEVER && now_s >= rollup_after_s) {
		int64_t c = now_s - rollup_after_s;
		what = "roll up windows";
		if (compact_rollup(db, c - c % FL_COMPACT_HOUR_S, &st))
			goto out_rollback;
	}
	what = "commit compaction";
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
		goto out_rollback;
	if (out)
		*out = st;
	return 0;
out_rollback:
	err = compact_fail(db, err, errbuf, errlen, what);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	/* a temp table of a failed roll-up must not break the next one */
	sqlite3_exec(db, "DROP TABLE IF EXISTS temp.fl_rollup_w;"
			 "DROP TABLE IF EXISTS temp.fl_rollup_l;"
			 "DROP TABLE IF EXISTS temp.fl_rollup_s", NULL, NULL, NULL);
	return err;
}

/* ?1: cutoff, ns. The newest learn run of each stack is the baseline: kept. */
static const char *const tests_sql[] = {
	"CREATE TEMP TABLE fl_expire_runs AS SELECT id FROM test_runs r "
	"WHERE started_ns < ?1 AND id NOT IN (SELECT max(id) FROM test_runs "
	"WHERE kind = 'learn' GROUP BY stack)",
	"UPDATE gate_runs SET test_run_id = NULL WHERE test_run_id IN "
	"(SELECT id FROM temp.fl_expire_runs)",
	"DELETE FROM footprints WHERE run_id IN (SELECT id FROM temp.fl_expire_runs)",
	"DELETE FROM test_results WHERE run_id IN (SELECT id FROM temp.fl_expire_runs)",
	"DELETE FROM test_runs WHERE id IN (SELECT id FROM temp.fl_expire_runs)",
	"DROP TABLE temp.fl_expire_runs",
};
enum { TX_SELECT, TX_GATE, TX_FOOTPRINTS, TX_RESULTS, TX_RUNS, TX_DROP, TX_COUNT };

int fl_store_expire_tests(sqlite3 *db, int64_t now_s, int64_t retention_s,
			  struct fl_compact_stats *out, char *errbuf,
			  size_t errlen)
{
	struct fl_compact_stats st = { 0 };
	uint64_t *counts[TX_COUNT] = {
		[TX_FOOTPRINTS] = &st.footprints_expired,
		[TX_RUNS] = &st.test_runs_expired,
	};
	int err = -EIO;

	if (retention_s < 0 && retention_s != FL_COMPACT_NEVER) {
		snprintf(errbuf, errlen, "invalid compaction age");
		return -EINVAL;
	}
	if (retention_s == FL_COMPACT_NEVER || now_s < retention_s)
		return 0;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
		return compact_fail(db, -EIO, errbuf, errlen, "begin test-run expiry");
	for (int i = 0; i < TX_COUNT; i++)
		if (run(db, tests_sql[i], (now_s - retention_s) * 1000000000LL, 0,
			counts[i]))
			goto out_rollback;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
		goto out_rollback;
	if (out) {
		out->test_runs_expired += st.test_runs_expired;
		out->footprints_expired += st.footprints_expired;
	}
	return 0;
out_rollback:
	err = compact_fail(db, err, errbuf, errlen, "expire test runs");
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_exec(db, "DROP TABLE IF EXISTS temp.fl_expire_runs", NULL, NULL, NULL);
	return err;
}

int fl_compact_duration_parse(const char *s, int64_t *out_s)
{
	int64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "never")) {
		*out_s = FL_COMPACT_NEVER;
		return 0;
	}
	while (*s) {
		int64_t v = 0, unit;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		for (; isdigit((unsigned char)*s); s++) {
			v = v * 10 + (*s - '0');
			if (v > 100LL * 366 * 86400)
				return -ERANGE;
		}
		switch (*s++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -EINVAL;
		}
		total += v * unit;
		if (total > 100LL * 366 * 86400)
			return -ERANGE;
	}
	*out_s = total;
	return 0;
}
