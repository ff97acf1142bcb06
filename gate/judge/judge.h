/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The judge: the one definition of "this edge got worse" (a regression of
 * its error rate or of a latency quantile) and of "not enough data to
 * say", over the traffic of an edge in two ranges, @before and @after
 * (struct gate_stats: window sums and merged latency histograms, as
 * query/edges.h reads them).
 *
 * What a command decides is its policy, not its own arithmetic:
 *
 *   error rate  judged when both sides have >= min_requests requests (and,
 *               with a z-test, at least one); it moved when
 *               after - before passes max_error_change and, with a z-test,
 *               the pooled two-proportion |z| >= min_z.
 *   latency     judged when both sides have >= min_samples latency samples
 *               (and at least one); quantile q moved when
 *               after_q / before_q passes latency_ratio (or, both ways,
 *               before_q / after_q does: a fall).
 *   not enough  JUDGE_ND_RULE_EITHER_FEW: either side below min_requests
 *               is "nodata" before anything is judged (health);
 *               JUDGE_ND_RULE_NONE_JUDGED: nodata when neither the error
 *               rate nor latency could be judged (diff).
 *   "passes"    JUDGE_BOUND_ALLOWED: a threshold is the most a value may
 *               move; a move equal to it (within JUDGE_EPS) is fine
 *               (health's --max-error-increase, --max-p99-ratio).
 *               JUDGE_BOUND_SIGNIFICANT: a threshold is the least move
 *               that counts; a move equal to it counts, and a quantile of
 *               0 gives no ratio (diff's --min-error-change,
 *               --max-latency-ratio).
 *
 * verify, gate and select judge an edge the same way: fill a policy (or
 * take one of the commands' defaults below), call judge_compare() on the
 * two sides, read the finding and its reasons. The statistical tests of
 * the same module (judge/stats.h: exact rate test, Mann-Whitney, spread)
 * give p-values and effect sizes for a verdict that must hold on small or
 * noisy samples.
 */
#ifndef FAULTLINE_GATE_JUDGE_H
#define FAULTLINE_GATE_JUDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "judge/stats.h"	/* the statistical tests (verify's), same module */
#include "query/edges.h"

#define JUDGE_EPS 1e-9	/* rates and ratios this close to a bound are on it */

enum judge_bound { JUDGE_BOUND_ALLOWED = 0, JUDGE_BOUND_SIGNIFICANT };
enum judge_nodata_rule { JUDGE_ND_RULE_EITHER_FEW = 0, JUDGE_ND_RULE_NONE_JUDGED };

/* Latency quantiles a policy looks at. */
#define JUDGE_Q_P50 (1u << 0)
#define JUDGE_Q_P99 (1u << 1)

struct judge_policy {
	uint64_t min_requests;		/* per side, for the error rate */
	uint64_t min_samples;		/* per side, latency samples */
	double max_error_change;	/* absolute change of errors / requests */
	bool z_test;			/* also require |z| >= min_z */
	double min_z;
	double latency_ratio;		/* after / before of a quantile, >= 1 */
	uint64_t min_latency_change_ns;	/* and moved by at least this, ns (0: any) */
	unsigned quantiles;		/* JUDGE_Q_* */
	bool both_ways;			/* report falls too (a change, not only worse) */
	enum judge_bound bound;
	enum judge_nodata_rule nodata;
	bool exact;			/* the statistical tests decide (judge/stats.h) */
	struct judge_opts stat;		/* their confidence, tolerance, min requests */
};

enum judge_call {
	JUDGE_CALL_OK = 0,		/* judged, nothing moved past its threshold */
	JUDGE_CALL_WORSE,		/* something moved: see reasons (with both_ways, a fall too) */
	JUDGE_CALL_NODATA,		/* not enough data to say */
};

/* Reasons, a bit each. */
#define JUDGE_R_ERROR_UP (1u << 0)
#define JUDGE_R_ERROR_DOWN (1u << 1)
#define JUDGE_R_P50_UP (1u << 2)
#define JUDGE_R_P50_DOWN (1u << 3)
#define JUDGE_R_P99_UP (1u << 4)
#define JUDGE_R_P99_DOWN (1u << 5)
#define JUDGE_R_FEW_BEFORE (1u << 6)	/* nodata: before below min_requests */
#define JUDGE_R_FEW_AFTER (1u << 7)	/* nodata: after below min_requests */
#define JUDGE_R_SHIFT_UP (1u << 8)	/* exact: latency shift (Mann-Whitney + Hodges-Lehmann) */
#define JUDGE_R_SHIFT_DOWN (1u << 9)
#define JUDGE_R_SPREAD_UP (1u << 10)	/* exact: latency spread (MW over |x - median|) */

struct judge_finding {
	enum judge_call result;
	unsigned reasons;		/* JUDGE_R_* */
	bool errors_judged;		/* the error rate was compared */
	bool latency_judged;		/* latency was compared */
	double error_change;		/* after - before error rate, if judged */
	bool have_z;			/* z below is defined */
	double z;			/* two-proportion z of after vs before */
	struct judge_result stat;	/* exact policy: the tests' result (p, effect, reason) */
};

/*
 * The statistical policy (verify's, `health --exact`, `diff --exact`):
 * errors by the exact rate test, latency by Mann-Whitney with the
 * Hodges-Lehmann shift and the spread check, Kayenta's confidence 0.98 and
 * tolerance 0.25, nodata below 50 requests a side (docs/gatectl.md "The
 * judge"). The threshold fields are not used.
 */
#define JUDGE_POLICY_EXACT { .exact = true, .stat = JUDGE_OPTS_DEFAULT }

/* The defaults of `gatectl health` (docs/gatectl.md). */
#define JUDGE_POLICY_HEALTH {                                          \
	.min_requests = 10, .max_error_change = 0.01, .latency_ratio = 1.5, \
	.quantiles = JUDGE_Q_P99, .bound = JUDGE_BOUND_ALLOWED,         \
	.nodata = JUDGE_ND_RULE_EITHER_FEW }

/* The defaults of `gatectl diff` (docs/gatectl.md). */
#define JUDGE_POLICY_DIFF {                                              \
	.min_requests = 30, .min_samples = 100, .max_error_change = 0.01,  \
	.z_test = true, .min_z = 3.0, .latency_ratio = 1.5,                \
	.quantiles = JUDGE_Q_P50 | JUDGE_Q_P99, .both_ways = true,          \
	.bound = JUDGE_BOUND_SIGNIFICANT, .nodata = JUDGE_ND_RULE_NONE_JUDGED }

