// SPDX-License-Identifier: BSD-2-Clause
/*
 * deep: learned footprints per test, and one fault's effect against them
 * (deep.h has the contract).
 */
#include "sandbox/deep.h"
#include "judge/judge.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct deep_op *ops_find(const struct deep_ops *ops, const char *client,
				const char *server, const char *protocol,
				const char *operation)
{
	for (size_t i = 0; i < ops->n; i++) {
		struct deep_op *o = &ops->v[i];

		if (!strcmp(o->client, client) && !strcmp(o->server, server) &&
		    !strcmp(o->protocol, protocol) && !strcmp(o->operation, operation))
			return o;
	}
	return NULL;
}

int deep_ops_add(struct deep_ops *ops, const char *client, const char *server,
		 const char *protocol, const char *operation, double requests,
		 double errors, const void *hist, size_t hist_len)
{
	struct deep_op *o = ops_find(ops, client, server, protocol, operation);

	if (!o) {
		if (ops->n == ops->cap) {
			size_t cap = ops->cap ? 2 * ops->cap : 16;
			struct deep_op *v = realloc(ops->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			ops->v = v;
			ops->cap = cap;
		}
		o = &ops->v[ops->n];
		memset(o, 0, sizeof(*o));
		o->client = dup_or_null(client);
		o->server = dup_or_null(server);
		o->protocol = dup_or_null(protocol);
		o->operation = dup_or_null(operation);
		if (!o->client || !o->server || !o->protocol || !o->operation) {
			free(o->client);
			free(o->server);
			free(o->protocol);
			free(o->operation);
			return -ENOMEM;
		}
		ops->n++;
	}
	o->requests += requests;
	o->errors += errors;
	if (hist && hist_len && fl_hist_decode_merge(&o->hist, hist, hist_len))
		return -ENOMEM;	/* a bad blob only loses latency; memory is fatal */
	return 0;
}

void deep_ops_release(struct deep_ops *ops)
{
	for (size_t i = 0; i < ops->n; i++) {
		free(ops->v[i].client);
		free(ops->v[i].server);
		free(ops->v[i].protocol);
		free(ops->v[i].operation);
		fl_hist_release(&ops->v[i].hist);
	}
	free(ops->v);
	memset(ops, 0, sizeof(*ops));
}

struct deep_test *deep_test_find(const struct deep_base *b, const char *name)
{
	for (size_t i = 0; i < b->ntests; i++)
		if (!strcmp(b->tests[i].name, name))
			return &b->tests[i];
	return NULL;
}

bool deep_test_touches(const struct deep_test *t, const char *client, const char *server)
{
	for (size_t i = 0; i < t->ops.n; i++)
		if (!strcmp(t->ops.v[i].client, client) && !strcmp(t->ops.v[i].server, server))
			return true;
	return false;
}

static struct deep_test *base_test(struct deep_base *b, const char *name)
{
	struct deep_test *t = deep_test_find(b, name), *v;

	if (t)
		return t;
	v = realloc(b->tests, (b->ntests + 1) * sizeof(*v));
	if (!v)
		return NULL;
	b->tests = v;
	t = &b->tests[b->ntests];
	memset(t, 0, sizeof(*t));
	t->name = strdup(name);
	if (!t->name)
		return NULL;
	b->ntests++;
	return t;
}

/* Each learned test's runs and mean passing duration. */
static int base_results(sqlite3 *db, const char *stack, struct deep_base *b)
{
	static const char sql[] =
		"SELECT r.test, count(*), avg(CASE WHEN r.result = 'pass' THEN r.duration_ns END)"
		" FROM test_results r JOIN test_runs t ON t.id = r.run_id"
		" WHERE t.kind = 'learn' AND t.stack = ?1 GROUP BY r.test ORDER BY r.test";
	sqlite3_stmt *st;
	int rc, err = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, stack, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct deep_test *t = base_test(b, (const char *)sqlite3_column_text(st, 0));

		if (!t) {
			err = -ENOMEM;
			break;
		}
		t->runs = (unsigned)sqlite3_column_int(st, 1);
		t->duration_s = sqlite3_column_type(st, 2) == SQLITE_NULL ? 0 :
				sqlite3_column_double(st, 2) / 1e9;
	}
	if (!err && rc != SQLITE_DONE)
		err = -EIO;
	sqlite3_finalize(st);
	return err;
}

