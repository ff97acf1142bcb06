// SPDX-License-Identifier: BSD-2-Clause
/*
 * The gate's verdict (docs/gate.md "Verdict"): what the selected tests did
 * with the change, against what the same tests did on the baseline.
 *
 * Per test, its footprint with the change is compared edge by edge with
 * its learned footprint (the most seen in one passing learn run): a failing
 * status that rose, an edge no learn footprint had (new), an edge every
 * passing learn run had and this run lacks (missing), a latency shift, an
 * edge called many times more often (calls). Rises and latency shifts are
 * decided by the judge (judge/judge.h) under the gate's policy; findings
 * are merged over tests. The cause
 * is the deepest edge whose failures rose: an edge is a symptom when its
 * server's own call also rose. When the deepest rise is not at a changed
 * service but its server called one, the boundary is that call (errors
 * surfaced in the caller, e.g. a renamed JSON field).
 */
#include "gating/gating.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CALLS_RATIO 2	/* calls shift: at least this many times the baseline */
#define CALLS_MIN_MORE 3	/* and at least this many more requests */

const char *gate_class_str(enum gate_class c)
{
	static const char *const s[] = { NULL, "app", "infra", "flaky", "pre-existing" };
	return s[c];
}

const char *gate_fkind_str(enum gate_fkind k)
{
	static const char *const s[] = { "errors", "new", "missing", "latency", "calls" };
	return s[k];
}

/*
 * The gate's policy for the judge (judge/judge.h): a test's counts are
 * small and deterministic, so any rise of a failing status's rate counts
 * (max_error_change 0, one request enough), and latency moves when p50
 * doubles with 5 samples a side. An edge the baseline did not have is
 * judged against "the same requests, none failing".
 */
static const struct judge_policy gate_policy = {
	.min_requests = 1, .min_samples = 5, .max_error_change = 0,
	.latency_ratio = 2.0, .quantiles = JUDGE_Q_P50, .bound = JUDGE_BOUND_ALLOWED,
	.nodata = JUDGE_ND_RULE_NONE_JUDGED,
};

/*
 * Did @after get worse than @before? A rise also needs more failures than
 * the baseline's most in one run (a test that made fewer calls is not
 * worse for it).
 */
static void gate_regressed(uint64_t breq, uint64_t bbad, const struct fl_hist *bh,
			   uint64_t areq, uint64_t abad, const struct fl_hist *ah,
			   bool *errors_up, bool *latency_up)
{
	struct gate_stats b = { .requests = breq ? breq : areq, .errors = breq ? bbad : 0 };
	struct gate_stats a = { .requests = areq, .errors = abad };
	struct judge_finding v;

	if (bh && ah) {
		b.hist = *bh;	/* borrowed: judge_compare() only reads */
		a.hist = *ah;
	}
	judge_compare(&gate_policy, &b, &a, &v);
	*errors_up = (v.reasons & JUDGE_R_ERROR_UP) && abad > bbad;
	*latency_up = v.reasons & JUDGE_R_P50_UP;
}

static bool changed(const struct selection *sel, const char *name)
{
	for (size_t i = 0; i < sel->nchanged; i++)
		if (!strcmp(sel->changed[i], name))
			return true;
	return false;
}

static struct gate_finding *f_get(struct gate_verdict *v, enum gate_fkind k,
				  const struct fp_edge *e, const char *status)
{
	struct gate_finding *f;

	for (size_t i = 0; i < v->nf; i++) {
		f = &v->f[i];
		if (f->kind == k && !strcmp(f->client, e->client) &&
		    !strcmp(f->server, e->server) && !strcmp(f->protocol, e->protocol) &&
		    !strcmp(f->operation, e->operation) && (!status || !strcmp(f->status, status)))
			return f;
	}
	f = realloc(v->f, (v->nf + 1) * sizeof(*f));
	if (!f)
		return NULL;
	v->f = f;
	f = &f[v->nf];
	memset(f, 0, sizeof(*f));
	f->kind = k;
	snprintf(f->status, sizeof(f->status), "%s", status ? status : "");
	if (!(f->client = strdup(e->client)) || !(f->server = strdup(e->server)) ||
	    !(f->protocol = strdup(e->protocol)) || !(f->operation = strdup(e->operation))) {
		free(f->client);
		free(f->server);
		free(f->protocol);
		return NULL;
	}
	v->nf++;
	return f;
}

