/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Replay helpers shared by the parser tests (test_proto_*.c): a captured
 * conversation as chunks per side, fed whole, split in two at every byte
 * and one byte at a time, with the records compared field by field.
 * Static functions only: each test program includes it once.
 */
#ifndef FAULTLINE_PROTO_REPLAY_H
#define FAULTLINE_PROTO_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proto.h"

#define REQ FL_SIDE_REQUEST
#define RSP FL_SIDE_RESPONSE

struct chunk {
	enum fl_side side;
	uint64_t ts;
	const char *d;
	size_t n;
};

#define CHUNK(side, ts, s) { side, ts, s, sizeof(s) - 1 }
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CLOSE_TS 999000

struct want {
	const char *op;
	int status;
	const char *status_text;
	bool error;
	bool client_error;
	uint64_t start_ns, end_ns, req_bytes, resp_bytes;
};

#define REC_MAX 64
struct recs {
	int n;
	struct fl_record r[REC_MAX];
};

static void on_rec(const struct fl_record *r, void *ctx)
{
	struct recs *l = ctx;

	if (l->n < REC_MAX)
		l->r[l->n] = *r;
	l->n++;
}

static void feed(struct fl_parser *p, enum fl_side side, uint64_t ts, const void *d,
		 size_t n, struct recs *out)
{
	CHECK_EQ_INT(fl_parser_feed(p, side, ts, d, n, on_rec, out), 0);
}

/* mode 0: whole chunks; -1: one byte per feed; k > 0: two feeds split at k */
static void replay(struct fl_parser *p, const struct chunk *c, size_t nc,
		   long mode, struct recs *out)
{
	for (size_t i = 0; i < nc; i++) {
		const uint8_t *d = (const uint8_t *)c[i].d;
		size_t n = c[i].n;

		if (mode < 0) {
			for (size_t k = 0; k < n; k++)
				feed(p, c[i].side, c[i].ts, d + k, 1, out);
		} else if (mode > 0 && (size_t)mode < n) {
			feed(p, c[i].side, c[i].ts, d, (size_t)mode, out);
			feed(p, c[i].side, c[i].ts, d + mode, n - (size_t)mode, out);
		} else {
			feed(p, c[i].side, c[i].ts, d, n, out);
		}
	}
}

static bool rec_matches(const struct fl_record *r, const struct want *w,
			char *why, size_t wn)
{
	if (strcmp(r->operation, w->op))
		snprintf(why, wn, "operation \"%s\", want \"%s\"", r->operation, w->op);
	else if (r->status != w->status)
		snprintf(why, wn, "status %d, want %d", r->status, w->status);
	else if (strcmp(r->status_text, w->status_text))
		snprintf(why, wn, "status_text \"%s\", want \"%s\"", r->status_text,
			 w->status_text);
	else if (r->error != w->error || r->client_error != w->client_error)
		snprintf(why, wn, "error %d/%d, want %d/%d", r->error,
			 r->client_error, w->error, w->client_error);
	else if (r->start_ns != w->start_ns || r->end_ns != w->end_ns)
		snprintf(why, wn, "times %llu..%llu, want %llu..%llu",
			 (unsigned long long)r->start_ns, (unsigned long long)r->end_ns,
			 (unsigned long long)w->start_ns, (unsigned long long)w->end_ns);
	else if (r->req_bytes != w->req_bytes || r->resp_bytes != w->resp_bytes)
		snprintf(why, wn, "bytes %llu/%llu, want %llu/%llu",
			 (unsigned long long)r->req_bytes, (unsigned long long)r->resp_bytes,
			 (unsigned long long)w->req_bytes, (unsigned long long)w->resp_bytes);
	else
		return true;
	return false;
}

static bool recs_match(const struct recs *got, const struct want *w, int nw,
		       char *why, size_t wn)
{
	char one[200];

	if (got->n != nw) {
		snprintf(why, wn, "%d records, want %d", got->n, nw);
		return false;
	}
	for (int i = 0; i < nw && i < REC_MAX; i++) {
		if (got->r[i].proto == FL_PROTO_UNKNOWN) {
			snprintf(why, wn, "record %d: no protocol", i);
			return false;
		}
		if (!rec_matches(&got->r[i], &w[i], one, sizeof(one))) {
			snprintf(why, wn, "record %d: %s", i, one);
			return false;
		}
	}
	return true;
}

static bool stats_match(const struct fl_parser_stats *s,
			const struct fl_parser_stats *w, char *why, size_t wn)
{
	if (!memcmp(s, w, sizeof(*s)))
		return true;
	snprintf(why, wn, "stats resyncs %llu unparsed %llu unpaired %llu "
		 "requests_lost %llu given_up %llu, want %llu %llu %llu %llu %llu",
		 (unsigned long long)s->resyncs, (unsigned long long)s->unparsed_bytes,
		 (unsigned long long)s->unpaired, (unsigned long long)s->requests_lost,
		 (unsigned long long)s->given_up,
		 (unsigned long long)w->resyncs, (unsigned long long)w->unparsed_bytes,
		 (unsigned long long)w->unpaired, (unsigned long long)w->requests_lost,
		 (unsigned long long)w->given_up);
	return false;
}

static size_t max_chunk(const struct chunk *c, size_t nc)
{
	size_t m = 0;

	for (size_t i = 0; i < nc; i++)
		m = c[i].n > m ? c[i].n : m;
	return m;
}

