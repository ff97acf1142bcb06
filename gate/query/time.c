// SPDX-License-Identifier: BSD-2-Clause
/*
 * Time arguments and timestamps. Civil dates are converted with Howard
 * Hinnant's days_from_civil, so nothing here depends on TZ or the C
 * library's time zone database.
 */
#include "query/time.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Exactly @n digits at *@p, advancing it. -1 if not digits. */
static int digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int secs_to_ns(int64_t s, int64_t frac_ns, int64_t *out)
{
	if (s > INT64_MAX / GATE_NS_PER_S - 1 || s < INT64_MIN / GATE_NS_PER_S + 1)
		return -ERANGE;
	*out = s * GATE_NS_PER_S + frac_ns;
	return 0;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm). */
static int parse_rfc3339(const char *p, int64_t *out)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30,
					  31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
	int64_t frac = 0;

	if ((y = digits(&p, 4)) < 0 || *p++ != '-' ||
	    (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0)
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	if ((h = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (mi = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (s = digits(&p, 2)) < 0)
		return -EINVAL;
	if (*p == '.') {
		int n = 0;
		for (p++; isdigit((unsigned char)*p); p++, n++)
			if (n < 9)
				frac = frac * 10 + (*p - '0');
		if (n == 0)
			return -EINVAL;
		for (; n < 9; n++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if ((oh = digits(&p, 2)) < 0 || *p++ != ':' ||
		    (om = digits(&p, 2)) < 0 || oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 ||
	    d > (int)mdays[mo - 1] + (mo == 2 && leap(y)) ||
	    h > 23 || mi > 59 || s > 60)	/* 60: a leap second */
		return -EINVAL;
	int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
		       h * 3600 + mi * 60 + s - sign * (oh * 3600 + om * 60);
	return secs_to_ns(secs, frac, out);
}

/* "@SECONDS": Unix time. */
static int parse_unix(const char *p, int64_t *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*p) && *p != '-')
		return -EINVAL;
	errno = 0;
	v = strtoll(p, &end, 10);
	if (end == p || *end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	return secs_to_ns(v, 0, out);
}

/* "1h30m": a sum of <digits><unit>, unit one of s m h d. */
static int parse_duration(const char *p, int64_t *out)
{
	int64_t total = 0;

	if (!*p)
		return -EINVAL;
	while (*p) {
		int64_t v = 0, unit;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			if (v > (INT64_MAX - 9) / 10)
				return -ERANGE;
			v = v * 10 + (*p - '0');
		}
		switch (*p++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -EINVAL;
		}
		if (v > INT64_MAX / GATE_NS_PER_S / unit ||
		    total > INT64_MAX - v * unit * GATE_NS_PER_S)
			return -ERANGE;
		total += v * unit * GATE_NS_PER_S;
	}
	*out = total;
	return 0;
}

int gate_time_parse(const char *s, int64_t now_ns, int64_t *out_ns)
{
	int64_t d;
	int err;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '@')
		return parse_unix(s + 1, out_ns);
	if (strlen(s) >= 19 && s[4] == '-')
		return parse_rfc3339(s, out_ns);
	err = parse_duration(s, &d);
	if (err)
		return err;
	if (now_ns < INT64_MIN + d)
		return -ERANGE;
	*out_ns = now_ns - d;
	return 0;
}

int gate_time_arg(struct gate_ctx *ctx, const char *opt, const char *s,
		  int64_t *out_ns)
{
	int err = gate_time_parse(s, ctx->now_ns, out_ns);

	if (err == -ERANGE)
		return gate_fail(ctx, -EINVAL, "time '%s' for '%s' is out of range",
				 s, opt);
	if (err)
		return gate_fail(ctx, -EINVAL,
				 "invalid time '%s' for '%s' (want RFC 3339, @unix-seconds or a duration like 15m)",
				 s, opt);
	return 0;
}

void gate_time_format(int64_t ns, char *buf, size_t len)
{
	int64_t secs = floor_div(ns, GATE_NS_PER_S);
	int64_t ms = (ns - secs * GATE_NS_PER_S) / 1000000;
	int64_t days = floor_div(secs, 86400), rem = secs - days * 86400;
	int64_t y;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
		 (long long)y, m, d, (long long)(rem / 3600),
		 (long long)(rem / 60 % 60), (long long)(rem % 60),
		 (long long)ms);
}

int64_t gate_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * GATE_NS_PER_S + ts.tv_nsec;
}
