// SPDX-License-Identifier: BSD-2-Clause
/* After the deploy: shared queries over the schema 6 tables (after.h). */
#include "query/after.h"
#include "query/prom.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SEEN_GAP_FLUSHES 3	/* flushes this many intervals apart are a gap */

char *gate_dup_col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? strdup((const char *)s) : NULL;
}

static int prep(struct gate_ctx *ctx, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(ctx->db, sql, -1, st, NULL))
		return gate_fail(ctx, -EIO, "cannot read '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	return 0;
}

static int step_fail(struct gate_ctx *ctx, sqlite3_stmt *st)
{
	int err = gate_fail(ctx, -EIO, "cannot read '%s': %s", ctx->db_path,
			    sqlite3_errmsg(ctx->db));

	sqlite3_finalize(st);
	return err;
}

int gate_after_schema(struct gate_ctx *ctx, const char *what)
{
	int v = gate_schema_version(ctx);

	if (v < 0)
		return v;
	if (v < 6)
		return gate_fail(ctx, -EPROTO, "%s needs a schema 6 store; '%s' is "
				 "schema %d (open it writable once: gatectl deploy)",
				 what, ctx->db_path, v);
	return 0;
}

void gate_deploy_release(struct gate_deploy *d)
{
	free(d->service);
	free(d->old_version);
	free(d->new_version);
	free(d->node);
	free(d->source);
	memset(d, 0, sizeof(*d));
}

int gate_deploy_get(struct gate_ctx *ctx, int64_t id, const char *service,
		    struct gate_deploy *d)
{
	sqlite3_stmt *st;
	int err, rc;

	memset(d, 0, sizeof(*d));
	err = prep(ctx, id ? "SELECT id, service, old_version, new_version, at_ns, "
			     "node, source, coalesce(gate_run_id, 0) FROM deployments "
			     "WHERE id = ?1"
			   : "SELECT id, service, old_version, new_version, at_ns, "
			     "node, source, coalesce(gate_run_id, 0) FROM deployments "
			     "WHERE service = ?2 ORDER BY at_ns DESC, id DESC LIMIT 1",
		   &st);
	if (err)
		return err;
	if (id)
		sqlite3_bind_int64(st, 1, id);
	else
		sqlite3_bind_text(st, 2, service, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		if (id)
			return gate_fail(ctx, -ENOENT, "no deployment %lld in '%s'",
					 (long long)id, ctx->db_path);
		return gate_fail(ctx, -ENOENT, "no deployment of '%s' in '%s'",
				 service, ctx->db_path);
	}
	if (rc != SQLITE_ROW)
		return step_fail(ctx, st);
	d->id = sqlite3_column_int64(st, 0);
	d->service = gate_dup_col(st, 1);
	d->old_version = gate_dup_col(st, 2);
	d->new_version = gate_dup_col(st, 3);
	d->at_ns = sqlite3_column_int64(st, 4);
	d->node = gate_dup_col(st, 5);
	d->source = gate_dup_col(st, 6);
	d->gate_run_id = sqlite3_column_int64(st, 7);
	sqlite3_finalize(st);
	if (!d->service || !d->new_version || !d->node || !d->source) {
		gate_deploy_release(d);
		return gate_fail(ctx, -ENOMEM, "out of memory");
	}
	return 0;
}

int gate_latest_gate_run(struct gate_ctx *ctx, const char *service,
			 int64_t before_ns, int64_t *id)
{
	sqlite3_stmt *st;
	int err, rc;

	*id = 0;
	err = prep(ctx, "SELECT g.id FROM gate_runs g WHERE g.started_ns < ?2 AND "
			"EXISTS (SELECT 1 FROM json_each(g.changed) j WHERE "
			"coalesce(json_extract(j.value, '$.service'), j.value) = ?1) "
			"ORDER BY g.started_ns DESC, g.id DESC LIMIT 1", &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, before_ns);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		return step_fail(ctx, st);
	sqlite3_finalize(st);
	return 0;
}

/*
 * One agent's flushes, as segments: consecutive flushes of one agent start
 * at most SEEN_GAP_FLUSHES intervals apart. A segment saw
 * [max(agent start, first flush - slack), last flush].
 */
struct seen_agent {
	char node[256];
	bool open;		/* a segment is being read */
	int64_t start_ns;	/* its agent_start_ns */
	int64_t seg_lo, seg_hi;	/* what it saw so far */
	int64_t slack;
	uint64_t lost_lo;	/* lost at the segment's last flush <= lo */
	uint64_t lost_hi;	/* lost at its last flush so far */
	bool near;		/* some segment touched [lo - slack, hi) */
	bool full;		/* some segment saw all of [lo, hi) */
};

