/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Redis RESP2/RESP3 parser.
 *
 * Requests are arrays of bulk strings ("*3\r\n$3\r\nSET\r\n...") or inline
 * commands (a text line). Only the first element, the command name, is
 * looked at (at most REDIS_NAME_KEEP bytes); every argument is skipped by
 * its declared length, so keys and values are never stored.
 *
 * Replies are parsed value by value with an explicit stack of open
 * aggregates (arrays, maps, sets, pushes, attributes), so any nesting is
 * followed incrementally; bulk payloads are skipped by length. A top-level
 * push ('>') is out-of-band data, not a reply: it is skipped without
 * popping a request. An attribute ('|') annotates the value after it and is
 * not a value of its own. Error values ('-', '!') outside pushes and
 * attributes make the reply an error; status_text is the error's first
 * word when it is an error code (upper-case letters, digits, "_", at
 * most 15: "ERR", "WRONGTYPE"), "ERR" otherwise: never message text.
 *
 * Pub/sub and MONITOR turn the connection into a stream of server messages
 * that answer no request: the parser gives such connections up.
 */
#include <errno.h>
#include <string.h>

#include "proto_int.h"

#define REDIS_NAME_KEEP 32		/* command name bytes kept */
#define REDIS_LINE_KEEP 32		/* header line bytes kept (counts, error word) */
#define REDIS_LINE_MAX FL_BUF_CAP	/* longest line (inline command, status) */
#define REDIS_DEPTH_MAX 32		/* nested aggregates followed */
#define REDIS_BULK_MAX (1ULL << 40)	/* largest bulk length accepted */
#define REDIS_COUNT_MAX (1LL << 31)	/* most elements in an aggregate */

enum req_state {
	RQ_IDLE = 0,		/* next byte starts a command */
	RQ_COUNT,		/* "*<n>" line, after the '*' */
	RQ_ARG_LEN,		/* "$<len>" line of an argument */
	RQ_ARG,			/* argument payload and its CRLF: skipped */
	RQ_INLINE,		/* inline command line */
	RQ_RESYNC,		/* framing lost: wait for a feed starting with '*' */
};

enum resp_state {
	RS_TYPE = 0,		/* a type byte */
	RS_LINE,		/* rest of the line of a value of type @type */
	RS_BULK,		/* bulk payload and its CRLF: skipped */
	RS_RESYNC,		/* framing lost: wait for a feed starting a value */
};

struct req_side {
	enum req_state state;
	struct fl_line line;
	bool in_msg;		/* start_ns and bytes are valid */
	uint64_t start_ns;	/* ts of the feed holding the first byte */
	uint64_t bytes;		/* wire bytes of the command so far */
	int64_t args_left;	/* arguments not read yet, current one included */
	bool first_arg;		/* the argument being read is the command name */
	uint64_t remaining;	/* payload + CRLF bytes left to skip */
	uint64_t name_len;	/* declared length of the command name */
	size_t name_got;	/* name bytes kept */
	char name[REDIS_NAME_KEEP + 1];
};

struct frame {
	int64_t left;		/* values still expected in this aggregate */
	uint8_t kind;		/* its type byte: * % ~ > | */
};

struct resp_side {
	enum resp_state state;
	struct fl_line line;
	uint8_t type;		/* type byte of the value being read */
	bool in_msg;		/* a reply (or push) has started */
	bool push;		/* ... and it is an out-of-band push */
	uint64_t start_ns;	/* ts of the feed holding its first byte */
	uint64_t bytes;		/* wire bytes of the reply so far */
	bool error;		/* an error value was seen in the reply */
	char status_text[16];	/* its first word (an error code), or "ERR" */
	uint64_t remaining;	/* bulk payload + CRLF bytes left to skip */
	uint64_t bulk_len;	/* declared length of the bulk being skipped */
	char word[8];		/* first bytes of a '!' bulk error */
	size_t word_got;	/* bytes in @word */
	bool word_lost;		/* a gap hid part of @word */
	int depth;		/* frames in use */
	struct frame stack[REDIS_DEPTH_MAX];
};

