/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the libFuzzer targets in tests/fuzz/ share: a small language that
 * turns one fuzz input into a connection (both sides, any split, gaps,
 * repeats), and the invariants checked on everything the parsers return.
 * A broken invariant abort()s, which libFuzzer reports as a crash.
 *
 * The stream language: a sequence of steps, each an opcode byte, then
 * arguments, then data, all cut short by the end of the input.
 *
 *   opcode bit 0     side: 0 request, 1 response
 *   opcode bits 1-2  0: feed n = next byte, then n data bytes
 *                    1: feed n = next 2 bytes (little endian), then data
 *                    2: gap of n = next 2 bytes (bit 3: n << 12)
 *                    3: repeat: n = next byte, count = next byte + 1 (bit 3:
 *                       count * 16), then n data bytes fed count times
 *   opcode bit 3     feeds: one byte per fl_parser_feed() call
 *   opcode bit 4     of the first step only: fl_parser_join() first (a
 *                    connection the agent joined mid-life)
 *   opcode bits 5-7  the clock advances by this much before the step
 *
 * Every fed piece is copied to a buffer of exactly its size, so that ASan
 * sees a read past it. The connection is closed after the last step.
 * Encoded seeds are written by tests/fuzz/mkcorpus.py.
 */
#ifndef FAULTLINE_FUZZ_H
#define FAULTLINE_FUZZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#ifndef FZ_FEED_BUDGET
#define FZ_FEED_BUDGET (8u << 10)	/* bytes fed per input, at most (was 1.5 MiB: the
					   repeats it allowed made one input cost ms) */
#endif
#ifndef FZ_BYTEWISE_MAX
#define FZ_BYTEWISE_MAX 1024		/* clean inputs up to this: every byte its own feed */
#endif
#ifndef FZ_SPLIT_MAX
#define FZ_SPLIT_MAX (64u << 10)	/* clean inputs up to this are replayed bytewise */
#endif
#define FZ_LOG_MAX 4096			/* records kept for that comparison */

/*
 * The harness's own loops and comparisons (byte-wise replays, invariant
 * checks) are not what is being fuzzed: without coverage instrumentation
 * they stop costing most of an execution (a third of the time was
 * __sanitizer_cov_trace_const_cmp8 in them) and stop feeding libFuzzer
 * features that are not the parsers'. ASan and UBSan stay on.
 */
#define FZ_HARNESS __attribute__((no_sanitize("coverage")))

/*
 * Known parser bugs, reported and not fixed yet, are tolerated so that a
 * fuzzing run goes on past them; build with -DFZ_STRICT (make fuzz
 * FUZZ_STRICT=1) to see them fail. Remove an entry once its bug is fixed.
 */
#ifdef FZ_STRICT
#define FZ_KNOWN(bug) false
#else
#define FZ_KNOWN(bug) (bug)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ASSERT(cond)                                                      \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",     \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

/* @s (@n bytes) holds no control byte: what leaves a parser goes to logs and JSON. */
FZ_HARNESS static inline bool fz_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/*
 * Known bug 1: fl_sql_normalize() keeps "quoted identifiers" as written,
 * control bytes included ('"\x02"' gives an operation with a raw 0x02),
 * where fl_http_route() replaces them by '?'. Printable outside quotes.
 */
FZ_HARNESS static inline bool fz_sql_printable(const char *s, size_t n)
{
	bool quoted = false;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (((uint8_t)s[i] < 0x20 || s[i] == 0x7f) &&
			 !FZ_KNOWN(quoted))
			return false;
	}
	return true;
}

/*
 * Known bug 2: fl_detect() on '*' and 11 digits (12 bytes) says UNKNOWN
 * without need_more, though '*', 11 digits, CR LF is Redis: detect_redis()
 * sets *maybe for i <= 11 where i counts the '*' too.
 */
