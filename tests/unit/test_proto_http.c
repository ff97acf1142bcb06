/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/1.x parser: records from real curl <-> python http.server bytes and
 * from hand-written RFC 9112 exchanges, fed whole, split in two at every
 * byte and one byte at a time; pipelining, 1xx, HEAD/204/304, chunked
 * bodies with extensions and trailers, close-delimited bodies, gaps in
 * bodies and heads, garbage, secrets and route templates.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proto.h"

#include "proto_replay.h"

/* ---- captured: curl 7.88 <-> python3 -m http.server -------------------- */

static const struct chunk http_curl[] = {
	CHUNK(REQ, 1000, "GET /api/users/42\077token=abc HTTP/1.1\015\012Host: 127.0."
	      "0.1:26481\015\012User-Agent: curl/7.88.1\015\012Accept: */*"
	      "\015\012Authorization: Bearer xyz\015\012Cookie: session=s3c"
	      "r3t\015\012\015\012"),
	CHUNK(RSP, 2000, "HTTP/1.0 200 OK\015\012Server: SimpleHTTP/0.6 Python/3.11.7"
	      "\015\012Date: Sat, 21 Nov 2026 05:18:34 GMT\015\012Content-t"
	      "ype: application/octet-stream\015\012Content-Length: 21\015"
	      "\012Last-Modified: Sat, 21 Nov 2026 05:18:33 GMT\015\012\015"
	      "\012"),
	CHUNK(RSP, 3000, "{\042id\042:42,\042name\042:\042x\042}\012"),
	CHUNK(REQ, 4000, "GET /api/users/550e8400-e29b-41d4-a716-446655440000/orders"
	      " HTTP/1.1\015\012Host: 127.0.0.1:26481\015\012User-Agent: cu"
	      "rl/7.88.1\015\012Accept: */*\015\012\015\012"),
	CHUNK(RSP, 5000, "HTTP/1.0 404 File not found\015\012Server: SimpleHTTP/0.6 "
	      "Python/3.11.7\015\012Date: Sat, 21 Nov 2026 05:18:34 GMT\015"
	      "\012Connection: close\015\012Content-Type: text/html;charset"
	      "=utf-8\015\012Content-Length: 335\015\012\015\012<!DOCTYPE H"
	      "TML>\012<html lang=\042en\042>\012    <head>\012        <meta "
	      "charset=\042utf-8\042>\012        <title>Error response</tit"
	      "le>\012    </head>\012    <body>\012        <h1>Error respon"
	      "se</h1>\012        <p>Error code: 404</p>\012        <p>Mess"
	      "age: File not found.</p>\012        <p>Error code explanatio"
	      "n: 404 - Nothing matches the given URI.</p>\012    </body>\012"
	      "</html>\012"),
	CHUNK(REQ, 6000, "POST /login HTTP/1.1\015\012Host: 127.0.0.1:26481\015\012Us"
	      "er-Agent: curl/7.88.1\015\012Accept: */*\015\012Content-Leng"
	      "th: 25\015\012Content-Type: application/x-www-form-urlencode"
	      "d\015\012\015\012user=bob&password=hunter2"),
	CHUNK(RSP, 7000, "HTTP/1.0 501 Unsupported method ('POST')\015\012Server: Sim"
	      "pleHTTP/0.6 Python/3.11.7\015\012Date: Sat, 21 Nov 2026 05:1"
	      "8:34 GMT\015\012Connection: close\015\012Content-Type: text/"
	      "html;charset=utf-8\015\012Content-Length: 357\015\012\015\012"
	      "<!DOCTYPE HTML>\012<html lang=\042en\042>\012    <head>\012   "
	      "     <meta charset=\042utf-8\042>\012        <title>Error res"
	      "ponse</title>\012    </head>\012    <body>\012        <h1>Er"
	      "ror response</h1>\012        <p>Error code: 501</p>\012     "
	      "   <p>Message: Unsupported method ('POST').</p>\012        <"
	      "p>Error code explanation: 501 - Server does not support thi"
	      "s operation.</p>\012    </body>\012</html>\012"),
};

static const struct want http_curl_want[] = {
	{ "GET /api/users/{id}", 200, "", false, false, 1000, 3000, 152, 221 },
	{ "GET /api/users/{id}/orders", 404, "", false, true, 4000, 5000, 132, 520 },
	{ "POST /login", 501, "", true, false, 6000, 7000, 179, 555 },
};

