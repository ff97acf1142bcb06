/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The statistics of the judge: pure functions, no store, no I/O.
 *
 * Errors are judged by an exact test of two Poisson rates (the conditional
 * binomial test), which stays valid on zero and tiny baselines; latency by
 * Mann-Whitney U over two latency histograms (lib/hist.h) with the
 * Hodges-Lehmann shift as its effect size, plus a spread check (Mann-Whitney
 * over absolute deviations from the median), because a location test passes
 * a change that only widens the distribution. judge_edge() turns them into
 * one per-edge verdict: pass, high, low or nodata with its reason.
 *
 * Defaults follow Kayenta's Mann-Whitney classifier (confidence 0.98,
 * tolerance 0.25); docs/gatectl.md "The judge" documents every rule.
 */
#ifndef FAULTLINE_JUDGE_STATS_H
#define FAULTLINE_JUDGE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define JUDGE_CONFIDENCE 0.98	/* 1 - significance level */
#define JUDGE_TOLERANCE 0.25	/* allowed relative increase (errors, latency, spread) */
#define JUDGE_MIN_REQUESTS 50	/* requests per side before "pass" means anything */
#define JUDGE_MW_EXACT_N 64	/* n1 + n2 up to which Mann-Whitney is exact */

/*
 * judge_binom_sf() - P(X >= @k) for X ~ Binomial(@n, @p), 0 <= p <= 1.
 * Exact summation up to n = 2000, the regularized incomplete beta function
 * (relative error < 1e-12) above. 1 when k == 0, 0 when k > n.
 */
double judge_binom_sf(uint64_t k, uint64_t n, double p);

/* judge_binom_cdf() - P(X <= @k) for X ~ Binomial(@n, @p). */
double judge_binom_cdf(uint64_t k, uint64_t n, double p);

/* judge_norm_sf() - P(Z >= @z) for a standard normal Z. */
double judge_norm_sf(double z);

/* The exact comparison of the event rates of two sides. */
struct judge_rates {
	double p_high;		/* P(after rate <= (1+tol) before rate | data): small = high */
	double p_low;		/* P(after rate >= before rate / (1+tol) | data): small = low */
	double rate_before;	/* events / exposure */
	double rate_after;
	double ratio;		/* rate_after / rate_before; INFINITY when 0 before, NAN when 0/0 */
};

/*
 * judge_rates_test() - compare @x_after events in @n_after exposure
 * (requests) with @x_before in @n_before, exactly. Conditional on the
 * total k = x_after + x_before, x_after ~ Binomial(k, q) where
 * q = r n_after / (r n_after + n_before) under the null "the after rate is
 * r times the before rate"; p_high tests r = 1 + @tol (one-sided, upper),
 * p_low r = 1 / (1 + @tol) (one-sided, lower). A zero baseline is an
 * ordinary input: 0/10000 before, 5/1000 after gives p_high = q^5.
 * Returns 0, or -EINVAL when an exposure is 0 or events exceed it.
 */
int judge_rates_test(uint64_t x_before, uint64_t n_before, uint64_t x_after,
		     uint64_t n_after, double tol, struct judge_rates *out);

/* Mann-Whitney U of "after" against "before", with its effect size. */
struct judge_mw {
	uint64_t n_before, n_after;
	double u;		/* pairs (a, b) with a > b, plus half the ties */
	double z;		/* (U - n1 n2 / 2) / sd, tie-corrected; 0 when exact */
	double p_high;		/* one-sided: after stochastically larger */
	double p_low;		/* one-sided: after stochastically smaller */
	bool exact;		/* exact conditional null distribution (small n) */
	double hl_ns;		/* Hodges-Lehmann shift: median of a - b, ns */
	double median_before_ns;
	double rel_shift;	/* hl_ns / median_before_ns (INFINITY when 0) */
};

/*
 * judge_mann_whitney() - Mann-Whitney U over the values of two histograms
 * (values in one bucket are ties at its midpoint). For n1 + n2 <=
 * JUDGE_MW_EXACT_N the p-values come from the exact null distribution of U
 * conditional on the ties (a dynamic programme over buckets, no
 * permutations); above, from the normal approximation with the tie
 * correction and a continuity correction of 1/2. Returns 0, -EINVAL when
 * a side is empty, or -ENOMEM.
 */
int judge_mann_whitney(const struct fl_hist *before, const struct fl_hist *after,
		       struct judge_mw *out);

/* The spread check: Mann-Whitney over |x - median| of each side. */
struct judge_spread {
	struct judge_mw mw;	/* of the deviation histograms */
	double mad_before_ns;	/* median absolute deviation, ns */
	double mad_after_ns;
	double rel;		/* mad_after / mad_before - 1 (INFINITY when 0 before) */
};

/*
 * judge_spread_test() - is "after" more (or less) spread than "before",
 * whatever their medians? Each side's values are replaced by their distance
 * from that side's median and compared by judge_mann_whitney().
 * Returns 0, -EINVAL (a side empty) or -ENOMEM.
 */