FZ_HARNESS static inline bool fz_redis_11_digits(const uint8_t *d, size_t k)
{
	if (k != 12 || d[0] != '*')
		return false;
	for (size_t i = 1; i < k; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	return true;
}

/*
 * Known bug 3: fl_detect_joined() on exactly the 5-byte header of a Query
 * ('Q' and a length) says POSTGRES, but with the next byte, if it is not
 * text ("Q\0\0\0 \xd3"), UNKNOWN and final: fl_pg_detect_typed() checks
 * the first query byte only when it has it, so the verdict depends on
 * where the first feed ends.
 */
FZ_HARNESS static inline bool fz_joined_q_header(const uint8_t *d, size_t k, enum fl_proto part,
				      enum fl_proto whole)
{
	return k == 5 && d[0] == 'Q' && part == FL_PROTO_POSTGRES &&
	       whole == FL_PROTO_UNKNOWN;
}

/* ---- text functions ---------------------------------------------------- */

/* fl_sql_normalize() into an exact-size buffer: bounded, literal-free, idempotent. */
FZ_HARNESS static inline void fz_check_sql(const char *in, size_t n, size_t out_size)
{
	char *out = malloc(out_size), *again = malloc(out_size);
	size_t len, len2;

	FZ_ASSERT(out && again);
	len = fl_sql_normalize(in, n, out, out_size);
	FZ_ASSERT(len < out_size && out[len] == '\0' && strlen(out) == len);
	FZ_ASSERT(len <= strnlen(in, n));	/* literals and spaces only shrink */
	FZ_ASSERT(fz_sql_printable(out, len));
	len2 = fl_sql_normalize(out, len, again, out_size);
	FZ_ASSERT(len2 == len && !memcmp(out, again, len));	/* nothing left to hide */
	free(out);
	free(again);
}

/* The route part of "METHOD route" never holds a query or a fragment. */
FZ_HARNESS static inline void fz_check_route_part(const char *op)
{
	const char *sp = strchr(op, ' ');

	FZ_ASSERT(sp != NULL || strlen(op) >= FL_OP_MAX - 5);
	if (sp)
		FZ_ASSERT(!strpbrk(sp + 1, "?#"));
}

/* fl_http_route() into an exact-size buffer. */
FZ_HARNESS static inline void fz_check_route(const char *m, size_t mlen, const char *t,
				  size_t tlen, size_t out_size)
{
	char *out = malloc(out_size);
	size_t len;

	FZ_ASSERT(out);
	len = fl_http_route(m, mlen, t, tlen, out, out_size);
	FZ_ASSERT(len < out_size && out[len] == '\0');
	FZ_ASSERT(fz_printable(out, len));
	/* a '?' may stand for a control byte; else the query string leaked */
	if (fz_printable(t, tlen) && fz_printable(m, mlen) && !memchr(m, ' ', mlen) &&
	    !memchr(m, '?', mlen) && !memchr(m, 0, mlen) && !memchr(t, 0, tlen))
		FZ_ASSERT(!strpbrk(out + (mlen < len ? mlen : len), "?#"));
	free(out);
}

/* ---- streams ----------------------------------------------------------- */

struct fz_conn {
	enum fl_proto proto;
	struct fl_parser *p;
	uint64_t now;		/* ts of the call in progress */
	uint64_t fed[2];	/* bytes fed, per side */
	uint64_t passed[2];	/* bytes fed or gapped, per side */
	uint64_t rec_bytes[2];	/* req_bytes and resp_bytes summed over records */
	uint64_t last_start;	/* start_ns of the last record */
	uint64_t records;
	bool given_up;		/* stats said so after an earlier call */
	size_t piece;		/* feed everything in pieces of this many bytes; 0: as given */
	struct fl_record *log;	/* the first FZ_LOG_MAX records */
	size_t nlog, caplog;	/* grown by doubling: most inputs make a few */
	struct fl_parser_stats stats; /* final counters */
};

FZ_HARNESS static inline bool fz_redis_name(const char *op)
{
	if (!strcmp(op, "UNKNOWN"))
		return true;
	for (const char *c = op; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '.' || *c == '-'))
			return false;
	return op[0] != '\0';
}

/* The operation keeps no literal or value: per protocol. */
FZ_HARNESS static inline void fz_check_op(enum fl_proto proto, const char *op)
{
	char again[FL_OP_MAX];

	switch (proto) {
	case FL_PROTO_HTTP:
		fz_check_route_part(op);
		break;
	case FL_PROTO_GRPC:	/* "package.Service/Method": a path, no query */
		FZ_ASSERT(!strpbrk(op, "?#"));
		break;
	case FL_PROTO_POSTGRES:
		fl_sql_normalize(op, strlen(op), again, sizeof(again));
		FZ_ASSERT(!strcmp(again, op));
		break;
	case FL_PROTO_REDIS:
		FZ_ASSERT(fz_redis_name(op));
		break;
	case FL_PROTO_MYSQL:	/* SQL (MySQL rules) or a command name */
		fl_sql_normalize_mysql(op, strlen(op), again, sizeof(again));
		FZ_ASSERT(!strcmp(again, op));
		break;
	default:
		FZ_ASSERT(!"record of an unknown protocol");
	}
}

