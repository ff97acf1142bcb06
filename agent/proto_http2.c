/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/2 (RFC 9113) and gRPC over it: frames, streams paired by id, header
 * blocks decoded with libnghttp2's HPACK inflater (RFC 7541), one per
 * direction.
 *
 * Each side is a state machine over frames: the client's connection
 * preface, a 9-byte frame header, a payload consumed as it arrives (never
 * buffered: header-block fragments go straight to the inflater, DATA is
 * skipped by length). Streams are multiplexed: a request is the client's
 * HEADERS on a new odd stream id, its response ends with the server's
 * END_STREAM (or an RST_STREAM), and the record is emitted then, so records
 * come in completion order, not request order.
 *
 * Only :method, :path (query and fragment cut before anything is copied),
 * :status, content-type (is it application/grpc?) and grpc-status are
 * looked at; every other field (authorization, cookie, ...) goes through
 * the inflater only, whose memory is wiped when freed.
 *
 * Records: gRPC (content-type application/grpc*) as FL_PROTO_GRPC, operation
 * "package.Service/Method", status the grpc-status of the trailers (or of a
 * trailers-only response), error when it is not 0 (OK). Plain HTTP/2 as
 * FL_PROTO_HTTP, like HTTP/1.x: "METHOD /route", :status, 5xx error, 4xx
 * client error.
 *
 * Loss. A gap inside a DATA (or PING, SETTINGS, ...) payload is skipped by
 * the frame length. A gap in a header block, or in a frame header (framing
 * lost: the side rescans for a plausible frame header), loses HPACK state:
 * the inflater of that side is dropped and a fresh one starts at the next
 * header block. A fresh inflater decodes correctly or fails, never wrongly:
 * its dynamic table holds the newest entries of the encoder's, at the same
 * indexes, and a reference to an older entry is out of its range. So after
 * a loss (or on a connection joined mid-life) a block that refers to entries
 * we never saw fails, and its stream is counted in stats.unnamed instead of
 * being recorded; blocks with new literals decode again.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "proto_int.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"	/* RFC 9113 §3.4 */
#define H2_PREFACE_LEN 24
#define H2_HDR 9			/* frame header, RFC 9113 §4.1 */
#define H2_FRAME_DEFAULT 16384		/* initial SETTINGS_MAX_FRAME_SIZE (§6.5.2) */
#define H2_FRAME_ABS 0xffffffu		/* largest length a header can say */
#define H2_STREAMS_MAX FL_PENDING_MAX	/* open streams kept per connection */
#define H2_TABLE_MAX 65536		/* HPACK table size updates accepted, bytes */
#define H2_METHOD_MAX 16		/* :method bytes kept */

enum h2_type {
	H2_DATA = 0,
	H2_HEADERS = 1,
	H2_PRIORITY = 2,
	H2_RST_STREAM = 3,
	H2_SETTINGS = 4,
	H2_PUSH_PROMISE = 5,
	H2_PING = 6,
	H2_GOAWAY = 7,
	H2_WINDOW_UPDATE = 8,
	H2_CONTINUATION = 9,
};

#define H2_F_END_STREAM 0x01
#define H2_F_ACK 0x01
#define H2_F_END_HEADERS 0x04
#define H2_F_PADDED 0x08
#define H2_F_PRIORITY 0x20

#define H2_SETTINGS_MAX_FRAME_SIZE 0x5

/* gRPC status codes used when no grpc-status was decoded (grpc/doc/statuscodes.md) */
#define GRPC_CANCELLED 1
#define GRPC_UNKNOWN 2
#define GRPC_PERMISSION_DENIED 7
#define GRPC_RESOURCE_EXHAUSTED 8
#define GRPC_UNIMPLEMENTED 12
#define GRPC_INTERNAL 13
#define GRPC_UNAVAILABLE 14
#define GRPC_UNAUTHENTICATED 16

enum h2_state {
	H2_S_PREFACE = 0,	/* client: the connection preface */
	H2_S_HEAD,		/* a frame header (hdr[0..nhdr)) */
	H2_S_PAYLOAD,		/* the payload of the current frame */
	H2_S_RESYNC,		/* framing lost: scanning for a plausible header */
};

/* The header block being decoded on one side (HEADERS/PUSH_PROMISE + CONTINUATION). */
struct h2_block {
	bool active;		/* begun, END_HEADERS not seen yet */
	bool failed;		/* HPACK could not decode it (or bytes were lost) */
	bool end_stream;	/* its HEADERS frame had END_STREAM */
	bool push;		/* a PUSH_PROMISE: decoded for HPACK state only */
	bool grpc;		/* content-type application/grpc* */
	bool has_method, has_path;
	uint32_t sid;		/* stream it belongs to */
	int status;		/* :status, -1 if none */
	int grpc_status;	/* grpc-status, -1 if none */
	uint8_t mlen;
	uint16_t plen;
	char method[H2_METHOD_MAX];	/* :method, first bytes */
	char path[FL_OP_MAX];	/* :path up to '?' or '#', first bytes */
};

