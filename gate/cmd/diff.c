// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl diff: what changed between two time ranges of one store, or two
 * stores (each over a range).
 *
 * Side A is --db over [--since, --until), side B is --vs-db (default: the
 * same store, in the same read snapshot) over [--vs-since, --vs-until). An
 * edge is on a side when it has a window in that side's range; edges are
 * matched by (client, server, protocol, operation) names, so two stores
 * compare whatever their ids. Then:
 *   new / missing edge        B only / A only, and the service pair
 *                             (client, server) is B only / A only too
 *   new / missing operation   B only / A only, the pair is on both sides
 *   changed                   on both sides, and the error rate or the p50
 *                             or p99 latency moved significantly
 * Error rate: two-proportion z-test (pooled), judged when both sides have
 * --min-requests; significant when |z| >= --min-z and the absolute change
 * >= --min-error-change. Latency: judged when both sides have --min-samples
 * latency samples; significant when the B/A ratio of p50 or p99 is >=
 * --max-latency-ratio or <= its inverse (quantiles carry <= 1.6 % error,
 * lib/hist.h, far below any sensible ratio).
 */
#include "grow.h"
#include "cmd/cmd.h"
#include "judge/judge.h"
#include "output/output.h"
#include "query/edges.h"
#include "query/open.h"
#include "query/time.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* reasons of a changed edge, a bit each, in the order listed */
static const char *const reason_names[] = {
	"error_rate_up", "error_rate_down", "p50_up", "p50_down", "p99_up",
	"p99_down", "few_before", "few_after",
	"latency_shift_up", "latency_shift_down", "latency_spread_up", /* --exact */
};
#define N_REASONS 11

/* the lists, in output order */
enum { L_NEW_EDGE, L_MISSING_EDGE, L_NEW_OP, L_MISSING_OP, L_CHANGED, L_COUNT };
static const char *const list_keys[L_COUNT] = {
	"new_edges", "missing_edges", "new_operations", "missing_operations",
	"changed",
};
static const char *const list_heads[L_COUNT] = {
	"NEW EDGES (in B only; a new service pair)",
	"MISSING EDGES (in A only; the service pair is gone)",
	"NEW OPERATIONS (in B only; a known service pair)",
	"MISSING OPERATIONS (in A only; the service pair remains)",
	"CHANGED (on both sides; significant error-rate or latency change)",
};
static const char *const list_words[L_COUNT] = {
	"new edges", "missing edges", "new operations", "missing operations",
	"changed edges",
};

struct diff_opts {
	const char *vs_db;
	int64_t since_ns, until_ns;		/* A: INT64_MIN/MAX unbounded */
	int64_t vs_since_ns, vs_until_ns;	/* B */
	bool have_vs_since, have_vs_until;
	struct judge_policy jp;	/* --min-requests, --min-z, --min-error-change,
				 * --min-samples, --max-latency-ratio */
	bool exact;		/* --exact: the judge's statistical tests */
};

/* One listed edge: its A and/or B sides and what was found. */
struct diff_item {
	const struct gate_edge *a;	/* NULL for a new one */
	const struct gate_edge *b;	/* NULL for a missing one */
	int reasons;			/* bits of reason_names */
	bool have_z;
	double z;
};

struct diff_list {
	struct diff_item *v;
	size_t n, cap;
};

struct diff {
	struct gate_ctx *ctx;
	struct gate_ctx bctx;		/* B's store when --vs-db */
	struct diff_opts o;
	struct gate_edges a, b;
	struct diff_list lists[L_COUNT];
	size_t unchanged;		/* judged, no significant change */
	size_t too_few;			/* on both sides, too few to judge */
};