/* End the segment being read: what it says about [lo, hi). */
static void seen_close(struct seen_agent *a, int64_t lo, int64_t hi,
		       struct gate_seen *out)
{
	if (!a->open)
		return;
	a->open = false;
	if (a->seg_hi < lo - a->slack || a->seg_lo >= hi)
		return;		/* nowhere near */
	a->near = true;
	if (a->seg_lo <= lo && a->seg_hi >= hi)
		a->full = true;
	if (a->lost_hi > a->lost_lo)
		out->lost += a->lost_hi - a->lost_lo;
}

/* End an agent: a gap when it was near the range but saw only part of it. */
static void seen_agent_end(struct seen_agent *a, int64_t lo, int64_t hi,
			   struct gate_seen *out, int *near, int *gaps)
{
	seen_close(a, lo, hi, out);
	if (!a->near)
		return;
	(*near)++;
	if (!a->full && !(*gaps)++)
		snprintf(out->why, sizeof(out->why),
			 "the agent on '%.64s' did not see all of it (stopped, "
			 "restarted or fell behind)", a->node);
}

int gate_seen_range(struct gate_ctx *ctx, int64_t lo, int64_t hi,
		    struct gate_seen *out)
{
	struct seen_agent a = { 0 };
	int near = 0, gaps = 0, err, rc;
	sqlite3_stmt *st;

	memset(out, 0, sizeof(*out));
	err = prep(ctx, "SELECT node, at_ns, agent_start_ns, flush_s, lost FROM "
			"agent_flushes WHERE source = 'ebpf' AND at_ns >= ?1 - "
			"flush_s * 1000000000 * 4 AND at_ns < ?2 + flush_s * "
			"1000000000 * 4 ORDER BY node, at_ns", &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		int64_t at = sqlite3_column_int64(st, 1);
		int64_t start = sqlite3_column_int64(st, 2);
		int64_t slack = SEEN_GAP_FLUSHES * sqlite3_column_int64(st, 3) *
				GATE_NS_PER_S;
		uint64_t lost = (uint64_t)sqlite3_column_int64(st, 4);

		if (strcmp(a.node, n ? n : "")) {
			seen_agent_end(&a, lo, hi, out, &near, &gaps);
			memset(&a, 0, sizeof(a));
			snprintf(a.node, sizeof(a.node), "%s", n ? n : "");
		}
		if (a.open && (start != a.start_ns || at - a.seg_hi > slack))
			seen_close(&a, lo, hi, out);
		if (!a.open) {
			a.open = true;
			a.start_ns = start;
			a.slack = slack;
			a.seg_lo = at - slack > start ? at - slack : start;
			a.lost_lo = start >= lo ? 0 : lost;
		}
		a.seg_hi = at;
		if (at <= lo)
			a.lost_lo = lost;
		if (at < hi + slack)
			a.lost_hi = lost;
	}
	if (rc != SQLITE_DONE)
		return step_fail(ctx, st);
	sqlite3_finalize(st);
	seen_agent_end(&a, lo, hi, out, &near, &gaps);
	err = prep(ctx, "SELECT max(at_ns) FROM agent_flushes WHERE source = 'ebpf'", &st);
	if (err)
		return err;
	if (sqlite3_step(st) == SQLITE_ROW)
		out->last_flush_ns = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (!out->last_flush_ns) {
		out->seen = JUDGE_SEEN_UNKNOWN;
		snprintf(out->why, sizeof(out->why), "no agent flush records in the store");
	} else if (!near) {
		out->seen = JUDGE_SEEN_DOWN;
		snprintf(out->why, sizeof(out->why), "no agent flushed in the range");
	} else if (gaps) {
		out->seen = JUDGE_SEEN_GAP;
	} else if (out->lost) {
		out->seen = JUDGE_SEEN_DROPS;
		snprintf(out->why, sizeof(out->why), "%llu events lost",
			 (unsigned long long)out->lost);
	}
	return 0;
}

void gate_traffic_release(struct gate_traffic *t)
{
	fl_hist_release(&t->hist);
	memset(t, 0, sizeof(*t));
}

/*
 * --prometheus: the traffic of in-memory edge @edge_id (ctx->mem) over
 * [@lo_s, @hi_s) read from Prometheus, exactly (query/prom.h). windows is 1
 * when any agent exported the edge in the range (0: no data at all).
 */
