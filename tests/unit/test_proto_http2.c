/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/2 parser edge cases that real captures do not show on demand: header
 * blocks made with libnghttp2's own HPACK deflater, so the dynamic table is
 * used as real encoders use it. Detection, HPACK recovery after a gap (a
 * fresh inflater decodes literals, never misreads a reference), CONTINUATION,
 * RST_STREAM, and that no header value reaches a record.
 */
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proto.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

struct out {
	struct fl_record r[16];
	int n;
};

static void on_rec(const struct fl_record *r, void *ctx)
{
	struct out *o = ctx;

	if (o->n < 16)
		o->r[o->n] = *r;
	o->n++;
}

/* A frame: 9-byte header + @n payload bytes into @buf; returns its size. */
static size_t frame(uint8_t *buf, uint8_t type, uint8_t flags, uint32_t sid,
		    const uint8_t *payload, size_t n)
{
	buf[0] = (uint8_t)(n >> 16);
	buf[1] = (uint8_t)(n >> 8);
	buf[2] = (uint8_t)n;
	buf[3] = type;
	buf[4] = flags;
	buf[5] = (uint8_t)(sid >> 24);
	buf[6] = (uint8_t)(sid >> 16);
	buf[7] = (uint8_t)(sid >> 8);
	buf[8] = (uint8_t)sid;
	if (n)
		memcpy(buf + 9, payload, n);
	return 9 + n;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, \
		   NGHTTP2_NV_FLAG_NONE }
#define NV_NOINDEX(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, \
			   sizeof(v) - 1, NGHTTP2_NV_FLAG_NO_INDEX }

/* HEADERS (END_HEADERS | @flags) for @nv, deflated by @d, into @buf. */
static size_t headers(uint8_t *buf, nghttp2_hd_deflater *d, uint32_t sid, uint8_t flags,
		      const nghttp2_nv *nv, size_t nnv)
{
	uint8_t block[1024];
	ssize_t n = nghttp2_hd_deflate_hd(d, block, sizeof(block), nv, nnv);

	CHECK(n > 0);
	return frame(buf, 1, (uint8_t)(0x4 | flags), sid, block, n > 0 ? (size_t)n : 0);
}

