/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Parser core, dispatch side: protocol detection, the table of parsers
 * and the public fl_parser_*() calls that dispatch to one protocol's
 * vtable (proto.h). The shared helpers are in proto_core.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

/* ---- detection --------------------------------------------------------- */

/* 1: HTTP; 0: not; *maybe when @d is a prefix of "METHOD " (fl_http_methods). */
static int detect_http(const uint8_t *d, size_t n, bool *maybe)
{
	for (size_t i = 0; i < fl_http_nmethods; i++) {
		const struct fl_http_method *m = &fl_http_methods[i];

		if (n > m->len && !memcmp(d, m->name, m->len) && d[m->len] == ' ')
			return 1;
		if (n <= m->len && !memcmp(d, m->name, n))
			*maybe = true;
	}
	return 0;
}

static uint32_t be32(const uint8_t *d)
{
	return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
	       (uint32_t)d[2] << 8 | d[3];
}

/* PostgreSQL untyped first message: StartupMessage v3.0-3.2, SSL/GSSENC request. */
static int detect_pg(const uint8_t *d, size_t n, bool *maybe)
{
	static const uint32_t codes[] = { 196608, 196609, 196610, 80877103, 80877104 };
	uint8_t want[4];
	uint32_t len;

	if (n < 4) {
		*maybe |= n == 0 || d[0] == 0;
		return 0;
	}
	len = be32(d);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		bool req = codes[i] >= 80877103;	/* SSL/GSSENC: exactly 8 bytes */
		size_t have = n - 4 < 4 ? n - 4 : 4;

		if (req ? len != 8 : len <= 8 || len > 10000)
			continue;
		want[0] = codes[i] >> 24;
		want[1] = codes[i] >> 16;
		want[2] = codes[i] >> 8;
		want[3] = codes[i];
		if (memcmp(d + 4, want, have))
			continue;
		if (have == 4)
			return 1;
		*maybe = true;
	}
	return 0;
}

/* Redis: "*<digits>\r\n". */
static int detect_redis(const uint8_t *d, size_t n, bool *maybe)
{
	size_t i = 1;

	if (!n || d[0] != '*')
		return 0;
	while (i < n && i <= 11 && fl_is_digit(d[i]))
		i++;
	if (i == n) {
		*maybe = true; /* at most 11 digits read: "\r\n" may follow */
		return 0;
	}
	if (i == 1 || d[i] != '\r')
		return 0;
	if (i + 1 == n) {
		*maybe = true;
		return 0;
	}
	return d[i + 1] == '\n';
}

/* A 1/0/-1 verdict: true for 1, *maybe set for -1. */
static bool detect_tri(int verdict, bool *maybe)
{
	if (verdict < 0)
		*maybe = true;
	return verdict > 0;
}

/* HTTP/2: the client connection preface (RFC 9113 §3.4). */
static int detect_h2(const uint8_t *d, size_t n, bool *maybe)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	size_t k = n < sizeof(preface) - 1 ? n : sizeof(preface) - 1;

	if (memcmp(d, preface, k))
		return 0;
	if (k == sizeof(preface) - 1)
		return 1;
	*maybe = true;
	return 0;
}

/* fl_detect() - protocol of a request stream's first bytes (see proto.h). */
enum fl_proto fl_detect(const uint8_t *data, size_t len, bool *need_more)
{
	bool maybe = false;
	enum fl_proto proto = FL_PROTO_UNKNOWN;

	if (!data)
		len = 0;
	if (!len)
		maybe = true;
	else if (detect_http(data, len, &maybe))
		proto = FL_PROTO_HTTP;
	else if (detect_pg(data, len, &maybe))
		proto = FL_PROTO_POSTGRES;
	else if (detect_redis(data, len, &maybe))
		proto = FL_PROTO_REDIS;
	else if (detect_tri(fl_mysql_detect_hs_response(data, len), &maybe))
		proto = FL_PROTO_MYSQL;
	else if (detect_h2(data, len, &maybe))
		proto = FL_PROTO_HTTP2;
	if (need_more)
		*need_more = proto == FL_PROTO_UNKNOWN && maybe;
	return proto;
}

/* fl_detect_joined() - fl_detect() for a connection joined mid-life. */
enum fl_proto fl_detect_joined(const uint8_t *data, size_t len, bool *need_more)
{
	bool more = false;
	enum fl_proto proto = fl_detect(data, len, &more);
	int pg, my, h2;

	if (proto != FL_PROTO_UNKNOWN || !data)
		goto out;
	/* before PostgreSQL: 'Q' and a MySQL length can look like a Query */
	if (fl_mysql_detect_hs_response(data, len) < 0) {
		more = true;	/* maybe a MySQL handshake response: wait */
		goto out;
	}
	my = fl_mysql_detect_query(data, len);
	if (my) {
		proto = my > 0 ? FL_PROTO_MYSQL : FL_PROTO_UNKNOWN;
		more |= my < 0;
		goto out;
	}
	pg = fl_pg_detect_typed(data, len);
	if (pg > 0)
		proto = FL_PROTO_POSTGRES;
	else if (pg < 0)
		more = true;
	if (proto != FL_PROTO_UNKNOWN)
		goto out;
	h2 = fl_h2_detect_frame(data, len);
	if (h2 > 0)
		proto = FL_PROTO_HTTP2;
	else if (h2 < 0)
		more = true;
out:
	if (need_more)
		*need_more = proto == FL_PROTO_UNKNOWN && more;
	return proto;
}

