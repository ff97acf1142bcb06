/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Golden byte streams: every case under tests/golden/<proto>/<case>/ (proto
 * as fl_proto_name() spells it) is replayed whole, then with one extra feed
 * boundary at every byte offset of each direction, then one byte per feed,
 * and must give exactly the records in its `expected` file and the counters
 * in its `stats` file, every time. See docs/testing.md for the file formats;
 * in short:
 *
 *   request, response  raw bytes of each direction (either may be absent)
 *   script             optional feed order, one step a line:
 *                        req N | resp N     feed the next N bytes ('*': rest)
 *                        gap req N | gap resp N   N bytes not captured
 *                        close              the connection closes
 *                        join               (first step only) the agent
 *                                           joined the connection mid-life
 *                      default: "req *", "resp *"; a close is implied at
 *                      the end. Step i (from 1) happens at ts = i * 1000.
 *   expected           one line per record, tab-separated: operation,
 *                      status, status_text, error, client_error,
 *                      req_bytes, resp_bytes; '#' starts a comment line
 *   stats              optional "name value" lines (resyncs,
 *                      unparsed_bytes, unpaired, requests_lost,
 *                      given_up, unnamed); absent: all 0
 *
 * HTTP/2 connections have two directories: http2/ (plain requests: records
 * of protocol "http") and grpc/ (records of protocol "grpc"); both run the
 * HTTP/2 parser.
 *
 * Every fed piece is copied into a buffer of exactly its size, so that an
 * over-read is caught by the ASan build. Run from the repository root (make
 * does), or set FL_GOLDEN_DIR.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "proto.h"

#define GOLDEN_DIR "tests/golden"
#define STEP_TS 1000		/* ns between two steps of a script */
#define MIN_CASES 6		/* fewer cases per protocol is a setup error */
#define FILE_MAX (1 << 20)	/* largest golden file read, bytes */

struct blob {
	uint8_t *d;
	size_t n;
};

enum step_kind { STEP_FEED, STEP_GAP, STEP_CLOSE };

struct step {
	enum step_kind kind;
	enum fl_side side;
	size_t off;		/* offset in the side's stream */
	size_t n;		/* bytes */
};

/* A record as `expected` spells it. */
struct want {
	char op[FL_OP_MAX];
	int status;
	char status_text[16];
	bool error, client_error;
	uint64_t req_bytes, resp_bytes;
};

struct gcase {
	char name[512];		/* "http/keepalive" */
	enum fl_proto proto;	/* of the parser */
	enum fl_proto rec_proto; /* of the records */
	struct blob stream[2];	/* indexed by enum fl_side */
	struct step *steps;
	size_t nsteps;
	struct want *want;
	size_t nwant;
	struct fl_parser_stats stats;
	bool join;		/* fl_parser_join() before the first step */
};

struct recs {
	size_t n, cap;
	struct fl_record *r;
	bool times_bad;		/* a record ended before it started */
};

/* ---- loading ----------------------------------------------------------- */

/* Whole file into @b; a missing file is empty when @optional. 0 or -errno. */
static int read_file(const char *dir, const char *name, bool optional,
		     struct blob *b)
{
	char path[1024];
	FILE *f;
	long sz;

	b->d = NULL;
	b->n = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return optional && errno == ENOENT ? 0 : -errno;
	if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || sz > FILE_MAX ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EFBIG;
	}
	b->d = malloc((size_t)sz + 1);	/* +1: text files get a NUL */
	if (!b->d || fread(b->d, 1, (size_t)sz, f) != (size_t)sz) {
		fclose(f);
		free(b->d);
		b->d = NULL;
		return -EIO;
	}
	b->d[sz] = '\0';
	b->n = (size_t)sz;
	fclose(f);
	return 0;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end;
}

static bool add_step(struct gcase *c, enum step_kind kind, enum fl_side side,
		     const char *count, size_t *pos)
{
	size_t left = c->stream[side].n - pos[side];
	uint64_t n = left;
	struct step *s;

	if (kind != STEP_CLOSE && strcmp(count, "*") && !parse_u64(count, &n))
		return false;
	if (kind != STEP_CLOSE && (n == 0 || n > left))
		return false;
	s = realloc(c->steps, sizeof(*s) * (c->nsteps + 1));
	if (!s)
		return false;
	c->steps = s;
	s = &c->steps[c->nsteps++];
	s->kind = kind;
	s->side = side;
	s->off = pos[side];
	s->n = kind == STEP_CLOSE ? 0 : (size_t)n;
	pos[side] += s->n;
	return true;
}

