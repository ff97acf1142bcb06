/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/1.x (RFC 9112) request/response parser.
 *
 * Each side is a state machine over lines and bodies. Heads are parsed one
 * line at a time and only the first bytes of a line are kept (the request
 * target up to HTTP_TARGET_KEEP, a field up to HTTP_FIELD_KEEP): header
 * values are looked at for framing (Content-Length, Transfer-Encoding) and
 * forgotten, so Authorization, Cookie and the like are never stored. Bodies,
 * fixed or chunked, are skipped by length without being buffered; a gap
 * inside one only shortens the skip.
 *
 * Framing follows RFC 9112 section 6: Transfer-Encoding beats
 * Content-Length; a request with neither has no body; a response to HEAD,
 * a 204 or a 304 has none; otherwise a response with neither ends at the
 * close. 1xx responses are interim, except 101 (upgrade: we give up), and
 * a 2xx answer to CONNECT opens a tunnel (we give up too).
 */
#include <errno.h>
#include <string.h>

#include "proto_int.h"

#define HTTP_HEAD_MAX FL_BUF_CAP	/* start line + fields (or trailers), bytes */
#define HTTP_TARGET_KEEP 8192		/* request-line bytes kept: route material */
#define HTTP_STATUS_KEEP 64		/* status-line bytes kept */
#define HTTP_FIELD_KEEP 256		/* field-line bytes kept: name + short value */
#define HTTP_METHOD_MAX 32		/* longest method token accepted */
#define HTTP_CHUNK_HEX_MAX 15		/* hex digits of a chunk size (< 2^60) */

#define HTTP_F_HEAD 0x1u		/* request method is HEAD */
#define HTTP_F_CONNECT 0x2u		/* request method is CONNECT */

enum http_state {
	HTTP_IDLE = 0,		/* between messages: next non-CRLF byte starts one */
	HTTP_START_LINE,	/* request line or status line */
	HTTP_FIELD,		/* a field line, or the empty line ending the head */
	HTTP_BODY,		/* Content-Length body: skipped */
	HTTP_CHUNK_SIZE,	/* chunk-size [ chunk-ext ] line */
	HTTP_CHUNK_DATA,	/* chunk data: skipped */
	HTTP_CHUNK_END,		/* the CRLF closing chunk data */
	HTTP_TRAILER,		/* trailer lines up to an empty line */
	HTTP_BODY_CLOSE,	/* response body delimited by the close */
	HTTP_RESYNC,		/* framing lost: wait for a feed starting a message */
};

/* One direction of the connection. */
struct http_side {
	enum http_state state;
	struct fl_line line;	/* the line being assembled */
	bool in_msg;		/* a message started: start_ns and bytes are valid */
	uint64_t start_ns;	/* ts of the feed holding the message's first byte */
	uint64_t bytes;		/* wire bytes of the message so far */
	uint64_t head_bytes;	/* bytes of the head (or trailers, or chunk line) */
	uint64_t remaining;	/* body or chunk-data bytes left to skip */
	int64_t content_length;	/* -1: no Content-Length field */
	bool te_present;	/* a Transfer-Encoding field was seen */
	bool chunked;		/* ... and its final coding is chunked */
	int status;		/* response: status code */
	uint32_t flags;		/* HTTP_F_*: of this request / of the one answered */
	uint64_t req_seq;	/* request: its pending entry while the body flows */
	char op[FL_OP_MAX];	/* request: operation from the request line */
	bool has_trace_id;	/* request: a valid traceparent field */
	uint8_t trace_id[16];	/* ... its trace-id */
};

struct http_parser {
	struct http_side side[2];	/* indexed by enum fl_side */
};

static struct http_side *side_of(struct fl_parser *p, enum fl_side sd)
{
	return &((struct http_parser *)p->priv)->side[sd];
}

/* ---- head lines -------------------------------------------------------- */

/* tchar (RFC 9110 §5.6.2), by table: header names are scanned per byte. */
static const bool tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static bool is_tchar(uint8_t c)
{
	return tchar[c];
}

static size_t token_len(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n && is_tchar(s[i]))
		i++;
	return i;
}

static bool is_version(const uint8_t *s, size_t n)
{
	return n == 8 && !memcmp(s, "HTTP/1.", 7) && fl_is_digit(s[7]);
}

