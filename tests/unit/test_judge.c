// SPDX-License-Identifier: BSD-2-Clause
/*
 * gate/judge_stats.c: exact binomial tails, the exact rate test on zero and
 * sparse baselines, Mann-Whitney (exact with ties, normal with ties),
 * Hodges-Lehmann, the spread check, and judge_edge()'s verdicts.
 *
 * Expected values were computed independently in Python with exact
 * rationals (fractions.Fraction, math.comb) and by brute-force enumeration
 * of every assignment for the exact Mann-Whitney cases; the script is in
 * the comment of each test.
 */
#include "harness.h"
#include "hist.h"
#include "judge/stats.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>

/* relative closeness */
#define CHECK_NEAR(x, want, rel)                                              \
	do {                                                                  \
		double _x = (x), _w = (want);                                 \
		if (!(fabs(_x - _w) <= (rel) * fabs(_w))) {                   \
			h_failed_checks++;                                    \
			fprintf(stderr, "  %s:%d: %s == %.17g, expected %.17g\n", \
				__FILE__, __LINE__, #x, _x, _w);              \
		}                                                             \
	} while (0)

static void fill(struct fl_hist *h, const int *v, int n)
{
	for (int i = 0; i < n; i++)
		fl_hist_add(h, (uint64_t)v[i], 1);
}

/* every value in [lo, hi] @reps times (values < 64 have a bucket each) */
static void fill_range(struct fl_hist *h, int lo, int hi, int reps)
{
	for (int v = lo; v <= hi; v++)
		fl_hist_add(h, (uint64_t)v, (uint32_t)reps);
}

static void test_binom_tails(void)
{
	/* (1/11)^5; 1 - sum_{i<3} C(10,i) .2^i .8^(10-i) */
	CHECK_NEAR(judge_binom_sf(5, 5, 1.0 / 11), 6.209213230591551e-06, 1e-12);
	CHECK_NEAR(judge_binom_sf(3, 10, 0.2), 0.3222004736, 1e-12);
	/* n > 2000: the incomplete beta path, against exact sums */
	CHECK_NEAR(judge_binom_sf(60, 5000, 0.01), 0.09117523546410766, 1e-10);
	CHECK_NEAR(judge_binom_cdf(30, 5000, 0.01), 0.0015271786755000007, 1e-10);
	CHECK_NEAR(judge_binom_sf(1500, 3000, 0.48), 0.014864187361544226, 1e-10);
	CHECK(judge_binom_sf(0, 7, 0.3) == 1);
	CHECK(judge_binom_sf(8, 7, 0.3) == 0);
	CHECK(judge_binom_cdf(7, 7, 0.3) == 1);
	CHECK(judge_binom_sf(1, 7, 0) == 0);
}

static void test_rates_zero_baseline(void)
{
	struct judge_rates r;

	/* 0/10000 before, 5/1000 after, no tolerance: q = 1/11, p = q^5 */
	CHECK_EQ_INT(judge_rates_test(0, 10000, 5, 1000, 0, &r), 0);
	CHECK_NEAR(r.p_high, 6.209213230591551e-06, 1e-12);
	CHECK(isinf(r.ratio));
	CHECK_NEAR(r.p_low, 1, 1e-12);
	/* with tolerance 0.25: q = 1250 / 11250 = 1/9, p = 9^-5 */
	CHECK_EQ_INT(judge_rates_test(0, 10000, 5, 1000, 0.25, &r), 0);
	CHECK_NEAR(r.p_high, 1.0 / 59049, 1e-12);
	/* 0/0 errors: nothing to see, ratio NAN, p 1 both ways */
	CHECK_EQ_INT(judge_rates_test(0, 100, 0, 100, 0.25, &r), 0);
	CHECK(isnan(r.ratio));
	CHECK(r.p_high == 1 && r.p_low == 1);
	CHECK_EQ_INT(judge_rates_test(0, 0, 1, 10, 0.25, &r), -EINVAL);
	CHECK_EQ_INT(judge_rates_test(11, 10, 1, 10, 0.25, &r), -EINVAL);
}

static void test_mw_exact_no_ties(void)
{
	struct fl_hist b = FL_HIST_INIT, a = FL_HIST_INIT;
	struct judge_mw m;
	static const int vb[] = { 10, 11, 12, 13, 14 }, va[] = { 15, 16, 17, 18, 19 };

	fill(&b, vb, 5);
	fill(&a, va, 5);
	CHECK_EQ_INT(judge_mann_whitney(&b, &a, &m), 0);
	CHECK(m.exact);
	CHECK(m.u == 25);
	CHECK_NEAR(m.p_high, 1.0 / 252, 1e-12);	/* one of C(10,5) orders */
	CHECK_NEAR(m.p_low, 1, 1e-12);
	CHECK(m.hl_ns == 5);			/* median of the 25 differences */
	CHECK(m.median_before_ns == 12);
	CHECK_NEAR(m.rel_shift, 5.0 / 12, 1e-12);
	fl_hist_release(&b);
	fl_hist_release(&a);
}

static void test_mw_exact_ties(void)
{
	struct fl_hist b = FL_HIST_INIT, a = FL_HIST_INIT;
	struct judge_mw m;
	static const int vb[] = { 10, 10, 12, 12, 12, 14, 20 };
	static const int va[] = { 12, 14, 14, 20, 20, 22 };

	/* brute force over all C(13,6) = 1716 assignments: U = 34.5,
	 * P(U >= 34.5) = 61/1716, P(U <= 34.5) = 1697/1716 */
	fill(&b, vb, 7);
	fill(&a, va, 6);
	CHECK_EQ_INT(judge_mann_whitney(&b, &a, &m), 0);
	CHECK(m.exact);
	CHECK(m.u == 34.5);
	CHECK_NEAR(m.p_high, 0.035547785547785545, 1e-12);
	CHECK_NEAR(m.p_low, 0.9889277389277389, 1e-12);
	CHECK(m.hl_ns == 4);
	fl_hist_release(&b);
	fl_hist_release(&a);
}

static void test_mw_normal_ties(void)
{
	struct fl_hist b = FL_HIST_INIT, a = FL_HIST_INIT;
	struct judge_mw m;

	/* 20..39 and 22..41, ten of each: midrank U, tie-corrected variance,
	 * continuity 1/2 */
	fill_range(&b, 20, 39, 10);
	fill_range(&a, 22, 41, 10);
	CHECK_EQ_INT(judge_mann_whitney(&b, &a, &m), 0);
	CHECK(!m.exact);
	CHECK(m.u == 23800);
	CHECK_NEAR(m.p_high, 0.0005006622674766185, 1e-9);
	CHECK_NEAR(m.p_low, 0.9995008763737496, 1e-9);
	CHECK(m.hl_ns == 2);
	/* one bucket on both sides: no evidence either way */
	fl_hist_reset(&b);
	fl_hist_reset(&a);
	fl_hist_add(&b, 1000, 100);
	fl_hist_add(&a, 1000, 100);
	CHECK_EQ_INT(judge_mann_whitney(&b, &a, &m), 0);
	CHECK(m.p_high == 1 && m.p_low == 1 && m.hl_ns == 0);
	fl_hist_reset(&a);
	CHECK_EQ_INT(judge_mann_whitney(&b, &a, &m), -EINVAL);
	fl_hist_release(&b);
	fl_hist_release(&a);
}

/* same median, seven times the spread: location passes, spread does not */
static void test_spread_only(void)
{
	struct fl_hist b = FL_HIST_INIT, a = FL_HIST_INIT;
	struct judge_mw m;
	struct judge_spread s;

	fill_range(&b, 37, 43, 30);	/* 40 +- 3, n = 210 */
	fill_range(&a, 17, 63, 5);	/* 40 +- 23, n = 235 */
	CHECK_EQ_INT(judge_mann_whitney(&b, &a, &m), 0);
	CHECK(m.u == 24675);
	CHECK_NEAR(m.p_high, 0.5001475406762564, 1e-9);
	CHECK(m.hl_ns == 0);
	CHECK_EQ_INT(judge_spread_test(&b, &a, &s), 0);
	CHECK(s.mad_before_ns == 2 && s.mad_after_ns == 12);
	CHECK_NEAR(s.rel, 5, 1e-12);
	CHECK(s.mw.u == 45675);
	CHECK_NEAR(s.mw.p_high, 3.4985879338521916e-55, 1e-6);
	fl_hist_release(&b);
	fl_hist_release(&a);
}

static struct judge_side side(uint64_t req, uint64_t err, const struct fl_hist *h,
			      double seconds)
{
	return (struct judge_side){ req, err, h, seconds, JUDGE_SEEN_OK, 0 };
}

static void test_edge_errors(void)
{
	struct judge_opts o = JUDGE_OPTS_DEFAULT;
	struct judge_result r;
	struct judge_side b, a;

	/* zero-error baseline: 4/1000 after 0/6000 -> high, p = q^4 with
	 * q = 1250 / 7250 */
	b = side(6000, 0, NULL, 3600);
	a = side(1000, 4, NULL, 600);
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "high");
	CHECK_EQ_STR(judge_metric_name(r.metric), "errors");
	CHECK_EQ_STR(judge_check_name(r.check), "rate");
	CHECK_NEAR(r.p, 0.0008836657566087594, 1e-12);
	/* sparse: 3/1000 after 3/6000 is six times the rate, yet p = 0.068
	 * -> not significant at 0.98; 5/1000 is (p = 0.0054) */
	a = side(1000, 3, NULL, 600);
	b = side(6000, 3, NULL, 3600);
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "pass");
	CHECK_NEAR(r.p, 0.06796240761380638, 1e-12);
	a.errors = 5;
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "high");
	CHECK_NEAR(r.p, 0.0053705345113777975, 1e-12);
	CHECK_NEAR(r.effect, 9, 1e-12);		/* 0.5 % vs 0.05 % */
	/* a crash loop: 20 requests, all failing -> high, not too few */
	b = side(6000, 0, NULL, 3600);
	a = side(20, 20, NULL, 600);
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "high");
	CHECK_NEAR(r.p, 2.2890703945407018e-48, 1e-9);
	/* fewer errors: low */
	b = side(6000, 600, NULL, 3600);
	a = side(1000, 10, NULL, 600);
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "low");
}

