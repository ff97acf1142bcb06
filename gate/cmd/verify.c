// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl verify: after a deploy, judge every edge of the service (and
 * every edge the linked gate run made a prediction about) on production
 * windows after the deploy against a baseline before it, interval by
 * interval, with the judge's exact tests (judge_stats.h); score each
 * prediction hit, miss or unverifiable; store the verification, the
 * outcomes and what the misses teach selection (after.h).
 */
#include "cmd/cmd.h"
#include "judge/judge.h"
#include "output/output.h"
#include "query/after.h"
#include "query/prom.h"
#include "query/open.h"
#include "query/time.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct verify_opts {
	const char *service;
	int64_t deploy_id;		/* 0: the latest of the service */
	int64_t window_s, baseline_s, interval_s;
	uint64_t failure_limit, inconclusive_limit;
	bool watch;
	struct judge_opts j;
};

struct vedge {
	int64_t id;			/* 0: not in the store */
	char *client, *server, *protocol, *operation;	/* owned */
	int pred;			/* index in predictions, -1 none */
	struct gate_traffic before;	/* the baseline */
	struct gate_traffic after;	/* all judged intervals */
	struct judge_result res;	/* whole after window */
	bool have_before;		/* before was read */
	bool relevant;			/* traffic on some side, or predicted */
};

struct vpred {
	int64_t id;
	char *client, *server, *protocol, *operation, *expected, *evidence;
	double confidence;
	size_t edge;			/* index in edges */
	const char *outcome;		/* hit|miss|unverifiable (static) */
	char reason[240];
	bool blind;			/* the miss made a blind spot */
	double weight;			/* risk weight after a miss, 0 if none */
};

struct vinterval {
	int64_t lo_s, hi_s;
	enum { VI_PASS, VI_FAIL, VI_INCONCLUSIVE } verdict;
	unsigned pass, high, low, nodata;
	unsigned failures;		/* failed intervals up to this one */
	struct gate_seen seen;
	struct gate_seen cum_seen;	/* of the window so far */
	char worst[200];		/* the first high edge, or why inconclusive */
};

struct verify {
	struct gate_ctx *ctx;
	struct gate_prom_graph pg;	/* --prometheus: the service's edges */
	struct verify_opts o;
	struct gate_deploy d;
	int64_t gate_run;
	int64_t width_s;		/* window width of the agent's store */
	int64_t after_lo_s, base_lo_s, base_hi_s;
	struct vedge *e;
	size_t ne, cap;
	struct vpred *p;
	size_t np;
	struct vinterval *iv;
	size_t niv, planned;
	unsigned failures, inconclusives;
	const char *verdict;		/* pass|fail|inconclusive */
	char why[200];
	int64_t verification_id;
	int64_t started_ns;
};

static const char *const vi_names[] = { "pass", "fail", "inconclusive" };

static void verify_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl verify --service S [--deploy ID] [--window 10m]\n"
		"                      [--baseline 1h] [--interval 1m]\n"
		"                      [--failure-limit N] [--inconclusive-limit N]\n"
		"                      [--watch] [--confidence C] [--tolerance T]\n"
		"                      [--min-requests N] [--db FILE] [-o table|json]\n"
		"\n"
		"Judge a deployment of SERVICE on production windows: every edge of the\n"
		"service (both ways) and every edge its gate run predicted, after the\n"
		"deploy against the baseline before it. Each interval of the window is\n"
		"judged on its own; an edge is\n"
		"  high    errors rose (exact rate test; zero baselines included) or\n"
		"          latency rose (Mann-Whitney + Hodges-Lehmann shift, or the\n"
		"          spread check) beyond the tolerance at the confidence\n"
		"  low     errors or latency fell\n"
		"  nodata  no traffic, too few requests (and how many more are needed),\n"
		"          no baseline, or the agent did not see (down, drops, gap)\n"
		"  pass    otherwise\n"
		"An interval fails when an edge is high, is inconclusive when every\n"
		"edge is nodata. The verification fails after more than N failed\n"
		"intervals, is inconclusive after more than N inconclusive ones (or\n"
		"while the window is not over), passes otherwise. Each prediction of\n"
		"the gate run is scored hit, miss or unverifiable and stored; a miss\n"
		"raises the edge's risk for select and, when no test covers it, marks\n"
		"a gate blind spot.\n"
		"\n"
		"options:\n"
		"  --service S             the deployed service (required)\n"
		"  --deploy ID             the deployment (default: the latest of S)\n"
		"  --window D              after the deploy, judged (default 10m)\n"
		"  --baseline D            before the deploy, the baseline (default 1h)\n"
		"  --interval D            one judgement per D (default 1m)\n"
		"  --failure-limit N       failed intervals allowed (default 0)\n"
		"  --inconclusive-limit N  inconclusive intervals allowed (default 0)\n"
		"  --watch                 wait for each interval and print it as judged\n"
		"  --confidence C          of the tests (default 0.98)\n"
		"  --tolerance T           allowed relative increase (default 0.25)\n"
		"  --min-requests N        per side before pass means anything (default 50)\n"
		"\n"
		"exit status: 0 pass, 1 fail, 2 usage or store error, 3 inconclusive\n"
		"\n"
		"examples:\n"
		"  gatectl verify --service checkout --watch\n"
		"  gatectl verify --service checkout --deploy 12 --window 5m --interval 30s -o json\n");
}

/* A duration option: "10m", "90s", "1h30m" (gate_time_parse before 0). */
static int parse_dur(struct gate_ctx *ctx, const char *opt, const char *s,
		     int64_t *out_s)
{
	int64_t t;

	if (gate_time_parse(s, 0, &t) || t >= 0 || s[0] == '@' ||
	    strchr(s, 'T') || strchr(s, '-'))
		return gate_fail(ctx, -EINVAL, "invalid duration for '%s': '%s' "
				 "(want e.g. 30s, 10m, 1h)", opt, s);
	*out_s = -t / GATE_NS_PER_S;
	if (!*out_s)
		return gate_fail(ctx, -EINVAL, "'%s' must be at least 1s", opt);
	return 0;
}

