// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl health: did a service's edges get worse after T?
 *
 * Each edge of the service (client or server side) is compared on the
 * windows of [T, U) ("after", T floored to the minute) against the same
 * number of windows just before ("before"). An edge is nodata when either
 * side has fewer than --min-requests requests; regressed when its error rate
 * rose by more than --max-error-increase (absolute) or its p99 latency grew
 * beyond --max-p99-ratio times the baseline; ok otherwise.
 */
#include "cmd/cmd.h"
#include "judge/judge.h"
#include "output/output.h"
#include "query/edges.h"
#include "query/open.h"
#include "query/time.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum health_verdict {
	VERDICT_OK = 0,
	VERDICT_REGRESSED,
	VERDICT_NODATA,
};

static const char *const verdict_names[] = { "ok", "regressed", "nodata" };

/* reasons, a bit each, in the order they are listed */
#define R_ERROR_RATE (1 << 0)	/* error rate rose too much */
#define R_P99 (1 << 1)		/* p99 latency grew too much */
#define R_FEW_BEFORE (1 << 2)	/* baseline below --min-requests */
#define R_FEW_AFTER (1 << 3)	/* after-window below --min-requests */
#define R_SHIFT (1 << 4)	/* --exact: latency shift beyond the tolerance */
#define R_SPREAD (1 << 5)	/* --exact: latency spread beyond the tolerance */
static const char *const reason_names[] = {
	"error_rate", "p99", "few_requests_before", "few_requests_after",
	"latency_shift", "latency_spread",
};
#define N_REASONS 6

struct health_opts {
	const char *service;
	int64_t since_ns;
	int64_t until_ns;
	struct judge_policy jp;	/* --min-requests, --max-error-increase, --max-p99-ratio */
	bool exact;		/* --exact: the judge's statistical tests */
};

struct health {
	struct gate_ctx *ctx;
	struct health_opts o;
	struct gate_service svc;
	struct gate_range after;
	struct gate_range before;
	struct gate_edges edges;	/* tag: reason bits << 2 | verdict */
	size_t count[3];		/* edges per verdict */
};

static void health_usage(FILE *f)
{
	static const struct judge_policy jp = JUDGE_POLICY_HEALTH;	/* the defaults */

	fprintf(f,
		"usage: gatectl health --service SERVICE --since T [--until T]\n"
		"                      [--min-requests N] [--max-error-increase F]\n"
		"                      [--max-p99-ratio R] [--exact] [--db FILE]\n"
		"                      [-o table|json]\n"
		"\n"
		"Compare every edge of SERVICE (as client or server) on the windows of\n"
		"[since, until) (\"after\"; since floored to the minute) against the same\n"
		"number of windows just before since (\"before\"). Per edge:\n"
		"  nodata     either side has fewer than N requests\n"
		"  regressed  error rate after - before > F, or p99 after > p99 before * R\n"
		"  ok         otherwise\n"
		"\n"
		"options:\n"
		"  --service SERVICE          the service to judge (required)\n"
		"  --since T                  start of the after window (required)\n"
		"  --until T                  end of the after window (default: now)\n"
		"  --min-requests N           requests needed on each side (default %llu)\n"
		"  --max-error-increase F     allowed error-rate rise, absolute\n"
		"                             (default %g, one percentage point)\n"
		"  --max-p99-ratio R          allowed p99 growth factor (default %g)\n"
		"  --exact                    judge by the statistical tests instead of\n"
		"                             the thresholds (as verify: exact rate test,\n"
		"                             Mann-Whitney shift and spread, confidence\n"
		"                             0.98, tolerance 0.25; --min-requests default\n"
		"                             50; docs/gatectl.md \"The judge\")\n"
		"  --db FILE                  the store (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT           table or json\n"
		"\n"
		"exit status: 0 no edge regressed, 1 an edge regressed, 2 usage or\n"
		"input error, 3 inconclusive (every edge nodata, or no edges)\n"
		"\n"
		"examples:\n"
		"  gatectl health --service checkout --since 30m\n"
		"  gatectl health --service checkout --since 2026-11-21T05:00:00Z \\\n"
		"      --until 2026-11-21T06:00:00Z --max-p99-ratio 2 -o json\n",
		(unsigned long long)jp.min_requests, jp.max_error_change, jp.latency_ratio);
}