static void test_edge_nodata(void)
{
	struct judge_opts o = JUDGE_OPTS_DEFAULT;
	struct judge_result r;
	struct judge_side b = side(6000, 0, NULL, 3600), a = side(0, 0, NULL, 600);

	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "nodata");
	CHECK_EQ_STR(judge_nodata_name(r.nodata), "no_traffic");
	CHECK_EQ_STR(r.reason, "no traffic after (before: 6000 requests)");
	/* 12 requests in 60 s: 38 more needed, 190 s at 0.2 req/s */
	a = side(12, 0, NULL, 60);
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_nodata_name(r.nodata), "too_few");
	CHECK_EQ_INT(r.more_needed, 38);
	CHECK_NEAR(r.more_seconds, 190, 1e-12);
	CHECK_EQ_STR(r.reason, "too few requests after: 12 of 50, 38 more "
			       "needed, ~3m10s at 0.2 req/s");
	/* too few before */
	b = side(3, 0, NULL, 3600);
	a = side(1000, 0, NULL, 600);
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_nodata_name(r.nodata), "no_baseline");
	CHECK_EQ_INT(r.more_needed, 47);
	/* the agent: down beats everything; drops and gaps only a pass */
	b = side(6000, 0, NULL, 3600);
	a = side(1000, 0, NULL, 600);
	a.seen = JUDGE_SEEN_DOWN;
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_nodata_name(r.nodata), "agent_down");
	a.seen = JUDGE_SEEN_DROPS;
	a.dropped = 120;
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_nodata_name(r.nodata), "agent_drops");
	CHECK_EQ_STR(r.reason, "agent dropped 120 events in the window");
	a.errors = 20;		/* what it did see is a regression all the same */
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "high");
	a.errors = 0;
	a.seen = JUDGE_SEEN_GAP;
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_nodata_name(r.nodata), "agent_gap");
}