static int prom_edge_traffic(struct gate_ctx *ctx, int64_t edge_id, int64_t lo_s,
			     int64_t hi_s, bool statuses, struct gate_traffic *t)
{
	const struct gate_edge *m = NULL;
	struct gate_prom_graph g;
	char *where;
	int err;

	for (size_t i = 0; i < ctx->mem->n && !m; i++)
		if (ctx->mem->v[i].id == edge_id)
			m = &ctx->mem->v[i];
	if (!m || hi_s <= lo_s)
		return 0;
	where = gate_prom_matcher(m->client, m->server, m->protocol, m->operation);
	if (!where)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	err = gate_prom_graph_read_where(ctx, ctx->prom_url, where, lo_s * GATE_NS_PER_S,
					 hi_s * GATE_NS_PER_S, &g);
	free(where);
	if (err)
		return err;
	for (size_t i = 0; i < g.edges.n; i++) {
		const struct gate_edge *e = &g.edges.v[i];
		t->windows = 1;
		t->requests += e->stats.requests;
		t->errors += e->stats.errors;
		if ((err = fl_hist_merge(&t->hist, &e->stats.hist))) {
			err = gate_fail(ctx, err, "out of memory");
			break;
		}
		t->lo_s = lo_s;
		t->hi_s = hi_s;
	}
	if (!t->windows && g.series)
		t->windows = 1;	/* exported, no request in the range */
	uint64_t top = 0;
	for (size_t i = 0; statuses && i < g.nst; i++)
		/* an error status: not 1xx-4xx HTTP, not "ok" */
		if (strcmp(g.st[i].status, "ok") && !(g.st[i].status[0] >= '1' &&
		    g.st[i].status[0] <= '4' && strlen(g.st[i].status) == 3) &&
		    g.st[i].requests > top) {
			top = g.st[i].requests;
			snprintf(t->top_status, sizeof(t->top_status), "%s", g.st[i].status);
		}
	gate_prom_graph_release(&g);
	if (err)
		gate_traffic_release(t);
	return err;
}