static int side_of(const char *w)
{
	if (w && !strcmp(w, "req"))
		return FL_SIDE_REQUEST;
	if (w && !strcmp(w, "resp"))
		return FL_SIDE_RESPONSE;
	return -1;
}

/* script (or its default) into steps; every byte of both streams used once. */
static bool parse_script(struct gcase *c, char *text, char *why, size_t wn)
{
	size_t pos[2] = { 0, 0 };
	char *save = NULL, *line;
	int lineno = 0;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *w[4] = { 0 }, *s2 = NULL;
		int nw = 0, sd;
		bool ok;

		lineno++;
		for (char *t = strtok_r(line, " \t\r", &s2); t && nw < 4;
		     t = strtok_r(NULL, " \t\r", &s2))
			w[nw++] = t;
		if (nw == 0 || w[0][0] == '#')
			continue;
		if (!strcmp(w[0], "join"))
			ok = nw == 1 && c->nsteps == 0 && !c->join && (c->join = true);
		else if (!strcmp(w[0], "close"))
			ok = nw == 1 && add_step(c, STEP_CLOSE, FL_SIDE_REQUEST, NULL, pos);
		else if (!strcmp(w[0], "gap"))
			ok = nw == 3 && (sd = side_of(w[1])) >= 0 &&
			     add_step(c, STEP_GAP, (enum fl_side)sd, w[2], pos);
		else
			ok = nw == 2 && (sd = side_of(w[0])) >= 0 &&
			     add_step(c, STEP_FEED, (enum fl_side)sd, w[1], pos);
		if (!ok) {
			snprintf(why, wn, "script line %d: bad step or count", lineno);
			return false;
		}
	}
	if (!text) {
		if ((c->stream[0].n && !add_step(c, STEP_FEED, FL_SIDE_REQUEST, "*", pos)) ||
		    (c->stream[1].n && !add_step(c, STEP_FEED, FL_SIDE_RESPONSE, "*", pos))) {
			snprintf(why, wn, "out of memory");
			return false;
		}
	}
	for (size_t i = 0; i + 1 < c->nsteps; i++) {
		if (c->steps[i].kind == STEP_CLOSE) {
			snprintf(why, wn, "script: steps after close");
			return false;
		}
	}
	if (pos[0] != c->stream[0].n || pos[1] != c->stream[1].n) {
		snprintf(why, wn, "script leaves %zu request and %zu response bytes unused",
			 c->stream[0].n - pos[0], c->stream[1].n - pos[1]);
		return false;
	}
	return true;
}

static bool parse_flag(const char *s, bool *v)
{
	if (strcmp(s, "0") && strcmp(s, "1"))
		return false;
	*v = s[0] == '1';
	return true;
}

/* One `expected` line: 7 tab-separated fields (status_text may be empty). */
static bool parse_want(char *line, struct want *w)
{
	char *f[7];
	uint64_t status;
	int n = 0;

	for (char *p = line; n < 7; n++) {
		f[n] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (n != 6 || strlen(f[0]) >= sizeof(w->op) ||
	    strlen(f[2]) >= sizeof(w->status_text) || !parse_u64(f[1], &status) ||
	    status > 999 || !parse_flag(f[3], &w->error) ||
	    !parse_flag(f[4], &w->client_error) || !parse_u64(f[5], &w->req_bytes) ||
	    !parse_u64(f[6], &w->resp_bytes))
		return false;
	strcpy(w->op, f[0]);
	w->status = (int)status;
	strcpy(w->status_text, f[2]);
	return true;
}

static bool parse_expected(struct gcase *c, char *text, char *why, size_t wn)
{
	char *save = NULL, *line;
	int lineno = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct want *w;

		lineno++;
		line[strcspn(line, "\r")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		w = realloc(c->want, sizeof(*w) * (c->nwant + 1));
		if (!w)
			return false;
		c->want = w;
		if (!parse_want(line, &c->want[c->nwant])) {
			snprintf(why, wn, "expected line %d: want 7 tab-separated fields", lineno);
			return false;
		}
		c->nwant++;
	}
	return true;
}

static bool parse_stats(struct gcase *c, char *text, char *why, size_t wn)
{
	static const char *const names[] = { "resyncs", "unparsed_bytes", "unpaired",
					     "requests_lost", "given_up", "unnamed" };
	uint64_t *vals[] = { &c->stats.resyncs, &c->stats.unparsed_bytes,
			     &c->stats.unpaired, &c->stats.requests_lost,
			     &c->stats.given_up, &c->stats.unnamed };
	char *save = NULL, *line;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[32], val[32];
		size_t i;

		if (line[0] == '#' || sscanf(line, "%31s %31s", name, val) < 1)
			continue;
		for (i = 0; i < sizeof(names) / sizeof(names[0]) && strcmp(name, names[i]); i++)
			;
		if (i == sizeof(names) / sizeof(names[0]) || !parse_u64(val, vals[i])) {
			snprintf(why, wn, "stats: bad line \"%s\"", line);
			return false;
		}
	}
	return true;
}