static void test_edge_latency(void)
{
	struct judge_opts o = JUDGE_OPTS_DEFAULT;
	struct fl_hist hb = FL_HIST_INIT, ha = FL_HIST_INIT;
	struct judge_result r;
	struct judge_side b, a;

	/* spread only: the shift test passes, the spread check is high... */
	fill_range(&hb, 37, 43, 30);
	fill_range(&ha, 17, 63, 5);
	b = side(210, 0, &hb, 3600);
	a = side(235, 0, &ha, 600);
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	/* ...but these ns-sized moves are under the 1 ms floor: pass */
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "pass");
	o.min_latency_ns = 0;	/* below: the statistics themselves */
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "high");
	CHECK_EQ_STR(judge_metric_name(r.metric), "latency");
	CHECK_EQ_STR(judge_check_name(r.check), "spread");
	CHECK(r.mw.p_high > 0.5);
	CHECK_NEAR(r.effect, 5, 1e-12);
	/* a shift of +2 over a median of 29: significant (p = 5e-4) but
	 * under the 25 % tolerance -> pass */
	fl_hist_reset(&hb);
	fl_hist_reset(&ha);
	fill_range(&hb, 20, 39, 10);
	fill_range(&ha, 22, 41, 10);
	b = side(200, 0, &hb, 3600);
	a = side(200, 0, &ha, 600);
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "pass");
	CHECK_NEAR(r.mw.rel_shift, 2.0 / 29, 1e-12);
	/* +50 %: 20..39 -> 30..58 */
	fl_hist_reset(&ha);
	fill_range(&ha, 30, 58, 7);
	a = side(203, 0, &ha, 600);
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "high");
	CHECK_EQ_STR(judge_check_name(r.check), "shift");
	CHECK(r.mw.rel_shift > 0.25 && r.p < 1e-10);
	/* and the other way round: faster is low */
	a = side(200, 0, &hb, 600);
	b = side(203, 0, &ha, 3600);
	CHECK_EQ_INT(judge_edge(&o, &b, &a, &r), 0);
	CHECK_EQ_STR(judge_verdict_name(r.verdict), "low");
	CHECK_EQ_STR(judge_metric_name(r.metric), "latency");
	fl_hist_release(&hb);
	fl_hist_release(&ha);
}

RUN_TESTS(test_binom_tails, test_rates_zero_baseline, test_mw_exact_no_ties,
	  test_mw_exact_ties, test_mw_normal_ties, test_spread_only,
	  test_edge_errors, test_edge_nodata, test_edge_latency)