/*
 * The deep suite's (docs/deep.md): an operation under a fault against the
 * same tests' learned footprint. Footprints are a few deterministic
 * requests, so one request is data; an error rate up by 5 points counts;
 * a p99 counts when it doubled and grew by 50 ms (loopback p99s of a few
 * samples double by noise alone).
 */
#define JUDGE_POLICY_DEEP {                                               \
	.min_requests = 1, .min_samples = 1, .max_error_change = 0.05,      \
	.latency_ratio = 2.0, .min_latency_change_ns = 50000000,           \
	.quantiles = JUDGE_Q_P99, .bound = JUDGE_BOUND_SIGNIFICANT,         \
	.nodata = JUDGE_ND_RULE_NONE_JUDGED }

/*
 * judge_compare() - judge @after against @before under @p. OUT: *@v.
 * Pure: reads the two sides; cannot fail. A threshold policy allocates
 * nothing; an exact one runs judge_edge() (judge/stats.h), whose
 * allocation failure reads as nodata.
 */
void judge_compare(const struct judge_policy *p, const struct gate_stats *before,
		const struct gate_stats *after, struct judge_finding *v);

/*
 * judge_two_prop_z() - the pooled two-proportion z of @after's error rate
 * against @before's. OUT: *@z. Returns false when it is undefined (no
 * requests, or no variance).
 */
bool judge_two_prop_z(const struct gate_stats *before,
		      const struct gate_stats *after, double *z);

#endif /* FAULTLINE_GATE_JUDGE_H */