/* The judge's verdict on @e as a tag: reason bits << 2 | verdict. */
static int health_verdict(const struct health *h, const struct gate_edge *e)
{
	struct judge_finding v;
	int reasons = 0;

	judge_compare(&h->o.jp, &e->before, &e->stats, &v);
	if (v.reasons & JUDGE_R_ERROR_UP)
		reasons |= R_ERROR_RATE;
	if (v.reasons & JUDGE_R_P99_UP)
		reasons |= R_P99;
	if (v.reasons & JUDGE_R_FEW_BEFORE)
		reasons |= R_FEW_BEFORE;
	if (v.reasons & JUDGE_R_FEW_AFTER)
		reasons |= R_FEW_AFTER;
	if (v.reasons & JUDGE_R_SHIFT_UP)
		reasons |= R_SHIFT;
	if (v.reasons & JUDGE_R_SPREAD_UP)
		reasons |= R_SPREAD;
	return reasons << 2 | (v.result == JUDGE_CALL_NODATA ? VERDICT_NODATA :
			       v.result == JUDGE_CALL_WORSE ? VERDICT_REGRESSED : VERDICT_OK);
}

/*
 * Judge edge @e of h (@arg): read its two sides; keep it unless it has no
 * window in either.
 */
static int health_edge(void *arg, struct gate_edge *e)
{
	struct health *h = arg;
	int err;

	err = gate_edge_stats(h->ctx, e->id, h->before, true, &e->before);
	if (!err)
		err = gate_edge_stats(h->ctx, e->id, h->after, true, &e->stats);
	if (err || (!e->before.windows && !e->stats.windows))
		return err;
	e->tag = health_verdict(h, e);
	h->count[e->tag & 3]++;
	return 1;
}

static int health_collect(struct health *h)
{
	struct gate_idmap seen = { 0 };
	int err = 0;

	for (int inbound = 0; inbound < 2 && !err; inbound++)
		err = gate_edges_of_kept(h->ctx, h->svc.id, inbound, &seen,
					 health_edge, h, &h->edges);
	gate_idmap_release(&seen);
	return err;
}

static const char *health_overall(const struct health *h)
{
	if (h->count[VERDICT_REGRESSED])
		return "regressed";
	if (!h->count[VERDICT_OK])
		return "nodata";
	return "ok";
}

static json_t *health_json_side(const struct gate_stats *st)
{
	double p50 = 0, p90 = 0, p99 = 0;
	bool have = gate_quantile_ms(st, 0.99, &p99);

	gate_quantile_ms(st, 0.50, &p50);
	gate_quantile_ms(st, 0.90, &p90);
	return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o}",
			 "requests", (json_int_t)st->requests,
			 "errors", (json_int_t)st->errors,
			 "error_rate", gate_json_rate(gate_error_rate(st)),
			 "p99_ms", gate_json_ms(have, p99),
			 "p50_ms", gate_json_ms(have, p50),
			 "p90_ms", gate_json_ms(have, p90));
}

static json_t *health_json_edge(const struct gate_edge *e, int64_t svc_id)
{
	json_t *reasons = json_array(), *o;
	uint64_t pb = 0, pa = 0;

	for (int i = 0; i < N_REASONS && reasons; i++)
		if ((e->tag >> 2) & (1 << i))
			json_array_append_new(reasons, json_string(reason_names[i]));
	if (e->before.hist.count && e->stats.hist.count) {
		pb = fl_hist_quantile(&e->before.hist, 0.99);
		pa = fl_hist_quantile(&e->stats.hist, 0.99);
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:b}",
		      "client", e->client, "server", e->server,
		      "protocol", e->protocol, "operation", e->operation,
		      "direction", e->client_id == svc_id ? "outbound" : "inbound",
		      "before", health_json_side(&e->before),
		      "after", health_json_side(&e->stats),
		      "error_rate_change", gate_json_rate(gate_error_rate(&e->stats) -
							   gate_error_rate(&e->before)),
		      "p99_ratio", pb ? gate_json_rate((double)pa / (double)pb)
				      : json_null(),
		      "verdict", verdict_names[e->tag & 3],
		      "reasons", reasons, "tls", e->tls);
	return o;
}