static const struct fl_parser_stats no_trouble = { 0 };

static void test_curl_every_split(void)
{
	check_modes(FL_PROTO_HTTP, NULL, 0, http_curl, ARRAY_LEN(http_curl),
		    http_curl_want, ARRAY_LEN(http_curl_want), &no_trouble);
}

/* ---- hand-written RFC 9112 exchanges ----------------------------------- */

static const struct chunk http_framing[] = {
	CHUNK(REQ, 1000, "POST /upload/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c"
	      "d15d6c15b0f00a08 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	      "Expect: 100-continue\r\n\r\n"),
	CHUNK(RSP, 2000, "HTTP/1.1 100 Continue\r\n\r\n"),
	CHUNK(REQ, 3000, "5;name=x\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
	      "X-Checksum: abc\r\n\r\n"),
	CHUNK(RSP, 4000, "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
	      "4\r\nabcd\r\n0\r\nX-T: 1\r\n\r\n"),
	CHUNK(REQ, 5000, "HEAD /files/7 HTTP/1.1\r\nHost: h\r\n\r\n"),
	CHUNK(RSP, 6000, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
	CHUNK(REQ, 7000, "DELETE /files/7 HTTP/1.1\r\nHost: h\r\n\r\n"),
	CHUNK(RSP, 8000, "HTTP/1.1 204 No Content\r\n\r\n"),
	CHUNK(REQ, 9000, "GET /files/7 HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n"),
	CHUNK(RSP, 10000, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"),
	CHUNK(REQ, 11000, "GET /api/v1/items?page=2 HTTP/1.1\r\n\r\n"),
	CHUNK(RSP, 12000, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n"
	      "\r\nbusy\n"),
};

static const struct want http_framing_want[] = {
	{ "POST /upload/{id}", 201, "", false, false, 1000, 4000, 149 + 71, 25 + 74 },
	{ "HEAD /files/{id}", 200, "", false, false, 5000, 6000, 35, 41 },
	{ "DELETE /files/{id}", 204, "", false, false, 7000, 8000, 37, 27 },
	{ "GET /files/{id}", 304, "", false, false, 9000, 10000, 45, 40 },
	{ "GET /api/v1/items", 503, "", true, false, 11000, 12000, 37, 60 },
};

static void test_framing_every_split(void)
{
	check_modes(FL_PROTO_HTTP, NULL, 0, http_framing, ARRAY_LEN(http_framing),
		    http_framing_want, ARRAY_LEN(http_framing_want), &no_trouble);
}

/* Three requests in one write, then three responses in one write. */
static const struct chunk http_pipelined[] = {
	CHUNK(REQ, 1000, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"		/* 28 */
	      "HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"			/* 29 */
	      "PUT /c/12 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),	/* 44 */
	CHUNK(RSP, 2000, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"	/* 40 */
	      "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"		/* 39 */
	      "HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\n\r\n"),	/* 44 */
	CHUNK(REQ, 3000, "GET /d HTTP/1.1\r\n\r\n"),			/* 19 */
	CHUNK(RSP, 4000, "HTTP/1.0 200 OK\r\n\r\nuntil the close"),		/* 34 */
};

static const struct want http_pipelined_want[] = {
	{ "GET /a", 200, "", false, false, 1000, 2000, 28, 40 },
	{ "HEAD /b", 200, "", false, false, 1000, 2000, 29, 39 },
	{ "PUT /c/{id}", 409, "", false, true, 1000, 2000, 44, 44 },
	{ "GET /d", 200, "", false, false, 3000, CLOSE_TS, 19, 34 },
};

static void test_pipelined_every_split(void)
{
	check_modes(FL_PROTO_HTTP, NULL, 0, http_pipelined, ARRAY_LEN(http_pipelined),
		    http_pipelined_want, ARRAY_LEN(http_pipelined_want), &no_trouble);
}

/* start_ns is the first request byte's feed, end_ns the last response byte's. */
static void test_timestamps(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	const struct want w = { "GET /x", 200, "", false, false, 100, 400, 19, 41 };
	struct recs got = { 0 };

	feed(p, REQ, 100, "GET /x HT", 9, &got);
	feed(p, REQ, 200, "TP/1.1\r\n\r\n", 10, &got);
	feed(p, RSP, 300, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", 40, &got);
	CHECK_EQ_INT(got.n, 0);
	feed(p, RSP, 400, "c", 1, &got);
	CHECK_EQ_INT(got.n, 0);
	feed(p, RSP, 450, "d", 1, &got);
	CHECK_EQ_INT(got.n, 1);
	if (got.n == 1) {
		struct want w2 = w;

		w2.end_ns = 450;
		w2.resp_bytes = 42;
		check_rec(&got.r[0], &w2);
	}
	fl_parser_free(p);
}

/*
 * W3C Trace Context §3.2: only a well-formed traceparent gives its trace-id;
 * fl_parser_last_request() hands each queued request over once.
 */
static void test_traceparent(void)
{
	static const struct {
		const char *value;
		bool valid;
	} cases[] = {
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true },
		{ "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz", true },
		{ "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false },
		{ "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false },
		{ "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", false },
		{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", false },
		{ "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
		struct fl_request_info ri;
		struct recs got = { 0 };
		uint64_t seen = 0;
		char req[256];
		int n = snprintf(req, sizeof(req), "GET /a HTTP/1.1\r\nTraceparent: %s"
				 "\r\n\r\n", cases[i].value);

		CHECK(!fl_parser_last_request(p, &seen, &ri));
		feed(p, REQ, 10, req, (size_t)n, &got);
		CHECK(fl_parser_last_request(p, &seen, &ri));
		CHECK(!fl_parser_last_request(p, &seen, &ri)); /* once only */
		CHECK_EQ_INT(ri.seq, 1);
		CHECK_EQ_INT(ri.start_ns, 10);
		CHECK_EQ_STR(ri.operation, "GET /a");
		CHECK_EQ_INT(ri.has_trace_id, cases[i].valid);
		feed(p, RSP, 20, "HTTP/1.1 204 No Content\r\n\r\n", 27, &got);
		CHECK_EQ_INT(got.n, 1);
		if (got.n == 1) {
			CHECK_EQ_INT(got.r[0].has_trace_id, cases[i].valid);
			if (cases[i].valid)
				CHECK(got.r[0].trace_id[0] == 0x4b &&
				      got.r[0].trace_id[15] == 0x36);
		}
		fl_parser_free(p);
	}
}

/* Idle between messages only: the agent frees an idle parser. */
static void test_idle(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct fl_parser *pg = fl_parser_new(FL_PROTO_POSTGRES);
	struct recs got = { 0 };

	CHECK(fl_parser_idle(p));
	CHECK(!fl_parser_idle(pg));		/* keeps state across messages */
	CHECK(!fl_parser_idle(NULL));
	feed(p, REQ, 10, "GET /a HTTP/1.1\r\nHo", 19, &got);
	CHECK(!fl_parser_idle(p));		/* a line half-read */
	feed(p, REQ, 11, "st: x\r\n\r\n", 9, &got);
	CHECK(!fl_parser_idle(p));		/* a request waits */
	feed(p, RSP, 20, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no", 39, &got);
	CHECK(!fl_parser_idle(p));		/* inside a body */
	feed(p, RSP, 21, "k", 1, &got);
	CHECK_EQ_INT(got.n, 1);
	CHECK(fl_parser_idle(p));
	fl_parser_trim(p);			/* frees the pending ring */
	fl_parser_trim(pg);			/* not idle: a no-op */
	feed(p, REQ, 30, "GET /b HTTP/1.1\r\n\r\n", 19, &got);
	feed(p, RSP, 40, "HTTP/1.1 204 No Content\r\n\r\n", 27, &got);
	CHECK_EQ_INT(got.n, 2);
	if (got.n == 2)
		CHECK_EQ_STR(got.r[1].operation, "GET /b");
	fl_parser_free(p);
	fl_parser_free(pg);
}

static void test_close_drops_unanswered(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };

	feed(p, REQ, 1, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 38, &got);
	feed(p, RSP, 2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38, &got);
	feed(p, RSP, 3, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 42, &got);
	fl_parser_close(p, 4, on_rec, &got);
	CHECK_EQ_INT(got.n, 1);
	CHECK_EQ_STR(got.r[0].operation, "GET /a");
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 0);
	fl_parser_free(p);
}

/* ---- truncated capture -------------------------------------------------- */

static void test_gap_in_bodies(void)
{
	static const char req_head[] = "POST /items HTTP/1.1\r\nContent-Length: 100\r\n\r\n";
	static const char rsp_head[] = "HTTP/1.1 201 Created\r\nContent-Length: 50\r\n\r\n";
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };
	char body[100];
	struct want w = { "POST /items", 201, "", false, false, 1000, 2500,
			  sizeof(req_head) - 1 + 100, sizeof(rsp_head) - 1 + 50 };

	memset(body, 'x', sizeof(body));
	feed(p, REQ, 1000, req_head, sizeof(req_head) - 1, &got);
	feed(p, REQ, 1000, body, 30, &got);
	fl_parser_gap(p, REQ, 1500, 40, on_rec, &got);
	feed(p, REQ, 1600, body, 30, &got);
	feed(p, RSP, 2000, rsp_head, sizeof(rsp_head) - 1, &got);
	feed(p, RSP, 2000, body, 10, &got);
	fl_parser_gap(p, RSP, 2500, 40, on_rec, &got);	/* ends the body */
	CHECK_EQ_INT(got.n, 1);
	if (got.n == 1)
		check_rec(&got.r[0], &w);

	/* chunked: a gap inside chunk data only shortens the skip */
	feed(p, REQ, 3000, "GET /c HTTP/1.1\r\n\r\n", 19, &got);
	feed(p, RSP, 4000, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "10\r\n0123", 55, &got);
	fl_parser_gap(p, RSP, 4100, 10, on_rec, &got);
	feed(p, RSP, 4200, "ef\r\n0\r\n\r\n", 9, &got);
	CHECK_EQ_INT(got.n, 2);
	if (got.n == 2) {
		struct want w2 = { "GET /c", 200, "", false, false, 3000, 4200, 19, 74 };

		check_rec(&got.r[1], &w2);
	}
	CHECK(!memcmp(fl_parser_stats(p), &no_trouble, sizeof(no_trouble)));
	fl_parser_free(p);
}

/* A gap in a request head loses that request: its response is discarded. */
static void test_gap_in_request_head(void)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };
	struct want w = { "GET /b", 200, "", false, false, 3000, 4000, 19, 40 };

	feed(p, REQ, 1000, "GET /a HTTP/1.1\r\nHo", 19, &got);
	fl_parser_gap(p, REQ, 1100, 20, on_rec, &got);
	feed(p, REQ, 1200, "ost: x\r\n\r\n", 10, &got);	/* tail: not a start */
	feed(p, RSP, 2000, ok, sizeof(ok) - 1, &got);		/* answers the lost /a */
	feed(p, REQ, 3000, "GET /b HTTP/1.1\r\n\r\n", 19, &got);
	feed(p, RSP, 4000, ok, sizeof(ok) - 1, &got);
	CHECK_EQ_INT(got.n, 1);
	if (got.n == 1)
		check_rec(&got.r[0], &w);
	CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unparsed_bytes, 10);
	CHECK_EQ_INT(fl_parser_stats(p)->given_up, 0);
	fl_parser_free(p);
}

/* A gap in a response head: pending requests go, nothing is mispaired. */
static void test_gap_in_response_head(void)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };
	struct want w = { "GET /d", 200, "", false, false, 3000, 4000, 19, 40 };

	feed(p, REQ, 1000, "GET /c HTTP/1.1\r\n\r\n", 19, &got);
	feed(p, RSP, 2000, "HTTP/1.1 200 OK\r\nContent-Le", 27, &got);
	fl_parser_gap(p, RSP, 2100, 12, on_rec, &got);
	feed(p, RSP, 2200, "\r\nok", 4, &got);
	feed(p, REQ, 3000, "GET /d HTTP/1.1\r\n\r\n", 19, &got);
	feed(p, RSP, 4000, ok, sizeof(ok) - 1, &got);
	CHECK_EQ_INT(got.n, 1);
	if (got.n == 1)
		check_rec(&got.r[0], &w);
	CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unparsed_bytes, 4);
	fl_parser_free(p);
}