int judge_spread_test(const struct fl_hist *before, const struct fl_hist *after,
		      struct judge_spread *out);

enum judge_verdict {
	JUDGE_PASS = 0,
	JUDGE_HIGH,		/* worse: more errors, slower, wider */
	JUDGE_LOW,		/* better: fewer errors, faster */
	JUDGE_NODATA,
};

enum judge_metric {
	JUDGE_M_ERRORS = 0,
	JUDGE_M_LATENCY,
};

enum judge_check {		/* which test decided */
	JUDGE_C_NONE = 0,
	JUDGE_C_RATE,		/* exact rate test (errors) */
	JUDGE_C_SHIFT,		/* Mann-Whitney + Hodges-Lehmann (latency) */
	JUDGE_C_SPREAD,		/* spread check (latency) */
};

enum judge_nodata {
	JUDGE_ND_NONE = 0,
	JUDGE_ND_NO_TRAFFIC,	/* not one request after */
	JUDGE_ND_TOO_FEW,	/* fewer than min_requests after */
	JUDGE_ND_NO_BASELINE,	/* fewer than min_requests before */
	JUDGE_ND_AGENT_DOWN,	/* the agent did not run (no flush) */
	JUDGE_ND_AGENT_DROPS,	/* the agent lost events in the window */
	JUDGE_ND_AGENT_GAP,	/* the agent's flushes have a gap */
};

/* What the agent saw of a window, from its flush records. */
enum judge_seen {
	JUDGE_SEEN_OK = 0,
	JUDGE_SEEN_DOWN,	/* no flush covered the window */
	JUDGE_SEEN_DROPS,	/* events dropped (ring buffer, tables) */
	JUDGE_SEEN_GAP,		/* flushes missing for part of it */
	JUDGE_SEEN_UNKNOWN,	/* the store keeps no flush records */
};

/* One side of a comparison. */
struct judge_side {
	uint64_t requests;
	uint64_t errors;
	const struct fl_hist *hist;	/* latency, ns; borrowed, may be NULL */
	double seconds;			/* wall time the side covers (> 0) */
	enum judge_seen seen;		/* what the agent saw of it */
	uint64_t dropped;		/* events lost, when seen == DROPS */
};

struct judge_opts {
	double confidence;		/* JUDGE_CONFIDENCE */
	double tolerance;		/* JUDGE_TOLERANCE */
	uint64_t min_requests;		/* JUDGE_MIN_REQUESTS */
	double min_latency_ns;		/* latency moves smaller than this never count */
};

#define JUDGE_MIN_LATENCY_NS 1e6	/* 1 ms: a cold process's sub-ms jitter is no regression */
#define JUDGE_OPTS_DEFAULT { JUDGE_CONFIDENCE, JUDGE_TOLERANCE, JUDGE_MIN_REQUESTS, \
			     JUDGE_MIN_LATENCY_NS }

struct judge_result {
	enum judge_verdict verdict;
	enum judge_metric metric;	/* the metric that decided (errors first) */
	enum judge_check check;
	enum judge_nodata nodata;	/* why, when verdict == NODATA */
	double p;			/* the deciding p-value, or NAN */
	double effect;			/* ratio - 1 (errors), rel shift / rel spread (latency); NAN */
	uint64_t more_needed;		/* TOO_FEW/NO_BASELINE: requests still missing */
	double more_seconds;		/* at the side's current rate; INFINITY without traffic */
	struct judge_rates rates;	/* always computed when both sides have requests */
	bool have_rates;
	struct judge_mw mw;		/* when both sides have latency samples */
	bool have_mw;
	struct judge_spread spread;
	bool have_spread;
	char reason[192];		/* one line for people, e.g. "errors 5/1000 vs 0/10000, p=6.2e-06" */
};

/*
 * judge_edge() - the verdict on one edge, after against before, in this
 * order: the agent did not run in the after window -> nodata; errors high
 * (exact rate test) -> high; latency high (shift or spread, each needs
 * significance at @o->confidence and an effect above @o->tolerance) ->
 * high; then, since a quiet edge is not a healthy edge, no traffic / too
 * few after / too few before / agent drops or gap -> nodata; errors or
 * latency low -> low; otherwise pass. A regression is reported even on few
 * requests: the exact test is valid at any size, so a crash-looping deploy
 * that served 20 requests, all failing, is high, not nodata.
 * Returns 0 or -ENOMEM.
 */
int judge_edge(const struct judge_opts *o, const struct judge_side *before,
	       const struct judge_side *after, struct judge_result *out);

/* Static names: "pass" "high" "low" "nodata"; "errors" "latency";
 * "no_traffic" "too_few" "no_baseline" "agent_down" "agent_drops"
 * "agent_gap" (NULL for NONE); "rate" "shift" "spread" (NULL for NONE). */
const char *judge_verdict_name(enum judge_verdict v);
const char *judge_metric_name(enum judge_metric m);
const char *judge_nodata_name(enum judge_nodata n);
const char *judge_check_name(enum judge_check c);

#endif /* FAULTLINE_JUDGE_STATS_H */