static void case_release(struct gcase *c)
{
	free(c->stream[0].d);
	free(c->stream[1].d);
	free(c->steps);
	free(c->want);
	memset(c, 0, sizeof(*c));
}

static bool case_load(struct gcase *c, const char *dir, char *why, size_t wn)
{
	struct blob script, expected, stats;
	bool ok = false;

	if (read_file(dir, "request", true, &c->stream[0]) ||
	    read_file(dir, "response", true, &c->stream[1])) {
		snprintf(why, wn, "cannot read request/response");
		return false;
	}
	if (read_file(dir, "expected", false, &expected)) {
		snprintf(why, wn, "cannot read expected");
		return false;
	}
	if (read_file(dir, "script", true, &script) || read_file(dir, "stats", true, &stats)) {
		snprintf(why, wn, "cannot read script/stats");
		free(expected.d);
		return false;
	}
	ok = parse_script(c, (char *)script.d, why, wn) &&
	     parse_expected(c, (char *)expected.d, why, wn) &&
	     parse_stats(c, (char *)stats.d, why, wn);
	free(script.d);
	free(expected.d);
	free(stats.d);
	return ok;
}

/* ---- replay ------------------------------------------------------------ */

static void on_rec(const struct fl_record *r, void *ctx)
{
	struct recs *l = ctx;

	if (r->end_ns < r->start_ns)
		l->times_bad = true;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct fl_record *n = realloc(l->r, sizeof(*n) * cap);

		if (!n)
			abort();
		l->r = n;
		l->cap = cap;
	}
	l->r[l->n++] = *r;
}

/* One feed, from a copy of exactly @n bytes (an over-read trips ASan). */
static int feed_exact(struct fl_parser *p, enum fl_side side, uint64_t ts,
		      const uint8_t *d, size_t n, struct recs *out)
{
	uint8_t *copy = malloc(n);
	int err;

	if (!copy)
		abort();
	memcpy(copy, d, n);
	err = fl_parser_feed(p, side, ts, copy, n, on_rec, out);
	free(copy);
	return err;
}

/*
 * Replay @c into @out. Extra feed boundary at offset @cut of side @cut_side
 * (0: none); @bytewise: one byte per feed. Returns the number of feed calls
 * that did not return 0.
 */
static int replay(const struct gcase *c, struct fl_parser *p, int cut_side,
		  size_t cut, bool bytewise, struct recs *out)
{
	uint64_t ts = 0;
	bool closed = false;
	int errs = 0;

	if (c->join)
		fl_parser_join(p);
	for (size_t i = 0; i < c->nsteps; i++) {
		const struct step *s = &c->steps[i];
		const uint8_t *d = c->stream[s->side].d;

		ts = (uint64_t)(i + 1) * STEP_TS;
		if (s->kind == STEP_CLOSE) {
			fl_parser_close(p, ts, on_rec, out);
			closed = true;
		} else if (s->kind == STEP_GAP) {
			fl_parser_gap(p, s->side, ts, s->n, on_rec, out);
		} else if (bytewise) {
			for (size_t k = 0; k < s->n; k++)
				errs += !!feed_exact(p, s->side, ts, d + s->off + k, 1, out);
		} else if ((int)s->side == cut_side && cut > s->off && cut < s->off + s->n) {
			errs += !!feed_exact(p, s->side, ts, d + s->off, cut - s->off, out);
			errs += !!feed_exact(p, s->side, ts, d + cut, s->off + s->n - cut, out);
		} else {
			errs += !!feed_exact(p, s->side, ts, d + s->off, s->n, out);
		}
	}
	if (!closed)
		fl_parser_close(p, ts + STEP_TS, on_rec, out);
	return errs;
}

static const char *mode_str(int cut_side, size_t cut, bool bytewise, char *buf,
			    size_t n)
{
	if (bytewise)
		snprintf(buf, n, "one byte per feed");
	else if (cut_side < 0)
		snprintf(buf, n, "whole");
	else
		snprintf(buf, n, "%s split at byte %zu",
			 cut_side == FL_SIDE_REQUEST ? "request" : "response", cut);
	return buf;
}

