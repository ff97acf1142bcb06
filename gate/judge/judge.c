// SPDX-License-Identifier: BSD-2-Clause
/* The one definition of a regression and of "not enough data" (judge.h). */
#include "judge/judge.h"

#include <math.h>

bool judge_two_prop_z(const struct gate_stats *before,
		      const struct gate_stats *after, double *z)
{
	double na = (double)before->requests, nb = (double)after->requests;
	double p = ((double)before->errors + (double)after->errors) / (na + nb);
	double se = sqrt(p * (1 - p) * (1 / na + 1 / nb));

	if (!(se > 0))
		return false;
	*z = (gate_error_rate(after) - gate_error_rate(before)) / se;
	return true;
}

/* Has @moved (>= 0) passed threshold @t under bound @b? */
static bool passes(enum judge_bound b, double moved, double t)
{
	return b == JUDGE_BOUND_ALLOWED ? moved > t + JUDGE_EPS : moved >= t - JUDGE_EPS;
}

static void judge_errors(const struct judge_policy *p, const struct gate_stats *b,
			 const struct gate_stats *a, struct judge_finding *v)
{
	double change;

	if (b->requests < p->min_requests || a->requests < p->min_requests ||
	    (p->z_test && (!b->requests || !a->requests)))
		return;
	v->errors_judged = true;
	change = gate_error_rate(a) - gate_error_rate(b);
	v->error_change = change;
	if (p->z_test) {
		v->have_z = judge_two_prop_z(b, a, &v->z);
		if (!v->have_z || fabs(v->z) < p->min_z - JUDGE_EPS)
			return;
	}
	/* both ways: the size of the change, then its direction */
	if (!passes(p->bound, p->both_ways ? fabs(change) : change,
		    p->max_error_change))
		return;
	if (change > 0)
		v->reasons |= JUDGE_R_ERROR_UP;
	else if (p->both_ways)
		v->reasons |= JUDGE_R_ERROR_DOWN;
}

/* Has quantile @to grown past @ratio times @from? */
static bool grew(enum judge_bound b, double from, double to, double ratio)
{
	if (b == JUDGE_BOUND_ALLOWED)
		return to > from * ratio;
	return from > 0 && to >= from * ratio - JUDGE_EPS;
}

static void judge_latency(const struct judge_policy *p, const struct gate_stats *b,
			  const struct gate_stats *a, struct judge_finding *v)
{
	static const struct { unsigned q; double at; unsigned up; } qs[] = {
		{ JUDGE_Q_P50, 0.50, JUDGE_R_P50_UP },
		{ JUDGE_Q_P99, 0.99, JUDGE_R_P99_UP },
	};

	if (b->hist.count < p->min_samples || a->hist.count < p->min_samples ||
	    !b->hist.count || !a->hist.count)
		return;
	v->latency_judged = true;
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double qb, qa;

		if (!(p->quantiles & qs[i].q))
			continue;
		qb = (double)fl_hist_quantile(&b->hist, qs[i].at);
		qa = (double)fl_hist_quantile(&a->hist, qs[i].at);
		if (grew(p->bound, qb, qa, p->latency_ratio) &&
		    qa - qb >= (double)p->min_latency_change_ns)
			v->reasons |= qs[i].up;
		else if (p->both_ways && grew(p->bound, qa, qb, p->latency_ratio) &&
			 qb - qa >= (double)p->min_latency_change_ns)
			v->reasons |= qs[i].up << 1;	/* the _DOWN bit */
	}
}

/* The exact policy: judge/stats.h decides, its verdict in the finding's terms. */
static void judge_exact(const struct judge_policy *p, const struct gate_stats *b,
			const struct gate_stats *a, struct judge_finding *v)
{
	struct judge_side sb = { b->requests, b->errors, &b->hist, 0, JUDGE_SEEN_OK, 0 };
	struct judge_side sa = { a->requests, a->errors, &a->hist, 0, JUDGE_SEEN_OK, 0 };
	struct judge_result *r = &v->stat;
	bool lat;

	if (judge_edge(&p->stat, &sb, &sa, r)) {
		v->result = JUDGE_CALL_NODATA;
		return;
	}
	v->errors_judged = r->have_rates;
	v->latency_judged = r->have_mw;
	if (r->have_rates)
		v->error_change = r->rates.rate_after - r->rates.rate_before;
	lat = r->metric == JUDGE_M_LATENCY;
	switch (r->verdict) {
	case JUDGE_HIGH:
		v->reasons |= !lat ? JUDGE_R_ERROR_UP : r->check == JUDGE_C_SPREAD
			      ? JUDGE_R_SPREAD_UP : JUDGE_R_SHIFT_UP;
		v->result = JUDGE_CALL_WORSE;
		break;
	case JUDGE_LOW:
		if (p->both_ways) {
			v->reasons |= lat ? JUDGE_R_SHIFT_DOWN : JUDGE_R_ERROR_DOWN;
			v->result = JUDGE_CALL_WORSE;
		}
		break;
	case JUDGE_NODATA:
		v->reasons |= r->nodata == JUDGE_ND_NO_BASELINE ? JUDGE_R_FEW_BEFORE
							       : JUDGE_R_FEW_AFTER;
		v->result = JUDGE_CALL_NODATA;
		break;
	case JUDGE_PASS:
		break;
	}
}

void judge_compare(const struct judge_policy *p, const struct gate_stats *before,
		const struct gate_stats *after, struct judge_finding *v)
{
	*v = (struct judge_finding){ .result = JUDGE_CALL_OK };
	if (p->exact) {
		judge_exact(p, before, after, v);
		return;
	}
	if (p->nodata == JUDGE_ND_RULE_EITHER_FEW) {
		if (before->requests < p->min_requests)
			v->reasons |= JUDGE_R_FEW_BEFORE;
		if (after->requests < p->min_requests)
			v->reasons |= JUDGE_R_FEW_AFTER;
		if (v->reasons) {
			v->result = JUDGE_CALL_NODATA;
			return;
		}
	}
	judge_errors(p, before, after, v);
	judge_latency(p, before, after, v);
	if (v->reasons)
		v->result = JUDGE_CALL_WORSE;
	else if (!v->errors_judged && !v->latency_judged &&
		 p->nodata == JUDGE_ND_RULE_NONE_JUDGED)
		v->result = JUDGE_CALL_NODATA;
}