struct redis_parser {
	struct req_side req;
	struct resp_side resp;
};

static struct redis_parser *rp(struct fl_parser *p)
{
	return p->priv;
}

/* Signed decimal of a header line ("-1", "42"); false if malformed. */
static bool parse_int(const struct fl_span *ln, size_t from, int64_t *out)
{
	size_t i = from;
	bool neg = false;
	int64_t v = 0;

	if (ln->truncated)
		return false;
	if (i < ln->len && (ln->p[i] == '-' || ln->p[i] == '+'))
		neg = ln->p[i++] == '-';
	if (i == ln->len || ln->len - i > 18)
		return false;
	for (; i < ln->len; i++) {
		if (!fl_is_digit(ln->p[i]))
			return false;
		v = v * 10 + (ln->p[i] - '0');
	}
	*out = neg ? -v : v;
	return true;
}

static bool is_name_char(uint8_t c)
{
	return fl_is_alpha(c) || fl_is_digit(c) || c == '_' || c == '.' || c == '-';
}

/* Uppercased command name into @op, or "UNKNOWN" if it is not one. */
static void command_op(const char *name, size_t n, bool whole, char *op)
{
	size_t i;

	for (i = 0; i < n && is_name_char((uint8_t)name[i]); i++)
		op[i] = (char)fl_upper((uint8_t)name[i]);
	if (!whole || i == 0 || i < n)
		i = (size_t)stpcpy(op, "UNKNOWN") - (size_t)op;
	op[i] = '\0';
}

static bool is_stream_command(const char *op)
{
	return !strcmp(op, "SUBSCRIBE") || !strcmp(op, "PSUBSCRIBE") ||
	       !strcmp(op, "SSUBSCRIBE") || !strcmp(op, "MONITOR");
}

/* ---- requests ---------------------------------------------------------- */

static int req_done(struct fl_parser *p, struct req_side *r, const char *op)
{
	struct fl_pending *e = fl_pending_push(p, FL_PEND_REQUEST);

	if (!e)
		return -ENOMEM;
	fl_copy_op(e->operation, op);
	e->start_ns = r->start_ns;
	e->req_bytes = r->bytes;
	r->in_msg = false;
	r->state = RQ_IDLE;
	if (is_stream_command(op))
		fl_parser_give_up(p);
	return 0;
}

static int req_arg_done(struct fl_parser *p, struct req_side *r)
{
	char op[REDIS_NAME_KEEP + 8];

	r->first_arg = false;
	if (--r->args_left > 0) {
		r->state = RQ_ARG_LEN;
		return 0;
	}
	command_op(r->name, r->name_got, r->name_len <= REDIS_NAME_KEEP, op);
	return req_done(p, r, op);
}

/* First word of an inline command; an empty line is no command. */
static int req_inline(struct fl_parser *p, struct req_side *r,
		      const struct fl_span *ln)
{
	char op[REDIS_NAME_KEEP + 8];
	size_t i = 0, w;

	while (i < ln->len && (ln->p[i] == ' ' || ln->p[i] == '\t'))
		i++;
	for (w = i; w < ln->len && ln->p[w] != ' ' && ln->p[w] != '\t'; w++)
		if (!is_name_char(ln->p[w]))
			return -EPROTO;
	if (w == i && !ln->truncated) {
		r->in_msg = false;
		r->state = RQ_IDLE;
		return 0;
	}
	if (w - i > REDIS_NAME_KEEP)
		return -EPROTO;
	command_op((const char *)ln->p + i, w - i, true, op);
	return req_done(p, r, op);
}