/* Every feeding mode of @pre then @c gives exactly @w and @st. */
static void check_modes(enum fl_proto proto, const struct chunk *pre,
			size_t npre, const struct chunk *c, size_t nc,
			const struct want *w, int nw,
			const struct fl_parser_stats *st)
{
	long maxk = (long)max_chunk(c, nc);
	int bad = 0;

	if ((long)max_chunk(pre, npre) > maxk)
		maxk = (long)max_chunk(pre, npre);
	for (long mode = -1; mode < maxk; mode++) {
		struct fl_parser *p = fl_parser_new(proto);
		struct recs got = { 0 };
		char why[400];

		CHECK(p != NULL);
		if (!p)
			return;
		replay(p, pre, npre, mode, &got);
		replay(p, c, nc, mode, &got);
		fl_parser_close(p, CLOSE_TS, on_rec, &got);
		if (!recs_match(&got, w, nw, why, sizeof(why)) ||
		    !stats_match(fl_parser_stats(p), st, why, sizeof(why))) {
			if (!bad)
				fprintf(stderr, "  mode %ld: %s\n", mode, why);
			bad++;
		}
		fl_parser_free(p);
	}
	CHECK_EQ_INT(bad, 0);
}

static void check_rec(const struct fl_record *r, const struct want *w)
{
	char why[400];

	if (!rec_matches(r, w, why, sizeof(why)))
		fprintf(stderr, "  %s\n", why);
	CHECK(rec_matches(r, w, why, sizeof(why)));
}

/* deterministic xorshift, so garbage tests are reproducible */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Replay where bytes [@a, @a + @len) of chunk @ci are a gap, not seen. */
static void replay_with_gap(struct fl_parser *p, const struct chunk *c,
			    size_t nc, size_t ci, size_t a, size_t len,
			    struct recs *out)
{
	for (size_t i = 0; i < nc; i++) {
		const uint8_t *d = (const uint8_t *)c[i].d;

		if (i != ci) {
			feed(p, c[i].side, c[i].ts, d, c[i].n, out);
			continue;
		}
		if (a)
			feed(p, c[i].side, c[i].ts, d, a, out);
		fl_parser_gap(p, c[i].side, c[i].ts, len, on_rec, out);
		if (a + len < c[i].n)
			feed(p, c[i].side, c[i].ts, d + a + len, c[i].n - a - len, out);
	}
}

/*
 * Are @got's records some of @w's, in order? A record whose request or
 * error reply was hit by the gap may show fewer request bytes and no
 * status_text (and, unless @ops, another operation): what identifies the
 * pairing — times, status, response size — must match.
 */
static bool is_subsequence(const struct recs *got, const struct want *w,
			   int nw, bool ops)
{
	char why[400];
	int k = 0;

	for (int i = 0; i < got->n && i < REC_MAX; i++) {
		const struct fl_record *r = &got->r[i];
		struct want any;

		for (; k < nw; k++) {
			any = w[k];
			if (!ops)
				any.op = r->operation;
			if (r->req_bytes < any.req_bytes)
				any.req_bytes = r->req_bytes;
			if (!r->status_text[0])
				any.status_text = "";
			if (rec_matches(r, &any, why, sizeof(why)))
				break;
		}
		if (k++ == nw)
			return false;
	}
	return true;
}

/*
 * Truncated capture, at random: a gap anywhere in any chunk may cost
 * records, but every record left must be one of the expected ones — a
 * response is never paired with the wrong request.
 */
static void check_random_gaps(enum fl_proto proto, const struct chunk *pre,
			      size_t npre, const struct chunk *c, size_t nc,
			      const struct want *w, int nw, bool ops, int trials)
{
	struct chunk *all = malloc(sizeof(*all) * (npre + nc));
	uint32_t seed = 0xfa017;
	int bad = 0;

	if (npre)
		memcpy(all, pre, sizeof(*all) * npre);
	memcpy(all + npre, c, sizeof(*all) * nc);
	for (int t = 0; t < trials; t++) {
		size_t ci = rnd(&seed) % (npre + nc);
		size_t a = rnd(&seed) % all[ci].n;
		size_t len = 1 + rnd(&seed) % (all[ci].n - a);
		struct fl_parser *p = fl_parser_new(proto);
		struct recs got = { 0 };

		replay_with_gap(p, all, npre + nc, ci, a, len, &got);
		fl_parser_close(p, CLOSE_TS, on_rec, &got);
		if (!is_subsequence(&got, w, nw, ops)) {
			if (!bad) {
				fprintf(stderr, "  gap in chunk %zu at %zu, %zu bytes: "
					"a record is not one of the expected\n", ci, a, len);
				for (int i = 0; i < got.n && i < REC_MAX; i++)
					fprintf(stderr, "    %s %llu..%llu %llu/%llu\n",
						got.r[i].operation,
						(unsigned long long)got.r[i].start_ns,
						(unsigned long long)got.r[i].end_ns,
						(unsigned long long)got.r[i].req_bytes,
						(unsigned long long)got.r[i].resp_bytes);
			}
			bad++;
		}
		fl_parser_free(p);
	}
	free(all);
	CHECK_EQ_INT(bad, 0);
}

#endif /* FAULTLINE_PROTO_REPLAY_H */