static int health_json(struct health *h)
{
	int64_t lo = h->after.lo_s * GATE_NS_PER_S;
	int64_t blo = h->before.lo_s * GATE_NS_PER_S;
	json_t *root, *je;
	int err;

	root = json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:f, s:f, s:s, s:{s:i, s:i, s:i}, s:[]}",
			 "service", h->o.service,
			 "since", gate_json_time(lo),
			 "until", gate_json_time(h->o.until_ns),
			 "baseline_since", gate_json_time(blo),
			 "baseline_until", gate_json_time(lo),
			 "min_requests", (json_int_t)h->o.jp.min_requests,
			 "max_error_increase", h->o.jp.max_error_change,
			 "max_p99_ratio", h->o.jp.latency_ratio,
			 "verdict", health_overall(h),
			 "counts", "ok", (int)h->count[VERDICT_OK],
			 "regressed", (int)h->count[VERDICT_REGRESSED],
			 "nodata", (int)h->count[VERDICT_NODATA],
			 "edges");
	if (!root)
		return gate_fail(h->ctx, -ENOMEM, "out of memory");
	if (h->o.exact)
		json_object_set_new(root, "judge", json_string("exact"));
	je = json_object_get(root, "edges");
	for (size_t i = 0; i < h->edges.n; i++) {
		if (json_array_append_new(je, health_json_edge(&h->edges.v[i],
							       h->svc.id))) {
			json_decref(root);
			return gate_fail(h->ctx, -ENOMEM, "out of memory");
		}
	}
	err = gate_json_print(h->ctx, root);
	json_decref(root);
	return err;
}

static void side_cells(const struct gate_stats *st, char *reqs, char *rate,
		       char *p99)
{
	double v = 0;
	bool have = gate_quantile_ms(st, 0.99, &v);

	snprintf(reqs, 24, "%llu", (unsigned long long)st->requests);
	snprintf(rate, 24, "%.2f", 100.0 * gate_error_rate(st));
	gate_ms_str(have, v, p99, 32);
}

static int health_table(struct health *h)
{
	static const char *const eh[] = {
		"CLIENT", "SERVER", "PROTO", "OPERATION", "B.REQS", "A.REQS",
		"B.ERR%", "A.ERR%", "B.P99ms", "A.P99ms", "VERDICT", "REASONS" };
	char t0[40], t1[40], t2[40];
	struct gate_table et;
	int err = 0;

	gate_table_init(&et, eh, "llllrrrrrrll", 12);
	for (size_t i = 0; i < h->edges.n && !err; i++) {
		const struct gate_edge *e = &h->edges.v[i];
		char op[256], br[24], ar[24], be[24], ae[24], bp[32], ap[32];
		char reasons[128] = "-";
		size_t len = 0;

		gate_cell_op(e->operation, op, sizeof(op));
		side_cells(&e->before, br, be, bp);
		side_cells(&e->stats, ar, ae, ap);
		for (int r = 0; r < N_REASONS; r++)
			if ((e->tag >> 2) & (1 << r))
				len += (size_t)snprintf(reasons + len, sizeof(reasons) - len,
							"%s%s", len ? "," : "",
							reason_names[r]);
		const char *row[] = { e->client, e->server, e->protocol, op, br, ar,
				      be, ae, bp, ap, verdict_names[e->tag & 3],
				      reasons };
		err = gate_table_row(&et, row);
	}
	if (!err) {
		gate_time_format(h->before.lo_s * GATE_NS_PER_S, t0, sizeof(t0));
		gate_time_format(h->after.lo_s * GATE_NS_PER_S, t1, sizeof(t1));
		gate_time_format(h->o.until_ns, t2, sizeof(t2));
		printf("service %s: before (B) [%s, %s), after (A) [%s, %s)\n\n",
		       h->o.service, t0, t1, t1, t2);
		gate_table_print(&et, stdout);
		printf("\nhealth: %s (%zu regressed, %zu ok, %zu nodata)\n",
		       health_overall(h), h->count[VERDICT_REGRESSED],
		       h->count[VERDICT_OK], h->count[VERDICT_NODATA]);
	}
	gate_table_release(&et);
	return err ? gate_fail(h->ctx, err, "out of memory") : 0;
}