/* One direction of the connection. */
struct h2_side {
	enum h2_state state;
	uint8_t pos;		/* preface bytes matched */
	uint8_t nhdr;		/* header bytes in hdr */
	uint8_t hdr[H2_HDR];	/* the frame header (or the resync window) */
	uint64_t hdr_ts;	/* ts of the feed holding the header's first byte */
	/* the current frame */
	uint32_t len;		/* payload length */
	uint32_t done;		/* payload bytes consumed (seen or not) */
	uint32_t sid;		/* stream id, R bit cleared */
	uint8_t type, flags;
	uint8_t want_pre;	/* payload prefix bytes: pad length, priority, ids, codes */
	uint8_t npre;		/* of which consumed */
	uint8_t pre[8];
	bool pre_lost;		/* a gap hit the prefix */
	uint32_t pad;		/* padding bytes at the end of the payload */
	uint8_t nset;		/* SETTINGS: bytes of the entry being assembled */
	uint8_t set[6];
	uint32_t max_frame;	/* largest frame this side may send (peer's setting) */
	bool limit_known;	/* max_frame comes from a SETTINGS seen (not joined) */
	struct h2_block blk;
	nghttp2_hd_inflater *inf; /* NULL: a fresh one at the next block */
};

/* A stream whose request was seen and whose response has not ended. */
struct h2_stream {
	uint32_t id;
	bool named;		/* request header block decoded: op valid */
	bool unnamed;		/* request header block lost */
	bool grpc;
	bool resp_seen;		/* final response headers decoded */
	bool resp_lost;		/* a response header block lost */
	int status;		/* :status */
	int grpc_status;	/* -1: not seen */
	uint64_t start_ns;
	uint64_t req_bytes, resp_bytes;
	char op[FL_OP_MAX];
};

struct h2_parser {
	struct h2_side side[2];	/* indexed by enum fl_side */
	struct h2_stream *st;	/* open streams, unordered */
	uint32_t nst, cap;
	uint32_t max_sid;	/* highest client stream id opened */
};

static struct h2_parser *h2_of(struct fl_parser *p)
{
	return p->priv;
}

static uint32_t be24(const uint8_t *d)
{
	return (uint32_t)d[0] << 16 | (uint32_t)d[1] << 8 | d[2];
}

static uint32_t be32(const uint8_t *d)
{
	return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
	       (uint32_t)d[2] << 8 | d[3];
}

/* ---- HPACK memory: wiped when freed (tables hold header values) -------- */

static void *h2_malloc(size_t size, void *ud)
{
	return malloc(size);
}

static void h2_free(void *ptr, void *ud)
{
	if (!ptr)
		return;
	explicit_bzero(ptr, malloc_usable_size(ptr));
	free(ptr);
}

static void *h2_calloc(size_t nmemb, size_t size, void *ud)
{
	return calloc(nmemb, size);
}

static void *h2_realloc(void *ptr, size_t size, void *ud)
{
	size_t old;
	void *n;

	if (!ptr)
		return malloc(size);
	if (!size) {
		h2_free(ptr, ud);
		return NULL;
	}
	n = malloc(size);
	if (!n)
		return NULL;
	old = malloc_usable_size(ptr);
	memcpy(n, ptr, old < size ? old : size);
	h2_free(ptr, ud);
	return n;
}

static nghttp2_mem h2_mem = {
	.malloc = h2_malloc,
	.free = h2_free,
	.calloc = h2_calloc,
	.realloc = h2_realloc,
};

/*
 * A fresh inflater that accepts table size updates up to H2_TABLE_MAX (a
 * peer may have allowed more than the default 4096 in a SETTINGS we missed
 * or that says so): raising the limit makes nghttp2 expect a size update
 * first, so one to the default 4096 is fed at once. NULL on ENOMEM.
 */
static nghttp2_hd_inflater *h2_inflater_new(void)
{
	static const uint8_t update_4096[] = { 0x3f, 0xe1, 0x1f };
	nghttp2_hd_inflater *inf;
	nghttp2_nv nv;
	int fl = 0;

	if (nghttp2_hd_inflate_new2(&inf, &h2_mem))
		return NULL;
	if (nghttp2_hd_inflate_change_table_size(inf, H2_TABLE_MAX) ||
	    nghttp2_hd_inflate_hd2(inf, &nv, &fl, update_4096, sizeof(update_4096), 1) !=
		    (ssize_t)sizeof(update_4096) || !(fl & NGHTTP2_HD_INFLATE_FINAL)) {
		nghttp2_hd_inflate_del(inf);
		return NULL;
	}
	nghttp2_hd_inflate_end_headers(inf);
	return inf;
}

/* HPACK state of @s is lost: the next block starts a fresh inflater. */
static void h2_inflater_drop(struct h2_side *s)
{
	if (s->inf)
		nghttp2_hd_inflate_del(s->inf);
	s->inf = NULL;
}

/* ---- streams ----------------------------------------------------------- */

static struct h2_stream *stream_find(struct h2_parser *h, uint32_t id)
{
	for (uint32_t i = 0; i < h->nst; i++)
		if (h->st[i].id == id)
			return &h->st[i];
	return NULL;
}

static void stream_remove(struct h2_parser *h, struct h2_stream *st)
{
	struct h2_stream *last = &h->st[h->nst - 1];

	if (st != last)
		*st = *last;
	h->nst--;
}