/* request-line = method SP request-target SP HTTP-version */
static int request_line(struct http_side *s, const struct fl_span *ln)
{
	const uint8_t *l = ln->p, *sp;
	size_t n = ln->len, m = token_len(l, n), t = m + 1, tend;

	if (m == 0 || m > HTTP_METHOD_MAX || m >= n || l[m] != ' ')
		return -EPROTO;
	sp = memchr(l + t, ' ', n - t);
	tend = sp ? (size_t)(sp - l) : n;
	if (tend == t || (!sp && !ln->truncated))
		return -EPROTO;
	for (size_t i = t; i < tend; i++)
		if (l[i] <= 0x20 || l[i] == 0x7f)
			return -EPROTO;
	if (sp && !ln->truncated && !is_version(l + tend + 1, n - tend - 1))
		return -EPROTO;
	fl_http_route((const char *)l, m, (const char *)l + t, tend - t, s->op,
		      sizeof(s->op));
	s->flags = 0;
	if (m == 4 && !memcmp(l, "HEAD", 4))
		s->flags |= HTTP_F_HEAD;
	if (m == 7 && !memcmp(l, "CONNECT", 7))
		s->flags |= HTTP_F_CONNECT;
	return 0;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] */
static int status_line(struct http_side *s, const struct fl_span *ln)
{
	const uint8_t *l = ln->p;

	if (ln->len < 12 || !is_version(l, 8) || l[8] != ' ' ||
	    !fl_is_digit(l[9]) || !fl_is_digit(l[10]) || !fl_is_digit(l[11]) ||
	    l[9] == '0' || (ln->len > 12 && l[12] != ' '))
		return -EPROTO;
	s->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	return 0;
}

/* @l[0..n) equals the lowercase literal @name, ASCII case-insensitively. */
static bool name_is_n(const uint8_t *l, size_t n, const char *name,
		      size_t name_len)
{
	if (n != name_len)
		return false;
	for (size_t i = 0; i < n; i++)
		if (fl_upper(l[i]) != fl_upper((uint8_t)name[i]))
			return false;
	return true;
}

/* The literal's length is known at compile time: no strlen per header
 * (it was 6 % of the agent's time at nginx saturation). */
#define name_is(l, n, lit) name_is_n(l, n, lit, sizeof(lit) - 1)

static void trim_ows(const uint8_t **v, size_t *n)
{
	while (*n && ((*v)[0] == ' ' || (*v)[0] == '\t')) {
		(*v)++;
		(*n)--;
	}
	while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
		(*n)--;
}

/* Content-Length = 1*DIGIT, or a list of identical values (RFC 9110 8.6). */
static int content_length(struct http_side *s, const uint8_t *v, size_t n)
{
	size_t i = 0;

	while (i <= n) {
		const uint8_t *comma = memchr(v + i, ',', n - i);
		size_t end = comma ? (size_t)(comma - v) : n, len = end - i;
		const uint8_t *e = v + i;
		int64_t val = 0;

		trim_ows(&e, &len);
		if (len == 0 || len > 18)
			return -EPROTO;
		for (size_t k = 0; k < len; k++) {
			if (!fl_is_digit(e[k]))
				return -EPROTO;
			val = val * 10 + (e[k] - '0');
		}
		if (s->content_length >= 0 && s->content_length != val)
			return -EPROTO;
		s->content_length = val;
		i = end + 1;
	}
	return 0;
}

/* Transfer-Encoding: is the final non-empty coding "chunked"? */
static void transfer_encoding(struct http_side *s, const uint8_t *v, size_t n)
{
	size_t end = n;

	s->te_present = true;
	for (;;) {
		const uint8_t *comma = end ? memrchr(v, ',', end) : NULL;
		size_t start = comma ? (size_t)(comma - v) + 1 : 0, len;
		const uint8_t *c = v + start, *semi;

		len = end - start;
		semi = memchr(c, ';', len);
		if (semi)
			len = (size_t)(semi - c);
		trim_ows(&c, &len);
		if (len || !comma) {
			s->chunked = name_is(c, len, "chunked");
			return;
		}
		end = start - 1;
	}
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;	/* the spec allows lowercase hex only */
}

/*
 * traceparent: version "-" trace-id "-" parent-id "-" trace-flags, as
 * W3C Trace Context §3.2: "00-" 32 HEXDIGLC "-" 16 HEXDIGLC "-" 2 HEXDIGLC.
 * Versions other than 00 may append fields; all-zero ids are invalid. The
 * trace-id alone is kept (not a secret: it names a trace, no content).
 */