static int verify_parse(struct gate_ctx *ctx, int argc, char **argv,
			struct verify_opts *o)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "service", required_argument, NULL, 'S' },
		{ "deploy", required_argument, NULL, 'd' },
		{ "window", required_argument, NULL, 'w' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "interval", required_argument, NULL, 'i' },
		{ "failure-limit", required_argument, NULL, 'f' },
		{ "inconclusive-limit", required_argument, NULL, 'I' },
		{ "watch", no_argument, NULL, 'W' },
		{ "confidence", required_argument, NULL, 'c' },
		{ "tolerance", required_argument, NULL, 't' },
		{ "min-requests", required_argument, NULL, 'm' },
		{ 0 }
	};
	uint64_t u;
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, verify_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		switch (c) {
		case 'S': o->service = optarg; break;
		case 'W': o->watch = true; break;
		case 'd':
			if ((err = gate_parse_u64(ctx, "--deploy", optarg, &u)))
				return err;
			o->deploy_id = (int64_t)u;
			break;
		case 'w': err = parse_dur(ctx, "--window", optarg, &o->window_s); break;
		case 'b': err = parse_dur(ctx, "--baseline", optarg, &o->baseline_s); break;
		case 'i': err = parse_dur(ctx, "--interval", optarg, &o->interval_s); break;
		case 'f': err = gate_parse_u64(ctx, "--failure-limit", optarg, &o->failure_limit); break;
		case 'I': err = gate_parse_u64(ctx, "--inconclusive-limit", optarg, &o->inconclusive_limit); break;
		case 'm': err = gate_parse_u64(ctx, "--min-requests", optarg, &o->j.min_requests); break;
		case 'c':
			err = gate_parse_double(ctx, "--confidence", optarg, 0.5, &o->j.confidence);
			if (!err && o->j.confidence >= 1)
				err = gate_fail(ctx, -EINVAL, "'--confidence' must be below 1");
			break;
		case 't': err = gate_parse_double(ctx, "--tolerance", optarg, 0, &o->j.tolerance); break;
		}
		if (err)
			return err;
	}
	if ((err = gate_no_args(ctx, argc, argv)))
		return err;
	if (!o->service)
		return gate_fail(ctx, -EINVAL, "verify needs '--service SERVICE'");
	if (o->interval_s > o->window_s)
		return gate_fail(ctx, -EINVAL, "'--interval' must not be longer than '--window'");
	return 0;
}

/* ---- edges and predictions ---- */

static int vedge_add(struct verify *v, int64_t id, const char *c, const char *s,
		     const char *p, const char *op, size_t *at)
{
	for (size_t i = 0; i < v->ne; i++) {
		struct vedge *e = &v->e[i];

		if (!strcmp(e->client, c) && !strcmp(e->server, s) &&
		    !strcmp(e->protocol, p) && !strcmp(e->operation, op)) {
			*at = i;
			return 0;
		}
	}
	if (v->ne == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		struct vedge *n = realloc(v->e, cap * sizeof(*n));

		if (!n)
			return gate_fail(v->ctx, -ENOMEM, "out of memory");
		v->e = n;
		v->cap = cap;
	}
	struct vedge *e = &v->e[v->ne];
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->pred = -1;
	e->client = strdup(c);
	e->server = strdup(s);
	e->protocol = strdup(p);
	e->operation = strdup(op);
	if (!e->client || !e->server || !e->protocol || !e->operation) {
		free(e->client); free(e->server); free(e->protocol); free(e->operation);
		return gate_fail(v->ctx, -ENOMEM, "out of memory");
	}
	*at = v->ne++;
	return 0;
}

/*
 * --prometheus: the service's edges are the ones the agents exported from
 * the baseline's start to now (every node); their traffic is read from
 * there too (query/after.c), the deployment and predictions from the store.
 */
static int verify_edges_prom(struct verify *v)
{
	size_t at;
	int err;

	err = gate_prom_graph_read(v->ctx, v->ctx->prom_url, v->base_lo_s * GATE_NS_PER_S,
				   v->ctx->now_ns, &v->pg);
	if (err)
		return err;
	v->ctx->mem = &v->pg.edges;
	for (size_t i = 0; i < v->pg.edges.n && !err; i++) {
		const struct gate_edge *e = &v->pg.edges.v[i];
		if (strcmp(e->client, v->o.service) && strcmp(e->server, v->o.service))
			continue;
		err = vedge_add(v, e->id, e->client, e->server, e->protocol, e->operation, &at);
	}
	return err;
}

static int verify_edges(struct verify *v)
{
	sqlite3_stmt *st;
	size_t at;
	int err = 0, rc;

	if (v->ctx->prom_url)
		return verify_edges_prom(v);
	if (sqlite3_prepare_v2(v->ctx->db,
			       "SELECT e.id, c.name, s.name, e.protocol, e.operation FROM "
			       "edges e JOIN services c ON c.id = e.client_id JOIN services s "
			       "ON s.id = e.server_id WHERE c.name = ?1 OR s.name = ?1 "
			       "ORDER BY c.name, s.name, e.protocol, e.operation", -1, &st, NULL))
		return gate_fail(v->ctx, -EIO, "cannot read '%s': %s", v->ctx->db_path,
				 sqlite3_errmsg(v->ctx->db));
	sqlite3_bind_text(st, 1, v->o.service, -1, SQLITE_STATIC);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW)
		err = vedge_add(v, sqlite3_column_int64(st, 0),
				(const char *)sqlite3_column_text(st, 1),
				(const char *)sqlite3_column_text(st, 2),
				(const char *)sqlite3_column_text(st, 3),
				(const char *)sqlite3_column_text(st, 4), &at);
	sqlite3_finalize(st);
	return err;
}