/* The stream with the lowest id (the oldest: ids only grow). */
static struct h2_stream *stream_oldest(struct h2_parser *h)
{
	struct h2_stream *o = &h->st[0];

	for (uint32_t i = 1; i < h->nst; i++)
		if (h->st[i].id < o->id)
			o = &h->st[i];
	return o;
}

/* A new stream @id opened at @ts. NULL on ENOMEM. */
static struct h2_stream *stream_new(struct fl_parser *p, uint32_t id, uint64_t ts)
{
	struct h2_parser *h = h2_of(p);
	struct h2_stream *st;

	if (h->nst == H2_STREAMS_MAX) {
		p->stats.unpaired++;	/* the oldest never got its answer */
		stream_remove(h, stream_oldest(h));
	} else if (h->nst == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 4;

		if (cap > H2_STREAMS_MAX)
			cap = H2_STREAMS_MAX;
		st = realloc(h->st, sizeof(*st) * cap);
		if (!st)
			return NULL;
		h->st = st;
		h->cap = cap;
	}
	st = &h->st[h->nst++];
	memset(st, 0, sizeof(*st));
	st->id = id;
	st->grpc_status = -1;
	st->start_ns = ts;
	return st;
}

/* gRPC status of a response without grpc-status: from :status (gRPC's
 * doc/http-grpc-status-mapping.md), or UNKNOWN. */
static int grpc_from_http(int status)
{
	switch (status) {
	case 400:
		return GRPC_INTERNAL;
	case 401:
		return GRPC_UNAUTHENTICATED;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_UNKNOWN;
	}
}

/* gRPC status of a stream reset with HTTP/2 error @code (same document). */
static int grpc_from_rst(int64_t code)
{
	switch (code) {
	case 0x7:	/* REFUSED_STREAM */
		return GRPC_UNAVAILABLE;
	case 0x8:	/* CANCEL */
		return GRPC_CANCELLED;
	case 0xb:	/* ENHANCE_YOUR_CALM */
		return GRPC_RESOURCE_EXHAUSTED;
	case 0xc:	/* INADEQUATE_SECURITY */
		return GRPC_PERMISSION_DENIED;
	case -1:	/* the code went by in a gap */
		return GRPC_UNKNOWN;
	default:
		return GRPC_INTERNAL;
	}
}

/*
 * The response of @st ended at @ts (@rst: reset with that code; -1 none, -2
 * reset with the code lost): emit its record, or count why not. Removes @st.
 */
static void stream_finish(struct fl_parser *p, struct h2_stream *st, uint64_t ts,
			  int64_t rst)
{
	struct fl_record rec;

	memset(&rec, 0, sizeof(rec));
	if (!st->named) {	/* request block lost, or not over yet */
		p->stats.unnamed++;
		goto out;
	}
	if (st->grpc) {
		rec.proto = FL_PROTO_GRPC;
		if (st->grpc_status >= 0)
			rec.status = st->grpc_status;
		else if (st->resp_lost)
			goto out_unnamed;
		else if (rst != -1)
			rec.status = grpc_from_rst(rst == -2 ? -1 : rst);
		else if (st->resp_seen && st->status != 200)
			rec.status = grpc_from_http(st->status);
		else
			rec.status = GRPC_UNKNOWN;	/* no status at all */
		rec.error = rec.status != 0;
	} else {
		rec.proto = FL_PROTO_HTTP;
		if (!st->resp_seen && st->resp_lost)
			goto out_unnamed;
		if (!st->resp_seen) {	/* reset before any answer */
			p->stats.unpaired++;
			goto out;
		}
		rec.status = st->status;
		rec.error = st->status >= 500;
		rec.client_error = st->status >= 400 && st->status < 500;
	}
	fl_copy_op(rec.operation, st->op);
	rec.start_ns = st->start_ns;
	rec.end_ns = ts;
	rec.req_bytes = st->req_bytes;
	rec.resp_bytes = st->resp_bytes;
	p->bad_streak = 0;
	p->bad_bytes = 0;
	if (p->cb)
		p->cb(&rec, p->ctx);
	goto out;
out_unnamed:
	p->stats.unnamed++;
out:
	stream_remove(h2_of(p), st);
}

/* ---- header blocks ----------------------------------------------------- */

static bool name_is(const nghttp2_nv *nv, const char *name)
{
	size_t n = strlen(name);

	return nv->namelen == n && !memcmp(nv->name, name, n);
}

/* Decimal @v (@n bytes) up to 999; -1 when not that. */
static int small_number(const uint8_t *v, size_t n)
{
	int x = 0;

	if (!n || n > 3)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!fl_is_digit(v[i]))
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