int gate_edge_traffic(struct gate_ctx *ctx, int64_t edge_id, int64_t lo_s,
		      int64_t hi_s, bool statuses, struct gate_traffic *t)
{
	sqlite3_stmt *st;
	int err, rc;

	memset(t, 0, sizeof(*t));
	if (ctx->prom_url && ctx->mem)
		return prom_edge_traffic(ctx, edge_id, lo_s, hi_s, statuses, t);
	err = prep(ctx, "SELECT window_start, width_s, requests, errors, latency_hist "
			"FROM edge_windows WHERE edge_id = ?1 AND source = 'ebpf' AND "
			"window_start >= ?2 AND window_start + width_s <= ?3", &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, edge_id);
	sqlite3_bind_int64(st, 2, lo_s);
	sqlite3_bind_int64(st, 3, hi_s);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t ws = sqlite3_column_int64(st, 0), w = sqlite3_column_int64(st, 1);

		t->windows++;
		t->requests += (uint64_t)sqlite3_column_int64(st, 2);
		t->errors += (uint64_t)sqlite3_column_int64(st, 3);
		if (!t->lo_s || ws < t->lo_s)
			t->lo_s = ws;
		if (ws + w > t->hi_s)
			t->hi_s = ws + w;
		if (sqlite3_column_type(st, 4) == SQLITE_BLOB) {
			int e = fl_hist_decode_merge(&t->hist, sqlite3_column_blob(st, 4),
						     (size_t)sqlite3_column_bytes(st, 4));
			if (e) {
				sqlite3_finalize(st);
				gate_traffic_release(t);
				return gate_fail(ctx, e == -ENOMEM ? e : -EPROTO,
						 "malformed latency histogram for edge "
						 "%lld in '%s'", (long long)edge_id,
						 ctx->db_path);
			}
		}
	}
	if (rc != SQLITE_DONE) {
		gate_traffic_release(t);
		return step_fail(ctx, st);
	}
	sqlite3_finalize(st);
	if (!statuses || !t->errors)
		return 0;
	err = prep(ctx, "SELECT status FROM edge_window_statuses WHERE edge_id = ?1 "
			"AND source = 'ebpf' AND window_start >= ?2 AND window_start + "
			"width_s <= ?3 AND errors > 0 GROUP BY status "
			"ORDER BY sum(errors) DESC, status LIMIT 1", &st);
	if (err) {
		gate_traffic_release(t);
		return err;
	}
	sqlite3_bind_int64(st, 1, edge_id);
	sqlite3_bind_int64(st, 2, lo_s);
	sqlite3_bind_int64(st, 3, hi_s);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(t->top_status, sizeof(t->top_status), "%s",
			 (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return 0;
}

int gate_edge_by_name(struct gate_ctx *ctx, const char *client,
		      const char *server, const char *protocol,
		      const char *operation, int64_t *id)
{
	sqlite3_stmt *st;
	int err, rc;

	*id = 0;
	for (size_t i = 0; ctx->prom_url && ctx->mem && i < ctx->mem->n; i++) {
		const struct gate_edge *e = &ctx->mem->v[i];
		if (!strcmp(e->client, client) && !strcmp(e->server, server) &&
		    !strcmp(e->protocol, protocol) && !strcmp(e->operation, operation))
			*id = e->id;
	}
	if (ctx->prom_url && ctx->mem)
		return 0;
	err = prep(ctx, "SELECT e.id FROM edges e JOIN services c ON c.id = e.client_id "
			"JOIN services s ON s.id = e.server_id WHERE c.name = ?1 AND "
			"s.name = ?2 AND e.protocol = ?3 AND e.operation = ?4", &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, server, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, protocol, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, operation, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		return step_fail(ctx, st);
	sqlite3_finalize(st);
	return 0;
}

/* One row, one integer column: OUT *@v (0 when no row). */
static int query_i64(struct gate_ctx *ctx, const char *sql, const char *const *args,
		     int nargs, int64_t *v)
{
	sqlite3_stmt *st;
	int err, rc;

	*v = 0;
	err = prep(ctx, sql, &st);
	if (err)
		return err;
	for (int i = 0; i < nargs; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		return step_fail(ctx, st);
	sqlite3_finalize(st);
	return 0;
}

int gate_footprint_covers(struct gate_ctx *ctx, const char *client,
			  const char *server, const char *protocol,
			  const char *operation, bool *yes)
{
	const char *args[] = { client, server, protocol, operation };
	int64_t v;
	int err;

	*yes = false;
	if (gate_schema_version(ctx) < 5)
		return 0;
	err = query_i64(ctx, "SELECT EXISTS (SELECT 1 FROM footprints WHERE "
			     "server = ?2 AND client = ?1 AND protocol = ?3 AND "
			     "operation = ?4 AND requests > 0)", args, 4, &v);
	*yes = v != 0;
	return err;
}

int gate_learned_edge(struct gate_ctx *ctx, const char *client,
		      const char *server, const char *protocol,
		      const char *operation, struct gate_learned *l)
{
	const char *args[] = { client, server, protocol, operation };
	sqlite3_stmt *st;
	bool covered;
	int err, rc;

	memset(l, 0, sizeof(*l));
	l->weight = l->confidence = 1;
	if (gate_schema_version(ctx) < 6)
		return 0;
	err = prep(ctx, "SELECT weight, misses FROM edge_risk WHERE client = ?1 AND "
			"server = ?2 AND protocol = ?3 AND operation = ?4", &st);
	if (err)
		return err;
	for (int i = 0; i < 4; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		l->weight = sqlite3_column_double(st, 0);
		l->misses = (uint64_t)sqlite3_column_int64(st, 1);
		if (l->weight > 0)
			l->confidence = 1 / l->weight;
	} else if (rc != SQLITE_DONE) {
		return step_fail(ctx, st);
	}
	sqlite3_finalize(st);
	err = prep(ctx, "SELECT status FROM blind_spots WHERE client = ?1 AND "
			"server = ?2 AND protocol = ?3 AND operation = ?4 AND "
			"covered_ns IS NULL ORDER BY found_ns DESC LIMIT 1", &st);
	if (err)
		return err;
	for (int i = 0; i < 4; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		l->blind = true;
		snprintf(l->status, sizeof(l->status), "%s",
			 sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
	} else if (rc != SQLITE_DONE) {
		return step_fail(ctx, st);
	}
	sqlite3_finalize(st);
	if (!l->blind)
		return 0;
	/* a test that covers it since closes the blind spot */
	err = gate_footprint_covers(ctx, client, server, protocol, operation, &covered);
	if (!err && covered)
		l->blind = false;
	return err;
}

int gate_test_quarantined(struct gate_ctx *ctx, const char *name, bool *yes)
{
	const char *args[] = { name };
	int64_t v;
	int err;

	*yes = false;
	if (gate_schema_version(ctx) < 6)
		return 0;
	err = query_i64(ctx, "SELECT EXISTS (SELECT 1 FROM test_quarantine WHERE "
			     "test = ?1)", args, 1, &v);
	*yes = v != 0;
	return err;
}