FZ_HARNESS static inline void fz_on_record(const struct fl_record *r, void *ctx)
{
	struct fz_conn *c = ctx;

	FZ_ASSERT(!c->given_up);	/* a given-up parser is silent */
	/* an HTTP/2 connection gives plain HTTP and gRPC records */
	FZ_ASSERT(c->proto == FL_PROTO_HTTP2 ?
		  r->proto == FL_PROTO_HTTP || r->proto == FL_PROTO_GRPC :
		  r->proto == c->proto);
	FZ_ASSERT(memchr(r->operation, 0, sizeof(r->operation)));
	FZ_ASSERT(c->proto == FL_PROTO_POSTGRES || c->proto == FL_PROTO_MYSQL ?
		  fz_sql_printable(r->operation, strlen(r->operation)) :
		  fz_printable(r->operation, strlen(r->operation)));
	FZ_ASSERT(memchr(r->status_text, 0, sizeof(r->status_text)));
	FZ_ASSERT(fz_printable(r->status_text, strlen(r->status_text)));
	FZ_ASSERT(r->start_ns <= r->end_ns && r->end_ns == c->now);
	/* records come in request order; HTTP/2's as their streams end */
	FZ_ASSERT(c->proto == FL_PROTO_HTTP2 || r->start_ns >= c->last_start);
	FZ_ASSERT(r->status >= 0 && r->status <= 999);
	FZ_ASSERT(!(r->error && r->client_error));
	c->rec_bytes[0] += r->req_bytes;
	c->rec_bytes[1] += r->resp_bytes;
	/* each byte that went by belongs to one message at most */
	FZ_ASSERT(c->rec_bytes[0] <= c->passed[0] && c->rec_bytes[1] <= c->passed[1]);
	fz_check_op(r->proto, r->operation);
	c->last_start = r->start_ns;
	if (c->records < FZ_LOG_MAX) {
		/* a 1.4 MB block per input cost more than the parsers: grow it */
		if (c->nlog == c->caplog) {
			c->caplog = c->caplog ? 2 * c->caplog : 16;
			c->log = realloc(c->log, sizeof(*c->log) * c->caplog);
		}
		FZ_ASSERT(c->log);
		c->log[c->nlog++] = *r;
	}
	c->records++;
}

FZ_HARNESS static inline void fz_check_stats(struct fz_conn *c)
{
	const struct fl_parser_stats *st = fl_parser_stats(c->p);

	FZ_ASSERT(st->unparsed_bytes <= c->fed[0] + c->fed[1]);
	FZ_ASSERT(st->given_up <= 1);
	FZ_ASSERT(!c->given_up || st->given_up);
	c->given_up = st->given_up;
}

FZ_HARNESS static inline void fz_feed(struct fz_conn *c, int side, const uint8_t *d,
			   size_t n, bool bytewise)
{
	size_t piece = bytewise ? 1 : c->piece ? c->piece : n;
	/* one exact-size block per piece, so ASan sees a read past it; a
	 * byte-wise feed reuses one 1-byte block (a malloc per byte was
	 * most of a byte-wise replay's time) */
	uint8_t *one = piece == 1 ? malloc(1) : NULL;

	for (size_t off = 0; off < n; off += piece) {
		size_t k = n - off < piece ? n - off : piece;
		uint8_t *copy = k == 1 && one ? one : malloc(k);

		FZ_ASSERT(copy);
		memcpy(copy, d + off, k);
		c->fed[side] += k;
		c->passed[side] += k;
		FZ_ASSERT(fl_parser_feed(c->p, (enum fl_side)side, c->now, copy, k,
					 fz_on_record, c) == 0);
		if (copy != one)
			free(copy);
		fz_check_stats(c);
	}
	free(one);
}

FZ_HARNESS static inline uint32_t fz_take(const uint8_t **d, size_t *n, size_t bytes)
{
	uint32_t v = 0;

	for (size_t i = 0; i < bytes && *n; i++, (*d)++, (*n)--)
		v |= (uint32_t)**d << (8 * i);
	return v;
}

FZ_HARNESS static inline void fz_open(struct fz_conn *c, enum fl_proto proto)
{
	memset(c, 0, sizeof(*c));
	c->proto = proto;
	c->now = 1;
	c->p = fl_parser_new(proto);
	FZ_ASSERT(c->p);
}

FZ_HARNESS static inline void fz_close(struct fz_conn *c)
{
	c->now++;
	fl_parser_close(c->p, c->now, fz_on_record, c);
	fz_check_stats(c);
	c->stats = *fl_parser_stats(c->p);
	fl_parser_free(c->p);
}

/* fz_run_request() - @d as the whole request side of a @proto connection. */
FZ_HARNESS static inline void fz_run_request(enum fl_proto proto, bool joined, const uint8_t *d,
				  size_t n)
{
	struct fz_conn c;

	fz_open(&c, proto);
	if (joined)
		fl_parser_join(c.p);
	fz_feed(&c, FL_SIDE_REQUEST, d, n, false);
	fz_close(&c);
	free(c.log);
}