/* One decoded field: keep what names a request or its outcome, nothing else. */
static void block_field(struct h2_block *b, const nghttp2_nv *nv)
{
	size_t n;

	if (name_is(nv, ":method")) {
		n = nv->valuelen < H2_METHOD_MAX ? nv->valuelen : H2_METHOD_MAX;
		for (size_t i = 0; i < n; i++)	/* a token; anything else is '_' */
			b->method[i] = fl_is_alpha(nv->value[i]) ||
				       fl_is_digit(nv->value[i]) || nv->value[i] == '-' ?
				       (char)nv->value[i] : '_';
		b->mlen = (uint8_t)n;
		b->has_method = true;
	} else if (name_is(nv, ":path")) {
		/* cut at the query before copying: its values are secrets */
		for (n = 0; n < nv->valuelen && nv->value[n] != '?' &&
			    nv->value[n] != '#'; n++)
			;
		if (n > FL_OP_MAX - 1)
			n = FL_OP_MAX - 1;
		for (size_t i = 0; i < n; i++)	/* control bytes would read as '?' */
			b->path[i] = nv->value[i] < 0x20 || nv->value[i] == 0x7f ?
				     '_' : (char)nv->value[i];
		b->plen = (uint16_t)n;
		b->has_path = true;
	} else if (name_is(nv, ":status")) {
		b->status = small_number(nv->value, nv->valuelen);
	} else if (name_is(nv, "grpc-status")) {
		b->grpc_status = small_number(nv->value, nv->valuelen);
		if (b->grpc_status < 0)
			b->grpc_status = GRPC_UNKNOWN;
	} else if (name_is(nv, "content-type")) {
		n = strlen("application/grpc");
		b->grpc = nv->valuelen >= n && !memcmp(nv->value, "application/grpc", n) &&
			  (nv->valuelen == n || nv->value[n] == '+' || nv->value[n] == ';');
	}
}

/*
 * Feed @n bytes of the current block to @s's inflater (@final: the block
 * ends with them). A decoding failure fails the block and drops the
 * inflater. Returns 0 or -ENOMEM.
 */
static int block_inflate(struct h2_side *s, const uint8_t *d, size_t n, bool final)
{
	struct h2_block *b = &s->blk;

	while (!b->failed) {
		nghttp2_nv nv;
		int fl = 0;
		ssize_t r = nghttp2_hd_inflate_hd2(s->inf, &nv, &fl, d, n, final);

		if (r < 0) {
			b->failed = true;
			h2_inflater_drop(s);
			return r == NGHTTP2_ERR_NOMEM ? -ENOMEM : 0;
		}
		d += r;
		n -= (size_t)r;
		if (fl & NGHTTP2_HD_INFLATE_EMIT)
			block_field(b, &nv);
		if (fl & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(s->inf);
			break;
		}
		if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && !n)
			break;
	}
	return 0;
}

static int block_begin(struct h2_side *s, uint32_t sid, bool end_stream, bool push)
{
	struct h2_block *b = &s->blk;

	memset(b, 0, sizeof(*b));
	b->active = true;
	b->sid = sid;
	b->end_stream = end_stream;
	b->push = push;
	b->status = -1;
	b->grpc_status = -1;
	if (!s->inf)
		s->inf = h2_inflater_new();
	if (!s->inf) {
		b->failed = true;
		return -ENOMEM;
	}
	return 0;
}

/* The operation of a decoded request block into @st. */
static void request_named(struct h2_stream *st, const struct h2_block *b)
{
	char route[FL_OP_MAX + 1];
	size_t n;

	st->named = true;
	st->grpc = b->grpc;
	if (!b->has_path) {	/* CONNECT: its target (:authority) is not kept */
		fl_http_route(b->method, b->mlen, "*", 1, st->op, FL_OP_MAX);
		return;
	}
	if (!b->grpc) {
		fl_http_route(b->method, b->mlen, b->path, b->plen, st->op, FL_OP_MAX);
		return;
	}
	/* "/package.Service/Method" -> "package.Service/Method" */
	n = fl_http_route("", 0, b->path, b->plen, route, sizeof(route));
	fl_copy_op(st->op, route + (n >= 2 && route[1] == '/' ? 2 : 1));
}

/* A request block ended on stream @b->sid. */
static void request_block_done(struct fl_parser *p, const struct h2_block *b)
{
	struct h2_stream *st = stream_find(h2_of(p), b->sid);

	if (!st || st->named || st->unnamed)
		return;		/* trailers, or a stream already answered */
	if (b->failed)
		st->unnamed = true;
	else if (b->has_method || b->has_path)
		request_named(st, b);
	else	/* decoded, yet no request: trailers of a stream opened before us */
		stream_remove(h2_of(p), st);
}

/* A response block ended on stream @b->sid at @ts. */
static void response_block_done(struct fl_parser *p, const struct h2_block *b,
				uint64_t ts)
{
	struct h2_stream *st = stream_find(h2_of(p), b->sid);

	if (!st) {
		/* the answer to a request never seen (joined, lost); not a push */
		if (b->end_stream && (b->sid & 1))
			p->stats.unpaired++;
		return;
	}
	if (b->failed) {
		st->resp_lost = true;
	} else if (!st->resp_seen) {
		if (b->status >= 100 && b->status < 200 && !b->end_stream)
			return;	/* interim (100-continue, 103) */
		if (b->status >= 0) {	/* else malformed: no answer yet */
			st->resp_seen = true;
			st->status = b->status;
		}
		if (!st->named)
			st->grpc = b->grpc;
		if (b->grpc_status >= 0)
			st->grpc_status = b->grpc_status;	/* trailers-only */
	} else if (b->grpc_status >= 0) {
		st->grpc_status = b->grpc_status;	/* trailers */
	}
	if (b->end_stream)
		stream_finish(p, st, ts, -1);
}