/* ---- garbage ------------------------------------------------------------ */

static void test_garbage_random(void)
{
	static const size_t sizes[] = { 1, 7, 100, 4096, 70000, 300000 };
	uint32_t seed = 0x2545f491;

	for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
		uint8_t *buf = malloc(sizes[s]);
		struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
		const struct fl_parser_stats *st = fl_parser_stats(p);
		struct recs got = { 0 };
		size_t off = 0;

		for (size_t i = 0; i < sizes[s]; i++)
			buf[i] = (uint8_t)rnd(&seed);
		while (off < sizes[s]) {	/* random feed sizes, both sides */
			size_t n = 1 + rnd(&seed) % 1500;

			n = n > sizes[s] - off ? sizes[s] - off : n;
			feed(p, rnd(&seed) & 1 ? REQ : RSP, off, buf + off, n, &got);
			if (rnd(&seed) % 16 == 0)
				fl_parser_gap(p, REQ, off, rnd(&seed) % 100, on_rec, &got);
			off += n;
		}
		fl_parser_close(p, off, on_rec, &got);
		CHECK_EQ_INT(got.n, 0);
		CHECK(st->unparsed_bytes <= sizes[s]);
		if (sizes[s] >= 100) {	/* fewer bytes may be a valid prefix */
			CHECK(st->unparsed_bytes > 0);
			CHECK(st->resyncs > 0 || st->given_up);
		}
		fl_parser_free(p);
		free(buf);
	}
}

