/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Roll-up and retention of the store (docs/store.md "Roll-up and
 * retention"), shared by the agent (hourly, from its flush path) and
 * `gatectl compact` (stores no agent writes, e.g. merged ones).
 *
 * Minute windows (width_s 60) of whole hours older than the roll-up age are
 * merged into one hourly row (width_s 3600, window_start the hour's start)
 * per edge and source: counters summed, latency histograms merged, which
 * loses nothing (lib/hist.h: log-linear buckets merge exactly). path_links
 * likewise per (parent, child, method). Windows that ended before the
 * retention age are deleted, then the edge_sources rows, edges and services
 * nothing refers to any more and not seen since then. Edges known from a
 * schema import (edge_sources.source 'schema') are never deleted.
 */
#ifndef FAULTLINE_COMPACT_H
#define FAULTLINE_COMPACT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define FL_COMPACT_NEVER (-1)	/* an age that never comes: keep as is */
#define FL_COMPACT_ROLLUP_DEFAULT_S (24 * 3600)	/* roll minutes up after a day */
#define FL_COMPACT_RETENTION_DEFAULT_S (7 * 86400)	/* keep a week */
#define FL_COMPACT_TEST_RETENTION_DEFAULT_S (30 * 86400) /* test runs: a month */
#define FL_COMPACT_HOUR_S 3600

/* What one compaction did. */
struct fl_compact_stats {
	uint64_t windows_rolled;	/* minute windows merged into hourly ones */
	uint64_t hours_written;		/* hourly windows created or added to */
	uint64_t links_rolled;		/* minute path_links merged into hourly ones */
	uint64_t link_hours_written;	/* hourly path_links created or added to */
	uint64_t windows_expired;	/* windows deleted: older than retention */
	uint64_t links_expired;		/* path_links deleted: older than retention */
	uint64_t sources_expired;	/* edge_sources rows deleted */
	uint64_t edges_expired;		/* edges deleted */
	uint64_t services_expired;	/* services deleted */
	uint64_t statuses_rolled;	/* minute status rows merged into hourly ones */
	uint64_t statuses_expired;	/* status rows deleted: older than retention */
	uint64_t test_runs_expired;	/* test runs deleted (fl_store_expire_tests) */
	uint64_t footprints_expired;	/* their footprint rows deleted */
};

/*
 * fl_store_compact() - roll up and expire, in one BEGIN IMMEDIATE
 * transaction, the store open writable in @db (fl_store_open(), schema
 * FL_STORE_SCHEMA_VERSION).
 * @now_s: the present, Unix seconds. Minute windows starting before the
 * hour that holds @now_s - @rollup_after_s are rolled up into hourly ones;
 * windows ending at or before @now_s - @retention_s are deleted, and with
 * them what is left without windows and unseen since (see above). Either
 * age may be FL_COMPACT_NEVER. Idempotent: a second run with the same
 * @now_s changes nothing; a late minute row in an hour already rolled up
 * is added into that hour at the next run.
 * OUT: *@st (may be NULL). Returns 0, -EINVAL (an age < 0 and not NEVER),
 * -EPROTO (a malformed histogram: nothing changed) or -EIO (SQLite error:
 * nothing changed), with a one-line message in @errbuf (@errlen bytes).
 */
int fl_store_compact(sqlite3 *db, int64_t now_s, int64_t rollup_after_s,
		     int64_t retention_s, struct fl_compact_stats *st,
		     char *errbuf, size_t errlen);

/*
 * fl_store_expire_tests() - in one BEGIN IMMEDIATE transaction, delete the
 * test runs (schema 5) that started before @now_s - @retention_s, with
 * their test_results and footprints, except the newest `learn` run of each
 * stack (the baseline the gate selects from); a gate run that referred to
 * one keeps its row with test_run_id NULL. Footprints whose run_id has no
 * test_runs row in this store (a sandbox agent's own store) are kept.
 * @retention_s may be FL_COMPACT_NEVER. OUT: adds to *@st's
 * test_runs_expired and footprints_expired (@st may be NULL). Returns 0,
 * -EINVAL or -EIO (nothing changed) with a message in @errbuf.
 */
int fl_store_expire_tests(sqlite3 *db, int64_t now_s, int64_t retention_s,
			  struct fl_compact_stats *st, char *errbuf,
			  size_t errlen);

/*
 * fl_compact_duration_parse() - an age option: "never" (FL_COMPACT_NEVER),
 * or a sum of <digits><unit>, unit s, m, h or d ("90m", "1d12h", "0s").
 * OUT: *@out_s, seconds. Returns 0 or -EINVAL (-ERANGE above a century).
 */
int fl_compact_duration_parse(const char *s, int64_t *out_s);

#endif /* FAULTLINE_COMPACT_H */