static const uint8_t end_of_block;	/* no bytes: a pointer for the final call */

/* The block of @s is over (END_HEADERS, or cut short when @cut). */
static int block_end(struct fl_parser *p, struct h2_side *s, enum fl_side sd,
		     uint64_t ts, bool cut)
{
	struct h2_block *b = &s->blk;
	int err = 0;

	if (cut && !b->failed) {
		b->failed = true;
		h2_inflater_drop(s);
	}
	if (!b->failed)
		err = block_inflate(s, &end_of_block, 0, true);
	b->active = false;
	if (b->push)
		return err;
	if (sd == FL_SIDE_REQUEST)
		request_block_done(p, b);
	else
		response_block_done(p, b, ts);
	return err;
}

/* ---- frames ------------------------------------------------------------ */

static uint8_t allowed_flags(uint8_t type)
{
	static const uint8_t f[] = {
		[H2_DATA] = H2_F_END_STREAM | H2_F_PADDED,
		[H2_HEADERS] = H2_F_END_STREAM | H2_F_END_HEADERS | H2_F_PADDED |
			       H2_F_PRIORITY,
		[H2_SETTINGS] = H2_F_ACK,
		[H2_PUSH_PROMISE] = H2_F_END_HEADERS | H2_F_PADDED,
		[H2_PING] = H2_F_ACK,
		[H2_CONTINUATION] = H2_F_END_HEADERS,
	};

	return type < sizeof(f) ? f[type] : 0;
}

/* Bytes at the start of the payload read before the content. */
static uint8_t prefix_len(uint8_t type, uint8_t flags)
{
	uint8_t pad = flags & H2_F_PADDED ? 1 : 0;

	switch (type) {
	case H2_DATA:
		return pad;
	case H2_HEADERS:
		return pad + (flags & H2_F_PRIORITY ? 5 : 0);
	case H2_PUSH_PROMISE:
		return pad + 4;
	case H2_RST_STREAM:
		return 4;
	case H2_GOAWAY:
		return 8;
	default:
		return 0;
	}
}

/*
 * Is @d (9 bytes) a frame header @sd may send? Lenient: what RFC 9113 calls
 * a connection error (stream 0 for a stream frame, wrong fixed length, too
 * long). @strict (resynchronising, or detecting a joined stream): also a
 * known type other than CONTINUATION, only defined flags, R bit clear, a
 * request side opening odd streams, no empty DATA without END_STREAM (runs
 * of zero bytes look like one), and a stream id below @max_sid plus what
 * could have opened since (@max_sid 0: unknown, below 2^24).
 */
static bool frame_ok(const uint8_t *d, enum fl_side sd, uint32_t limit, bool strict,
		     uint32_t max_sid)
{
	uint32_t len = be24(d), sid = be32(d + 5) & 0x7fffffff;
	uint8_t type = d[3], flags = d[4];

	if (len > limit)
		return false;
	if (strict && (type > H2_CONTINUATION || type == H2_CONTINUATION ||
		       (flags & ~allowed_flags(type)) || (d[5] & 0x80) ||
		       (type == H2_DATA && !len && !(flags & H2_F_END_STREAM)) ||
		       sid >= (max_sid ? max_sid + 2 * H2_STREAMS_MAX : 1u << 24)))
		return false;
	if (type <= H2_CONTINUATION && len < prefix_len(type, flags))
		return false;
	switch (type) {
	case H2_DATA:
	case H2_CONTINUATION:
		return sid != 0;
	case H2_HEADERS:
		return sid != 0 && (!strict || sd == FL_SIDE_RESPONSE || (sid & 1));
	case H2_PUSH_PROMISE:
		return sid != 0 && sd == FL_SIDE_RESPONSE;
	case H2_PRIORITY:
		return sid != 0 && len == 5;
	case H2_RST_STREAM:
		return sid != 0 && len == 4;
	case H2_SETTINGS:
		return sid == 0 && len % 6 == 0 && (!(flags & H2_F_ACK) || len == 0);
	case H2_PING:
		return sid == 0 && len == 8;
	case H2_GOAWAY:
		return sid == 0;
	case H2_WINDOW_UPDATE:
		return len == 4;
	default:	/* extension frames are skipped (§5.5); they are small,
			   garbage read as a header rarely is */
		return len <= H2_FRAME_DEFAULT;
	}
}

/*
 * fl_h2_detect_frame() - a frame header a client may send at @d (@n bytes):
 * 1, 0, or -1 when the first bytes could start one (need more).
 */
int fl_h2_detect_frame(const uint8_t *d, size_t n)
{
	if (n >= H2_HDR)
		return frame_ok(d, FL_SIDE_REQUEST, H2_FRAME_DEFAULT, true, 0);
	if ((n >= 1 && d[0] != 0) || (n >= 2 && d[1] > (H2_FRAME_DEFAULT >> 8)) ||
	    (n >= 4 && d[3] >= H2_CONTINUATION) ||
	    (n >= 5 && (d[4] & ~allowed_flags(d[3]))) || (n >= 6 && (d[5] & 0x80)))
		return 0;
	return -1;
}

static struct h2_side *side_of(struct fl_parser *p, enum fl_side sd)
{
	return &h2_of(p)->side[sd];
}