int deep_base_load(sqlite3 *db, const char *stack, struct deep_base *b)
{
	static const char runs_sql[] =
		"SELECT count(*) FROM test_runs WHERE kind = 'learn' AND stack = ?1";
	static const char fp_sql[] =
		"SELECT f.test, f.client, f.server, f.protocol, f.operation,"
		" f.requests, f.errors, f.latency_hist"
		" FROM footprints f JOIN test_runs t ON t.id = f.run_id"
		" WHERE t.kind = 'learn' AND t.stack = ?1";
	sqlite3_stmt *st = NULL;
	int rc, err;

	memset(b, 0, sizeof(*b));
	if (sqlite3_prepare_v2(db, runs_sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, stack, -1, SQLITE_STATIC);
	b->learn_runs = sqlite3_step(st) == SQLITE_ROW ? (unsigned)sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (!b->learn_runs)
		return -ENOENT;
	if ((err = base_results(db, stack, b)))
		goto out_err;
	if (sqlite3_prepare_v2(db, fp_sql, -1, &st, NULL) != SQLITE_OK) {
		err = -EIO;
		goto out_err;
	}
	sqlite3_bind_text(st, 1, stack, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct deep_test *t = base_test(b, (const char *)sqlite3_column_text(st, 0));
		double runs;

		if (!t) {
			err = -ENOMEM;
			break;
		}
		runs = t->runs ? t->runs : 1;
		err = deep_ops_add(&t->ops, (const char *)sqlite3_column_text(st, 1),
				   (const char *)sqlite3_column_text(st, 2),
				   (const char *)sqlite3_column_text(st, 3),
				   (const char *)sqlite3_column_text(st, 4),
				   sqlite3_column_double(st, 5) / runs,
				   sqlite3_column_double(st, 6) / runs,
				   sqlite3_column_blob(st, 7), (size_t)sqlite3_column_bytes(st, 7));
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = -EIO;
	sqlite3_finalize(st);
	if (!err)
		return 0;
out_err:
	deep_base_release(b);
	return err;
}

void deep_base_release(struct deep_base *b)
{
	for (size_t i = 0; i < b->ntests; i++) {
		free(b->tests[i].name);
		deep_ops_release(&b->tests[i].ops);
	}
	free(b->tests);
	memset(b, 0, sizeof(*b));
}

static double p99_ms(const struct fl_hist *h)
{
	return h->count ? (double)fl_hist_quantile(h, 0.99) / 1e6 : 0;
}

/* @o as the judge reads a side: its sums and histogram (borrowed). */
static struct gate_stats op_stats(const struct deep_op *o)
{
	return (struct gate_stats){
		.windows = 1,
		.requests = (uint64_t)llround(o->requests),
		.errors = (uint64_t)llround(o->errors),
		.hist = o->hist,
	};
}

/* Judge @a against @b (NULL: an operation the tests never made when learned). */
static void op_judge(const struct deep_op *a, const struct deep_op *b, struct deep_cascade *c)
{
	static const struct judge_policy jp = JUDGE_POLICY_DEEP;
	struct gate_stats after = op_stats(a), before = { 0 };
	struct judge_finding v;

	c->p99_ms = p99_ms(&a->hist);
	if (!b) {		/* new under the fault: only its errors can tell */
		c->errors_rose = a->errors >= 1;
		return;
	}
	before = op_stats(b);
	c->base_requests = b->requests;
	c->base_errors = b->errors;
	c->base_p99_ms = p99_ms(&b->hist);
	judge_compare(&jp, &before, &after, &v);
	c->errors_rose = v.reasons & JUDGE_R_ERROR_UP;
	c->latency_rose = v.reasons & JUDGE_R_P99_UP;
}

int deep_effect_judge(const struct deep_ops *after, const struct deep_ops *base,
		      const char *client, const char *server, const char *ignore,
		      struct deep_effect *e)
{
	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < base->n; i++)
		if (!strcmp(base->v[i].client, client) && !strcmp(base->v[i].server, server)) {
			e->base_requests += base->v[i].requests;
			fl_hist_merge(&e->base_hist, &base->v[i].hist);
		}
	for (size_t i = 0; i < after->n; i++) {
		const struct deep_op *a = &after->v[i];
		struct deep_cascade c = { .after = a }, *v;

		if (ignore && (!strcmp(a->client, ignore) || !strcmp(a->server, ignore)))
			continue;
		if (!strcmp(a->client, client) && !strcmp(a->server, server)) {
			e->faulted_requests += a->requests;
			e->faulted_errors += a->errors;
			fl_hist_merge(&e->faulted_hist, &a->hist);
			continue;
		}
		op_judge(a, ops_find(base, a->client, a->server, a->protocol, a->operation), &c);
		if (!c.errors_rose && !c.latency_rose)
			continue;
		v = realloc(e->cascade, (e->ncascade + 1) * sizeof(*v));
		if (!v) {
			deep_effect_release(e);
			return -ENOMEM;
		}
		e->cascade = v;
		e->cascade[e->ncascade++] = c;
	}
	if (e->faulted_requests > e->base_requests)
		e->retries = (uint64_t)llround(e->faulted_requests - e->base_requests);
	e->faulted_p99_ms = p99_ms(&e->faulted_hist);
	e->base_p99_ms = p99_ms(&e->base_hist);
	return 0;
}

void deep_effect_release(struct deep_effect *e)
{
	free(e->cascade);
	fl_hist_release(&e->faulted_hist);
	fl_hist_release(&e->base_hist);
	memset(e, 0, sizeof(*e));
}