static int verify_predictions(struct verify *v)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int err = 0, rc;

	if (!v->gate_run)
		return 0;
	if (sqlite3_prepare_v2(v->ctx->db,
			       "SELECT id, client, server, protocol, operation, expected, "
			       "evidence, confidence FROM predictions WHERE gate_run_id = ?1 "
			       "ORDER BY id", -1, &st, NULL))
		return gate_fail(v->ctx, -EIO, "cannot read '%s': %s", v->ctx->db_path,
				 sqlite3_errmsg(v->ctx->db));
	sqlite3_bind_int64(st, 1, v->gate_run);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct vpred *p;
		int64_t id;

		if (!(n & (n - 1)) || !n) {
			struct vpred *np = realloc(v->p, (n ? 2 * n : 1) * sizeof(*np));
			if (!np) {
				err = gate_fail(v->ctx, -ENOMEM, "out of memory");
				break;
			}
			v->p = np;
		}
		p = &v->p[n];
		memset(p, 0, sizeof(*p));
		p->id = sqlite3_column_int64(st, 0);
		for (int i = 0; i < 4; i++)
			(&p->client)[i] = gate_dup_col(st, i + 1);
		p->expected = gate_dup_col(st, 5);
		p->evidence = gate_dup_col(st, 6);
		p->confidence = sqlite3_column_double(st, 7);
		v->np = ++n;
		if (!p->client || !p->server || !p->protocol || !p->operation || !p->expected) {
			err = gate_fail(v->ctx, -ENOMEM, "out of memory");
			break;
		}
		err = gate_edge_by_name(v->ctx, p->client, p->server, p->protocol,
					p->operation, &id);
		if (!err)
			err = vedge_add(v, id, p->client, p->server, p->protocol,
					p->operation, &p->edge);
		if (!err)
			v->e[p->edge].pred = (int)(n - 1);
	}
	sqlite3_finalize(st);
	return err;
}

/* ---- judging ---- */

static void side_of(const struct gate_traffic *t, double seconds,
		    const struct gate_seen *seen, struct judge_side *s)
{
	s->requests = t->requests;
	s->errors = t->errors;
	s->hist = &t->hist;
	s->seconds = seconds;
	s->seen = seen ? seen->seen : JUDGE_SEEN_OK;
	if (s->seen == JUDGE_SEEN_UNKNOWN)
		s->seen = JUDGE_SEEN_OK;	/* no flush records: judged as seen, said */
	s->dropped = seen ? seen->lost : 0;
}