/* The stream a frame of @s counts for, creating it for a new request. */
static struct h2_stream *frame_stream(struct fl_parser *p, struct h2_side *s,
				      enum fl_side sd, int *err)
{
	struct h2_parser *h = h2_of(p);
	struct h2_stream *st;

	if (!s->sid)
		return NULL;
	st = stream_find(h, s->sid);
	if (st || sd != FL_SIDE_REQUEST || s->type != H2_HEADERS || !(s->sid & 1) ||
	    s->sid <= h->max_sid)
		return st;
	h->max_sid = s->sid;
	st = stream_new(p, s->sid, s->hdr_ts);
	if (!st)
		*err = -ENOMEM;
	return st;
}

/* @n wire bytes of @sd went by for @st (NULL: no stream). */
static void stream_account(struct h2_stream *st, enum fl_side sd, uint64_t n)
{
	if (!st)
		return;
	if (sd == FL_SIDE_REQUEST)
		st->req_bytes += n;
	else
		st->resp_bytes += n;
}

/* A frame header was taken: set up its payload. Returns 0 or -ENOMEM. */
static int frame_begin(struct fl_parser *p, struct h2_side *s, enum fl_side sd)
{
	struct h2_stream *st;
	int err = 0;

	s->len = be24(s->hdr);
	s->type = s->hdr[3];
	s->flags = s->hdr[4];
	s->sid = be32(s->hdr + 5) & 0x7fffffff;
	s->done = 0;
	s->npre = 0;
	s->pre_lost = false;
	s->pad = 0;
	s->nset = 0;
	s->want_pre = s->type <= H2_CONTINUATION ? prefix_len(s->type, s->flags) : 0;
	s->state = H2_S_PAYLOAD;
	s->nhdr = 0;
	if (s->blk.active && (s->type != H2_CONTINUATION || s->sid != s->blk.sid))
		err = block_end(p, s, sd, s->hdr_ts, true);	/* interleaved: §6.10 */
	else if (!s->blk.active && s->type == H2_CONTINUATION)
		h2_inflater_drop(s);	/* the rest of a block we did not see */
	st = frame_stream(p, s, sd, &err);
	stream_account(st, sd, H2_HDR);
	if (s->type == H2_HEADERS || s->type == H2_PUSH_PROMISE) {
		int e = block_begin(s, s->sid, s->flags & H2_F_END_STREAM,
				    s->type == H2_PUSH_PROMISE);

		err = err ? err : e;
	}
	return err;
}

/* The payload prefix is in s->pre: padding length, check it fits. */
static void prefix_done(struct h2_side *s)
{
	uint32_t room = s->len - s->want_pre;

	if (!(s->flags & H2_F_PADDED) || s->pre_lost || s->type > H2_CONTINUATION)
		return;
	s->pad = s->pre[0];
	if (s->pad > room) {	/* malformed: the rest is not a block */
		s->pad = room;
		if (s->blk.active && !s->blk.failed) {
			s->blk.failed = true;
			h2_inflater_drop(s);
		}
	}
}

/* One 6-byte SETTINGS entry from @sd's peer: limits of the other side. */
static void setting(struct fl_parser *p, enum fl_side sd, const uint8_t *e)
{
	struct h2_side *other = side_of(p, sd == FL_SIDE_REQUEST ? FL_SIDE_RESPONSE
								  : FL_SIDE_REQUEST);
	uint16_t id = (uint16_t)(e[0] << 8 | e[1]);
	uint32_t v = be32(e + 2);

	if (id == H2_SETTINGS_MAX_FRAME_SIZE && v >= H2_FRAME_DEFAULT && v <= H2_FRAME_ABS) {
		other->max_frame = v;
		other->limit_known = true;
	}
}

/* Content bytes of the current frame (between prefix and padding). */
static int frame_content(struct fl_parser *p, struct h2_side *s, enum fl_side sd,
			 const uint8_t *d, size_t n)
{
	switch (s->type) {
	case H2_HEADERS:
	case H2_CONTINUATION:
	case H2_PUSH_PROMISE:
		if (s->blk.active && !s->blk.failed)
			return block_inflate(s, d, n, false);
		return 0;
	case H2_SETTINGS:
		for (size_t i = 0; i < n; i++) {
			s->set[s->nset++] = d[i];
			if (s->nset == sizeof(s->set)) {
				if (!(s->flags & H2_F_ACK))
					setting(p, sd, s->set);
				s->nset = 0;
			}
		}
		return 0;
	default:
		return 0;	/* DATA, PING, ...: skipped */
	}
}

/* Streams the server will not answer (GOAWAY, §6.8) are given up on. */
static void goaway(struct fl_parser *p, uint32_t last)
{
	struct h2_parser *h = h2_of(p);

	for (uint32_t i = h->nst; i > 0; i--) {
		if (h->st[i - 1].id > last) {
			p->stats.unpaired++;
			stream_remove(h, &h->st[i - 1]);
		}
	}
}