static bool want_matches(const struct fl_record *r, const struct want *w,
			 enum fl_proto proto, char *why, size_t wn)
{
	if (r->proto != proto)
		snprintf(why, wn, "proto %d, want %d", r->proto, proto);
	else if (!memchr(r->operation, 0, sizeof(r->operation)) || strcmp(r->operation, w->op))
		snprintf(why, wn, "operation \"%.*s\", want \"%s\"",
			 (int)sizeof(r->operation), r->operation, w->op);
	else if (r->status != w->status)
		snprintf(why, wn, "status %d, want %d", r->status, w->status);
	else if (!memchr(r->status_text, 0, sizeof(r->status_text)) ||
		 strcmp(r->status_text, w->status_text))
		snprintf(why, wn, "status_text \"%.*s\", want \"%s\"",
			 (int)sizeof(r->status_text), r->status_text, w->status_text);
	else if (r->error != w->error || r->client_error != w->client_error)
		snprintf(why, wn, "error/client_error %d/%d, want %d/%d", r->error,
			 r->client_error, w->error, w->client_error);
	else if (r->req_bytes != w->req_bytes || r->resp_bytes != w->resp_bytes)
		snprintf(why, wn, "req/resp bytes %" PRIu64 "/%" PRIu64 ", want %" PRIu64
			 "/%" PRIu64, r->req_bytes, r->resp_bytes, w->req_bytes, w->resp_bytes);
	else
		return true;
	return false;
}

/* What a replay gave, in the `expected` format: for a person to compare. */
static void print_recs(const struct recs *got)
{
	fprintf(stderr, "    records of this replay:\n");
	for (size_t i = 0; i < got->n; i++) {
		const struct fl_record *r = &got->r[i];

		fprintf(stderr, "    %.*s\t%d\t%.*s\t%d\t%d\t%" PRIu64 "\t%" PRIu64 "\n",
			(int)sizeof(r->operation), r->operation, r->status,
			(int)sizeof(r->status_text), r->status_text, r->error,
			r->client_error, r->req_bytes, r->resp_bytes);
	}
}

/* One replay's verdict: 0 or 1, with @why set. */
static int judge(const struct gcase *c, const struct recs *got,
		 const struct fl_parser_stats *st, int errs, const struct recs *ref,
		 char *why, size_t wn)
{
	char one[600];

	if (errs)
		return snprintf(why, wn, "%d feeds failed", errs), 1;
	if (got->times_bad)
		return snprintf(why, wn, "a record has end_ns < start_ns"), 1;
	if (got->n != c->nwant)
		return snprintf(why, wn, "%zu records, want %zu", got->n, c->nwant), 1;
	if (memcmp(st, &c->stats, sizeof(*st)))
		return snprintf(why, wn, "stats resyncs %" PRIu64 " unparsed_bytes %" PRIu64
				" unpaired %" PRIu64 " requests_lost %" PRIu64
				" given_up %" PRIu64 " unnamed %" PRIu64 ", want %" PRIu64
				" %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64,
				st->resyncs, st->unparsed_bytes, st->unpaired,
				st->requests_lost, st->given_up, st->unnamed,
				c->stats.resyncs, c->stats.unparsed_bytes,
				c->stats.unpaired, c->stats.requests_lost,
				c->stats.given_up, c->stats.unnamed), 1;
	for (size_t i = 0; i < got->n; i++) {
		const struct fl_record *r = &got->r[i];

		if (!want_matches(r, &c->want[i], c->rec_proto, one, sizeof(one)))
			return snprintf(why, wn, "record %zu: %s", i + 1, one), 1;
		if (ref && (r->start_ns != ref->r[i].start_ns || r->end_ns != ref->r[i].end_ns))
			return snprintf(why, wn, "record %zu: times %" PRIu64 "..%" PRIu64
					", whole replay %" PRIu64 "..%" PRIu64, i + 1,
					r->start_ns, r->end_ns, ref->r[i].start_ns,
					ref->r[i].end_ns), 1;
	}
	return 0;
}

/*
 * One replay of @c checked against `expected` and `stats`, and against the
 * times of the whole replay @ref (NULL: this is the whole replay, and its
 * records are kept in *@keep). Prints a failure when @report (with the
 * records, for the whole replay). Returns 0 or 1.
 */