static void diff_usage(FILE *f)
{
	static const struct judge_policy jp = JUDGE_POLICY_DIFF;	/* the defaults */

	fprintf(f,
		"usage: gatectl diff [--since T] [--until T] [--vs-db FILE]\n"
		"                    [--vs-since T] [--vs-until T] [--min-requests N]\n"
		"                    [--min-z Z] [--min-error-change F] [--min-samples N]\n"
		"                    [--max-latency-ratio R] [--exact] [--db FILE]\n"
		"                    [-o table|json]\n"
		"\n"
		"Compare side A, the store --db over [--since, --until), with side B:\n"
		"the store --vs-db (default: the same store) over [--vs-since,\n"
		"--vs-until). Two ranges of one store need --vs-since or --vs-until; two\n"
		"stores compare the same range unless --vs-since/--vs-until say another.\n"
		"Edges are matched by client, server, protocol and operation. Reported:\n"
		"  new / missing edges        in B only / A only, service pair too\n"
		"  new / missing operations   in B only / A only, the pair on both sides\n"
		"  changed edges              error rate: two-proportion z-test, both\n"
		"                             sides >= N requests, |z| >= Z and change\n"
		"                             >= F; latency: both sides >= N samples and\n"
		"                             p50 or p99 ratio B/A >= R or <= 1/R\n"
		"Windows are per minute, or per hour once rolled up (a window counts\n"
		"when its start is in the range).\n"
		"\n"
		"options:\n"
		"  --since T, --until T          side A's range (default: all windows)\n"
		"  --vs-db FILE                  side B's store (default: --db)\n"
		"  --vs-since T, --vs-until T    side B's range (default: A's with\n"
		"                                --vs-db; else --vs-until is unbounded)\n"
		"  --min-requests N              requests per side to judge the error\n"
		"                                rate (default %llu)\n"
		"  --min-z Z                     |z| for a significant error-rate change\n"
		"                                (default %g, two-sided p ~ 0.003)\n"
		"  --min-error-change F          smallest absolute error-rate change\n"
		"                                reported (default %g)\n"
		"  --min-samples N               latency samples per side (default %llu)\n"
		"  --max-latency-ratio R         p50/p99 growth or shrink factor\n"
		"                                (default %g)\n"
		"  --exact                       judge by the statistical tests instead\n"
		"                                of the thresholds (docs/gatectl.md \"The\n"
		"                                judge\"); --min-requests default 50\n"
		"  --db FILE                     side A's store (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT              table or json\n"
		"\n"
		"exit status: 0 no difference, 1 differences found, 2 usage, input or\n"
		"store error\n"
		"\n"
		"examples:\n"
		"  gatectl diff --since 2h --until 1h --vs-since 1h\n"
		"  gatectl diff --db before.db --vs-db after.db -o json\n"
		"  gatectl diff --since 2026-11-21T05:00:00Z --until 2026-11-21T06:00:00Z \\\n"
		"      --vs-since 2026-11-21T06:00:00Z --vs-until 2026-11-21T07:00:00Z\n",
		(unsigned long long)jp.min_requests, jp.min_z, jp.max_error_change,
		(unsigned long long)jp.min_samples, jp.latency_ratio);
}

static int list_push(struct diff *d, int l, struct diff_item it)
{
	struct diff_list *dl = &d->lists[l];

	struct diff_item *v = fl_grow(dl->v, &dl->cap, dl->n, sizeof(*v), 16);

	if (!v)
		return gate_fail(d->ctx, -ENOMEM, "out of memory");
	dl->v = v;
	dl->v[dl->n++] = it;
	return 0;
}

static int key_cmp(const struct gate_edge *x, const struct gate_edge *y)
{
	int c;

	if ((c = strcmp(x->client, y->client)) || (c = strcmp(x->server, y->server)) ||
	    (c = strcmp(x->protocol, y->protocol)))
		return c;
	return strcmp(x->operation, y->operation);
}