/* The store's window width: what the agents write now (60 by default). */
static int verify_width(struct verify *v)
{
	sqlite3_stmt *st;

	v->width_s = 60;
	if (v->ctx->prom_url) {
		v->width_s = 1;	/* Prometheus: counts exact to the scrape */
		return 0;
	}
	if (sqlite3_prepare_v2(v->ctx->db, "SELECT window_s FROM agent_flushes WHERE "
			       "source = 'ebpf' ORDER BY at_ns DESC LIMIT 1", -1, &st, NULL))
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
		v->width_s = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* The baseline of every edge not read yet (new ones appear while watching). */
static int verify_baselines(struct verify *v)
{
	int err = 0;

	for (size_t i = 0; i < v->ne && !err; i++) {
		struct vedge *e = &v->e[i];

		if (e->have_before)
			continue;
		if (!e->id && e->pred >= 0)	/* a predicted edge may show up */
			err = gate_edge_by_name(v->ctx, e->client, e->server, e->protocol,
						e->operation, &e->id);
		if (!err && e->id) {
			err = gate_edge_traffic(v->ctx, e->id, v->base_lo_s, v->base_hi_s,
						false, &e->before);
			e->have_before = !err;
		}
	}
	return err;
}

static int verify_interval(struct verify *v, struct vinterval *iv)
{
	struct gate_ctx *ctx = v->ctx;
	double base_s = (double)(v->base_hi_s - v->base_lo_s);
	int err;

	/* edges the new version made since: theirs too */
	if ((err = verify_edges(v)) || (err = verify_baselines(v)))
		return err;

	err = gate_seen_range(ctx, iv->lo_s * GATE_NS_PER_S, iv->hi_s * GATE_NS_PER_S,
			      &iv->seen);
	if (!err)
		err = gate_seen_range(ctx, v->after_lo_s * GATE_NS_PER_S,
				      iv->hi_s * GATE_NS_PER_S, &iv->cum_seen);
	for (size_t i = 0; i < v->ne && !err; i++) {
		struct vedge *e = &v->e[i];
		struct gate_traffic t = { 0 };
		struct judge_side b, a;
		struct judge_result r;

		if (e->id && (err = gate_edge_traffic(ctx, e->id, iv->lo_s, iv->hi_s,
						      false, &t)))
			break;
		if (!e->before.requests && !t.requests && e->pred < 0) {
			gate_traffic_release(&t);
			continue;	/* quiet before and after: not this edge's business */
		}
		side_of(&e->before, base_s, NULL, &b);
		side_of(&t, (double)(iv->hi_s - iv->lo_s), &iv->seen, &a);
		err = judge_edge(&v->o.j, &b, &a, &r);
		gate_traffic_release(&t);
		if (!err && r.verdict != JUDGE_HIGH && iv->lo_s > v->after_lo_s) {
			/* sparse errors add up: the window so far, as one more look */
			struct judge_result rc;

			err = gate_edge_traffic(ctx, e->id, v->after_lo_s, iv->hi_s, false, &t);
			if (!err) {
				side_of(&t, (double)(iv->hi_s - v->after_lo_s), &iv->cum_seen, &a);
				err = judge_edge(&v->o.j, &b, &a, &rc);
				gate_traffic_release(&t);
			}
			if (!err && rc.verdict == JUDGE_HIGH) {
				r = rc;
				snprintf(r.reason, sizeof(r.reason), "since the deploy: %.170s",
					 rc.reason);
			}
		}
		if (err) {
			err = err == -ENOMEM ? gate_fail(ctx, err, "out of memory") : err;
			break;
		}
		switch (r.verdict) {
		case JUDGE_HIGH:
			if (!iv->high++)
				snprintf(iv->worst, sizeof(iv->worst), "%s -> %s %s: %s",
					 e->client, e->server, e->operation, r.reason);
			break;
		case JUDGE_LOW: iv->low++; break;
		case JUDGE_PASS: iv->pass++; break;
		case JUDGE_NODATA:
			if (!iv->nodata++ && !iv->high)
				snprintf(iv->worst, sizeof(iv->worst), "%s -> %s %s: %s",
					 e->client, e->server, e->operation, r.reason);
			break;
		}
	}
	if (err)
		return err;
	if (iv->high)
		iv->verdict = VI_FAIL;
	else if (!iv->pass && !iv->low)
		iv->verdict = VI_INCONCLUSIVE;
	else
		iv->verdict = VI_PASS;
	if (iv->verdict != VI_INCONCLUSIVE || iv->high)
		;
	else if (!iv->nodata)
		snprintf(iv->worst, sizeof(iv->worst), "no edge to judge");
	return 0;
}

static void watch_line(const struct verify *v, const struct vinterval *iv, size_t k)
{
	char lo[40], hi[40];
	FILE *f = v->ctx->fmt == GATE_FMT_JSON ? stderr : stdout;

	gate_time_format(iv->lo_s * GATE_NS_PER_S, lo, sizeof(lo));
	gate_time_format(iv->hi_s * GATE_NS_PER_S, hi, sizeof(hi));
	fprintf(f, "interval %zu/%zu %s .. %s  %-12s high %u, pass %u, low %u, "
		"nodata %u; failures %u/%llu%s%s\n", k + 1, v->planned, lo + 11, hi + 11,
		vi_names[iv->verdict], iv->high, iv->pass, iv->low, iv->nodata,
		iv->failures, (unsigned long long)v->o.failure_limit,
		iv->worst[0] ? "  -- " : "", iv->worst);
	fflush(f);
}

/* --watch: wait until the interval ending at @hi_s is flushed (or overdue). */
static int watch_wait(struct verify *v, int64_t hi_s)
{
	int64_t due = (hi_s + 2) * GATE_NS_PER_S, give_up = (hi_s + 30) * GATE_NS_PER_S;

	for (;;) {
		struct gate_seen s;
		int64_t now = gate_now_ns();
		int err;

		if (now >= give_up)
			return 0;
		if (now >= due) {
			err = gate_seen_range(v->ctx, hi_s * GATE_NS_PER_S - 1,
					      hi_s * GATE_NS_PER_S, &s);
			if (err)
				return err;
			if (s.seen == JUDGE_SEEN_UNKNOWN || s.last_flush_ns >= hi_s * GATE_NS_PER_S)
				return 0;
		}
		usleep(250000);
	}
}

static int verify_intervals(struct verify *v)
{
	int64_t end_s = v->after_lo_s + v->o.window_s;
	int err = 0;

	v->planned = (size_t)((v->o.window_s + v->o.interval_s - 1) / v->o.interval_s);
	v->iv = calloc(v->planned, sizeof(*v->iv));
	if (!v->iv)
		return gate_fail(v->ctx, -ENOMEM, "out of memory");
	for (size_t k = 0; k < v->planned; k++) {
		struct vinterval *iv = &v->iv[k];

		iv->lo_s = v->after_lo_s + (int64_t)k * v->o.interval_s;
		iv->hi_s = iv->lo_s + v->o.interval_s;
		if (iv->hi_s > end_s)
			iv->hi_s = end_s;
		if (v->o.watch) {
			err = watch_wait(v, iv->hi_s);
		} else if (iv->hi_s * GATE_NS_PER_S > v->ctx->now_ns) {
			break;		/* not over yet */
		}
		if (!err)
			err = verify_interval(v, iv);
		if (err)
			return err;
		v->niv = k + 1;
		v->failures += iv->verdict == VI_FAIL;
		v->inconclusives += iv->verdict == VI_INCONCLUSIVE;
		iv->failures = v->failures;
		if (v->o.watch)
			watch_line(v, iv, k);
		if (v->failures > v->o.failure_limit ||
		    v->inconclusives > v->o.inconclusive_limit)
			break;		/* decided: Argo stops here too */
	}
	return 0;
}

static int verify_whole(struct verify *v)
{
	int64_t hi_s = v->niv ? v->iv[v->niv - 1].hi_s : v->after_lo_s;
	struct gate_seen seen = { 0 };
	int err = 0;

	if (v->niv)
		err = gate_seen_range(v->ctx, v->after_lo_s * GATE_NS_PER_S,
				      hi_s * GATE_NS_PER_S, &seen);
	for (size_t i = 0; i < v->ne && !err; i++) {
		struct vedge *e = &v->e[i];
		struct judge_side b, a;

		if (e->id && v->niv)
			err = gate_edge_traffic(v->ctx, e->id, v->after_lo_s, hi_s, true,
						&e->after);
		if (err)
			break;
		e->relevant = e->before.requests || e->after.requests || e->pred >= 0;
		side_of(&e->before, (double)(v->base_hi_s - v->base_lo_s), NULL, &b);
		side_of(&e->after, (double)(hi_s - v->after_lo_s), &seen, &a);
		if (!v->niv) {
			a.seen = JUDGE_SEEN_DOWN;	/* nothing of the window yet */
		}
		err = judge_edge(&v->o.j, &b, &a, &e->res);
		if (err)
			err = gate_fail(v->ctx, err, "out of memory");
		if (!v->niv)
			snprintf(e->res.reason, sizeof(e->res.reason),
				 "the window has not started yet");
	}
	return err;
}

/* ---- predictions scored ---- */

static void score(struct verify *v, struct vpred *p)
{
	const struct vedge *e = &v->e[p->edge];
	const struct judge_result *r = &e->res;
	bool broken = !strcmp(p->expected, "errors") || !strcmp(p->expected, "latency");

	if (!strcmp(p->expected, "new") || !strcmp(p->expected, "missing")) {
		bool want_traffic = p->expected[0] == 'n';

		if (r->nodata >= JUDGE_ND_AGENT_DOWN) {
			p->outcome = "unverifiable";
			snprintf(p->reason, sizeof(p->reason), "%s", r->reason);
		} else if ((e->after.requests > 0) == want_traffic) {
			p->outcome = "hit";
			snprintf(p->reason, sizeof(p->reason), "%s: %llu requests after",
				 want_traffic ? "the new edge carries traffic"
					      : "the edge is gone",
				 (unsigned long long)e->after.requests);
		} else {
			p->outcome = "miss";
			snprintf(p->reason, sizeof(p->reason), "predicted %s, %llu requests after",
				 p->expected, (unsigned long long)e->after.requests);
		}
		return;
	}
	if (r->verdict == JUDGE_NODATA) {
		p->outcome = "unverifiable";
		snprintf(p->reason, sizeof(p->reason), "%s: %s",
			 judge_nodata_name(r->nodata), r->reason);
	} else if (r->verdict == JUDGE_HIGH) {
		p->outcome = broken ? "hit" : "miss";
		snprintf(p->reason, sizeof(p->reason), "%s in production: %s",
			 broken ? "broken as predicted" : "predicted healthy, regressed",
			 r->reason);
	} else {
		p->outcome = broken ? "miss" : "hit";
		snprintf(p->reason, sizeof(p->reason), "%s: %s",
			 broken ? "predicted broken, fine in production" : "held",
			 r->reason);
	}
}

static int exec_sql(struct gate_ctx *ctx, const char *sql)
{
	if (sqlite3_exec(ctx->db, sql, NULL, NULL, NULL))
		return gate_fail(ctx, -EIO, "cannot write '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	return 0;
}

/* A miss on a predicted-healthy edge: risk up; blind spot when uncovered. */
static int learn(struct verify *v, struct vpred *p)
{
	const struct vedge *e = &v->e[p->edge];
	sqlite3_stmt *st;
	bool covered;
	int err, rc;

	if (strcmp(p->outcome, "miss") || strcmp(p->expected, "healthy"))
		return 0;
	if (sqlite3_prepare_v2(v->ctx->db,
			       "INSERT INTO edge_risk(client, server, protocol, operation, "
			       "weight, misses, last_miss_ns) VALUES (?1, ?2, ?3, ?4, 2, 1, ?5) "
			       "ON CONFLICT DO UPDATE SET misses = misses + 1, weight = "
			       "1 + misses + 1, last_miss_ns = excluded.last_miss_ns "
			       "RETURNING weight", -1, &st, NULL))
		return gate_fail(v->ctx, -EIO, "cannot write '%s': %s", v->ctx->db_path,
				 sqlite3_errmsg(v->ctx->db));
	for (int i = 0; i < 4; i++)
		sqlite3_bind_text(st, i + 1, (&e->client)[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, v->ctx->now_ns);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		p->weight = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return gate_fail(v->ctx, -EIO, "cannot write '%s': %s", v->ctx->db_path,
				 sqlite3_errmsg(v->ctx->db));
	err = gate_footprint_covers(v->ctx, e->client, e->server, e->protocol,
				    e->operation, &covered);
	if (err || covered)
		return err;
	p->blind = true;
	if (sqlite3_prepare_v2(v->ctx->db,
			       "INSERT INTO blind_spots(client, server, protocol, operation, "
			       "status, prediction_id, verification_id, found_ns) VALUES "
			       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO UPDATE SET "
			       "prediction_id = excluded.prediction_id, verification_id = "
			       "excluded.verification_id, covered_ns = NULL", -1, &st, NULL))
		return gate_fail(v->ctx, -EIO, "cannot write '%s': %s", v->ctx->db_path,
				 sqlite3_errmsg(v->ctx->db));
	for (int i = 0; i < 4; i++)
		sqlite3_bind_text(st, i + 1, (&e->client)[i], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->res.metric == JUDGE_M_ERRORS ? e->after.top_status
								 : "latency", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, p->id);
	sqlite3_bind_int64(st, 7, v->verification_id);
	sqlite3_bind_int64(st, 8, v->ctx->now_ns);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return gate_fail(v->ctx, -EIO, "cannot write '%s': %s", v->ctx->db_path,
				 sqlite3_errmsg(v->ctx->db));
	return 0;
}

/* ---- JSON ---- */

static json_t *side_json(const struct gate_traffic *t, int64_t lo_s, int64_t hi_s)
{
	bool have = t->hist.count > 0;

	return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:I}",
			 "requests", (json_int_t)t->requests, "errors", (json_int_t)t->errors,
			 "error_rate", gate_json_rate(t->requests ? (double)t->errors /
							     (double)t->requests : 0),
			 "p50_ms", gate_json_ms(have, have ? fl_hist_quantile(&t->hist, 0.5) / 1e6 : 0),
			 "p99_ms", gate_json_ms(have, have ? fl_hist_quantile(&t->hist, 0.99) / 1e6 : 0),
			 "since", gate_json_time(lo_s * GATE_NS_PER_S),
			 "until", gate_json_time(hi_s * GATE_NS_PER_S),
			 "windows", (json_int_t)t->windows);
}

static json_t *num_or_null(double x)
{
	return isfinite(x) ? json_real(round(x * 1e6) / 1e6) : json_null();
}

static json_t *pvalue_json(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static json_t *edge_json(const struct verify *v, const struct vedge *e)
{
	const struct judge_result *r = &e->res;
	int64_t hi_s = v->niv ? v->iv[v->niv - 1].hi_s : v->after_lo_s;
	const char *why = judge_nodata_name(r->nodata);

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:s, s:o, s:o, "
			 "s:s?, s:o, s:o, s:s?}",
			 "client", e->client, "server", e->server, "protocol", e->protocol,
			 "operation", e->operation,
			 "verdict", judge_verdict_name(r->verdict),
			 "metric", judge_metric_name(r->metric),
			 "check", judge_check_name(r->check),
			 "before", side_json(&e->before, v->base_lo_s, v->base_hi_s),
			 "after", side_json(&e->after, v->after_lo_s, hi_s),
			 "reason", r->reason,
			 "p_value", pvalue_json(r->p),
			 "effect", num_or_null(r->effect),
			 "nodata", why,
			 "more_requests_needed", why && (r->nodata == JUDGE_ND_TOO_FEW ||
							  r->nodata == JUDGE_ND_NO_BASELINE)
				? json_integer((json_int_t)r->more_needed) : json_null(),
			 "more_seconds_needed", why && r->nodata == JUDGE_ND_TOO_FEW
				? num_or_null(r->more_seconds) : json_null(),
			 "predicted", e->pred >= 0 ? v->p[e->pred].expected : NULL);
}

static json_t *pred_json(const struct verify *v, const struct vpred *p)
{
	const struct vedge *e = &v->e[p->edge];
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f}",
			      "id", (json_int_t)p->id, "client", p->client,
			      "server", p->server, "protocol", p->protocol,
			      "operation", p->operation, "expected", p->expected,
			      "outcome", p->outcome, "reason", p->reason,
			      "confidence", p->confidence);

	if (o && p->weight > 0) {
		json_t *l = json_pack("{s:f, s:b, s:{s:s, s:s, s:s, s:s, s:s}}",
				      "risk_weight", p->weight, "blind_spot", p->blind,
				      "write_test", "client", e->client, "server", e->server,
				      "protocol", e->protocol, "operation", e->operation,
				      "status", e->res.metric == JUDGE_M_ERRORS
						? e->after.top_status : "latency");
		json_object_set_new(o, "learned", l);
	}
	return o;
}