static int f_test(struct gate_finding *f, size_t t)
{
	for (size_t i = 0; i < f->ntests; i++)
		if (f->tests[i] == t)
			return 0;
	size_t *v = realloc(f->tests, (f->ntests + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->tests = v;
	v[f->ntests++] = t;
	return 0;
}

/* The findings of test @i: its footprint against its baseline. */
static int compare_test(const struct learned *l, struct gate_tres *res, size_t i,
			struct gate_verdict *v)
{
	struct gate_tres *r = &res[i];
	const struct fp_set *base = r->lt && r->lt->passes ? &r->lt->base : NULL;
	struct gate_finding *f;

	for (size_t k = 0; k < r->fp.n; k++) {
		const struct fp_edge *g = &r->fp.v[k];
		const struct fp_edge *b = base ? fp_find(base, g->client, g->server, g->protocol,
							 g->operation) : NULL;
		if (!fp_find(&l->all, g->client, g->server, g->protocol, g->operation)) {
			if (!(f = f_get(v, GF_NEW, g, NULL)) || f_test(f, i))
				return -ENOMEM;
			f->requests += g->req;
		}
		/* a test without a baseline: its failing statuses count if it failed */
		if (!base && r->run.pass)
			continue;
		for (size_t s = 0; s < g->nst; s++) {
			const struct fp_status *gs = &g->st[s];
			const struct fp_status *bs = b ? fp_status_find(b, gs->status) : NULL;
			bool eu, lu;
			if (!gs->bad)
				continue;
			gate_regressed(b ? b->req : 0, bs ? bs->bad : 0, NULL, g->req, gs->bad,
				       NULL, &eu, &lu);
			if (!eu)
				continue;
			if (!(f = f_get(v, GF_RISE, g, gs->status)) || f_test(f, i))
				return -ENOMEM;
			f->requests += g->req;
			f->errors += gs->bad;
			f->base_requests += b ? b->req : 0;
			f->base_errors += bs ? bs->bad : 0;
		}
		if (!b)
			continue;
		bool eu, lu;
		gate_regressed(b->req, 0, &b->hist, g->req, 0, &g->hist, &eu, &lu);
		if (lu) {
			if (!(f = f_get(v, GF_LATENCY, g, NULL)) || f_test(f, i))
				return -ENOMEM;
			f->requests += g->req;
			f->base_requests += b->req;
			f->p50_ms = fl_hist_quantile(&g->hist, 0.5) / 1e6;
			f->base_p50_ms = fl_hist_quantile(&b->hist, 0.5) / 1e6;
			f->p99_ms = fl_hist_quantile(&g->hist, 0.99) / 1e6;
			f->base_p99_ms = fl_hist_quantile(&b->hist, 0.99) / 1e6;
		}
		if (g->req >= CALLS_RATIO * b->req && g->req >= b->req + CALLS_MIN_MORE) {
			if (!(f = f_get(v, GF_CALLS, g, NULL)) || f_test(f, i))
				return -ENOMEM;
			f->requests += g->req;
			f->base_requests += b->req;
		}
	}
	/* missing: in every passing learn run, not now (a test that ran to its end) */
	for (size_t k = 0; base && r->run.pass && k < base->n; k++) {
		const struct fp_edge *b = &base->v[k];
		if (b->runs < base->runs ||
		    fp_find(&r->fp, b->client, b->server, b->protocol, b->operation))
			continue;
		if (!(f = f_get(v, GF_MISSING, b, NULL)) || f_test(f, i))
			return -ENOMEM;
		f->base_requests += b->req;
	}
	return 0;
}

/* A quarantined test (`gatectl tests quarantine`) runs but never fails a gate. */
static bool quarantined(const struct gate_tres *r)
{
	return r->lt && r->lt->quarantined;
}

/* The class of failed test @r (its rerun done). */
static void classify(const struct selection *sel, struct gate_tres *r)
{
	uint64_t req = 0;

	for (size_t k = 0; k < r->fp.n; k++) {
		const struct fp_edge *e = &r->fp.v[k];
		req += e->req;
		for (size_t s = 0; s < e->nst; s++)
			if (!strncmp(e->st[s].status, "conn_", 5) && !changed(sel, e->server) &&
			    r->cls == GC_NONE) {
				r->cls = GC_INFRA;
				snprintf(r->why, sizeof(r->why), "%s to %s, which was not swapped",
					 !strcmp(e->st[s].status, "conn_refused") ?
					 "connection refused" : "connection reset", e->server);
			}
	}
	if (r->cls != GC_NONE)
		return;
	if (r->run.res.timed_out && !req) {
		r->cls = GC_INFRA;
		snprintf(r->why, sizeof(r->why), "timed out without making a request");
	} else if (r->reran && !r->rerun_pass) {
		r->cls = GC_PRE;
		snprintf(r->why, sizeof(r->why), "fails on the baseline too");
	} else if (r->reran && learned_flaky(r->lt)) {
		r->cls = GC_FLAKY;
		snprintf(r->why, sizeof(r->why), "known flaky (%d of %d learn runs passed), "
			 "passed on the baseline rerun", r->lt->passes, r->lt->runs);
	} else {
		r->cls = GC_APP;
		snprintf(r->why, sizeof(r->why), r->reran ? "passes on the baseline" :
			 "fails with the change");
	}
	if (quarantined(r)) {
		size_t n = strlen(r->why);
		snprintf(r->why + n, sizeof(r->why) - n, " (quarantined: does not fail the gate)");
	}
}

/* A test whose result counts against the change. */
static bool counts(const struct gate_tres *r)
{
	if (quarantined(r))
		return false;
	return r->run.pass ? !learned_flaky(r->lt) : r->cls == GC_APP;
}

static const char *belongs(const struct selection *sel, const struct gate_finding *f)
{
	for (size_t i = 0; i < sel->nchanged; i++)
		if (!strcmp(sel->changed[i], f->server) || !strcmp(sel->changed[i], f->client))
			return sel->changed[i];
	return sel->nchanged == 1 ? sel->changed[0] : NULL;
}

/* Its dominant status in the footprints of @f's tests: OUT @buf. */
static void dominant_status(const struct gate_tres *res, const struct gate_finding *f,
			    const struct fp_edge **edge, char *buf, size_t len)
{
	uint64_t best = 0;

	buf[0] = 0;
	for (size_t t = 0; t < f->ntests; t++) {
		const struct fp_set *fp = &res[f->tests[t]].fp;
		for (size_t k = 0; k < fp->n; k++) {
			const struct fp_edge *e = &fp->v[k];
			if (strcmp(e->client, f->client) || strcmp(e->server, f->server) ||
			    strcmp(e->protocol, f->protocol) || strcmp(e->operation, f->operation))
				continue;
			*edge = e;
			for (size_t s = 0; s < e->nst; s++)
				if (e->st[s].req > best) {
					best = e->st[s].req;
					snprintf(buf, len, "%s", e->st[s].status);
				}
		}
	}
}

/*
 * Name the boundary that broke from @tests' footprints when no failure rose
 * at a changed service: the call of @svc (the deepest failing server, or
 * the test itself) to a changed service.
 */
static int infer_cause(const struct selection *sel, struct gate_tres *res,
		       const size_t *tests, size_t ntests, const char *svc,
		       struct gate_verdict *v)
{
	for (size_t t = 0; t < ntests; t++) {
		const struct fp_set *fp = &res[tests[t]].fp;
		for (size_t k = 0; k < fp->n; k++) {
			const struct fp_edge *e = &fp->v[k];
			if ((svc && strcmp(e->client, svc)) || !changed(sel, e->server))
				continue;
			if (!svc && strcmp(e->client, SB_TEST_CLIENT))
				continue;
			char status[40];
			const struct fp_edge *de = e;
			struct gate_finding probe = { .client = e->client, .server = e->server,
						      .protocol = e->protocol,
						      .operation = e->operation,
						      .tests = (size_t *)tests, .ntests = ntests };
			dominant_status(res, &probe, &de, status, sizeof(status));
			struct gate_finding *f = f_get(v, GF_RISE, e, status);
			if (!f)
				return -ENOMEM;
			for (size_t i = 0; i < ntests; i++)
				if (f_test(f, tests[i]))
					return -ENOMEM;
			if (!f->requests)
				f->requests = de->req;
			f->inferred = true;
			f->role = GR_CAUSE;
			f->counts = true;
			return 1;
		}
	}
	return 0;
}

static int roles(const struct selection *sel, struct gate_tres *res, size_t nres,
		 struct gate_verdict *v)
{
	size_t n = v->nf;
	int err;

	for (size_t i = 0; i < n; i++) {
		struct gate_finding *f = &v->f[i];
		if (f->kind != GF_RISE || !f->counts)
			continue;
		f->role = GR_CAUSE;
		for (size_t k = 0; k < n; k++)
			if (k != i && v->f[k].kind == GF_RISE && v->f[k].counts &&
			    !strcmp(v->f[k].client, f->server))
				f->role = GR_SYMPTOM;
	}
	/* a cause away from every change: the change met its caller there */
	for (size_t i = 0; i < n; i++) {
		struct gate_finding *f = &v->f[i];
		if (f->role != GR_CAUSE || changed(sel, f->server) || changed(sel, f->client))
			continue;
		size_t *tests = malloc((f->ntests + 1) * sizeof(*tests));
		if (!tests)
			return -ENOMEM;
		memcpy(tests, f->tests, f->ntests * sizeof(*tests));
		size_t nt = f->ntests;
		char *server = strdup(f->server);
		err = server ? infer_cause(sel, res, tests, nt, server, v) : -ENOMEM;
		free(server);
		free(tests);
		if (err < 0)
			return err;
		if (err > 0)
			v->f[i].role = GR_SYMPTOM;	/* v->f may have moved */
	}
	bool any_cause = false, app_fail = false;
	for (size_t i = 0; i < v->nf; i++)
		any_cause |= v->f[i].role == GR_CAUSE;
	for (size_t t = 0; t < nres; t++)
		app_fail |= res[t].cls == GC_APP;
	if (!any_cause && app_fail) {
		/* tests failed, no failure status rose: the changed service's callers */
		size_t *tests = calloc(nres + 1, sizeof(*tests)), nt = 0;
		if (!tests)
			return -ENOMEM;
		for (size_t t = 0; t < nres; t++)
			if (res[t].cls == GC_APP)
				tests[nt++] = t;
		err = 0;
		for (size_t t = 0; t < nt && !err; t++)
			for (size_t k = 0; k < res[tests[t]].fp.n && !err; k++) {
				const struct fp_edge *e = &res[tests[t]].fp.v[k];
				if (changed(sel, e->server) && !changed(sel, e->client))
					err = infer_cause(sel, res, tests, nt, e->client, v);
			}
		free(tests);
		if (err < 0)
			return err;
	}
	for (size_t i = 0; i < v->nf; i++)
		v->f[i].change = belongs(sel, &v->f[i]);
	return 0;
}

/* The first affected edge that is a blind spot no footprint touches, or NULL. */
static const struct sel_edge *gate_blind_spot(const struct selection *sel)
{
	for (size_t k = 0; k < sel->nedges; k++)
		if (sel->edges[k].blind_spot && !sel->edges[k].touched)
			return &sel->edges[k];
	return NULL;
}

int gate_judge(const struct selection *sel, const struct learned *l,
	       struct gate_tres *res, size_t nres, struct gate_verdict *v)
{
	bool fail = false, infra = false, judged = false;
	const struct sel_edge *blind;
	size_t napp = 0, ninfra = 0;
	int err;

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < nres; i++)
		if (res[i].ran && !res[i].run.pass)
			classify(sel, &res[i]);
	for (size_t i = 0; i < nres; i++)
		if (res[i].ran && (err = compare_test(l, res, i, v)))
			return err;
	for (size_t i = 0; i < v->nf; i++) {
		struct gate_finding *f = &v->f[i];
		bool any = false, all_flaky = true;
		for (size_t t = 0; t < f->ntests; t++) {
			any |= counts(&res[f->tests[t]]);
			all_flaky &= learned_flaky(res[f->tests[t]].lt) ||
				     res[f->tests[t]].cls == GC_FLAKY;
		}
		f->counts = any;
		f->flaky_only = all_flaky && f->ntests;
	}
	if ((err = roles(sel, res, nres, v)))
		return err;
	for (size_t i = 0; i < nres; i++) {
		napp += res[i].cls == GC_APP && !quarantined(&res[i]);
		ninfra += res[i].cls == GC_INFRA;
		judged |= res[i].ran && res[i].fp.n;
	}
	for (size_t i = 0; i < v->nf; i++)
		fail |= v->f[i].counts && !v->f[i].flaky_only &&
			(v->f[i].kind != GF_RISE || v->f[i].role == GR_CAUSE);
	fail |= napp > 0;
	infra = ninfra > 0;
	if (fail) {
		v->verdict = "fail";
		snprintf(v->reason, sizeof(v->reason), "%zu test%s failed (app), %zu finding%s",
			 napp, napp == 1 ? "" : "s", v->nf, v->nf == 1 ? "" : "s");
	} else if (infra) {
		v->verdict = "inconclusive";
		snprintf(v->reason, sizeof(v->reason), "%zu test%s failed for infrastructure "
			 "reasons", ninfra, ninfra == 1 ? "" : "s");
	} else if ((blind = gate_blind_spot(sel))) {
		/* verify found it broken in production and no test covers it */
		v->verdict = "inconclusive";
		snprintf(v->reason, sizeof(v->reason), "%s -> %s %s %s failed in production "
			 "and no test covers it (a gate blind spot): add a test for it",
			 blind->client, blind->server, blind->protocol, blind->operation);
	} else if (!judged) {
		v->verdict = "inconclusive";
		snprintf(v->reason, sizeof(v->reason), "no selected test made a request the "
			 "agent saw: nothing was judged");
	} else {
		v->verdict = "pass";
		snprintf(v->reason, sizeof(v->reason), "no failing test, no regression");
	}
	return 0;
}

void gate_verdict_release(struct gate_verdict *v)
{
	for (size_t i = 0; i < v->nf; i++) {
		free(v->f[i].client);
		free(v->f[i].server);
		free(v->f[i].protocol);
		free(v->f[i].operation);
		free(v->f[i].tests);
	}
	free(v->f);
	memset(v, 0, sizeof(*v));
}

void gate_sample(const struct gate_finding *f, char *buf, size_t len)
{
	const char *st = f->status;

	if (!strcmp(st, "conn_refused") || !strcmp(st, "conn_reset"))
		snprintf(buf, len, "%s on connect to %s", !strcmp(st, "conn_refused") ?
			 "connection refused" : "connection reset", f->server);
	else if (!strcmp(f->protocol, "http"))
		snprintf(buf, len, "HTTP %s on %s", st, f->operation);
	else if (!strncmp(st, "grpc:", 5))
		snprintf(buf, len, "gRPC status %s on %s", st + 5, f->operation);
	else if (!strcmp(f->protocol, "postgresql") || !strcmp(f->protocol, "mysql"))
		snprintf(buf, len, "SQLSTATE %s on %s", st, f->operation);
	else
		snprintf(buf, len, "%s %s on %s", f->protocol, st, f->operation);
}