static int check_replay(const struct gcase *c, int cut_side, size_t cut,
			bool bytewise, const struct recs *ref, struct recs *keep,
			bool report)
{
	struct fl_parser *p = fl_parser_new(c->proto);
	struct recs got = { 0 };
	char why[800], mode[64];
	int errs, bad;

	if (!p) {
		fprintf(stderr, "  %s: fl_parser_new: %s\n", c->name, strerror(errno));
		return 1;
	}
	errs = replay(c, p, cut_side, cut, bytewise, &got);
	bad = judge(c, &got, fl_parser_stats(p), errs, ref, why, sizeof(why));
	fl_parser_free(p);
	if (bad && report) {
		fprintf(stderr, "  %s (%s): %s\n", c->name,
			mode_str(cut_side, cut, bytewise, mode, sizeof(mode)), why);
		if (!ref)
			print_recs(&got);
	}
	if (!ref && !bad)
		*keep = got;	/* the whole replay: the reference for times */
	else
		free(got.r);
	return bad;
}

/* Every replay mode of @c; prints the first failure. Returns failures. */
static int check_case(const struct gcase *c, size_t *replays)
{
	struct recs ref = { 0 };
	int bad;

	(*replays)++;
	if (check_replay(c, -1, 0, false, NULL, &ref, true))
		return 1;	/* the other modes would only repeat it */
	bad = 0;
	for (size_t i = 0; i < c->nsteps; i++) {	/* a cut inside each feed */
		const struct step *s = &c->steps[i];

		for (size_t k = s->off + 1; s->kind == STEP_FEED && k < s->off + s->n; k++) {
			(*replays)++;
			bad += check_replay(c, (int)s->side, k, false, &ref, NULL, !bad);
		}
	}
	(*replays)++;
	bad += check_replay(c, -1, 0, true, &ref, NULL, !bad);
	free(ref.r);
	return bad;
}

/* ---- the walk ---------------------------------------------------------- */

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Every case of tests/golden/<@rec_proto>/, parsed by a @proto parser. */
static void check_dir(enum fl_proto proto, enum fl_proto rec_proto)
{
	const char *root = getenv("FL_GOLDEN_DIR");
	char dir[600], cdir[1200], why[400];
	struct dirent **ents;
	size_t replays = 0;
	int n, cases = 0, failed = 0;

	snprintf(dir, sizeof(dir), "%s/%s", root ? root : GOLDEN_DIR,
		 fl_proto_name(rec_proto == FL_PROTO_HTTP && proto == FL_PROTO_HTTP2 ?
			       proto : rec_proto));
	n = scandir(dir, &ents, not_dot, by_name);
	if (n < 0) {
		fprintf(stderr, "  cannot list '%s': %s (run from the repository root)\n",
			dir, strerror(errno));
		CHECK(n >= 0);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct gcase c = { .proto = proto, .rec_proto = rec_proto };
		struct stat sb;

		snprintf(cdir, sizeof(cdir), "%s/%s", dir, ents[i]->d_name);
		if (stat(cdir, &sb) || !S_ISDIR(sb.st_mode))
			goto next;
		snprintf(c.name, sizeof(c.name), "%s/%s", strrchr(dir, '/') + 1, ents[i]->d_name);
		cases++;
		if (!case_load(&c, cdir, why, sizeof(why))) {
			fprintf(stderr, "  %s: %s\n", c.name, why);
			failed++;
		} else {
			failed += check_case(&c, &replays) > 0;
		}
		case_release(&c);
next:
		free(ents[i]);
	}
	free(ents);
	printf("  %s: %d cases, %zu replays, %d failed\n", strrchr(dir, '/') + 1, cases,
	       replays, failed);
	if (cases < MIN_CASES)
		fprintf(stderr, "  %s: only %d cases, want at least %d\n", dir, cases, MIN_CASES);
	CHECK(cases >= MIN_CASES);
	CHECK_EQ_INT(failed, 0);
}

static void test_http(void)
{
	check_dir(FL_PROTO_HTTP, FL_PROTO_HTTP);
}

static void test_postgresql(void)
{
	check_dir(FL_PROTO_POSTGRES, FL_PROTO_POSTGRES);
}

static void test_redis(void)
{
	check_dir(FL_PROTO_REDIS, FL_PROTO_REDIS);
}

static void test_http2(void)
{
	check_dir(FL_PROTO_HTTP2, FL_PROTO_HTTP);
}

static void test_grpc(void)
{
	check_dir(FL_PROTO_HTTP2, FL_PROTO_GRPC);
}

static void test_mysql(void)
{
	check_dir(FL_PROTO_MYSQL, FL_PROTO_MYSQL);
}

RUN_TESTS(test_http, test_postgresql, test_redis, test_mysql, test_http2, test_grpc)
