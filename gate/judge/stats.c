// SPDX-License-Identifier: BSD-2-Clause
/*
 * The statistics of the judge (judge_stats.h). Why not only a z-test or
 * only Mann-Whitney on error series: Kayenta's Mann-Whitney judge calls a
 * rise from a zero or near-zero error baseline "pass" (spinnaker/kayenta
 * #426 "Mann-Whitney with sparse data", #799 on zero baselines), and a
 * normal approximation of a rate needs many events on both sides; the
 * conditional binomial test of two Poisson rates is exact at any size.
 * Mann-Whitney also passes a pure spread increase (kayenta #780), hence
 * the spread check.
 */
#include "judge/stats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BINOM_EXACT_N 2000	/* sum the terms up to this n */
#define BETA_EPS 1e-15
#define BETA_ITER 10000

/* ---- binomial tails ---- */

static double log_choose(uint64_t n, uint64_t k)
{
	return lgamma((double)n + 1) - lgamma((double)k + 1) -
	       lgamma((double)(n - k) + 1);
}

/* log of P(X = i) for X ~ Bin(n, p), 0 < p < 1 */
static double log_pmf(uint64_t i, uint64_t n, double lp, double lq)
{
	return log_choose(n, i) + (double)i * lp + (double)(n - i) * lq;
}

/* Continued fraction of the incomplete beta (modified Lentz). */
static double beta_cf(double a, double b, double x)
{
	double qab = a + b, qap = a + 1, qam = a - 1;
	double c = 1, d = 1 - qab * x / qap, h;

	if (fabs(d) < 1e-300)
		d = 1e-300;
	d = 1 / d;
	h = d;
	for (int m = 1; m <= BETA_ITER; m++) {
		double m2 = 2.0 * m, aa, del;

		aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1 + aa * d;
		if (fabs(d) < 1e-300)
			d = 1e-300;
		c = 1 + aa / c;
		if (fabs(c) < 1e-300)
			c = 1e-300;
		d = 1 / d;
		h *= d * c;
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1 + aa * d;
		if (fabs(d) < 1e-300)
			d = 1e-300;
		c = 1 + aa / c;
		if (fabs(c) < 1e-300)
			c = 1e-300;
		d = 1 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1) < BETA_EPS)
			break;
	}
	return h;
}

/* Regularized incomplete beta I_x(a, b). */
static double beta_inc(double a, double b, double x)
{
	double lbt;

	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
	if (x < (a + 1) / (a + b + 2))
		return exp(lbt) * beta_cf(a, b, x) / a;
	return 1 - exp(lbt) * beta_cf(b, a, 1 - x) / b;
}

/* Sum of P(X = i), i in [lo, hi], largest term first for precision. */
static double pmf_sum(uint64_t lo, uint64_t hi, uint64_t n, double p)
{
	double lp = log(p), lq = log1p(-p), s = 0;

	for (uint64_t i = hi + 1; i-- > lo;)
		s += exp(log_pmf(i, n, lp, lq));
	return s;
}

double judge_binom_sf(uint64_t k, uint64_t n, double p)
{
	if (k == 0)
		return 1;
	if (k > n || p <= 0)
		return 0;
	if (p >= 1)
		return 1;
	if (n <= BINOM_EXACT_N) {
		/* the small tail directly, the large one as a complement */
		if ((double)k >= (double)n * p)
			return fmin(1, pmf_sum(k, n, n, p));
		return fmax(0, 1 - pmf_sum(0, k - 1, n, p));
	}
	return beta_inc((double)k, (double)(n - k + 1), p);
}

double judge_binom_cdf(uint64_t k, uint64_t n, double p)
{
	if (k >= n)
		return 1;
	if (p <= 0)
		return 1;
	if (p >= 1)
		return 0;
	if (n <= BINOM_EXACT_N) {
		if ((double)k <= (double)n * p)
			return fmin(1, pmf_sum(0, k, n, p));
		return fmax(0, 1 - pmf_sum(k + 1, n, n, p));
	}
	return beta_inc((double)(n - k), (double)k + 1, 1 - p);
}