static void test_garbage_then_valid(void)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };

	feed(p, REQ, 1, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, &got);
	feed(p, REQ, 2, "GET /ok HTTP/1.1\r\n\r\n", 20, &got);
	feed(p, RSP, 3, ok, sizeof(ok) - 1, &got);	/* answers the garbage: dropped */
	feed(p, RSP, 4, ok, sizeof(ok) - 1, &got);
	CHECK_EQ_INT(got.n, 1);
	CHECK_EQ_STR(got.r[0].operation, "GET /ok");
	CHECK_EQ_INT(got.r[0].start_ns, 2);
	CHECK_EQ_INT(got.r[0].end_ns, 4);
	CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unparsed_bytes, 11);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 1);
	fl_parser_free(p);
}

/* Malformed heads that look like starts: resync each time, then give up. */
static void test_repeated_garbage_gives_up(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };

	for (int i = 0; i < 20; i++)
		feed(p, REQ, (uint64_t)i, "GET /x HTTP/9\r\n\r\n", 17, &got);
	CHECK_EQ_INT(fl_parser_stats(p)->given_up, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 7);
	CHECK_EQ_INT(fl_parser_stats(p)->unparsed_bytes, 20 * 17);
	CHECK_EQ_INT(got.n, 0);
	fl_parser_free(p);
}