/* Has sorted @es an edge from @e's client to @e's server? */
static bool pair_in(const struct gate_edges *es, const struct gate_edge *e)
{
	size_t lo = 0, hi = es->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(es->v[mid].client, e->client);
		if (!c)
			c = strcmp(es->v[mid].server, e->server);
		if (!c)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Judge an edge on both sides; file it under changed, unchanged, too few. */
static int diff_common(struct diff *d, const struct gate_edge *a,
		       const struct gate_edge *b)
{
	struct diff_item it = { .a = a, .b = b };
	struct judge_finding v;

	/* A is the baseline, B what it became */
	judge_compare(&d->o.jp, &a->stats, &b->stats, &v);
	it.have_z = v.have_z;
	it.z = v.z;
	it.reasons = (int)v.reasons;
	if (v.result == JUDGE_CALL_WORSE)
		return list_push(d, L_CHANGED, it);
	if (v.result == JUDGE_CALL_OK)
		d->unchanged++;
	else
		d->too_few++;
	return 0;
}

/* Walk the two sorted edge lists side by side. */
static int diff_compare(struct diff *d)
{
	size_t i = 0, j = 0;
	int err = 0;

	while (!err && (i < d->a.n || j < d->b.n)) {
		const struct gate_edge *a = i < d->a.n ? &d->a.v[i] : NULL;
		const struct gate_edge *b = j < d->b.n ? &d->b.v[j] : NULL;
		int c = !a ? 1 : !b ? -1 : key_cmp(a, b);

		if (c < 0) {
			struct diff_item it = { .a = a };
			err = list_push(d, pair_in(&d->b, a) ? L_MISSING_OP
							      : L_MISSING_EDGE, it);
			i++;
		} else if (c > 0) {
			struct diff_item it = { .b = b };
			err = list_push(d, pair_in(&d->a, b) ? L_NEW_OP : L_NEW_EDGE, it);
			j++;
		} else {
			err = diff_common(d, a, b);
			i++;
			j++;
		}
	}
	return err;
}

/* ---- output ---- */

static json_t *json_side(const struct gate_stats *st)
{
	double p50 = 0, p90 = 0, p99 = 0;
	bool have = gate_quantile_ms(st, 0.50, &p50);

	gate_quantile_ms(st, 0.90, &p90);
	gate_quantile_ms(st, 0.99, &p99);
	return json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}",
			 "requests", (json_int_t)st->requests,
			 "errors", (json_int_t)st->errors,
			 "client_errors", (json_int_t)st->client_errors,
			 "conn_errors", (json_int_t)st->conn_errors,
			 "error_rate", gate_json_rate(gate_error_rate(st)),
			 "p50_ms", gate_json_ms(have, p50),
			 "p90_ms", gate_json_ms(have, p90),
			 "p99_ms", gate_json_ms(have, p99));
}

static json_t *json_ratio(const struct gate_stats *a, const struct gate_stats *b,
			  double q)
{
	uint64_t qa, qb;

	if (!a->hist.count || !b->hist.count)
		return json_null();
	qa = fl_hist_quantile(&a->hist, q);
	qb = fl_hist_quantile(&b->hist, q);
	return qa ? gate_json_rate((double)qb / (double)qa) : json_null();
}

static json_t *json_item(const struct diff_item *it)
{
	const struct gate_edge *e = it->a ? it->a : it->b;
	json_t *o, *reasons;

	o = json_pack("{s:s, s:s, s:s, s:s}", "client", e->client, "server", e->server,
		      "protocol", e->protocol, "operation", e->operation);
	if (!o)
		return NULL;
	json_object_set_new(o, "a", it->a ? json_side(&it->a->stats) : json_null());
	json_object_set_new(o, "b", it->b ? json_side(&it->b->stats) : json_null());
	if (!it->a || !it->b)
		return o;
	json_object_set_new(o, "error_rate_change",
			    gate_json_rate(gate_error_rate(&it->b->stats) -
					   gate_error_rate(&it->a->stats)));
	json_object_set_new(o, "z", it->have_z ? json_real(round(it->z * 1000) / 1000)
					       : json_null());
	json_object_set_new(o, "p50_ratio", json_ratio(&it->a->stats, &it->b->stats, 0.50));
	json_object_set_new(o, "p99_ratio", json_ratio(&it->a->stats, &it->b->stats, 0.99));
	reasons = json_array();
	for (int r = 0; r < N_REASONS && reasons; r++)
		if (it->reasons & (1 << r))
			json_array_append_new(reasons, json_string(reason_names[r]));
	json_object_set_new(o, "reasons", reasons ? reasons : json_null());
	return o;
}