double judge_norm_sf(double z)
{
	return 0.5 * erfc(z / M_SQRT2);
}

int judge_rates_test(uint64_t x_before, uint64_t n_before, uint64_t x_after,
		     uint64_t n_after, double tol, struct judge_rates *out)
{
	uint64_t k = x_before + x_after;
	double r, q;

	if (!n_before || !n_after || x_before > n_before || x_after > n_after ||
	    tol < 0)
		return -EINVAL;
	out->rate_before = (double)x_before / (double)n_before;
	out->rate_after = (double)x_after / (double)n_after;
	if (x_before)
		out->ratio = out->rate_after / out->rate_before;
	else
		out->ratio = x_after ? INFINITY : NAN;
	/* H0 upper: after = (1 + tol) * before, so q grows with r */
	r = 1 + tol;
	q = r * (double)n_after / (r * (double)n_after + (double)n_before);
	out->p_high = judge_binom_sf(x_after, k, q);
	r = 1 / (1 + tol);
	q = r * (double)n_after / (r * (double)n_after + (double)n_before);
	out->p_low = judge_binom_cdf(x_after, k, q);
	return 0;
}

/* ---- Mann-Whitney over histograms ---- */

/* The buckets of both sides in ascending order, as a merged walk. */
struct mw_walk {
	const struct fl_hist *a, *b;
	uint32_t ia, ib;
};

/* Next bucket: OUT: *@ca, *@cb counts of after/before in it, *@idx. */
static bool mw_next(struct mw_walk *w, uint64_t *ca, uint64_t *cb, uint32_t *idx)
{
	bool ha = w->ia < w->a->nbins, hb = w->ib < w->b->nbins;
	uint32_t xa = ha ? w->a->bins[w->ia].idx : UINT32_MAX;
	uint32_t xb = hb ? w->b->bins[w->ib].idx : UINT32_MAX;

	if (!ha && !hb)
		return false;
	*idx = xa < xb ? xa : xb;
	*ca = *cb = 0;
	if (ha && xa == *idx)
		*ca = w->a->bins[w->ia++].count;
	if (hb && xb == *idx)
		*cb = w->b->bins[w->ib++].count;
	return true;
}

/*
 * Exact null distribution of 2U given the tie structure: over buckets in
 * order, choose how many of a bucket's t values belong to "after"
 * (weight C(t, a)); 2U grows by 2 a (before values below) + a (t - a).
 */
static int mw_exact(const struct fl_hist *before, const struct fl_hist *after,
		    uint64_t s_obs, double *p_high, double *p_low)
{
	uint64_t n1 = after->count, n2 = before->count, smax = 2 * n1 * n2;
	size_t width = (size_t)smax + 1, cells = (size_t)(n1 + 1) * width;
	double *dp = calloc(cells, sizeof(*dp)), *nx = calloc(cells, sizeof(*nx));
	struct mw_walk w = { after, before, 0, 0 };
	uint64_t ca, cb, seen = 0;
	uint32_t idx;
	double total = 0, hi = 0, lo = 0;
	int err = 0;

	if (!dp || !nx) {
		err = -ENOMEM;
		goto out_free;
	}
	dp[0] = 1;
	while (mw_next(&w, &ca, &cb, &idx)) {
		uint64_t t = ca + cb;

		memset(nx, 0, cells * sizeof(*nx));
		for (uint64_t i = 0; i <= n1 && i <= seen; i++) {
			uint64_t bseen = seen - i;

			if (bseen > n2)
				continue;
			for (uint64_t s = 0; s <= smax; s++) {
				double v = dp[i * width + s];

				if (v == 0)
					continue;
				for (uint64_t a = 0; a <= t && i + a <= n1; a++) {
					uint64_t ns;

					if (t - a > n2 - bseen)
						continue;
					ns = s + 2 * a * bseen + a * (t - a);
					nx[(i + a) * width + ns] +=
						v * exp(log_choose(t, a));
				}
			}
		}
		seen += t;
		double *tmp = dp;
		dp = nx;
		nx = tmp;
	}
	for (uint64_t s = 0; s <= smax; s++) {
		double v = dp[n1 * width + s];

		total += v;
		if (s >= s_obs)
			hi += v;
		if (s <= s_obs)
			lo += v;
	}
	*p_high = fmin(1, hi / total);
	*p_low = fmin(1, lo / total);
out_free:
	free(dp);
	free(nx);
	return err;
}