static void test_bad_framing(void)
{
	static const char *const bad[] = {
		"GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
		"GET /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
		"GET /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
		"GET  HTTP/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
	};

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
		struct recs got = { 0 };

		feed(p, REQ, 1, bad[i], strlen(bad[i]), &got);
		CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 1);
		CHECK(fl_parser_stats(p)->unparsed_bytes > 0);
		fl_parser_free(p);
	}
}

/* A head larger than the 64 KiB cap is dropped, not buffered. */
static void test_huge_head(void)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };
	size_t n = 70000;
	char *cookie = malloc(n);

	memset(cookie, 'c', n);
	feed(p, REQ, 1, "GET /big HTTP/1.1\r\nCookie: ", 27, &got);
	for (size_t off = 0; off < n; off += 1000)
		feed(p, REQ, 1, cookie + off, 1000, &got);
	feed(p, REQ, 2, "\r\n\r\n", 4, &got);
	feed(p, REQ, 3, "GET /next HTTP/1.1\r\n\r\n", 22, &got);
	feed(p, RSP, 4, ok, sizeof(ok) - 1, &got);	/* /big's: dropped */
	feed(p, RSP, 5, ok, sizeof(ok) - 1, &got);
	CHECK_EQ_INT(got.n, 1);
	CHECK_EQ_STR(got.r[0].operation, "GET /next");
	CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 1);
	fl_parser_free(p);
	free(cookie);
}

/* ---- connection changes ------------------------------------------------- */

static void test_upgrade_gives_up(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };
	static const char req[] = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
				  "Connection: Upgrade\r\n\r\n";
	static const char rsp[] = "HTTP/1.1 101 Switching Protocols\r\n"
				  "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
				  "\x81\x05hello";

	feed(p, REQ, 1, req, sizeof(req) - 1, &got);
	feed(p, RSP, 2, rsp, sizeof(rsp) - 1, &got);
	feed(p, REQ, 3, "\x81\x85\x01\x02\x03\x04" "abcde", 11, &got);
	CHECK_EQ_INT(got.n, 0);
	CHECK_EQ_INT(fl_parser_stats(p)->given_up, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unparsed_bytes, 7 + 11);
	fl_parser_free(p);

	p = fl_parser_new(FL_PROTO_HTTP);
	feed(p, REQ, 1, "CONNECT db.internal:5432 HTTP/1.1\r\n\r\n", 37, &got);
	feed(p, RSP, 2, "HTTP/1.1 200 Connection established\r\n\r\n", 39, &got);
	CHECK_EQ_INT(fl_parser_stats(p)->given_up, 1);
	CHECK_EQ_INT(got.n, 0);
	fl_parser_free(p);
}