static int req_line(struct fl_parser *p, struct req_side *r,
		    const struct fl_span *ln)
{
	int64_t v;

	if (r->state == RQ_INLINE)
		return req_inline(p, r, ln);
	if (r->state == RQ_COUNT) {
		if (!parse_int(ln, 0, &v) || v > REDIS_COUNT_MAX)
			return -EPROTO;
		if (v <= 0) {	/* "*0", "*-1": redis runs nothing */
			r->in_msg = false;
			r->state = RQ_IDLE;
			return 0;
		}
		r->args_left = v;
		r->first_arg = true;
		r->state = RQ_ARG_LEN;
		return 0;
	}
	if (!ln->len || ln->p[0] != '$' || !parse_int(ln, 1, &v) || v < 0 ||
	    (uint64_t)v > REDIS_BULK_MAX)
		return -EPROTO;
	r->remaining = (uint64_t)v + 2;
	if (r->first_arg) {
		r->name_len = (uint64_t)v;
		r->name_got = 0;
	}
	r->state = RQ_ARG;
	return 0;
}

/* Argument payload bytes (seen, or not when @d is NULL). */
static int req_arg(struct fl_parser *p, struct req_side *r, const uint8_t *d,
		   size_t take)
{
	if (r->first_arg && d) {
		size_t want = r->name_len < REDIS_NAME_KEEP ? r->name_len : REDIS_NAME_KEEP;
		size_t room = want > r->name_got ? want - r->name_got : 0;
		size_t k = take < room ? take : room;

		memcpy(r->name + r->name_got, d, k);
		r->name_got += k;
	}
	r->remaining -= take;
	r->bytes += take;
	return r->remaining ? 0 : req_arg_done(p, r);
}

/*
 * Can the inline command begun in @l and going on with @d still be valid?
 * Only its first word is checked, so that garbage fails at once instead of
 * being taken for a 64 KiB line.
 */