static json_t *intervals_json(const struct verify *v)
{
	json_t *a = json_array();

	for (size_t k = 0; a && k < v->niv; k++) {
		const struct vinterval *iv = &v->iv[k];

		json_array_append_new(a, json_pack("{s:o, s:o, s:s, s:i, s:i, s:i, s:i, s:s, s:s}",
			"start", gate_json_time(iv->lo_s * GATE_NS_PER_S),
			"end", gate_json_time(iv->hi_s * GATE_NS_PER_S),
			"verdict", vi_names[iv->verdict], "high", iv->high,
			"pass", iv->pass, "low", iv->low, "nodata", iv->nodata,
			"agent", iv->seen.seen == JUDGE_SEEN_OK ? "ok" :
				 iv->seen.seen == JUDGE_SEEN_UNKNOWN ? "unknown" :
				 iv->seen.seen == JUDGE_SEEN_DOWN ? "down" :
				 iv->seen.seen == JUDGE_SEEN_GAP ? "gap" : "drops",
			"detail", iv->worst));
	}
	return a;
}

static json_t *verify_doc(const struct verify *v)
{
	json_t *root, *edges, *preds;

	root = json_pack("{s:s, s:s, s:{s:I, s:o, s:s, s:s?, s:s, s:s}, s:o, s:I, "
			 "s:{s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I}, s:s, s:o, s:[], s:[]}",
			 "verdict", v->verdict, "service", v->o.service,
			 "deploy", "id", (json_int_t)v->d.id, "at", gate_json_time(v->d.at_ns),
			 "version", v->d.new_version, "old_version", v->d.old_version,
			 "node", v->d.node, "source", v->d.source,
			 "gate_run", v->gate_run ? json_integer(v->gate_run) : json_null(),
			 "verification", (json_int_t)v->verification_id,
			 "window", "after_s", (json_int_t)v->o.window_s,
			 "baseline_s", (json_int_t)v->o.baseline_s,
			 "interval_s", (json_int_t)v->o.interval_s,
			 "failure_limit", (json_int_t)v->o.failure_limit,
			 "inconclusive_limit", (json_int_t)v->o.inconclusive_limit,
			 "confidence", v->o.j.confidence, "tolerance", v->o.j.tolerance,
			 "min_requests", (json_int_t)v->o.j.min_requests,
			 "why", v->why, "intervals", intervals_json(v),
			 "edges", "predictions");
	if (!root)
		return NULL;
	edges = json_object_get(root, "edges");
	preds = json_object_get(root, "predictions");
	for (size_t i = 0; i < v->ne; i++)
		if (v->e[i].relevant)
			json_array_append_new(edges, edge_json(v, &v->e[i]));
	for (size_t i = 0; i < v->np; i++)
		json_array_append_new(preds, pred_json(v, &v->p[i]));
	return root;
}