/* Run the program @d into @c (opened here, closed at the end). */
FZ_HARNESS static inline void fz_exec(struct fz_conn *c, enum fl_proto proto, const uint8_t *d,
			   size_t n, size_t piece)
{
	uint64_t budget = FZ_FEED_BUDGET;
	bool bytewise;

	fz_open(c, proto);
	c->piece = piece;
	if (n && (d[0] & 0x10))
		fl_parser_join(c->p);
	while (n) {
		uint8_t op = (uint8_t)fz_take(&d, &n, 1);
		int side = op & 1, kind = (op >> 1) & 3;
		size_t len, count = 1;

		bytewise = op & 8;
		c->now += op >> 5;
		if (kind == 2) {
			len = fz_take(&d, &n, 2);
			if (op & 8)
				len <<= 12;
			c->passed[side] += len;
			fl_parser_gap(c->p, (enum fl_side)side, c->now, len, fz_on_record, c);
			fz_check_stats(c);
			continue;
		}
		len = fz_take(&d, &n, kind == 1 ? 2 : 1);
		if (kind == 3) {
			count = fz_take(&d, &n, 1) + 1;
			count *= bytewise ? 16 : 1;
			bytewise = false;
		}
		len = len < n ? len : n;
		for (size_t i = 0; i < count && len && budget >= len; i++, budget -= len)
			fz_feed(c, side, d, len, bytewise);
		d += len;
		n -= len;
	}
	fz_close(c);
}

FZ_HARNESS static inline bool fz_same_record(const struct fl_record *a, const struct fl_record *b)
{
	return !strcmp(a->operation, b->operation) && a->status == b->status &&
	       !strcmp(a->status_text, b->status_text) && a->error == b->error &&
	       a->client_error == b->client_error && a->start_ns == b->start_ns &&
	       a->end_ns == b->end_ns && a->req_bytes == b->req_bytes &&
	       a->resp_bytes == b->resp_bytes;
}

/*
 * fz_run_stream() - one connection of @proto driven by the language above.
 * A connection the parser followed without losing framing (no resync, no
 * unparsed byte, not given up) must give the same records and counters when
 * every byte comes in a call of its own: where feeds are cut never matters.
 */
FZ_HARNESS static inline void fz_run_stream(enum fl_proto proto, const uint8_t *d, size_t n)
{
	struct fz_conn c, b;

	fz_exec(&c, proto, d, n, 0);
	if (!c.stats.resyncs && !c.stats.unparsed_bytes && !c.stats.given_up &&
	    c.fed[0] + c.fed[1] <= FZ_SPLIT_MAX && c.records <= FZ_LOG_MAX) {
		/* byte by byte up to FZ_BYTEWISE_MAX; past that, a feed per
		 * byte cost most of the time (mysql: 1.5 s of 1.75 s per 30,000
		 * inputs), so pieces of 2..32 bytes (from the input's size):
		 * every cut still lands at many offsets over a campaign */
		size_t fed = c.fed[0] + c.fed[1];
		fz_exec(&b, proto, d, n, fed <= FZ_BYTEWISE_MAX ? 1 : 2 + fed % 31);
		FZ_ASSERT(!memcmp(&b.stats, &c.stats, sizeof(b.stats)));
		FZ_ASSERT(b.records == c.records);
		for (size_t i = 0; i < c.nlog; i++)
			FZ_ASSERT(fz_same_record(&b.log[i], &c.log[i]));
		free(b.log);
	}
	free(c.log);
}

typedef enum fl_proto (*fz_detect_fn)(const uint8_t *, size_t, bool *);

/*
 * fz_check_detect() - verdicts of @detect (fl_detect or fl_detect_joined)
 * on prefixes agree with its verdict on the whole.
 */
FZ_HARNESS static inline void fz_check_detect(fz_detect_fn detect, const uint8_t *d, size_t n)
{
	bool more, pmore;
	enum fl_proto whole = detect(d, n, &more), part;

	FZ_ASSERT(whole < FL_PROTO_COUNT && fl_proto_name(whole));
	FZ_ASSERT(!(whole != FL_PROTO_UNKNOWN && more));
	for (size_t k = 0; k < n && k < 64; k++) {
		uint8_t *copy = malloc(k ? k : 1);

		FZ_ASSERT(copy);
		memcpy(copy, d, k);
		part = detect(copy, k, &pmore);
		free(copy);
		if (part != FL_PROTO_UNKNOWN && !FZ_KNOWN(fz_joined_q_header(d, k, part, whole)))
			FZ_ASSERT(part == whole);	/* more bytes never change a verdict */
		else if (!pmore && !FZ_KNOWN(fz_redis_11_digits(d, k)))
			FZ_ASSERT(whole == FL_PROTO_UNKNOWN); /* "no" means no */
	}
}

#endif /* FAULTLINE_FUZZ_H */