static bool inline_prefix_ok(const struct fl_line *l, const uint8_t *d, size_t n)
{
	uint8_t buf[REDIS_NAME_KEEP + 16];
	size_t have = l->kept.len < sizeof(buf) ? l->kept.len : sizeof(buf);
	size_t more = sizeof(buf) - have, i = 0, w;

	if (have)
		memcpy(buf, l->kept.data, have);
	memcpy(buf + have, d, n < more ? n : more);
	have += n < more ? n : more;
	while (i < have && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	for (w = i; w < have && is_name_char(buf[w]); w++)
		;
	if (w - i > REDIS_NAME_KEEP)
		return false;
	return w == have || buf[w] == ' ' || buf[w] == '\t' || buf[w] == '\r' ||
	       buf[w] == '\n';
}

static ssize_t req_step_line(struct fl_parser *p, struct req_side *r,
			     const uint8_t *d, size_t n)
{
	struct fl_span ln;
	size_t used = 0;
	int rc;

	if (r->state == RQ_INLINE && r->line.total < REDIS_NAME_KEEP + 16 &&
	    !inline_prefix_ok(&r->line, d, n))
		return -EPROTO;
	rc = fl_line_take(&r->line, d, n, r->state == RQ_INLINE ? REDIS_NAME_KEEP + 64 :
			  REDIS_LINE_KEEP, REDIS_LINE_MAX, &used, &ln);
	if (rc < 0)
		return rc == -E2BIG ? -EPROTO : rc;
	r->bytes += used;
	if (rc == FL_LINE_MORE)
		return (ssize_t)used;
	rc = req_line(p, r, &ln);
	fl_line_reset(&r->line);
	if (rc < 0) {
		r->bytes -= used;
		return rc;
	}
	return (ssize_t)used;
}

static ssize_t req_step(struct fl_parser *p, struct req_side *r, uint64_t ts,
			const uint8_t *d, size_t n)
{
	size_t take;
	int err;

	switch (r->state) {
	case RQ_IDLE:
		r->in_msg = true;
		r->start_ns = ts;
		r->bytes = d[0] == '*';
		r->state = d[0] == '*' ? RQ_COUNT : RQ_INLINE;
		return d[0] == '*';
	case RQ_ARG:
		take = n < r->remaining ? n : (size_t)r->remaining;
		err = req_arg(p, r, d, take);
		return err ? err : (ssize_t)take;
	case RQ_RESYNC:
		return -EPROTO;	/* not reached: feed() resyncs first */
	default:
		return req_step_line(p, r, d, n);
	}
}

/* ---- replies ----------------------------------------------------------- */

static void resp_begin(struct resp_side *s, uint8_t type, uint64_t ts)
{
	s->in_msg = true;
	s->push = type == '>';
	s->start_ns = ts;
	s->bytes = 0;
	s->error = false;
	s->status_text[0] = '\0';
	s->depth = 0;
}

static void resp_done(struct fl_parser *p, struct resp_side *s, uint64_t ts)
{
	struct fl_resp r = {
		.error = s->error,
		.start_ns = s->start_ns,
		.end_ns = ts,
		.bytes = s->bytes,
	};

	memcpy(r.status_text, s->status_text, sizeof(r.status_text));
	if (!s->push)
		fl_pending_complete(p, &r);
	s->in_msg = false;
}

/* A value ended: close every aggregate it completes; maybe the reply. */
static void value_done(struct fl_parser *p, struct resp_side *s, uint64_t ts)
{
	for (;;) {
		struct frame *f;

		if (s->depth == 0) {
			resp_done(p, s, ts);
			return;
		}
		f = &s->stack[s->depth - 1];
		if (--f->left > 0)
			return;
		s->depth--;
		if (f->kind == '|')
			return;	/* attributes precede the value they annotate */
	}
}

/* An error value: the first one outside pushes and attributes counts. */
static void note_error(struct resp_side *s, const uint8_t *w, size_t n)
{
	size_t i = 0;

	if (s->push || s->error)
		return;
	for (int k = 0; k < s->depth; k++)
		if (s->stack[k].kind == '|')
			return;
	s->error = true;
	/* an error code is upper-case ("ERR", "WRONGTYPE", "NOAUTH"); any
	 * other first word may be message text: never kept */
	while (i < n && ((w[i] >= 'A' && w[i] <= 'Z') || w[i] == '_' ||
			 (i && w[i] >= '0' && w[i] <= '9')))
		i++;
	if (!n) {		/* not seen (a gap): unknown */
		s->status_text[0] = '\0';
		return;
	}
	if (!i || i != n || n > sizeof(s->status_text) - 1) {
		memcpy(s->status_text, "ERR", 4);
		return;
	}
	memcpy(s->status_text, w, n);
	s->status_text[n] = '\0';
}

static int open_aggregate(struct fl_parser *p, struct resp_side *s,
			  int64_t count, uint64_t ts)
{
	bool pairs = s->type == '%' || s->type == '|';

	if (count < 0 || (count == 0 && s->type != '|')) {
		if (count < -1 || (count == -1 && s->type != '*'))
			return -EPROTO;
		value_done(p, s, ts);	/* null or empty aggregate */
		return 0;
	}
	if (count == 0)
		return 0;	/* empty attribute: nothing to annotate with */
	if (count > REDIS_COUNT_MAX || s->depth == REDIS_DEPTH_MAX)
		return -EPROTO;
	s->stack[s->depth].kind = s->type;
	s->stack[s->depth].left = pairs ? count * 2 : count;
	s->depth++;
	return 0;
}

static int open_bulk(struct fl_parser *p, struct resp_side *s, int64_t len,
		     uint64_t ts)
{
	if (len == -1 && s->type == '$') {
		value_done(p, s, ts);	/* RESP2 null bulk string */
		return 0;
	}
	if (len < 0 || (uint64_t)len > REDIS_BULK_MAX)
		return -EPROTO;
	s->bulk_len = (uint64_t)len;
	s->remaining = (uint64_t)len + 2;
	s->word_got = 0;
	s->word_lost = false;
	s->state = RS_BULK;
	return 0;
}

static bool simple_ok(uint8_t type, const struct fl_span *ln)
{
	int64_t v;

	switch (type) {
	case ':':
		return parse_int(ln, 0, &v);
	case '_':
		return ln->len == 0;
	case '#':
		return ln->len == 1 && (ln->p[0] == 't' || ln->p[0] == 'f');
	case ',':
	case '(':
		return ln->len > 0;
	default:	/* '+', '-' */
		return true;
	}
}

static int resp_line(struct fl_parser *p, struct resp_side *s,
		     const struct fl_span *ln, uint64_t ts)
{
	int64_t v;

	s->state = RS_TYPE;
	if (strchr("*%~>|", s->type))
		return parse_int(ln, 0, &v) ? open_aggregate(p, s, v, ts) : -EPROTO;
	if (strchr("$!=", s->type))
		return parse_int(ln, 0, &v) ? open_bulk(p, s, v, ts) : -EPROTO;
	if (!simple_ok(s->type, ln))
		return -EPROTO;
	if (s->type == '-') {
		const uint8_t *sp = memchr(ln->p, ' ', ln->len);

		note_error(s, ln->p, sp ? (size_t)(sp - ln->p) : ln->len);
	}
	value_done(p, s, ts);
	return 0;
}

static void resp_bulk(struct fl_parser *p, struct resp_side *s,
		      const uint8_t *d, size_t take, uint64_t ts)
{
	size_t want = s->bulk_len < sizeof(s->word) ? (size_t)s->bulk_len : sizeof(s->word);

	if (s->type == '!' && s->word_got < want) {
		size_t k = take < want - s->word_got ? take : want - s->word_got;

		if (d)
			memcpy(s->word + s->word_got, d, k);
		else
			s->word_lost = true;
		s->word_got += k;
	}
	s->remaining -= take;
	s->bytes += take;
	if (s->remaining)
		return;
	s->state = RS_TYPE;
	if (s->type == '!') {
		const char *sp = memchr(s->word, ' ', s->word_got);

		note_error(s, (const uint8_t *)s->word,
			   s->word_lost ? 0 : sp ? (size_t)(sp - s->word) : s->word_got);
	}
	value_done(p, s, ts);
}

static bool is_type(uint8_t c)
{
	return c && strchr("+-:$*_,#!=(%~>|", c);
}

static ssize_t resp_step_line(struct fl_parser *p, struct resp_side *s,
			      uint64_t ts, const uint8_t *d, size_t n)
{
	struct fl_span ln;
	size_t used = 0;
	int rc;

	rc = fl_line_take(&s->line, d, n, REDIS_LINE_KEEP, REDIS_LINE_MAX,
			  &used, &ln);
	if (rc < 0)
		return rc == -E2BIG ? -EPROTO : rc;
	s->bytes += used;
	if (rc == FL_LINE_MORE)
		return (ssize_t)used;
	rc = resp_line(p, s, &ln, ts);
	fl_line_reset(&s->line);
	if (rc < 0) {
		s->bytes -= used;
		return rc;
	}
	return (ssize_t)used;
}

static ssize_t resp_step(struct fl_parser *p, struct resp_side *s, uint64_t ts,
			 const uint8_t *d, size_t n)
{
	size_t take;

	switch (s->state) {
	case RS_TYPE:
		if (!is_type(d[0]))
			return -EPROTO;
		if (!s->in_msg)
			resp_begin(s, d[0], ts);
		s->type = d[0];
		s->bytes++;
		s->state = RS_LINE;
		return 1;
	case RS_LINE:
		return resp_step_line(p, s, ts, d, n);
	case RS_BULK:
		take = n < s->remaining ? n : (size_t)s->remaining;
		resp_bulk(p, s, d, take, ts);
		return (ssize_t)take;
	default:
		return -EPROTO;	/* not reached: feed() resyncs first */
	}
}

/* ---- loss, feed, gap --------------------------------------------------- */

/*
 * Framing lost at @ts. Request side: the command in progress (or starting
 * in the gap) is gone: a LOST marker (commands are queued only once whole).
 * Response side: drop all pending commands. See proto_int.h.
 */
static void lose(struct fl_parser *p, enum fl_side sd, uint64_t ts)
{
	struct redis_parser *r = rp(p);
	struct fl_pending *m;

	p->stats.resyncs++;
	if (sd == FL_SIDE_REQUEST) {
		m = fl_pending_push(p, FL_PEND_LOST);
		if (m)
			m->start_ns = ts;
		else
			fl_pending_clear(p);
		r->req.state = RQ_RESYNC;
		r->req.in_msg = false;
		fl_line_reset(&r->req.line);
	} else {
		fl_pending_lose(p);
		r->resp.state = RS_RESYNC;
		r->resp.in_msg = false;
		fl_line_reset(&r->resp.line);
	}
}

static bool looks_like_start(enum fl_side sd, const uint8_t *d, size_t n)
{
	if (sd == FL_SIDE_RESPONSE)
		return is_type(d[0]);
	return d[0] == '*' && (n == 1 || fl_is_digit(d[1]) || d[1] == '-');
}

static int redis_feed(struct fl_parser *p, enum fl_side sd, uint64_t ts,
		      const uint8_t *d, size_t n)
{
	struct redis_parser *r = rp(p);
	bool resync = sd == FL_SIDE_REQUEST ? r->req.state == RQ_RESYNC
					    : r->resp.state == RS_RESYNC;
	size_t off = 0;
	ssize_t rc;

	if (resync) {
		if (!looks_like_start(sd, d, n)) {
			fl_parser_unparsed(p, n, false);
			return 0;
		}
		if (sd == FL_SIDE_REQUEST)
			r->req.state = RQ_IDLE;
		else
			r->resp.state = RS_TYPE;
	}
	while (off < n && !p->stats.given_up) {
		rc = sd == FL_SIDE_REQUEST ? req_step(p, &r->req, ts, d + off, n - off)
					   : resp_step(p, &r->resp, ts, d + off, n - off);
		if (rc < 0) {	/* garbage: the rest of this feed is dropped */
			fl_parser_unparsed(p, n - off, rc != -ENOMEM);
			if (!p->stats.given_up)
				lose(p, sd, ts);
			return rc == -ENOMEM ? -ENOMEM : 0;
		}
		off += (size_t)rc;
	}
	if (p->stats.given_up)
		p->stats.unparsed_bytes += n - off;	/* after SUBSCRIBE */
	return 0;
}

/* A gap can only be absorbed by a payload we skip anyway. */
static void redis_gap(struct fl_parser *p, enum fl_side sd, uint64_t ts,
		      size_t n)
{
	struct redis_parser *r = rp(p);
	size_t take;

	if (sd == FL_SIDE_REQUEST) {
		struct req_side *q = &r->req;

		if (q->state == RQ_RESYNC)
			return;
		if (q->state == RQ_ARG && !(q->first_arg && q->name_got < q->name_len &&
					    q->name_got < REDIS_NAME_KEEP)) {
			take = n < q->remaining ? n : (size_t)q->remaining;
			n -= take;
			if (req_arg(p, q, NULL, take) < 0)
				n = n ? n : 1;	/* ENOMEM: treat as lost */
		}
	} else {
		struct resp_side *s = &r->resp;

		if (s->state == RS_RESYNC)
			return;
		if (s->state == RS_BULK) {
			take = n < s->remaining ? n : (size_t)s->remaining;
			n -= take;
			resp_bulk(p, s, NULL, take, ts);
		}
	}
	if (n && !p->stats.given_up)
		lose(p, sd, ts);
}

static void redis_close(struct fl_parser *p, uint64_t ts)
{
}

static void redis_release(struct fl_parser *p)
{
	fl_buf_release(&rp(p)->req.line.kept);
	fl_buf_release(&rp(p)->resp.line.kept);
}

/* The RESP2/RESP3 parser, for the core in proto_detect.c. */
const struct fl_proto_ops fl_redis_ops = {
	.priv_size = sizeof(struct redis_parser),
	.feed = redis_feed,
	.gap = redis_gap,
	.close = redis_close,
	.release = redis_release,
};