static int health_opt(struct gate_ctx *ctx, int c, struct health_opts *o,
		      bool *have_since, bool *have_until)
{
	switch (c) {
	case 'S':
		o->service = optarg;
		return 0;
	case 's':
		*have_since = true;
		return gate_time_arg(ctx, "--since", optarg, &o->since_ns);
	case 'u':
		*have_until = true;
		return gate_time_arg(ctx, "--until", optarg, &o->until_ns);
	case 'm':
		return gate_parse_u64(ctx, "--min-requests", optarg, &o->jp.min_requests);
	case 'e':
		return gate_parse_double(ctx, "--max-error-increase", optarg, 0,
					 &o->jp.max_error_change);
	case 'r':
		return gate_parse_double(ctx, "--max-p99-ratio", optarg, 0,
					 &o->jp.latency_ratio);
	case 'x':
		o->exact = true;
		return 0;
	}
	return gate_fail(ctx, -EINVAL, "unknown option");
}

static int health_parse(struct gate_ctx *ctx, int argc, char **argv,
			struct health_opts *o)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "service", required_argument, NULL, 'S' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "min-requests", required_argument, NULL, 'm' },
		{ "max-error-increase", required_argument, NULL, 'e' },
		{ "max-p99-ratio", required_argument, NULL, 'r' },
		{ "exact", no_argument, NULL, 'x' },
		{ 0 }
	};
	bool have_since = false, have_until = false;
	uint64_t min0 = o->jp.min_requests;
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, health_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (!err && (err = health_opt(ctx, c, o, &have_since, &have_until)))
			return err;
	}
	if ((err = gate_no_args(ctx, argc, argv)))
		return err;
	if (o->exact) {
		uint64_t min = o->jp.min_requests;

		o->jp = (struct judge_policy)JUDGE_POLICY_EXACT;
		if (min != min0)
			o->jp.stat.min_requests = min;
		o->jp.min_requests = o->jp.stat.min_requests;
	}
	if (!o->service)
		return gate_fail(ctx, -EINVAL, "health needs '--service SERVICE'");
	if (!have_since)
		return gate_fail(ctx, -EINVAL, "health needs '--since T'");
	if (!have_until)
		o->until_ns = ctx->now_ns;
	if (!have_until && o->until_ns <= o->since_ns)
		return gate_fail(ctx, -EINVAL, "'--since' must be in the past without '--until'");
	if (o->until_ns <= o->since_ns)
		return gate_fail(ctx, -EINVAL, "'--until' must be after '--since'");
	return 0;
}

static int health_run(struct gate_ctx *ctx, int argc, char **argv)
{
	struct health h = {
		.ctx = ctx,
		.o = { .jp = JUDGE_POLICY_HEALTH },
	};
	int64_t width;
	int err;

	err = health_parse(ctx, argc, argv, &h.o);
	if (err)
		return err;
	if ((err = gate_open(ctx)) ||
	    (err = gate_service_find(ctx, h.o.service, &h.svc)))
		return err;
	/* the baseline has as many windows as the after range */
	h.after = gate_range_make(h.o.since_ns, h.o.until_ns);
	width = (h.after.hi_s - h.after.lo_s + 59) / 60 * 60;
	h.before.lo_s = h.after.lo_s - width;
	h.before.hi_s = h.after.lo_s;
	err = health_collect(&h);
	if (err)
		goto out_release;
	gate_edges_sort(&h.edges);
	err = ctx->fmt == GATE_FMT_JSON ? health_json(&h) : health_table(&h);
	if (err)
		goto out_release;
	if (h.count[VERDICT_REGRESSED])
		err = GATE_EXIT_FAIL;
	else if (!h.count[VERDICT_OK])
		err = GATE_EXIT_INCONCLUSIVE;
out_release:
	gate_edges_release(&h.edges);
	return err;
}

const struct gate_cmd gate_cmd_health = {
	.name = "health",
	.summary = "compare a service's edges after a time with before it",
	.run = health_run,
	.store = GATE_CMD_READS,
	.formats = GATE_FMTS_TABLE_JSON,
};