/* Pairs (a, b) with mid(a) - mid(b) <= @d: exact, 128-bit. */
static unsigned __int128 pairs_le(const struct fl_hist *after,
				  const struct fl_hist *before, int64_t d)
{
	unsigned __int128 n = 0;
	uint64_t below = 0;	/* before values with mid < mid(a) - d */
	uint32_t j = 0;

	for (uint32_t i = 0; i < after->nbins; i++) {
		int64_t lim = (int64_t)fl_hist_bucket_mid(after->bins[i].idx) - d;

		while (j < before->nbins &&
		       (int64_t)fl_hist_bucket_mid(before->bins[j].idx) < lim)
			below += before->bins[j++].count;
		n += (unsigned __int128)after->bins[i].count *
		     (before->count - below);
	}
	return n;
}

/* The @k-th smallest (1-based) difference mid(a) - mid(b). */
static int64_t pairs_kth(const struct fl_hist *after, const struct fl_hist *before,
			 unsigned __int128 k)
{
	int64_t lo = (int64_t)fl_hist_bucket_mid(after->bins[0].idx) -
		     (int64_t)fl_hist_bucket_mid(before->bins[before->nbins - 1].idx);
	int64_t hi = (int64_t)fl_hist_bucket_mid(after->bins[after->nbins - 1].idx) -
		     (int64_t)fl_hist_bucket_mid(before->bins[0].idx);

	while (lo < hi) {	/* smallest d with pairs_le(d) >= k */
		int64_t mid = lo + (hi - lo) / 2;

		if (pairs_le(after, before, mid) >= k)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int judge_mann_whitney(const struct fl_hist *before, const struct fl_hist *after,
		       struct judge_mw *out)
{
	struct mw_walk w = { after, before, 0, 0 };
	uint64_t n1 = after->count, n2 = before->count, ca, cb, below = 0;
	unsigned __int128 u2 = 0, pairs;
	long double ties = 0, n = (long double)n1 + n2;
	uint32_t idx;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!n1 || !n2)
		return -EINVAL;
	out->n_before = n2;
	out->n_after = n1;
	while (mw_next(&w, &ca, &cb, &idx)) {
		long double t = (long double)ca + cb;

		u2 += (unsigned __int128)2 * ca * below + (unsigned __int128)ca * cb;
		below += cb;
		ties += t * t * t - t;
	}
	out->u = (double)u2 / 2;
	if (n1 + n2 <= JUDGE_MW_EXACT_N) {
		out->exact = true;
		err = mw_exact(before, after, (uint64_t)u2, &out->p_high, &out->p_low);
		if (err)
			return err;
	} else {
		long double var = (long double)n1 * n2 / 12 *
				  ((n + 1) - ties / (n * (n - 1)));
		double sd = var > 0 ? (double)sqrtl(var) : 0;
		double mean = (double)n1 * (double)n2 / 2;

		if (sd > 0) {
			out->z = (out->u - mean) / sd;
			out->p_high = judge_norm_sf((out->u - mean - 0.5) / sd);
			out->p_low = judge_norm_sf((mean - out->u - 0.5) / sd);
		} else {	/* every value in one bucket: no evidence */
			out->p_high = out->p_low = 1;
		}
	}
	/* Hodges-Lehmann: the median of the n1 n2 pairwise differences */
	pairs = (unsigned __int128)n1 * n2;
	if (pairs & 1) {
		out->hl_ns = (double)pairs_kth(after, before, pairs / 2 + 1);
	} else {
		out->hl_ns = ((double)pairs_kth(after, before, pairs / 2) +
			      (double)pairs_kth(after, before, pairs / 2 + 1)) / 2;
	}
	out->median_before_ns = (double)fl_hist_quantile(before, 0.5);
	if (out->median_before_ns > 0)
		out->rel_shift = out->hl_ns / out->median_before_ns;
	else
		out->rel_shift = out->hl_ns > 0 ? INFINITY : 0;
	return 0;
}

/* |x - median| of every value of @h, into @dev. */
static int deviations(const struct fl_hist *h, struct fl_hist *dev)
{
	int64_t m = (int64_t)fl_hist_quantile(h, 0.5);

	for (uint32_t i = 0; i < h->nbins; i++) {
		int64_t x = (int64_t)fl_hist_bucket_mid(h->bins[i].idx);
		uint64_t d = (uint64_t)(x > m ? x - m : m - x), left = h->bins[i].count;

		while (left) {
			uint32_t n = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;

			if (fl_hist_add(dev, d, n))
				return -ENOMEM;
			left -= n;
		}
	}
	return 0;
}

int judge_spread_test(const struct fl_hist *before, const struct fl_hist *after,
		      struct judge_spread *out)
{
	struct fl_hist db = FL_HIST_INIT, da = FL_HIST_INIT;
	int err;

	memset(out, 0, sizeof(*out));
	if (!before->count || !after->count)
		return -EINVAL;
	err = deviations(before, &db);
	if (!err)
		err = deviations(after, &da);
	if (err)
		goto out_release;
	out->mad_before_ns = (double)fl_hist_quantile(&db, 0.5);
	out->mad_after_ns = (double)fl_hist_quantile(&da, 0.5);
	if (out->mad_before_ns > 0)
		out->rel = out->mad_after_ns / out->mad_before_ns - 1;
	else
		out->rel = out->mad_after_ns > 0 ? INFINITY : 0;
	err = judge_mann_whitney(&db, &da, &out->mw);
out_release:
	fl_hist_release(&db);
	fl_hist_release(&da);
	return err;
}

/* ---- the per-edge verdict ---- */

static const char *const verdict_names[] = { "pass", "high", "low", "nodata" };
static const char *const metric_names[] = { "errors", "latency" };
static const char *const nodata_names[] = {
	NULL, "no_traffic", "too_few", "no_baseline", "agent_down",
	"agent_drops", "agent_gap",
};
static const char *const check_names[] = { NULL, "rate", "shift", "spread" };

const char *judge_verdict_name(enum judge_verdict v) { return verdict_names[v]; }
const char *judge_metric_name(enum judge_metric m) { return metric_names[m]; }
const char *judge_nodata_name(enum judge_nodata n) { return nodata_names[n]; }
const char *judge_check_name(enum judge_check c) { return check_names[c]; }

static void set(struct judge_result *r, enum judge_verdict v, enum judge_metric m,
		enum judge_check c, double p, double effect)
{
	r->verdict = v;
	r->metric = m;
	r->check = c;
	r->p = p;
	r->effect = effect;
}

static void fmt_dur(double s, char *buf, size_t len)
{
	if (!isfinite(s))
		snprintf(buf, len, "never");
	else if (s < 60)
		snprintf(buf, len, "%.0fs", ceil(s));
	else if (s < 3600)
		snprintf(buf, len, "%.0fm%02.0fs", floor(s / 60), fmod(ceil(s), 60));
	else
		snprintf(buf, len, "%.1fh", s / 3600);
}

static void reason_errors(struct judge_result *r, const struct judge_side *b,
			  const struct judge_side *a, const char *what)
{
	snprintf(r->reason, sizeof(r->reason),
		 "%serrors %llu/%llu (%.3g%%) vs %llu/%llu (%.3g%%) before, p=%.2g",
		 what, (unsigned long long)a->errors, (unsigned long long)a->requests,
		 100 * r->rates.rate_after, (unsigned long long)b->errors,
		 (unsigned long long)b->requests, 100 * r->rates.rate_before, r->p);
}

static void reason_shift(struct judge_result *r, const char *what)
{
	snprintf(r->reason, sizeof(r->reason),
		 "%slatency %+.1f%% (shift %+.3f ms over median %.3f ms), p=%.2g",
		 what, 100 * r->mw.rel_shift, r->mw.hl_ns / 1e6,
		 r->mw.median_before_ns / 1e6, r->p);
}

static void reason_spread(struct judge_result *r)
{
	snprintf(r->reason, sizeof(r->reason),
		 "latency spread %+.0f%% (MAD %.3f ms vs %.3f ms) with median "
		 "shift %+.1f%%, p=%.2g",
		 100 * r->spread.rel, r->spread.mad_after_ns / 1e6,
		 r->spread.mad_before_ns / 1e6, 100 * r->mw.rel_shift, r->p);
}

/* The tests that can run on the data there is. */
static int judge_compute(struct judge_result *r, const struct judge_opts *o,
			 const struct judge_side *b, const struct judge_side *a)
{
	int err;

	if (b->requests && a->requests &&
	    !judge_rates_test(b->errors > b->requests ? b->requests : b->errors,
			      b->requests,
			      a->errors > a->requests ? a->requests : a->errors,
			      a->requests, o->tolerance, &r->rates))
		r->have_rates = true;
	if (!b->hist || !a->hist || !b->hist->count || !a->hist->count)
		return 0;
	err = judge_mann_whitney(b->hist, a->hist, &r->mw);
	if (err)
		return err;
	r->have_mw = true;
	err = judge_spread_test(b->hist, a->hist, &r->spread);
	if (err)
		return err;
	r->have_spread = true;
	return 0;
}

/* nodata for want of requests on one side; false when there are enough */
static bool judge_few(struct judge_result *r, const struct judge_opts *o,
		      const struct judge_side *b, const struct judge_side *a)
{
	char dur[32];
	double rate;

	if (!a->requests) {
		r->nodata = JUDGE_ND_NO_TRAFFIC;
		r->more_needed = o->min_requests;
		r->more_seconds = INFINITY;
		snprintf(r->reason, sizeof(r->reason),
			 "no traffic after (before: %llu requests)",
			 (unsigned long long)b->requests);
		return true;
	}
	if (b->requests < o->min_requests) {
		r->nodata = JUDGE_ND_NO_BASELINE;
		r->more_needed = o->min_requests - b->requests;
		rate = b->seconds > 0 ? (double)b->requests / b->seconds : 0;
		r->more_seconds = rate > 0 ? (double)r->more_needed / rate : INFINITY;
		if (!b->requests)
			snprintf(r->reason, sizeof(r->reason),
				 "no traffic before: a new edge (%llu requests after)",
				 (unsigned long long)a->requests);
		else
			snprintf(r->reason, sizeof(r->reason),
				 "too few requests before: %llu of %llu",
				 (unsigned long long)b->requests,
				 (unsigned long long)o->min_requests);
		return true;
	}
	if (a->requests < o->min_requests) {
		r->nodata = JUDGE_ND_TOO_FEW;
		r->more_needed = o->min_requests - a->requests;
		rate = a->seconds > 0 ? (double)a->requests / a->seconds : 0;
		r->more_seconds = rate > 0 ? (double)r->more_needed / rate : INFINITY;
		fmt_dur(r->more_seconds, dur, sizeof(dur));
		snprintf(r->reason, sizeof(r->reason),
			 "too few requests after: %llu of %llu, %llu more needed, "
			 "~%s at %.3g req/s",
			 (unsigned long long)a->requests,
			 (unsigned long long)o->min_requests,
			 (unsigned long long)r->more_needed, dur, rate);
		return true;
	}
	return false;
}

/* nodata because the agent did not see all of the after window */
static bool judge_unseen(struct judge_result *r, const struct judge_side *a)
{
	switch (a->seen) {
	case JUDGE_SEEN_DOWN:
		r->nodata = JUDGE_ND_AGENT_DOWN;
		snprintf(r->reason, sizeof(r->reason),
			 "agent not running in the window (no flush recorded)");
		return true;
	case JUDGE_SEEN_DROPS:
		r->nodata = JUDGE_ND_AGENT_DROPS;
		snprintf(r->reason, sizeof(r->reason),
			 "agent dropped %llu events in the window",
			 (unsigned long long)a->dropped);
		return true;
	case JUDGE_SEEN_GAP:
		r->nodata = JUDGE_ND_AGENT_GAP;
		snprintf(r->reason, sizeof(r->reason),
			 "gap in the agent's flushes during the window");
		return true;
	default:
		return false;
	}
}

int judge_edge(const struct judge_opts *o, const struct judge_side *b,
	       const struct judge_side *a, struct judge_result *r)
{
	double alpha = 1 - o->confidence;
	int err;

	memset(r, 0, sizeof(*r));
	r->p = r->effect = NAN;
	if (a->seen == JUDGE_SEEN_DOWN) {
		set(r, JUDGE_NODATA, JUDGE_M_ERRORS, JUDGE_C_NONE, NAN, NAN);
		judge_unseen(r, a);
		return 0;
	}
	err = judge_compute(r, o, b, a);
	if (err)
		return err;
	if (r->have_rates && r->rates.p_high < alpha) {
		set(r, JUDGE_HIGH, JUDGE_M_ERRORS, JUDGE_C_RATE, r->rates.p_high,
		    r->rates.ratio - 1);
		reason_errors(r, b, a, "");
		return 0;
	}
	if (r->have_mw && r->mw.p_high < alpha && r->mw.rel_shift > o->tolerance &&
	    r->mw.hl_ns > o->min_latency_ns) {
		set(r, JUDGE_HIGH, JUDGE_M_LATENCY, JUDGE_C_SHIFT, r->mw.p_high,
		    r->mw.rel_shift);
		reason_shift(r, "");
		return 0;
	}
	if (r->have_spread && r->spread.mw.p_high < alpha &&
	    r->spread.rel > o->tolerance &&
	    r->spread.mad_after_ns - r->spread.mad_before_ns > o->min_latency_ns) {
		set(r, JUDGE_HIGH, JUDGE_M_LATENCY, JUDGE_C_SPREAD,
		    r->spread.mw.p_high, r->spread.rel);
		reason_spread(r);
		return 0;
	}
	if (judge_few(r, o, b, a) || judge_unseen(r, a)) {
		set(r, JUDGE_NODATA, JUDGE_M_ERRORS, JUDGE_C_NONE, NAN, NAN);
		return 0;
	}
	if (r->have_rates && r->rates.p_low < alpha) {
		set(r, JUDGE_LOW, JUDGE_M_ERRORS, JUDGE_C_RATE, r->rates.p_low,
		    r->rates.ratio - 1);
		reason_errors(r, b, a, "fewer ");
		return 0;
	}
	if (r->have_mw && r->mw.p_low < alpha && r->mw.rel_shift < -o->tolerance &&
	    -r->mw.hl_ns > o->min_latency_ns) {
		set(r, JUDGE_LOW, JUDGE_M_LATENCY, JUDGE_C_SHIFT, r->mw.p_low,
		    r->mw.rel_shift);
		reason_shift(r, "faster: ");
		return 0;
	}
	set(r, JUDGE_PASS, JUDGE_M_ERRORS, JUDGE_C_RATE,
	    r->have_rates ? r->rates.p_high : NAN,
	    r->have_rates ? r->rates.ratio - 1 : NAN);
	if (r->have_mw)
		snprintf(r->reason, sizeof(r->reason),
			 "errors %llu/%llu vs %llu/%llu before (p=%.2g); latency "
			 "%+.1f%% (p=%.2g), spread %+.0f%%",
			 (unsigned long long)a->errors, (unsigned long long)a->requests,
			 (unsigned long long)b->errors, (unsigned long long)b->requests,
			 r->rates.p_high, 100 * r->mw.rel_shift, r->mw.p_high,
			 100 * r->spread.rel);
	else
		reason_errors(r, b, a, "");
	return 0;
}
