/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * After the deploy: the queries over the schema 6 tables that deploy,
 * deploys, verify, accuracy, tests and select share (docs/store.md
 * "Schema v6"): deployments, what the agent saw of a time range, the
 * production traffic of an edge by name over whole windows of any width,
 * predictions, and what the misses taught (edge risk, blind spots,
 * quarantine).
 *
 * Every function runs on ctx->db, returns 0 or a negative errno with a
 * message in ctx->err (gate_fail), and says what it allocates.
 */
#ifndef FAULTLINE_GATE_AFTER_H
#define FAULTLINE_GATE_AFTER_H

#include "query/ctx.h"
#include "query/edges.h"
#include "judge/stats.h"

/* A deployments row; strings owned (gate_deploy_release). */
struct gate_deploy {
	int64_t id;
	char *service;
	char *old_version;	/* NULL when not known */
	char *new_version;
	int64_t at_ns;
	char *node;
	char *source;		/* agent|ci */
	int64_t gate_run_id;	/* 0: none linked */
};

/* gate_after_schema() - -EPROTO ("... needs schema 6") for an older store. */
int gate_after_schema(struct gate_ctx *ctx, const char *what);

/*
 * gate_deploy_get() - deployment @id, or with @id == 0 the latest of
 * @service (at_ns, then id). OUT: *@d. Returns 0, -ENOENT ("no deployment
 * of 'S'" / "no deployment N") or -EIO.
 */
int gate_deploy_get(struct gate_ctx *ctx, int64_t id, const char *service,
		    struct gate_deploy *d);

/* gate_deploy_release() - free the strings of @d. */
void gate_deploy_release(struct gate_deploy *d);

/*
 * gate_latest_gate_run() - the latest gate run (started_ns < @before_ns)
 * whose changed services include @service. OUT: *@id, 0 when none.
 * Returns 0 or -EIO.
 */
int gate_latest_gate_run(struct gate_ctx *ctx, const char *service,
			 int64_t before_ns, int64_t *id);

/* What the agent saw of a time range, from agent_flushes. */
struct gate_seen {
	enum judge_seen seen;
	uint64_t lost;		/* events lost inside the range */
	int64_t last_flush_ns;	/* the latest flush at all (0: none) */
	char why[160];		/* one line: "2 flushes missing after ..." */
};

/*
 * gate_seen_range() - what production agents (source 'ebpf') saw of
 * [@lo_ns, @hi_ns): JUDGE_SEEN_UNKNOWN when the store has no flush record
 * at all; DOWN when no flush fell in [lo, hi + 3 flush intervals); GAP when
 * two flushes of one agent inside are more than 3 flush intervals apart, an
 * agent restarted inside, or the first/last flush leave an edge of the
 * range uncovered; DROPS when its lost counter grew inside; OK otherwise.
 * OUT: *@out. Returns 0 or -EIO.
 */
int gate_seen_range(struct gate_ctx *ctx, int64_t lo_ns, int64_t hi_ns,
		    struct gate_seen *out);

/* Production traffic of one edge over whole windows. */
struct gate_traffic {
	uint64_t windows, requests, errors;
	struct fl_hist hist;		/* owned */
	int64_t lo_s, hi_s;		/* span of the windows found (0 if none) */
	char top_status[24];		/* most frequent error status, "" if none */
};

/*
 * gate_edge_traffic() - the 'ebpf' windows of edge @edge_id lying wholly
 * in [@lo_s, @hi_s) (window_start >= lo, window_start + width_s <= hi), of
 * any width. OUT: *@t (release with gate_traffic_release). With @statuses,
 * also the most frequent error status (schema >= 5).
 * Returns 0, -EIO or -EPROTO (malformed histogram), -ENOMEM.
 */
int gate_edge_traffic(struct gate_ctx *ctx, int64_t edge_id, int64_t lo_s,
		      int64_t hi_s, bool statuses, struct gate_traffic *t);

void gate_traffic_release(struct gate_traffic *t);

/*
 * gate_edge_by_name() - the id of edge (@client, @server, @protocol,
 * @operation). OUT: *@id, 0 when the store has no such edge. 0 or -EIO.
 */
int gate_edge_by_name(struct gate_ctx *ctx, const char *client,
		      const char *server, const char *protocol,
		      const char *operation, int64_t *id);

/*
 * gate_footprint_covers() - true in *@yes when some test's footprint
 * (any run) has (@client, @server, @protocol, @operation). 0 or -EIO.
 */
int gate_footprint_covers(struct gate_ctx *ctx, const char *client,
			  const char *server, const char *protocol,
			  const char *operation, bool *yes);

/* What selection should learn from the misses, per edge by name. */
struct gate_learned {
	double weight;		/* multiplies the edge's risk, 1 when nothing learned */
	double confidence;	/* multiplies the confidence of predictions and paths
				   through the edge: 1 / weight */
	uint64_t misses;
	bool blind;		/* an uncovered blind spot (no footprint covers it) */
	char status[24];	/* the failing status of the blind spot */
};

/*
 * gate_learned_edge() - what misses taught about edge (@client, @server,
 * @protocol, @operation); a store before schema 6 has learned nothing.
 * For the gate's select: risk = traffic * ... * learned.weight, and an
 * affected edge with learned.blind is reported uncovered (and makes the
 * gate inconclusive) until a test's footprint covers it. OUT: *@l.
 * Returns 0 or -EIO.
 */
int gate_learned_edge(struct gate_ctx *ctx, const char *client,
		      const char *server, const char *protocol,
		      const char *operation, struct gate_learned *l);

/*
 * gate_test_quarantined() - true in *@yes when test @name is quarantined
 * (`gatectl tests quarantine`): it runs but never fails a gate.
 * 0 or -EIO; false for a store before schema 6.
 */
int gate_test_quarantined(struct gate_ctx *ctx, const char *name, bool *yes);

/* gate_dup_col() - strdup of text column @i of @st, NULL for NULL. */
char *gate_dup_col(sqlite3_stmt *st, int i);

#endif /* FAULTLINE_GATE_AFTER_H */