/* The whole payload went by at @ts: act on the frame. */
static int frame_end(struct fl_parser *p, struct h2_side *s, enum fl_side sd,
		     uint64_t ts)
{
	struct h2_stream *st = NULL;
	int err = 0;

	s->state = H2_S_HEAD;
	switch (s->type) {
	case H2_HEADERS:
	case H2_CONTINUATION:
	case H2_PUSH_PROMISE:
		if (s->blk.active && s->blk.sid == s->sid && (s->flags & H2_F_END_HEADERS))
			err = block_end(p, s, sd, ts, false);
		break;
	case H2_DATA:
		if (sd == FL_SIDE_RESPONSE && (s->flags & H2_F_END_STREAM)) {
			st = stream_find(h2_of(p), s->sid);
			if (st)
				stream_finish(p, st, ts, -1);
			else if (s->sid & 1)
				p->stats.unpaired++;
		}
		break;
	case H2_RST_STREAM:
		st = stream_find(h2_of(p), s->sid);
		if (st)
			stream_finish(p, st, ts, s->pre_lost ? -2 : (int64_t)be32(s->pre));
		break;
	case H2_GOAWAY:
		if (sd == FL_SIDE_RESPONSE && !s->pre_lost)
			goaway(p, be32(s->pre) & 0x7fffffff);
		break;
	default:
		break;
	}
	return err;
}

/*
 * @n payload bytes of the current frame (@d NULL: not captured) at @ts.
 * Returns 0 or -ENOMEM.
 */
static int payload(struct fl_parser *p, struct h2_side *s, enum fl_side sd,
		   uint64_t ts, const uint8_t *d, size_t n)
{
	int err = 0, e;

	if (s->sid && n)	/* counted as they pass, before a record may end */
		stream_account(stream_find(h2_of(p), s->sid), sd, n);
	while (n) {
		size_t k;

		e = 0;
		if (s->npre < s->want_pre) {
			k = s->want_pre - s->npre;
			k = k < n ? k : n;
			if (d) {
				memcpy(s->pre + s->npre, d, k);
			} else {
				s->pre_lost = true;	/* padding unknown */
				if (s->blk.active && !s->blk.failed) {
					s->blk.failed = true;
					h2_inflater_drop(s);
				}
			}
			s->npre += (uint8_t)k;
			if (s->npre == s->want_pre)
				prefix_done(s);
		} else {
			uint32_t end = s->len - s->pad;

			k = s->done < end ? end - s->done : s->len - s->done;
			k = k < n ? k : n;
			if (s->done < end) {
				if (d)
					e = frame_content(p, s, sd, d, k);
				else if (s->blk.active && !s->blk.failed &&
					 s->type != H2_SETTINGS) {
					s->blk.failed = true;	/* HPACK bytes lost */
					h2_inflater_drop(s);
				}
				err = err ? err : e;
			}
		}
		s->done += (uint32_t)k;
		n -= k;
		if (d)
			d += k;
	}
	if (s->done == s->len) {
		e = frame_end(p, s, sd, ts);
		err = err ? err : e;
	}
	return err;
}

/* ---- loss and resynchronisation ---------------------------------------- */

/*
 * Framing of @sd is lost at @ts: a block in progress fails, HPACK state
 * goes, and the side scans for a plausible frame header.
 */
static void lose(struct fl_parser *p, struct h2_side *s, enum fl_side sd,
		 uint64_t ts)
{
	p->stats.resyncs++;
	if (s->blk.active)
		block_end(p, s, sd, ts, true);
	h2_inflater_drop(s);
	s->state = H2_S_RESYNC;
	s->nhdr = 0;
}

/* Resync: slide a 9-byte window over the input until a plausible header. */
static size_t resync(struct fl_parser *p, struct h2_side *s, enum fl_side sd,
		     const uint8_t *d, size_t n, uint64_t ts, int *err)
{
	size_t used = 0, dropped = 0;

	while (used < n) {
		if (s->nhdr == H2_HDR) {
			memmove(s->hdr, s->hdr + 1, H2_HDR - 1);
			s->nhdr--;
			dropped++;
		}
		if (!s->nhdr)
			s->hdr_ts = ts;
		s->hdr[s->nhdr++] = d[used++];
		if (s->nhdr == H2_HDR &&
		    frame_ok(s->hdr, sd, s->max_frame < H2_FRAME_DEFAULT ? s->max_frame :
			     H2_FRAME_DEFAULT, true, h2_of(p)->max_sid)) {
			*err = frame_begin(p, s, sd);
			break;
		}
	}
	if (dropped)
		fl_parser_unparsed(p, dropped, false);
	return used;
}

/* ---- the protocol ------------------------------------------------------ */