static json_t *json_range(const char *db, int64_t since, int64_t until)
{
	return json_pack("{s:s, s:o, s:o}", "db", db,
			 "since", since == INT64_MIN ? json_null()
						     : gate_json_time(gate_range_since(since)),
			 "until", until == INT64_MAX ? json_null() : gate_json_time(until));
}

static size_t diff_total(const struct diff *d)
{
	size_t n = 0;

	for (int l = 0; l < L_COUNT; l++)
		n += d->lists[l].n;
	return n;
}

static int diff_json(struct diff *d)
{
	const char *bdb = d->o.vs_db ? d->o.vs_db : d->ctx->db_path;
	json_t *root, *counts;
	int err;

	root = json_pack("{s:o, s:o, s:{s:I, s:f, s:f, s:I, s:f}, s:s}",
			 "a", json_range(d->ctx->db_path, d->o.since_ns, d->o.until_ns),
			 "b", json_range(bdb, d->o.vs_since_ns, d->o.vs_until_ns),
			 "thresholds", "min_requests", (json_int_t)d->o.jp.min_requests,
			 "min_z", d->o.jp.min_z, "min_error_change", d->o.jp.max_error_change,
			 "min_samples", (json_int_t)d->o.jp.min_samples,
			 "max_latency_ratio", d->o.jp.latency_ratio,
			 "verdict", diff_total(d) ? "different" : "same");
	counts = json_object();
	if (!root || !counts)
		goto out_oom;
	json_object_set_new(root, "counts", counts);
	for (int l = 0; l < L_COUNT; l++)
		json_object_set_new(counts, list_keys[l], json_integer((json_int_t)d->lists[l].n));
	json_object_set_new(counts, "unchanged", json_integer((json_int_t)d->unchanged));
	json_object_set_new(counts, "too_few", json_integer((json_int_t)d->too_few));
	for (int l = 0; l < L_COUNT; l++) {
		json_t *arr = json_array();
		if (!arr || json_object_set_new(root, list_keys[l], arr))
			goto out_oom;
		for (size_t i = 0; i < d->lists[l].n; i++)
			if (json_array_append_new(arr, json_item(&d->lists[l].v[i])))
				goto out_oom;
	}
	err = gate_json_print(d->ctx, root);
	json_decref(root);
	return err;
out_oom:
	json_decref(root);
	return gate_fail(d->ctx, -ENOMEM, "out of memory");
}

static void side_line(const char *name, const char *db, int64_t since, int64_t until)
{
	char s[40] = "start", u[40] = "end";

	if (since != INT64_MIN)
		gate_time_format(gate_range_since(since), s, sizeof(s));
	if (until != INT64_MAX)
		gate_time_format(until, u, sizeof(u));
	printf("%s  '%s', windows [%s, %s)\n", name, db, s, u);
}