/* More than FL_PENDING_MAX requests in flight: the oldest is dropped and
 * its response discarded, so every other pair still matches. */
static void test_pending_overflow(void)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };
	int total = FL_PENDING_MAX + 3;
	char req[64];

	for (int i = 0; i < total; i++) {
		int n = snprintf(req, sizeof(req), "GET /r/%c%c HTTP/1.1\r\n\r\n",
				 'a' + i / 26 % 26, 'a' + i % 26);

		feed(p, REQ, (uint64_t)i, req, (size_t)n, &got);
	}
	for (int i = 0; i < total; i++)
		feed(p, RSP, 5000 + (uint64_t)i, ok, sizeof(ok) - 1, &got);
	CHECK_EQ_INT(got.n, FL_PENDING_MAX);
	CHECK_EQ_STR(got.r[0].operation, "GET /r/ad");	/* /aa../ac dropped */
	CHECK_EQ_INT(got.r[0].start_ns, 3);
	CHECK_EQ_INT(got.r[0].end_ns, 5003);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 3);
	fl_parser_free(p);
}

/* ---- secrets and routes ------------------------------------------------- */

static void test_secrets_never_stored(void)
{
	static const char req[] =
		"GET http://alice:pa55w0rd@api.example.com/v2/accounts/12345/statements"
		";jsessionid=ABCDEF?token=abc&sig=zz#frag HTTP/1.1\r\n"
		"Authorization: Bearer xyz\r\nCookie: session=s3cr3t\r\n"
		"Proxy-Authorization: Basic cXdlcnR5\r\n\r\n";
	static const char rsp[] = "HTTP/1.1 200 OK\r\nSet-Cookie: id=t0ps3cr3t\r\n"
				  "Content-Length: 0\r\n\r\n";
	static const char *const secrets[] = {
		"abc", "xyz", "s3cr3t", "token", "alice", "pa55w0rd", "ABCDEF",
		"cXdlcnR5", "frag", "12345", "t0ps3cr3t", "sig",
	};
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };

	feed(p, REQ, 1, req, sizeof(req) - 1, &got);
	feed(p, RSP, 2, rsp, sizeof(rsp) - 1, &got);
	CHECK_EQ_INT(got.n, 1);
	CHECK_EQ_STR(got.r[0].operation, "GET /v2/accounts/{id}/statements");
	for (size_t i = 0; i < ARRAY_LEN(secrets); i++)
		CHECK(!strstr(got.r[0].operation, secrets[i]));
	fl_parser_free(p);
}

static void test_route_table(void)
{
	static const struct { const char *m, *t, *want; } cases[] = {
		{ "GET", "/", "GET /" },
		{ "GET", "/users/42", "GET /users/{id}" },
		{ "GET", "/users/42/", "GET /users/{id}/" },
		{ "GET", "/users/42?x=1&token=abc", "GET /users/{id}" },
		{ "GET", "/a#frag", "GET /a" },
		{ "GET", "/v1/orders/7/items/0", "GET /v1/orders/{id}/items/{id}" },
		{ "GET", "/u/550e8400-e29b-41d4-a716-446655440000", "GET /u/{id}" },
		{ "GET", "/u/550E8400-E29B-41D4-A716-446655440000", "GET /u/{id}" },
		{ "GET", "/u/550e8400-e29b-41d4-a716-44665544000", "GET /u/550e8400-e29b-41d4-a716-44665544000" },
		{ "GET", "/blob/0123456789abcdef", "GET /blob/{id}" },
		{ "GET", "/blob/0123456789abcde", "GET /blob/0123456789abcde" },
		{ "GET", "/blob/deadbeef", "GET /blob/deadbeef" },
		{ "GET", "/v2/x1", "GET /v2/x1" },
		{ "GET", "/a//b", "GET /a//b" },
		{ "GET", "/cart;jsessionid=1234/items", "GET /cart/items" },
		{ "GET", "http://h:8080/x/9?q", "GET /x/{id}" },
		{ "GET", "http://user:pw@h", "GET /" },
		{ "GET", "https://h?x=1", "GET /" },
		{ "OPTIONS", "*", "OPTIONS *" },
		{ "CONNECT", "db:5432", "CONNECT db:5432" },
		{ "GET", "", "GET " },
	};
	char out[FL_OP_MAX];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n = fl_http_route(cases[i].m, strlen(cases[i].m), cases[i].t,
					 strlen(cases[i].t), out, sizeof(out));

		CHECK_EQ_STR(out, cases[i].want);
		CHECK_EQ_INT(n, strlen(cases[i].want));
	}
	/* truncation: always NUL-terminated, never past out_size */
	CHECK_EQ_INT(fl_http_route("GET", 3, "/abcdef", 7, out, 6), 5);
	CHECK_EQ_STR(out, "GET /");
	CHECK_EQ_INT(fl_http_route("GET", 3, "/a", 2, out, 1), 0);
	CHECK_EQ_STR(out, "");
	/* a long path is cut to FL_OP_MAX - 1 */
	{
		char target[1000];

		target[0] = '/';
		memset(target + 1, 'p', sizeof(target) - 1);
		CHECK_EQ_INT(fl_http_route("GET", 3, target, sizeof(target), out,
					   sizeof(out)), FL_OP_MAX - 1);
		CHECK_EQ_INT(strlen(out), FL_OP_MAX - 1);
	}
}