/* One step on @d (@n > 0): bytes consumed; *@err set on ENOMEM. */
static size_t step(struct fl_parser *p, struct h2_side *s, enum fl_side sd,
		   uint64_t ts, const uint8_t *d, size_t n, int *err)
{
	size_t k;

	switch (s->state) {
	case H2_S_PREFACE:
		if (d[0] != (uint8_t)H2_PREFACE[s->pos]) {
			fl_parser_unparsed(p, 0, true);
			lose(p, s, sd, ts);
			return 0;	/* rescanned from this byte */
		}
		if (++s->pos == H2_PREFACE_LEN)
			s->state = H2_S_HEAD;
		return 1;
	case H2_S_HEAD:
		if (!s->nhdr)
			s->hdr_ts = ts;
		k = H2_HDR - s->nhdr;
		k = k < n ? k : n;
		memcpy(s->hdr + s->nhdr, d, k);
		s->nhdr += (uint8_t)k;
		if (s->nhdr < H2_HDR)
			return k;
		if (!frame_ok(s->hdr, sd, s->limit_known ? s->max_frame : H2_FRAME_ABS,
			      false, 0)) {
			uint8_t keep[H2_HDR];

			memcpy(keep, s->hdr, H2_HDR);
			fl_parser_unparsed(p, 0, true);
			lose(p, s, sd, ts);
			if (p->stats.given_up)
				return k;
			memcpy(s->hdr, keep, H2_HDR);	/* rescanned from byte 1 */
			s->nhdr = H2_HDR;
			return k;
		}
		*err = frame_begin(p, s, sd);
		if (!s->len)
			*err = *err ? *err : payload(p, s, sd, ts, NULL, 0);
		return k;
	case H2_S_PAYLOAD:
		k = s->len - s->done;
		k = k < n ? k : n;
		*err = payload(p, s, sd, ts, d, k);
		return k;
	default:
		k = resync(p, s, sd, d, n, ts, err);
		if (s->state == H2_S_PAYLOAD && !s->len)
			*err = *err ? *err : payload(p, s, sd, ts, NULL, 0);
		return k;
	}
}

static int h2_feed(struct fl_parser *p, enum fl_side sd, uint64_t ts,
		   const uint8_t *d, size_t n)
{
	struct h2_side *s = side_of(p, sd);
	size_t off = 0;
	int err = 0;

	while (off < n && !p->stats.given_up && !err)
		off += step(p, s, sd, ts, d + off, n - off, &err);
	if (p->stats.given_up)
		p->stats.unparsed_bytes += n - off;
	return err;
}

static void h2_gap(struct fl_parser *p, enum fl_side sd, uint64_t ts, size_t n)
{
	struct h2_side *s = side_of(p, sd);
	size_t k;

	switch (s->state) {
	case H2_S_PREFACE:
		if (n <= (size_t)(H2_PREFACE_LEN - s->pos)) {	/* fixed bytes */
			s->pos += (uint8_t)n;
			if (s->pos == H2_PREFACE_LEN)
				s->state = H2_S_HEAD;
			return;
		}
		break;
	case H2_S_PAYLOAD:
		k = s->len - s->done;
		k = k < n ? k : n;
		payload(p, s, sd, ts, NULL, k);	/* ENOMEM: nothing more to lose */
		n -= k;
		break;
	case H2_S_RESYNC:
		if (s->nhdr)	/* the window's bytes were fed, not understood */
			fl_parser_unparsed(p, s->nhdr, false);
		s->nhdr = 0;
		return;
	default:
		break;
	}
	if (n && !p->stats.given_up)
		lose(p, s, sd, ts);
}

static void h2_close(struct fl_parser *p, uint64_t ts)
{
	struct h2_parser *h = h2_of(p);

	p->stats.unpaired += h->nst;	/* requests never answered */
	h->nst = 0;
}

static void h2_release(struct fl_parser *p)
{
	struct h2_parser *h = h2_of(p);

	for (int i = 0; i < 2; i++)
		h2_inflater_drop(&h->side[i]);
	if (h->st)
		explicit_bzero(h->st, sizeof(*h->st) * h->cap);
	free(h->st);
	explicit_bzero(h, sizeof(*h));	/* blocks keep the first bytes of paths */
}

/* A new parser's sides: the preface first on the request side. */
static void h2_init_sides(struct h2_parser *h)
{
	for (int i = 0; i < 2; i++) {
		h->side[i].max_frame = H2_FRAME_DEFAULT;
		h->side[i].limit_known = true;
	}
	h->side[FL_SIDE_RESPONSE].state = H2_S_HEAD;
}

/*
 * fl_h2_join() - the connection was joined mid-life: no preface, both sides
 * may start inside a frame (scanned for a plausible header, not counted as
 * a resync), frame limits unknown, HPACK state unknown (fresh inflaters).
 */
void fl_h2_join(struct fl_parser *p)
{
	struct h2_parser *h = h2_of(p);

	h2_init_sides(h);
	for (int i = 0; i < 2; i++) {
		h->side[i].state = H2_S_RESYNC;
		h->side[i].limit_known = false;
	}
}

static int h2_feed_first(struct fl_parser *p, enum fl_side sd, uint64_t ts,
			 const uint8_t *d, size_t n)
{
	struct h2_parser *h = h2_of(p);

	if (!h->side[0].max_frame)
		h2_init_sides(h);
	return h2_feed(p, sd, ts, d, n);
}

static void h2_gap_first(struct fl_parser *p, enum fl_side sd, uint64_t ts, size_t n)
{
	struct h2_parser *h = h2_of(p);

	if (!h->side[0].max_frame)
		h2_init_sides(h);
	h2_gap(p, sd, ts, n);
}

/* The HTTP/2 parser, for the core in proto_detect.c. */
const struct fl_proto_ops fl_h2_ops = {
	.priv_size = sizeof(struct h2_parser),
	.feed = h2_feed_first,
	.gap = h2_gap_first,
	.close = h2_close,
	.release = h2_release,
};