/* ---- recording ---- */

static int verify_record(struct verify *v)
{
	json_t *doc = NULL, *iv = NULL, *pj;
	char *report = NULL, *ivs = NULL, *pred = NULL, *obs = NULL;
	sqlite3_stmt *st = NULL;
	int err, rc;

	if ((err = exec_sql(v->ctx, "BEGIN IMMEDIATE")))
		return err;
	if (sqlite3_prepare_v2(v->ctx->db,
			       "INSERT INTO verifications(deployment_id, gate_run_id, started_ns, "
			       "ended_ns, window_s, baseline_s, interval_s, verdict, intervals) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '[]')", -1, &st, NULL))
		goto out_io;
	sqlite3_bind_int64(st, 1, v->d.id);
	if (v->gate_run)
		sqlite3_bind_int64(st, 2, v->gate_run);
	sqlite3_bind_int64(st, 3, v->started_ns);
	sqlite3_bind_int64(st, 4, gate_now_ns());
	sqlite3_bind_int64(st, 5, v->o.window_s);
	sqlite3_bind_int64(st, 6, v->o.baseline_s);
	sqlite3_bind_int64(st, 7, v->o.interval_s);
	sqlite3_bind_text(st, 8, v->verdict, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto out_io;
	sqlite3_finalize(st);
	st = NULL;
	v->verification_id = sqlite3_last_insert_rowid(v->ctx->db);
	for (size_t i = 0; i < v->np && !err; i++)
		err = learn(v, &v->p[i]);
	if (err)
		goto out_rollback;
	if (sqlite3_prepare_v2(v->ctx->db,
			       "INSERT INTO prediction_outcomes(prediction_id, verification_id, "
			       "outcome, reason, predicted, observed, scored_ns) VALUES "
			       "(?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &st, NULL))
		goto out_io;
	for (size_t i = 0; i < v->np; i++) {
		const struct vpred *p = &v->p[i];
		json_t *o = edge_json(v, &v->e[p->edge]);

		pj = json_pack("{s:s, s:s?, s:f}", "expected", p->expected,
			       "evidence", p->evidence, "confidence", p->confidence);
		pred = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
		obs = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(pj);
		json_decref(o);
		sqlite3_bind_int64(st, 1, p->id);
		sqlite3_bind_int64(st, 2, v->verification_id);
		sqlite3_bind_text(st, 3, p->outcome, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, p->reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, pred, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, obs, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, v->ctx->now_ns);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		free(pred);
		free(obs);
		pred = obs = NULL;
		if (rc != SQLITE_DONE)
			goto out_io;
	}
	sqlite3_finalize(st);
	st = NULL;
	doc = verify_doc(v);
	iv = intervals_json(v);
	report = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	ivs = iv ? json_dumps(iv, JSON_COMPACT) : NULL;
	if (!report || !ivs) {
		err = gate_fail(v->ctx, -ENOMEM, "out of memory");
		goto out_rollback;
	}
	if (sqlite3_prepare_v2(v->ctx->db, "UPDATE verifications SET intervals = ?1, "
			       "report = ?2 WHERE id = ?3", -1, &st, NULL))
		goto out_io;
	sqlite3_bind_text(st, 1, ivs, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, report, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, v->verification_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto out_io;
	sqlite3_finalize(st);
	st = NULL;
	err = exec_sql(v->ctx, "COMMIT");
	goto out_free;
out_io:
	err = gate_fail(v->ctx, -EIO, "cannot write '%s': %s", v->ctx->db_path,
			sqlite3_errmsg(v->ctx->db));
out_rollback:
	sqlite3_finalize(st);
	sqlite3_exec(v->ctx->db, "ROLLBACK", NULL, NULL, NULL);
out_free:
	json_decref(doc);
	json_decref(iv);
	free(report);
	free(ivs);
	return err;
}

/* ---- output ---- */

/* The first line: which deployment, against which gate run. */
static void verify_header(const struct verify *v, FILE *f)
{
	char at[40];

	gate_time_format(v->d.at_ns, at, sizeof(at));
	fprintf(f, "verify %s: deployment %lld (%s -> %s at %s, %s)", v->o.service,
		(long long)v->d.id, v->d.old_version ? v->d.old_version : "?",
		v->d.new_version, at, v->d.source);
	if (v->gate_run)
		fprintf(f, ", gate run %lld\n", (long long)v->gate_run);
	else
		fprintf(f, ", no gate run\n");
	fflush(f);
}

static int verify_table(const struct verify *v)
{
	static const char *const heads[] = { "CLIENT", "SERVER", "PROTO", "OPERATION",
					     "B.REQS", "A.REQS", "B.ERR", "A.ERR",
					     "VERDICT", "METRIC", "PREDICTED", "REASON" };
	struct gate_table t;
	int err = 0;

	if (!v->o.watch)
		verify_header(v, stdout);
	if (!v->o.watch)
		for (size_t k = 0; k < v->niv; k++)
			watch_line(v, &v->iv[k], k);
	gate_table_init(&t, heads, "llllrrrrllll", 12);
	for (size_t i = 0; i < v->ne && !err; i++) {
		const struct vedge *e = &v->e[i];
		char op[256], br[24], ar[24], be[24], ae[24];

		if (!e->relevant)
			continue;
		gate_cell_op(e->operation, op, sizeof(op));
		snprintf(br, sizeof(br), "%llu", (unsigned long long)e->before.requests);
		snprintf(ar, sizeof(ar), "%llu", (unsigned long long)e->after.requests);
		snprintf(be, sizeof(be), "%llu", (unsigned long long)e->before.errors);
		snprintf(ae, sizeof(ae), "%llu", (unsigned long long)e->after.errors);
		const char *row[] = { e->client, e->server, e->protocol, op, br, ar, be, ae,
				      judge_verdict_name(e->res.verdict),
				      judge_metric_name(e->res.metric),
				      e->pred >= 0 ? v->p[e->pred].expected : "-",
				      e->res.reason };
		err = gate_table_row(&t, row);
	}
	if (!err)
		gate_table_print(&t, stdout);
	gate_table_release(&t);
	for (size_t i = 0; i < v->np; i++) {
		const struct vpred *p = &v->p[i];

		printf("prediction %lld %s -> %s %s %s: expected %s, %s (%s)\n",
		       (long long)p->id, p->client, p->server, p->protocol, p->operation,
		       p->expected, p->outcome, p->reason);
		if (p->weight > 0)
			printf("  learned: risk weight %.0f for select%s; write a test for "
			       "%s -> %s %s %s status %s\n", p->weight,
			       p->blind ? ", a gate blind spot (no test covers it)" : "",
			       p->client, p->server, p->protocol, p->operation,
			       v->e[p->edge].res.metric == JUDGE_M_ERRORS
				       ? v->e[p->edge].after.top_status : "latency");
	}
	printf("verdict: %s%s%s\n", v->verdict, v->why[0] ? " -- " : "", v->why);
	return err;
}

static void verify_release(struct verify *v)
{
	v->ctx->mem = NULL;
	gate_prom_graph_release(&v->pg);
	for (size_t i = 0; i < v->ne; i++) {
		struct vedge *e = &v->e[i];

		free(e->client); free(e->server); free(e->protocol); free(e->operation);
		gate_traffic_release(&e->before);
		gate_traffic_release(&e->after);
	}
	for (size_t i = 0; i < v->np; i++) {
		struct vpred *p = &v->p[i];

		free(p->client); free(p->server); free(p->protocol); free(p->operation);
		free(p->expected); free(p->evidence);
	}
	free(v->e);
	free(v->p);
	free(v->iv);
	gate_deploy_release(&v->d);
}

static void verify_decide(struct verify *v)
{
	if (v->failures > v->o.failure_limit) {
		v->verdict = "fail";
		snprintf(v->why, sizeof(v->why), "%u failed interval%s (limit %llu)",
			 v->failures, v->failures == 1 ? "" : "s",
			 (unsigned long long)v->o.failure_limit);
	} else if (v->inconclusives > v->o.inconclusive_limit) {
		v->verdict = "inconclusive";
		snprintf(v->why, sizeof(v->why), "%u inconclusive interval%s (limit %llu)",
			 v->inconclusives, v->inconclusives == 1 ? "" : "s",
			 (unsigned long long)v->o.inconclusive_limit);
	} else if (v->niv < v->planned) {
		v->verdict = "inconclusive";
		snprintf(v->why, sizeof(v->why), "the window is not over: %zu of %zu "
			 "intervals judged", v->niv, v->planned);
	} else {
		v->verdict = "pass";
		snprintf(v->why, sizeof(v->why), "%zu intervals judged, %u failed, %u "
			 "inconclusive", v->niv, v->failures, v->inconclusives);
	}
}

static int verify_run(struct gate_ctx *ctx, int argc, char **argv)
{
	struct verify v = {
		.ctx = ctx,
		.o = { .window_s = 600, .baseline_s = 3600, .interval_s = 60,
		       .j = JUDGE_OPTS_DEFAULT },
		.started_ns = gate_now_ns(),
	};
	int64_t at_s;
	int err;

	err = verify_parse(ctx, argc, argv, &v.o);
	if (err)
		return err;
	if ((err = gate_open_writable(ctx)) || (err = gate_after_schema(ctx, "verify")) ||
	    (err = gate_deploy_get(ctx, v.o.deploy_id, v.o.service, &v.d)))
		goto out_release;
	if (strcmp(v.d.service, v.o.service)) {
		err = gate_fail(ctx, -EINVAL, "deployment %lld is of '%s', not '%s'",
				(long long)v.d.id, v.d.service, v.o.service);
		goto out_release;
	}
	v.gate_run = v.d.gate_run_id;
	if (!v.gate_run &&
	    (err = gate_latest_gate_run(ctx, v.o.service, v.d.at_ns, &v.gate_run)))
		goto out_release;
	verify_width(&v);
	if (v.o.interval_s % v.width_s) {
		err = gate_fail(ctx, -EINVAL, "'--interval' must be a multiple of the "
				"store's %llds windows", (long long)v.width_s);
		goto out_release;
	}
	/* the window holding the deploy is on neither side */
	at_s = v.d.at_ns / GATE_NS_PER_S;
	v.base_hi_s = at_s / v.width_s * v.width_s;
	v.base_lo_s = v.base_hi_s - v.o.baseline_s;
	v.after_lo_s = (at_s + v.width_s - 1 + (v.d.at_ns % GATE_NS_PER_S != 0)) /
		       v.width_s * v.width_s;
	if (v.o.watch)		/* the progress lines follow it */
		verify_header(&v, ctx->fmt == GATE_FMT_JSON ? stderr : stdout);
	if ((err = verify_edges(&v)) || (err = verify_predictions(&v)) ||
	    (err = verify_baselines(&v)) || (err = verify_intervals(&v)) ||
	    (err = verify_whole(&v)))
		goto out_release;
	verify_decide(&v);
	for (size_t i = 0; i < v.np; i++)
		score(&v, &v.p[i]);
	if ((err = verify_record(&v)))
		goto out_release;
	if (ctx->fmt == GATE_FMT_JSON) {
		json_t *doc = verify_doc(&v);

		err = doc ? gate_json_print(ctx, doc) : gate_fail(ctx, -ENOMEM, "out of memory");
		json_decref(doc);
	} else {
		err = verify_table(&v);
	}
	if (!err)
		err = !strcmp(v.verdict, "fail") ? GATE_EXIT_FAIL
		      : !strcmp(v.verdict, "inconclusive") ? GATE_EXIT_INCONCLUSIVE : 0;
out_release:
	verify_release(&v);
	return err;
}

const struct gate_cmd gate_cmd_verify = {
	.name = "verify",
	.summary = "judge a deployment on production; score the gate's predictions",
	.run = verify_run,
	.store = GATE_CMD_WRITES,
	.prometheus = true,
};