/* A request line longer than what is kept still gives a (cut) route. */
static void test_long_target(void)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };
	size_t n = 20000;
	char *line = malloc(n);

	memcpy(line, "GET /", 5);
	memset(line + 5, 's', n - 5);
	feed(p, REQ, 1, line, n, &got);
	feed(p, REQ, 1, "?q=1 HTTP/1.1\r\n\r\n", 17, &got);
	feed(p, RSP, 2, ok, sizeof(ok) - 1, &got);
	CHECK_EQ_INT(got.n, 1);
	CHECK_EQ_INT(strlen(got.r[0].operation), FL_OP_MAX - 1);
	CHECK_EQ_INT(got.r[0].req_bytes, n + 17);
	CHECK(!memcmp(got.r[0].operation, "GET /sss", 8));
	fl_parser_free(p);
	free(line);
}

/* ---- detection and lifecycle ------------------------------------------- */

static void test_detect(void)
{
	static const char *const yes[] = {
		"GET / HTTP/1.1\r\n", "POST /x", "PUT /", "DELETE /a", "HEAD /",
		"OPTIONS *", "PATCH /p", "CONNECT h:1", "TRACE /",
	};
	bool more = true;

	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		CHECK_EQ_INT(fl_detect((const uint8_t *)yes[i], strlen(yes[i]), &more),
			     FL_PROTO_HTTP);
		CHECK(!more);
	}
	CHECK_EQ_INT(fl_detect((const uint8_t *)"GE", 2, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"OPTIONS", 7, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"GETX / HTTP/1.1", 15, &more),
		     FL_PROTO_UNKNOWN);
	CHECK(!more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"get / HTTP/1.1", 14, &more),
		     FL_PROTO_UNKNOWN);
	CHECK(!more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"", 0, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	CHECK_EQ_STR(fl_proto_name(FL_PROTO_HTTP), "http");
	/* WebDAV and the other registered methods of fl_http_methods: a stream
	 * that starts with PROPFIND is HTTP, as resynchronisation takes it */
	CHECK_EQ_INT(fl_detect((const uint8_t *)"PROPFIND /dav/ HTTP/1.1\r\n", 25, &more),
		     FL_PROTO_HTTP);
	CHECK(!more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"PROPFI", 6, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"MKCALENDAR /c", 13, &more), FL_PROTO_HTTP);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"BREW /pot", 9, &more), FL_PROTO_UNKNOWN);
	CHECK(!more);
	CHECK_EQ_STR(fl_proto_name(FL_PROTO_UNKNOWN), "unknown");
	CHECK_EQ_STR(fl_proto_name((enum fl_proto)77), "unknown");
	errno = 0;
	CHECK(fl_parser_new(FL_PROTO_UNKNOWN) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	fl_parser_free(NULL);
}

/*
 * Random gaps anywhere: records may be lost, never mispaired. Not claimed
 * for a pipelined write that loses two requests or more while a later one
 * in it survives (ambiguous by nature); test_pipelined_loss covers the
 * one-lost case.
 */
