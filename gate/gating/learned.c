// SPDX-License-Identifier: BSD-2-Clause
/*
 * Footprints and learn results read from the store (gate/gaterun.h): the
 * v5 tables test_runs, test_results and footprints (docs/store.md).
 * Edges are matched by name (client, server, protocol, operation), as the
 * footprints store them, so a footprint means the same in any store.
 */
#include "gating/gating.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gate_has_table(struct gate_ctx *ctx, const char *name)
{
	sqlite3_stmt *st;
	int r;

	if (sqlite3_prepare_v2(ctx->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' "
			       "AND name = ?", -1, &st, NULL) != SQLITE_OK)
		return gate_fail(ctx, -EIO, "cannot read '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return r;
}

bool fp_status_bad(const char *protocol, const char *status, uint64_t errors)
{
	if (errors)
		return true;
	if (!strncmp(status, "conn_", 5))
		return true;
	return !strcmp(protocol, "http") && status[0] == '4' && strlen(status) == 3;
}

struct fp_edge *fp_find(const struct fp_set *s, const char *client, const char *server,
			const char *protocol, const char *operation)
{
	for (size_t i = 0; i < s->n; i++) {
		struct fp_edge *e = &s->v[i];
		if (!strcmp(e->server, server) && !strcmp(e->client, client) &&
		    !strcmp(e->operation, operation) && !strcmp(e->protocol, protocol))
			return e;
	}
	return NULL;
}

struct fp_status *fp_status_find(const struct fp_edge *e, const char *status)
{
	for (size_t i = 0; i < e->nst; i++)
		if (!strcmp(e->st[i].status, status))
			return &e->st[i];
	return NULL;
}

static struct fp_edge *fp_add(struct fp_set *s, const char *c, const char *sv,
			      const char *p, const char *o)
{
	struct fp_edge *e = fp_find(s, c, sv, p, o);

	if (e)
		return e;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct fp_edge *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	e = &s->v[s->n];
	memset(e, 0, sizeof(*e));
	if (!(e->client = strdup(c)) || !(e->server = strdup(sv)) ||
	    !(e->protocol = strdup(p)) || !(e->operation = strdup(o))) {
		free(e->client);
		free(e->server);
		free(e->protocol);
		free(e->operation);
		return NULL;
	}
	s->n++;
	return e;
}

static struct fp_status *st_add(struct fp_edge *e, const char *status)
{
	struct fp_status *st = fp_status_find(e, status);

	if (st)
		return st;
	if (e->nst == e->capst) {
		size_t cap = e->capst ? e->capst * 2 : 4;
		struct fp_status *v = realloc(e->st, cap * sizeof(*v));
		if (!v)
			return NULL;
		e->st = v;
		e->capst = cap;
	}
	st = &e->st[e->nst];
	memset(st, 0, sizeof(*st));
	if (!(st->status = strdup(status)))
		return NULL;
	e->nst++;
	return st;
}

void fp_set_release(struct fp_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct fp_edge *e = &s->v[i];
		free(e->client);
		free(e->server);
		free(e->protocol);
		free(e->operation);
		for (size_t k = 0; k < e->nst; k++)
			free(e->st[k].status);
		free(e->st);
		fl_hist_release(&e->hist);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Column text, never NULL. */
static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

/*
 * Add one footprint row (columns 0..8: client, server, protocol, operation,
 * status, requests, errors, latency_hist, run) to @s as one run's counts
 * (@merge_runs false) or as a baseline (most per run; @run tells runs apart).
 */
static int fp_row(struct fp_set *s, sqlite3_stmt *st, bool baseline,
		  int64_t *last_run, struct fp_edge **last_edge)
{
	struct fp_edge *e = fp_add(s, col(st, 0), col(st, 1), col(st, 2), col(st, 3));
	struct fp_status *fs;
	uint64_t req = (uint64_t)sqlite3_column_int64(st, 5);
	uint64_t err = (uint64_t)sqlite3_column_int64(st, 6);
	int64_t run = sqlite3_column_int64(st, 8);

	if (!e || !(fs = st_add(e, col(st, 4))))
		return -ENOMEM;
	uint64_t bad = fp_status_bad(e->protocol, fs->status, err) ? (err ? err : req) : 0;
	if (sqlite3_column_type(st, 7) == SQLITE_BLOB &&
	    fl_hist_decode_merge(&e->hist, sqlite3_column_blob(st, 7),
				 (size_t)sqlite3_column_bytes(st, 7)) == -ENOMEM)
		return -ENOMEM;
	if (!baseline) {
		fs->req += req;
		fs->err += err;
		fs->bad += bad;
		e->req += req;
		return 0;
	}
	/* baseline: rows come ordered by edge then run; per-run totals */
	if (fs->req < req)
		fs->req = req;
	if (fs->err < err)
		fs->err = err;
	if (fs->bad < bad)
		fs->bad = bad;
	if (*last_edge != e || *last_run != run) {
		e->runs++;
		e->tag = 0;	/* this run's requests so far */
	}
	e->tag += (int)req;
	if (e->req < (uint64_t)e->tag)
		e->req = (uint64_t)e->tag;
	*last_edge = e;
	*last_run = run;
	return 0;
}

void gate_db_refresh(struct gate_ctx *ctx)
{
	/* a statement stepped and not reset keeps its read transaction, and
	 * with it the snapshot from before the agent wrote */
	for (sqlite3_stmt *st = sqlite3_next_stmt(ctx->db, NULL); st;
	     st = sqlite3_next_stmt(ctx->db, st))
		sqlite3_reset(st);
}

int fp_load(struct gate_ctx *ctx, int64_t run_id, const char *test, struct fp_set *out)
{
	sqlite3_stmt *st;

	gate_db_refresh(ctx);
	int64_t lr = 0;
	struct fp_edge *le = NULL;
	int err = 0, r;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(ctx->db,
			       "SELECT client, server, protocol, operation, status, requests, "
			       "errors, latency_hist, run_id FROM footprints WHERE run_id = ? "
			       "AND test = ?", -1, &st, NULL) != SQLITE_OK)
		return gate_fail(ctx, -EIO, "cannot read footprints from '%s': %s",
				 ctx->db_path, sqlite3_errmsg(ctx->db));
	sqlite3_bind_int64(st, 1, run_id);
	sqlite3_bind_text(st, 2, test, -1, SQLITE_STATIC);
	while (!err && (r = sqlite3_step(st)) == SQLITE_ROW)
		err = fp_row(out, st, false, &lr, &le);
	if (!err && r != SQLITE_DONE)
		err = gate_fail(ctx, -EIO, "cannot read footprints: %s", sqlite3_errmsg(ctx->db));
	if (err == -ENOMEM)
		gate_fail(ctx, err, "out of memory");
	sqlite3_finalize(st);
	out->runs = 1;
	return err;
}

struct learned_test *learned_find(const struct learned *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}

bool learned_flaky(const struct learned_test *t)
{
	return t && t->passes > 0 && t->fails > 0;
}

static struct learned_test *lt_add(struct learned *l, const char *name)
{
	struct learned_test *t = learned_find(l, name), *v;

	if (t)
		return t;
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	l->v = v;
	t = &v[l->n];
	memset(t, 0, sizeof(*t));
	if (!(t->name = strdup(name)))
		return NULL;
	l->n++;
	return t;
}

static int learned_results(struct gate_ctx *ctx, const char *stack, struct learned *l)
{
	sqlite3_stmt *st;
	int r, err = 0;

	if (sqlite3_prepare_v2(ctx->db,
			       "SELECT r.test, count(*), sum(r.result = 'pass'), "
			       "sum(r.result = 'fail'), avg(r.duration_ns) FROM test_results r "
			       "JOIN test_runs t ON t.id = r.run_id WHERE t.kind = 'learn' AND "
			       "t.stack = ?1 GROUP BY r.test", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, stack, -1, SQLITE_STATIC);
	while (!err && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct learned_test *t = lt_add(l, col(st, 0));
		if (!t) {
			err = -ENOMEM;
			break;
		}
		t->runs = sqlite3_column_int(st, 1);
		t->passes = sqlite3_column_int(st, 2);
		t->fails = sqlite3_column_int(st, 3);
		t->mean_s = sqlite3_column_double(st, 4) / 1e9;
	}
	if (!err && r != SQLITE_DONE)
		err = -EIO;
	sqlite3_finalize(st);
	if (err)
		return err;
	if (sqlite3_prepare_v2(ctx->db,
			       "SELECT r.test, count(*) FROM test_results r JOIN ("
			       "SELECT id FROM test_runs WHERE kind = 'gate' AND stack = ?1 "
			       "ORDER BY id DESC LIMIT 20) g ON g.id = r.run_id "
			       "WHERE r.class = 'app' GROUP BY r.test", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, stack, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct learned_test *t = learned_find(l, col(st, 0));
		if (t)
			t->app_failures = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : -EIO;
}

static int learned_footprints(struct gate_ctx *ctx, const char *stack, struct learned *l)
{
	sqlite3_stmt *st;
	struct fp_edge *le = NULL, *lea = NULL;
	int64_t lr = 0, lra = 0;
	int r, err = 0;

	if (sqlite3_prepare_v2(ctx->db,
			       "SELECT f.client, f.server, f.protocol, f.operation, f.status, "
			       "f.requests, f.errors, f.latency_hist, f.run_id, f.test, "
			       "coalesce(r.result, 'fail') FROM footprints f JOIN test_runs t "
			       "ON t.id = f.run_id LEFT JOIN test_results r ON r.run_id = "
			       "f.run_id AND r.test = f.test WHERE t.kind = 'learn' AND "
			       "t.stack = ?1 ORDER BY f.test, f.client, f.server, f.protocol, "
			       "f.operation, f.run_id", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, stack, -1, SQLITE_STATIC);
	while (!err && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct learned_test *t = lt_add(l, col(st, 9));
		if (!t) {
			err = -ENOMEM;
			break;
		}
		err = fp_row(&l->all, st, true, &lra, &lea);
		if (!err && !strcmp(col(st, 10), "pass"))
			err = fp_row(&t->base, st, true, &lr, &le);
	}
	if (!err && r != SQLITE_DONE)
		err = -EIO;
	sqlite3_finalize(st);
	for (size_t i = 0; i < l->n; i++)
		l->v[i].base.runs = l->v[i].passes;
	return err;
}

/* The tests `gatectl tests quarantine` named (schema 6): they never fail a gate. */
static int learned_quarantine(struct gate_ctx *ctx, struct learned *l)
{
	sqlite3_stmt *st;
	int r;

	if ((r = gate_has_table(ctx, "test_quarantine")) <= 0)
		return r;
	if (sqlite3_prepare_v2(ctx->db, "SELECT test FROM test_quarantine", -1, &st,
			       NULL) != SQLITE_OK)
		return -EIO;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct learned_test *t = learned_find(l, col(st, 0));
		if (t)
			t->quarantined = true;
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : -EIO;
}

int learned_load(struct gate_ctx *ctx, const char *stack, struct learned *out)
{
	sqlite3_stmt *st;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = gate_has_table(ctx, "footprints")) <= 0)
		return err ? err : gate_fail(ctx, -EPROTO, "'%s' has no footprints table "
					     "(schema 5 or later)", ctx->db_path);
	err = learned_results(ctx, stack, out);
	if (!err)
		err = learned_quarantine(ctx, out);
	if (!err)
		err = learned_footprints(ctx, stack, out);
	if (!err && sqlite3_prepare_v2(ctx->db, "SELECT count(*) FROM test_runs WHERE "
				       "kind = 'learn' AND stack = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, stack, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			out->nruns = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (err == -ENOMEM)
		return gate_fail(ctx, err, "out of memory");
	if (err)
		return gate_fail(ctx, err, "cannot read what learn recorded in '%s': %s",
				 ctx->db_path, sqlite3_errmsg(ctx->db));
	return 0;
}

void learned_release(struct learned *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		fp_set_release(&l->v[i].base);
	}
	free(l->v);
	fp_set_release(&l->all);
	memset(l, 0, sizeof(*l));
}