/* The table of one list; the changed list has both sides. */
static int diff_table_list(struct diff *d, int l)
{
	static const char *const one_h[] = {
		"CLIENT", "SERVER", "PROTO", "OPERATION", "REQS", "ERR%", "P50ms", "P99ms" };
	static const char *const two_h[] = {
		"CLIENT", "SERVER", "PROTO", "OPERATION", "A.REQS", "B.REQS", "A.ERR%",
		"B.ERR%", "Z", "A.P50ms", "B.P50ms", "A.P99ms", "B.P99ms", "REASONS" };
	bool two = l == L_CHANGED;
	struct gate_table t;
	int err = 0;

	printf("%s\n", list_heads[l]);
	if (!d->lists[l].n) {
		printf("none\n\n");
		return 0;
	}
	gate_table_init(&t, two ? two_h : one_h, two ? "llllrrrrrrrrrl" : "llllrrrr",
			two ? 14 : 8);
	for (size_t i = 0; i < d->lists[l].n && !err; i++) {
		const struct diff_item *it = &d->lists[l].v[i];
		const struct gate_edge *e = it->a ? it->a : it->b;
		char op[256], c[8][32], reasons[128] = "";
		size_t len = 0;
		double v;

		gate_cell_op(e->operation, op, sizeof(op));
		for (int s = 0; s < 2; s++) {
			const struct gate_edge *x = s ? it->b : it->a;
			if (!x)
				continue;
			snprintf(c[s], 32, "%llu", (unsigned long long)x->stats.requests);
			snprintf(c[2 + s], 32, "%.2f", 100.0 * gate_error_rate(&x->stats));
			bool have = gate_quantile_ms(&x->stats, 0.5, &v);
			gate_ms_str(have, v, c[4 + s], 32);
			have = gate_quantile_ms(&x->stats, 0.99, &v);
			gate_ms_str(have, v, c[6 + s], 32);
		}
		if (!two) {
			int s = it->a ? 0 : 1;
			const char *row[] = { e->client, e->server, e->protocol, op,
					      c[s], c[2 + s], c[4 + s], c[6 + s] };
			err = gate_table_row(&t, row);
			continue;
		}
		char z[32] = "-";
		if (it->have_z)
			snprintf(z, sizeof(z), "%.2f", it->z);
		for (int r = 0; r < N_REASONS; r++)
			if (it->reasons & (1 << r))
				len += (size_t)snprintf(reasons + len, sizeof(reasons) - len,
							"%s%s", len ? "," : "",
							reason_names[r]);
		const char *row[] = { e->client, e->server, e->protocol, op, c[0], c[1],
				      c[2], c[3], z, c[4], c[5], c[6], c[7], reasons };
		err = gate_table_row(&t, row);
	}
	if (!err) {
		gate_table_print(&t, stdout);
		printf("\n");
	}
	gate_table_release(&t);
	return err ? gate_fail(d->ctx, -ENOMEM, "out of memory") : 0;
}

static int diff_table(struct diff *d)
{
	int err = 0;

	side_line("A", d->ctx->db_path, d->o.since_ns, d->o.until_ns);
	side_line("B", d->o.vs_db ? d->o.vs_db : d->ctx->db_path, d->o.vs_since_ns,
		  d->o.vs_until_ns);
	printf("\n");
	for (int l = 0; l < L_COUNT && !err; l++)
		err = diff_table_list(d, l);
	if (err)
		return err;
	printf("diff: %s (", diff_total(d) ? "different" : "same");
	for (int l = 0; l < L_COUNT; l++)
		printf("%s%zu %s", l ? ", " : "", d->lists[l].n, list_words[l]);
	printf("; %zu unchanged, %zu too few to judge)\n", d->unchanged, d->too_few);
	return 0;
}

/* ---- options ---- */

static int diff_opt(struct gate_ctx *ctx, int c, struct diff_opts *o)
{
	switch (c) {
	case 's':
		return gate_time_arg(ctx, "--since", optarg, &o->since_ns);
	case 'u':
		return gate_time_arg(ctx, "--until", optarg, &o->until_ns);
	case 'B':
		o->vs_db = optarg;
		return 0;
	case 'S':
		o->have_vs_since = true;
		return gate_time_arg(ctx, "--vs-since", optarg, &o->vs_since_ns);
	case 'U':
		o->have_vs_until = true;
		return gate_time_arg(ctx, "--vs-until", optarg, &o->vs_until_ns);
	case 'm':
		return gate_parse_u64(ctx, "--min-requests", optarg, &o->jp.min_requests);
	case 'z':
		return gate_parse_double(ctx, "--min-z", optarg, 0, &o->jp.min_z);
	case 'e':
		return gate_parse_double(ctx, "--min-error-change", optarg, 0,
					 &o->jp.max_error_change);
	case 'n':
		return gate_parse_u64(ctx, "--min-samples", optarg, &o->jp.min_samples);
	case 'r':
		return gate_parse_double(ctx, "--max-latency-ratio", optarg, 1,
					 &o->jp.latency_ratio);
	case 'x':
		o->exact = true;
		return 0;
	}
	return gate_fail(ctx, -EINVAL, "unknown option");
}