static void test_random_gaps_never_mispair(void)
{
	check_random_gaps(FL_PROTO_HTTP, NULL, 0, http_curl, ARRAY_LEN(http_curl),
			  http_curl_want, ARRAY_LEN(http_curl_want), true, 3000);
	check_random_gaps(FL_PROTO_HTTP, NULL, 0, http_framing, ARRAY_LEN(http_framing),
			  http_framing_want, ARRAY_LEN(http_framing_want), true, 3000);
}

/* Pipelined A B C, B lost in a gap, C resynced: A and C pair right. */
static void test_pipelined_loss(void)
{
	static const char a[] = "GET /a HTTP/1.1\r\n\r\n", c[] = "GET /c HTTP/1.1\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };

	feed(p, REQ, 1000, a, sizeof(a) - 1, &got);
	fl_parser_gap(p, FL_SIDE_REQUEST, 1000, 19, on_rec, &got);	/* GET /b */
	feed(p, REQ, 1000, c, sizeof(c) - 1, &got);
	feed(p, RSP, 2000, ok, sizeof(ok) - 1, &got);
	feed(p, RSP, 2000, nf, sizeof(nf) - 1, &got);	/* /b's: discarded */
	feed(p, RSP, 2000, ok, sizeof(ok) - 1, &got);
	CHECK_EQ_INT(got.n, 2);
	CHECK_EQ_STR(got.r[0].operation, "GET /a");
	CHECK_EQ_STR(got.r[1].operation, "GET /c");
	CHECK_EQ_INT(got.r[1].status, 200);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 1);
	fl_parser_free(p);
}

/* A gap in a chunked request body may or may not hide further requests:
 * causality decides (a response begun before a request was sent is not
 * its answer). */
static void test_gap_in_chunked_request(void)
{
	static const char post[] = "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n";
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct fl_parser *p = fl_parser_new(FL_PROTO_HTTP);
	struct recs got = { 0 };

	/* the gap held only the rest of the body: nothing else lost */
	feed(p, REQ, 1000, post, sizeof(post) - 1, &got);
	fl_parser_gap(p, FL_SIDE_REQUEST, 1100, 12, on_rec, &got);
	feed(p, RSP, 2000, ok, sizeof(ok) - 1, &got);
	feed(p, REQ, 3000, "GET /b HTTP/1.1\r\n\r\n", 19, &got);
	feed(p, RSP, 4000, ok, sizeof(ok) - 1, &got);
	/* the gap held the rest of the body and a whole request */
	feed(p, REQ, 5000, post, sizeof(post) - 1, &got);
	fl_parser_gap(p, FL_SIDE_REQUEST, 5100, 40, on_rec, &got);
	feed(p, RSP, 6000, ok, sizeof(ok) - 1, &got);	/* the POST's */
	feed(p, RSP, 6500, ok, sizeof(ok) - 1, &got);	/* the hidden one's */
	feed(p, REQ, 7000, "GET /d HTTP/1.1\r\n\r\n", 19, &got);
	feed(p, RSP, 8000, ok, sizeof(ok) - 1, &got);
	CHECK_EQ_INT(got.n, 4);
	CHECK_EQ_STR(got.r[0].operation, "POST /up");
	CHECK_EQ_INT(got.r[0].end_ns, 2000);
	CHECK_EQ_STR(got.r[1].operation, "GET /b");
	CHECK_EQ_INT(got.r[1].end_ns, 4000);
	CHECK_EQ_STR(got.r[2].operation, "POST /up");
	CHECK_EQ_INT(got.r[2].end_ns, 6000);
	CHECK_EQ_STR(got.r[3].operation, "GET /d");
	CHECK_EQ_INT(got.r[3].start_ns, 7000);
	CHECK_EQ_INT(got.r[3].end_ns, 8000);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 2);
	fl_parser_free(p);
}

RUN_TESTS(test_curl_every_split, test_framing_every_split,
	  test_pipelined_every_split, test_timestamps, test_traceparent, test_idle,
	  test_close_drops_unanswered, test_gap_in_bodies,
	  test_gap_in_request_head, test_gap_in_response_head,
	  test_garbage_random, test_garbage_then_valid,
	  test_repeated_garbage_gives_up, test_bad_framing, test_huge_head,
	  test_upgrade_gives_up, test_pending_overflow,
	  test_secrets_never_stored, test_route_table, test_long_target,
	  test_detect,
	  test_random_gaps_never_mispair,
	  test_pipelined_loss, test_gap_in_chunked_request)