static bool traceparent(const uint8_t *v, size_t n, uint8_t out[16])
{
	uint8_t any = 0;

	if (n < 55 || hexval(v[0]) < 0 || hexval(v[1]) < 0 || v[2] != '-' ||
	    v[35] != '-' || v[52] != '-' || (v[0] == 'f' && v[1] == 'f') ||
	    (n > 55 && (v[0] == '0' && v[1] == '0')) ||
	    (n > 55 && v[55] != '-'))
		return false;
	for (int i = 0; i < 16; i++) {
		int hi = hexval(v[3 + 2 * i]), lo = hexval(v[4 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
		any |= out[i];
	}
	for (int i = 36; i < 52; i++)
		if (hexval(v[i]) < 0)
			return false;
	return any != 0 && hexval(v[53]) >= 0 && hexval(v[54]) >= 0;
}

static int field_line(struct http_side *s, const struct fl_span *ln)
{
	const uint8_t *l = ln->p, *v;
	size_t n = ln->len, name = token_len(l, n), vn;

	if (n && (l[0] == ' ' || l[0] == '\t'))
		return 0;	/* obs-fold continuation: nothing we need */
	if (name == 0 || name >= n || l[name] != ':')
		return -EPROTO;
	v = l + name + 1;
	vn = n - name - 1;
	trim_ows(&v, &vn);
	if (name_is(l, name, "content-length"))
		return ln->truncated ? -EPROTO : content_length(s, v, vn);
	if (name_is(l, name, "traceparent") && !ln->truncated)
		s->has_trace_id = traceparent(v, vn, s->trace_id);
	if (name_is(l, name, "transfer-encoding")) {
		if (ln->truncated)
			return -EPROTO;
		transfer_encoding(s, v, vn);
	}
	return 0;
}

/* chunk = chunk-size [ chunk-ext ] CRLF; 0 ends the body. */
static int chunk_size_line(struct http_side *s, const struct fl_span *ln)
{
	uint64_t size = 0;
	size_t i = 0;

	while (i < ln->len && fl_is_xdigit(ln->p[i])) {
		uint8_t c = fl_upper(ln->p[i]);

		size = size * 16 + (uint64_t)(fl_is_digit(c) ? c - '0' : c - 'A' + 10);
		i++;
	}
	if (i == 0 || i > HTTP_CHUNK_HEX_MAX)
		return -EPROTO;
	while (i < ln->len && (ln->p[i] == ' ' || ln->p[i] == '\t'))
		i++;
	if (i < ln->len && ln->p[i] != ';')
		return -EPROTO;
	s->head_bytes = 0;
	if (size == 0) {
		s->state = HTTP_TRAILER;
	} else {
		s->state = HTTP_CHUNK_DATA;
		s->remaining = size;
	}
	return 0;
}

/* ---- messages ---------------------------------------------------------- */

static void msg_begin(struct http_side *s, uint64_t ts)
{
	s->in_msg = true;
	s->start_ns = ts;
	s->bytes = 0;
	s->state = HTTP_START_LINE;
	s->head_bytes = 0;
	s->content_length = -1;
	s->te_present = false;
	s->chunked = false;
	s->status = 0;
	s->has_trace_id = false;
}

/* Keep the pending entry's size in step with the request body. */
static void req_sync_bytes(struct fl_parser *p, struct http_side *s)
{
	struct fl_pending *e;

	if (!s->req_seq)
		return;
	e = fl_pending_find(p, s->req_seq);
	if (e)
		e->req_bytes = s->bytes;
	else
		s->req_seq = 0;	/* already answered (early response) */
}

static void msg_done(struct fl_parser *p, struct http_side *s,
		     enum fl_side sd, uint64_t ts)
{
	if (sd == FL_SIDE_REQUEST) {
		req_sync_bytes(p, s);
		s->req_seq = 0;
	} else {
		struct fl_resp r = {
			.status = s->status,
			.error = s->status >= 500,
			.client_error = s->status >= 400 && s->status < 500,
			.start_ns = s->start_ns,
			.end_ns = ts,
			.bytes = s->bytes,
		};

		fl_pending_complete(p, &r);
	}
	s->in_msg = false;
	s->state = HTTP_IDLE;
}

static void body_begin(struct fl_parser *p, struct http_side *s,
		       enum fl_side sd, uint64_t ts)
{
	if (s->te_present && s->chunked) {
		s->state = HTTP_CHUNK_SIZE;
		s->head_bytes = 0;
	} else if (sd == FL_SIDE_RESPONSE && (s->te_present || s->content_length < 0)) {
		s->state = HTTP_BODY_CLOSE;	/* Transfer-Encoding beats Content-Length */
	} else if (s->content_length > 0) {
		s->state = HTTP_BODY;
		s->remaining = (uint64_t)s->content_length;
	} else {
		msg_done(p, s, sd, ts);
	}
}

static int request_head_end(struct fl_parser *p, struct http_side *s,
			    uint64_t ts)
{
	struct fl_pending *e;

	if (s->te_present && !s->chunked)
		return -EPROTO;	/* RFC 9112 6.3: length cannot be determined */
	e = fl_pending_push(p, FL_PEND_REQUEST);
	if (!e)
		return -ENOMEM;
	fl_copy_op(e->operation, s->op);
	e->start_ns = s->start_ns;
	e->req_bytes = s->bytes;
	e->flags = s->flags;
	e->has_trace_id = s->has_trace_id;
	memcpy(e->trace_id, s->trace_id, sizeof(e->trace_id));
	s->req_seq = e->seq;
	body_begin(p, s, FL_SIDE_REQUEST, ts);
	return 0;
}

static void response_head_end(struct fl_parser *p, struct http_side *s,
			      uint64_t ts)
{
	const struct fl_pending *e;

	if (s->status < 200) {
		if (s->status == 101) {
			fl_parser_give_up(p);	/* upgraded: not HTTP any more */
			return;
		}
		s->state = HTTP_START_LINE;	/* interim: its bytes count */
		s->head_bytes = 0;
		s->content_length = -1;
		s->te_present = false;
		s->chunked = false;
		return;
	}
	e = fl_pending_next(p, s->start_ns);	/* HEAD and CONNECT frame it */
	s->flags = e ? e->flags : 0;
	if ((s->flags & HTTP_F_CONNECT) && s->status < 300) {
		fl_parser_give_up(p);	/* tunnel */
		return;
	}
	if ((s->flags & HTTP_F_HEAD) || s->status == 204 || s->status == 304)
		msg_done(p, s, FL_SIDE_RESPONSE, ts);
	else
		body_begin(p, s, FL_SIDE_RESPONSE, ts);
}

static int on_line(struct fl_parser *p, struct http_side *s, enum fl_side sd,
		   uint64_t ts, const struct fl_span *ln)
{
	bool empty = ln->len == 0 && !ln->truncated;
	int err = 0;

	switch (s->state) {
	case HTTP_START_LINE:
		err = sd == FL_SIDE_REQUEST ? request_line(s, ln) : status_line(s, ln);
		s->state = HTTP_FIELD;
		break;
	case HTTP_FIELD:
		if (!empty)
			err = field_line(s, ln);
		else if (sd == FL_SIDE_REQUEST)
			err = request_head_end(p, s, ts);
		else
			response_head_end(p, s, ts);
		break;
	case HTTP_CHUNK_SIZE:
		err = chunk_size_line(s, ln);
		break;
	case HTTP_CHUNK_END:
		if (!empty)
			return -EPROTO;
		s->state = HTTP_CHUNK_SIZE;
		s->head_bytes = 0;
		break;
	case HTTP_TRAILER:
		if (empty)
			msg_done(p, s, sd, ts);
		break;
	default:
		break;
	}
	return err;
}

/*
 * Can the start line begun in @l and going on with @d still be valid? Only
 * its first bytes are checked (method token, "HTTP/1."), so that binary
 * garbage fails at once instead of being taken for a long line.
 */
static bool start_prefix_ok(const struct fl_line *l, enum fl_side sd,
			    const uint8_t *d, size_t n)
{
	uint8_t buf[HTTP_METHOD_MAX + 2];
	size_t have = l->kept.len < sizeof(buf) ? l->kept.len : sizeof(buf);
	size_t more = sizeof(buf) - have;

	if (have)
		memcpy(buf, l->kept.data, have);
	memcpy(buf + have, d, n < more ? n : more);
	have += n < more ? n : more;
	if (sd == FL_SIDE_RESPONSE)
		return !memcmp(buf, "HTTP/1.", have < 7 ? have : 7);
	for (size_t i = 0; i < have; i++) {
		if (buf[i] == ' ')
			return i > 0;
		if (!is_tchar(buf[i]))
			return false;
	}
	return have <= HTTP_METHOD_MAX;
}

static size_t line_keep(const struct http_side *s, enum fl_side sd)
{
	if (s->state == HTTP_START_LINE)
		return sd == FL_SIDE_REQUEST ? HTTP_TARGET_KEEP : HTTP_STATUS_KEEP;
	return HTTP_FIELD_KEEP;
}

/* Returns bytes consumed or -errno; on error nothing of this call counts. */
static ssize_t step_line(struct fl_parser *p, struct http_side *s,
			 enum fl_side sd, uint64_t ts, const uint8_t *d, size_t n)
{
	struct fl_span ln;
	size_t used = 0;
	int rc;

	if (s->state == HTTP_START_LINE && s->line.total < HTTP_METHOD_MAX + 2 &&
	    !start_prefix_ok(&s->line, sd, d, n))
		return -EPROTO;
	rc = fl_line_take(&s->line, d, n, line_keep(s, sd),
			  HTTP_HEAD_MAX - s->head_bytes, &used, &ln);
	if (rc < 0)
		return rc == -E2BIG ? -EPROTO : rc;
	s->bytes += used;
	if (rc == FL_LINE_MORE)
		return (ssize_t)used;
	s->head_bytes += s->line.total;
	rc = on_line(p, s, sd, ts, &ln);
	fl_line_reset(&s->line);
	if (rc < 0) {
		s->bytes -= used;
		return rc;
	}
	return (ssize_t)used;
}

/* Skips body bytes (seen or not): @d may be NULL for a gap. */
static size_t step_body(struct fl_parser *p, struct http_side *s,
			enum fl_side sd, uint64_t ts, size_t n)
{
	size_t take = n < s->remaining ? n : (size_t)s->remaining;

	s->remaining -= take;
	s->bytes += take;
	if (s->remaining == 0) {
		if (s->state == HTTP_BODY)
			msg_done(p, s, sd, ts);
		else
			s->state = HTTP_CHUNK_END;
	}
	return take;
}

static ssize_t step(struct fl_parser *p, struct http_side *s, enum fl_side sd,
		    uint64_t ts, const uint8_t *d, size_t n)
{
	size_t i = 0;

	switch (s->state) {
	case HTTP_IDLE:
		while (i < n && (d[i] == '\r' || d[i] == '\n'))
			i++;	/* RFC 9112 2.2: stray CRLF between messages */
		if (i < n)
			msg_begin(s, ts);
		return (ssize_t)i;
	case HTTP_BODY:
	case HTTP_CHUNK_DATA:
		return (ssize_t)step_body(p, s, sd, ts, n);
	case HTTP_BODY_CLOSE:
		s->bytes += n;
		return (ssize_t)n;
	case HTTP_RESYNC:
		return -EPROTO;	/* not reached: feed() resyncs first */
	default:
		return step_line(p, s, sd, ts, d, n);
	}
}

/* ---- loss and resynchronisation ---------------------------------------- */

/*
 * Framing is lost on @sd at @ts (see the pairing model in proto_int.h).
 * Request side: lost in a head or between requests, at least one request
 * is gone (LOST marker); lost in the chunked body of a queued request,
 * maybe none is (MAYBE_LOST). Response side: every pending request goes.
 */
static void lose(struct fl_parser *p, struct http_side *s, enum fl_side sd,
		 uint64_t ts)
{
	bool in_body = s->in_msg && s->state != HTTP_START_LINE &&
		       s->state != HTTP_FIELD;
	struct fl_pending *m;

	p->stats.resyncs++;
	if (sd == FL_SIDE_REQUEST) {
		req_sync_bytes(p, s);
		s->req_seq = 0;
		m = fl_pending_push(p, in_body ? FL_PEND_MAYBE_LOST : FL_PEND_LOST);
		if (m)
			m->start_ns = ts;
		else
			fl_pending_clear(p);
	} else {
		fl_pending_lose(p);
	}
	s->state = HTTP_RESYNC;
	s->in_msg = false;
	fl_line_reset(&s->line);
}

/* Could @d start a message of @sd? Short input that could be one counts. */
static bool looks_like_start(enum fl_side sd, const uint8_t *d, size_t n)
{
	if (sd == FL_SIDE_RESPONSE)
		return !memcmp(d, "HTTP/1.", n < 7 ? n : 7);
	/* registered methods only (fl_http_methods): any token would also
	 * take the tail of a cut request line ("ETE /x") for a new request,
	 * and pair its response wrongly */
	for (size_t i = 0; i < fl_http_nmethods; i++) {
		const char *m = fl_http_methods[i].name;
		size_t ml = fl_http_methods[i].len;

		if (n <= ml) {
			if (!memcmp(d, m, n))
				return true;
			continue;
		}
		if (memcmp(d, m, ml) || d[ml] != ' ')
			continue;
		if (n == ml + 1 || d[ml + 1] == '/' || d[ml + 1] == '*' ||
		    fl_is_alpha(d[ml + 1]))
			return true;
	}
	return false;
}

/* Garbage from here on: the @rest of this feed is dropped, framing is lost. */
static int fail(struct fl_parser *p, struct http_side *s, enum fl_side sd,
		uint64_t ts, size_t rest, int err)
{
	fl_parser_unparsed(p, rest, err != -ENOMEM);
	if (!p->stats.given_up)
		lose(p, s, sd, ts);
	return err == -ENOMEM ? -ENOMEM : 0;
}

static int http_feed(struct fl_parser *p, enum fl_side sd, uint64_t ts,
		     const uint8_t *d, size_t n)
{
	struct http_side *s = side_of(p, sd);
	size_t off = 0;
	ssize_t r;

	if (s->state == HTTP_RESYNC) {
		if (!looks_like_start(sd, d, n)) {
			fl_parser_unparsed(p, n, false);
			return 0;
		}
		s->state = HTTP_IDLE;
	}
	while (off < n && !p->stats.given_up) {
		r = step(p, s, sd, ts, d + off, n - off);
		if (r < 0)
			return fail(p, s, sd, ts, n - off, (int)r);
		off += (size_t)r;
	}
	if (p->stats.given_up)
		p->stats.unparsed_bytes += n - off;	/* after an upgrade */
	else if (sd == FL_SIDE_REQUEST)
		req_sync_bytes(p, s);
	return 0;
}

static void http_gap(struct fl_parser *p, enum fl_side sd, uint64_t ts,
		     size_t n)
{
	struct http_side *s = side_of(p, sd);

	switch (s->state) {
	case HTTP_RESYNC:
		return;
	case HTTP_BODY_CLOSE:
		s->bytes += n;
		return;
	case HTTP_BODY:
	case HTTP_CHUNK_DATA:
		n -= step_body(p, s, sd, ts, n);
		if (sd == FL_SIDE_REQUEST)
			req_sync_bytes(p, s);
		break;
	default:
		break;
	}
	if (n && !p->stats.given_up)
		lose(p, s, sd, ts);
}

static void http_close(struct fl_parser *p, uint64_t ts)
{
	struct http_side *s = side_of(p, FL_SIDE_RESPONSE);

	if (s->state == HTTP_BODY_CLOSE)
		msg_done(p, s, FL_SIDE_RESPONSE, ts);
}

static void http_release(struct fl_parser *p)
{
	for (int i = 0; i < 2; i++)
		fl_buf_release(&side_of(p, (enum fl_side)i)->line.kept);
}

/* The HTTP/1.x parser, for the core in proto_detect.c. */
/* Both sides between messages, no line begun: a new parser would do. */
static bool http_idle(const struct fl_parser *p)
{
	const struct http_parser *h = p->priv;

	for (int sd = 0; sd < 2; sd++)
		if (h->side[sd].state != HTTP_IDLE || h->side[sd].in_msg ||
		    h->side[sd].line.total)
			return false;
	return true;
}

static void http_trim(struct fl_parser *p)
{
	struct http_parser *h = p->priv;

	fl_buf_release(&h->side[0].line.kept);
	fl_buf_release(&h->side[1].line.kept);
}

const struct fl_proto_ops fl_http_ops = {
	.priv_size = sizeof(struct http_parser),
	.feed = http_feed,
	.gap = http_gap,
	.close = http_close,
	.release = http_release,
	.idle = http_idle,
	.trim = http_trim,
};