/* fl_detect_server() - a server-first protocol from a response stream's
 * first bytes (see proto.h). */
enum fl_proto fl_detect_server(const uint8_t *data, size_t len, bool *need_more)
{
	bool maybe = !data || !len;
	enum fl_proto proto = FL_PROTO_UNKNOWN;

	if (!maybe && detect_tri(fl_mysql_detect_greeting(data, len), &maybe))
		proto = FL_PROTO_MYSQL;
	if (need_more)
		*need_more = proto == FL_PROTO_UNKNOWN && maybe;
	return proto;
}

/* ---- public dispatch --------------------------------------------------- */

static const struct fl_proto_ops *ops_of(enum fl_proto proto)
{
	switch (proto) {
	case FL_PROTO_HTTP:
		return &fl_http_ops;
	case FL_PROTO_POSTGRES:
		return &fl_pg_ops;
	case FL_PROTO_REDIS:
		return &fl_redis_ops;
	case FL_PROTO_MYSQL:
		return &fl_mysql_ops;
	case FL_PROTO_HTTP2:
		return &fl_h2_ops;
	default:
		return NULL;
	}
}

/* fl_parser_new() - parser for @proto; NULL with errno EINVAL or ENOMEM. */
struct fl_parser *fl_parser_new(enum fl_proto proto)
{
	const struct fl_proto_ops *ops = ops_of(proto);
	struct fl_parser *p;

	if (!ops) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto err;
	p->proto = proto;
	p->ops = ops;
	p->priv = calloc(1, ops->priv_size);
	if (!p->priv)
		goto err_free_parser;
	return p;

err_free_parser:
	free(p);
err:
	errno = ENOMEM;
	return NULL;
}

/* fl_parser_join() - the connection was joined mid-life (see proto.h). */
void fl_parser_join(struct fl_parser *p)
{
	if (p && p->proto == FL_PROTO_POSTGRES)
		fl_pg_join(p);
	if (p && p->proto == FL_PROTO_MYSQL)
		fl_mysql_join(p);
	else if (p && p->proto == FL_PROTO_HTTP2)
		fl_h2_join(p);
}

/*
 * fl_parser_feed() - parse @len seen bytes of @side (see proto.h). Returns 0
 * or -ENOMEM; a NULL parser, no data or an unknown side are ignored.
 */
int fl_parser_feed(struct fl_parser *p, enum fl_side side, uint64_t ts_ns,
		   const uint8_t *data, size_t len, fl_record_cb cb, void *ctx)
{
	int err;

	if (!p || !len || !data || (side != FL_SIDE_REQUEST && side != FL_SIDE_RESPONSE))
		return 0;
	if (p->stats.given_up) {
		p->stats.unparsed_bytes += len;
		return 0;
	}
	p->cb = cb;
	p->ctx = ctx;
	err = p->ops->feed(p, side, ts_ns, data, len);
	p->cb = NULL;
	p->ctx = NULL;
	return err;
}

/* fl_parser_gap() - @len bytes of @side were not captured (see proto.h). */
void fl_parser_gap(struct fl_parser *p, enum fl_side side, uint64_t ts_ns,
		   size_t len, fl_record_cb cb, void *ctx)
{
	if (!p || !len || p->stats.given_up ||
	    (side != FL_SIDE_REQUEST && side != FL_SIDE_RESPONSE))
		return;
	p->cb = cb;
	p->ctx = ctx;
	p->ops->gap(p, side, ts_ns, len);
	p->cb = NULL;
	p->ctx = NULL;
}

/*
 * fl_parser_close() - end of connection: finish close-delimited bodies,
 * count requests never answered as unpaired.
 */
void fl_parser_close(struct fl_parser *p, uint64_t ts_ns, fl_record_cb cb,
		     void *ctx)
{
	if (!p)
		return;
	p->cb = cb;
	p->ctx = ctx;
	if (!p->stats.given_up)
		p->ops->close(p, ts_ns);
	fl_pending_clear(p);
	p->cb = NULL;
	p->ctx = NULL;
}

/* fl_parser_stats() - @p's counters, valid until fl_parser_free(). */
bool fl_parser_idle(const struct fl_parser *p)
{
	return p && p->ops->idle && !p->stats.given_up && !p->q.count &&
	       !p->q.lost_head && p->ops->idle(p);
}

void fl_parser_trim(struct fl_parser *p)
{
	if (!fl_parser_idle(p))
		return;
	free(p->q.slots);	/* empty: nothing to wipe */
	p->q.slots = NULL;
	p->q.head = 0;
	p->q.cap = 0;
	if (p->ops->trim)
		p->ops->trim(p);
}

const struct fl_parser_stats *fl_parser_stats(const struct fl_parser *p)
{
	return &p->stats;
}

/* fl_parser_free() - release @p and everything it owns; NULL is fine. */
void fl_parser_free(struct fl_parser *p)
{
	if (!p)
		return;
	p->ops->release(p);
	free(p->priv);
	free(p->q.slots);
	free(p);
}

/* fl_proto_name() - static lowercase name of @proto. */
const char *fl_proto_name(enum fl_proto proto)
{
	switch (proto) {
	case FL_PROTO_HTTP:
		return "http";
	case FL_PROTO_POSTGRES:
		return "postgresql";
	case FL_PROTO_REDIS:
		return "redis";
	case FL_PROTO_MYSQL:
		return "mysql";
	case FL_PROTO_HTTP2:
		return "http2";
	case FL_PROTO_GRPC:
		return "grpc";
	default:
		return "unknown";
	}
}