static void test_detect(void)
{
	static const uint8_t hdr[] = { 0, 0, 8, 6, 0, 0, 0, 0, 0 };	/* PING */
	bool more;

	CHECK_EQ_INT(fl_detect((const uint8_t *)PREFACE, 24, &more), FL_PROTO_HTTP2);
	CHECK(!more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"PRI * HT", 8, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"PRI * HTTP/1.1\r\n", 16, &more), FL_PROTO_UNKNOWN);
	CHECK(!more);
	CHECK_EQ_INT(fl_detect_joined(hdr, sizeof(hdr), &more), FL_PROTO_HTTP2);
	CHECK_EQ_INT(fl_detect_joined(hdr, 5, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	CHECK_EQ_INT(fl_detect(hdr, sizeof(hdr), &more), FL_PROTO_UNKNOWN);	/* not joined */
	CHECK_EQ_STR(fl_proto_name(FL_PROTO_HTTP2), "http2");
	CHECK_EQ_STR(fl_proto_name(FL_PROTO_GRPC), "grpc");
	CHECK(fl_parser_new(FL_PROTO_GRPC) == NULL);	/* records only */
}

/*
 * Request 1 indexes :authority and a cookie; 100 bytes of request 3's block
 * are lost; request 5 is all literals (new path, no indexing) and is named
 * by a fresh inflater; request 7 refers to request 1's entries and must be
 * counted unnamed, not misnamed.
 */
static void test_hpack_recovery(void)
{
	const nghttp2_nv r1[] = { NV(":method", "GET"), NV(":path", "/a/1?k=secret"),
				  NV(":authority", "svc"), NV("cookie", "id=c00kie") };
	const nghttp2_nv r3[] = { NV(":method", "GET"), NV(":path", "/b"),
				  NV(":authority", "svc"), NV("x-long", "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789") };
	const nghttp2_nv r5[] = { NV_NOINDEX(":method", "DELETE"), NV_NOINDEX(":path", "/c/77"),
				  NV_NOINDEX(":authority", "other") };
	const nghttp2_nv r7[] = { NV(":method", "GET"), NV(":path", "/d"),
				  NV(":authority", "svc"), NV("cookie", "id=c00kie") };
	const nghttp2_nv resp[] = { NV(":status", "200") };
	nghttp2_hd_deflater *dq, *dr;
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP2);
	uint8_t buf[4096], rb[4096];
	struct out o = { .n = 0 };
	size_t n, m, cut;

	CHECK(p && !nghttp2_hd_deflate_new(&dq, 4096) && !nghttp2_hd_deflate_new(&dr, 4096));
	n = headers(buf, dq, 1, 1, r1, 4);
	fl_parser_feed(p, FL_SIDE_REQUEST, 1, (const uint8_t *)PREFACE, 24, on_rec, &o);
	fl_parser_feed(p, FL_SIDE_REQUEST, 1, buf, n, on_rec, &o);
	m = headers(rb, dr, 1, 1, resp, 1);
	fl_parser_feed(p, FL_SIDE_RESPONSE, 2, rb, m, on_rec, &o);
	CHECK_EQ_INT(o.n, 1);
	CHECK_EQ_STR(o.r[0].operation, "GET /a/{id}");
	CHECK_EQ_INT(o.r[0].proto, FL_PROTO_HTTP);

	n = headers(buf, dq, 3, 1, r3, 4);
	cut = 20;	/* header + 11 block bytes seen, then a gap inside the block */
	CHECK(n > cut + 5);
	fl_parser_feed(p, FL_SIDE_REQUEST, 3, buf, cut, on_rec, &o);
	fl_parser_gap(p, FL_SIDE_REQUEST, 3, n - cut - 5, on_rec, &o);
	fl_parser_feed(p, FL_SIDE_REQUEST, 3, buf + n - 5, 5, on_rec, &o);
	m = headers(rb, dr, 3, 1, resp, 1);
	fl_parser_feed(p, FL_SIDE_RESPONSE, 4, rb, m, on_rec, &o);
	CHECK_EQ_INT(o.n, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unnamed, 1);

	n = headers(buf, dq, 5, 1, r5, 3);
	fl_parser_feed(p, FL_SIDE_REQUEST, 5, buf, n, on_rec, &o);
	n = headers(buf, dq, 7, 1, r7, 4);
	fl_parser_feed(p, FL_SIDE_REQUEST, 5, buf, n, on_rec, &o);
	m = headers(rb, dr, 7, 1, resp, 1);	/* stream 7 ends first */
	m += headers(rb + m, dr, 5, 1, resp, 1);
	fl_parser_feed(p, FL_SIDE_RESPONSE, 6, rb, m, on_rec, &o);
	CHECK_EQ_INT(o.n, 2);
	CHECK_EQ_STR(o.r[1].operation, "DELETE /c/{id}");
	CHECK_EQ_INT(o.r[1].start_ns, 5);
	CHECK_EQ_INT(fl_parser_stats(p)->unnamed, 2);	/* stream 7: never misnamed */
	for (int i = 0; i < o.n && i < 16; i++)
		CHECK(!strstr(o.r[i].operation, "secret") && !strstr(o.r[i].operation, "c00kie"));
	fl_parser_close(p, 7, on_rec, &o);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 0);
	fl_parser_free(p);
	nghttp2_hd_deflate_del(dq);
	nghttp2_hd_deflate_del(dr);
}

/* A request block split over HEADERS + CONTINUATION; a gRPC call reset. */
static void test_continuation_and_reset(void)
{
	const nghttp2_nv rq[] = { NV(":method", "POST"), NV(":path", "/pkg.Svc/Do"),
				  NV("content-type", "application/grpc"),
				  NV("authorization", "Bearer s3cr3t") };
	static const uint8_t cancel[4] = { 0, 0, 0, 8 };
	nghttp2_hd_deflater *dq;
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP2);
	uint8_t block[512], buf[1024];
	struct out o = { .n = 0 };
	ssize_t b;
	size_t n;

	CHECK(p && !nghttp2_hd_deflate_new(&dq, 4096));
	b = nghttp2_hd_deflate_hd(dq, block, sizeof(block), rq, 4);
	CHECK(b > 10);
	n = frame(buf, 1, 0, 1, block, 10);			/* HEADERS, no END_HEADERS */
	n += frame(buf + n, 9, 0x4, 1, block + 10, (size_t)b - 10); /* CONTINUATION */
	fl_parser_feed(p, FL_SIDE_REQUEST, 1, (const uint8_t *)PREFACE, 24, on_rec, &o);
	fl_parser_feed(p, FL_SIDE_REQUEST, 1, buf, n, on_rec, &o);
	n = frame(buf, 3, 0, 1, cancel, 4);			/* RST_STREAM CANCEL */
	fl_parser_feed(p, FL_SIDE_REQUEST, 2, buf, n, on_rec, &o);
	CHECK_EQ_INT(o.n, 1);
	CHECK_EQ_INT(o.r[0].proto, FL_PROTO_GRPC);
	CHECK_EQ_STR(o.r[0].operation, "pkg.Svc/Do");
	CHECK_EQ_INT(o.r[0].status, 1);	/* CANCELLED */
	CHECK(o.r[0].error);
	CHECK_EQ_INT(o.r[0].req_bytes, 18 + (uint64_t)b + 13);
	fl_parser_free(p);
	nghttp2_hd_deflate_del(dq);
}

RUN_TESTS(test_detect, test_hpack_recovery, test_continuation_and_reset)