static int diff_parse(struct gate_ctx *ctx, int argc, char **argv,
		      struct diff_opts *o)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "vs-db", required_argument, NULL, 'B' },
		{ "vs-since", required_argument, NULL, 'S' },
		{ "vs-until", required_argument, NULL, 'U' },
		{ "min-requests", required_argument, NULL, 'm' },
		{ "min-z", required_argument, NULL, 'z' },
		{ "min-error-change", required_argument, NULL, 'e' },
		{ "min-samples", required_argument, NULL, 'n' },
		{ "max-latency-ratio", required_argument, NULL, 'r' },
		{ "exact", no_argument, NULL, 'x' },
		{ 0 }
	};
	uint64_t min0 = o->jp.min_requests;
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, diff_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (!err && (err = diff_opt(ctx, c, o)))
			return err;
	}
	if ((err = gate_no_args(ctx, argc, argv)))
		return err;
	if (o->exact) {	/* both ways: a change, as diff reports them */
		uint64_t min = o->jp.min_requests;

		o->jp = (struct judge_policy)JUDGE_POLICY_EXACT;
		o->jp.both_ways = true;
		o->jp.nodata = JUDGE_ND_RULE_NONE_JUDGED;
		if (min != min0)
			o->jp.stat.min_requests = min;
		o->jp.min_requests = o->jp.stat.min_requests;
	}
	if (!o->vs_db && !o->have_vs_since && !o->have_vs_until)
		return gate_fail(ctx, -EINVAL,
				 "diff needs a second store ('--vs-db FILE') or a second range ('--vs-since T')");
	if (o->vs_db && !o->have_vs_since && !o->have_vs_until) {
		o->vs_since_ns = o->since_ns;
		o->vs_until_ns = o->until_ns;
	}
	if (o->until_ns <= o->since_ns)
		return gate_fail(ctx, -EINVAL, "'--until' must be after '--since'");
	if (o->vs_until_ns <= o->vs_since_ns)
		return gate_fail(ctx, -EINVAL, "'--vs-until' must be after '--vs-since'");
	return 0;
}

static int diff_read(struct diff *d)
{
	struct gate_ctx *bctx = d->ctx;
	int err;

	if ((err = gate_open(d->ctx)))
		return err;
	if (d->o.vs_db) {
		bctx = &d->bctx;
		bctx->db_path = d->o.vs_db;
		bctx->now_ns = d->ctx->now_ns;
		if ((err = gate_open(bctx)))
			return gate_fail(d->ctx, err, "%s", bctx->err);
	}
	err = gate_edges_in_range(d->ctx, gate_range_make(d->o.since_ns, d->o.until_ns),
				  &d->a);
	if (!err && (err = gate_edges_in_range(bctx, gate_range_make(d->o.vs_since_ns,
								      d->o.vs_until_ns),
					       &d->b)) && bctx != d->ctx)
		gate_fail(d->ctx, err, "%s", bctx->err);
	if (err)
		return err;
	gate_edges_sort(&d->a);
	gate_edges_sort(&d->b);
	return 0;
}

static int diff_run(struct gate_ctx *ctx, int argc, char **argv)
{
	struct diff d = {
		.ctx = ctx,
		.o = { .since_ns = INT64_MIN, .until_ns = INT64_MAX,
		       .vs_since_ns = INT64_MIN, .vs_until_ns = INT64_MAX,
		       .jp = JUDGE_POLICY_DIFF },
	};
	int err;

	err = diff_parse(ctx, argc, argv, &d.o);
	if (err)
		return err;
	err = diff_read(&d);
	if (!err)
		err = diff_compare(&d);
	if (!err)
		err = ctx->fmt == GATE_FMT_JSON ? diff_json(&d) : diff_table(&d);
	if (!err && diff_total(&d))
		err = GATE_EXIT_FAIL;
	for (int l = 0; l < L_COUNT; l++)
		free(d.lists[l].v);
	gate_edges_release(&d.a);
	gate_edges_release(&d.b);
	gate_close(&d.bctx);
	return err;
}

const struct gate_cmd gate_cmd_diff = {
	.name = "diff",
	.summary = "compare two time ranges or two stores: new, missing, changed edges",
	.run = diff_run,
	.store = GATE_CMD_READS,
	.formats = GATE_FMTS_TABLE_JSON,
};
