// SPDX-License-Identifier: BSD-2-Clause
/*
 * MySQL parser: what the golden captures cannot show — detection verdicts,
 * the SSLRequest and LOCAL INFILE give-ups, resynchronisation at a feed
 * start after lost framing, joined connections without capability flags,
 * MySQL's string literals, and no record for COM_STMT_CLOSE.
 */
#include "harness.h"
#include "proto.h"

#include <string.h>

struct got {
	int n;
	struct fl_record rec[8];
};

static void on_rec(const struct fl_record *r, void *ctx)
{
	struct got *g = ctx;

	if (g->n < 8)
		g->rec[g->n] = *r;
	g->n++;
}

/* One packet: 3-byte length, sequence id, @n payload bytes, into @out. */
static size_t pkt(uint8_t *out, uint8_t seq, const void *payload, size_t n)
{
	out[0] = (uint8_t)n;
	out[1] = (uint8_t)(n >> 8);
	out[2] = (uint8_t)(n >> 16);
	out[3] = seq;
	memcpy(out + 4, payload, n);
	return n + 4;
}

static void feed(struct fl_parser *p, enum fl_side sd, uint64_t ts, uint8_t seq,
		 const void *payload, size_t n, struct got *g)
{
	uint8_t buf[512];

	CHECK_EQ_INT(fl_parser_feed(p, sd, ts, buf, pkt(buf, seq, payload, n), on_rec, g), 0);
}

#define QUERY(s) "\x03" s, sizeof(s)
static const uint8_t ok[] = "\x00\x00\x00\x02\x00\x00\x00";
static const uint8_t err[] = "\xff\x7a\x04#42S02Table 'shop.secret' doesn't exist";

static void test_detect(void)
{
	static const uint8_t greeting[] =
		"\x5b\x00\x00\x00\x0a" "5.5.5-10.11.19-MariaDB\x00" "\x07\x00\x00\x00"
		"abcdefgh\x00\xfe\xf7";
	static const uint8_t hs_ssl[36] = { 32, 0, 0, 1, 0x84, 0xaa, 0x0f, 0 };
	uint8_t q[64];
	bool more = false;

	CHECK_EQ_INT(fl_detect_server(greeting, sizeof(greeting) - 1, &more), FL_PROTO_MYSQL);
	CHECK_EQ_INT(fl_detect_server(greeting, 20, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	CHECK_EQ_INT(fl_detect_server((const uint8_t *)"220 smtp.example ESMTP\r\n", 24, &more),
		     FL_PROTO_UNKNOWN);
	CHECK(!more);
	/* a handshake response (here an SSLRequest): the first TLS plaintext */
	CHECK_EQ_INT(fl_detect(hs_ssl, sizeof(hs_ssl), &more), FL_PROTO_MYSQL);
	/* a COM_QUERY only where the connection was joined */
	pkt(q, 0, QUERY("SELECT 1"));
	CHECK_EQ_INT(fl_detect(q, 13, &more), FL_PROTO_UNKNOWN);
	CHECK_EQ_INT(fl_detect_joined(q, 13, &more), FL_PROTO_MYSQL);
	CHECK_EQ_INT(fl_detect_joined(q, 7, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	q[5] = 0x01;	/* binary after the command byte */
	CHECK_EQ_INT(fl_detect_joined(q, 13, &more), FL_PROTO_UNKNOWN);
	CHECK(!more);
}

static void test_ssl_request_gives_up(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_MYSQL);
	uint8_t ssl[32] = { 0x84, 0xaa, 0x0f, 0 };	/* PROTOCOL_41 | SSL | ... */
	struct got g = { 0 };

	feed(p, FL_SIDE_REQUEST, 1000, 1, ssl, sizeof(ssl), &g);
	CHECK_EQ_INT(fl_parser_stats(p)->given_up, 1);
	feed(p, FL_SIDE_REQUEST, 2000, 0, QUERY("SELECT 1"), &g);
	CHECK_EQ_INT(g.n, 0);
	fl_parser_free(p);
}

static void test_literals_and_close(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_MYSQL);
	struct got g = { 0 };

	fl_parser_join(p);
	feed(p, FL_SIDE_REQUEST, 1000, 0,
	     QUERY("SELECT * FROM `t` WHERE a = \"hunter2\" AND b = 'it\\'s secret' # pw=x"), &g);
	feed(p, FL_SIDE_RESPONSE, 2000, 1, err, sizeof(err) - 1, &g);
	feed(p, FL_SIDE_REQUEST, 3000, 0, "\x19\x01\x00\x00\x00", 5, &g);	/* STMT_CLOSE */
	feed(p, FL_SIDE_REQUEST, 4000, 0, "\x0e", 1, &g);			/* PING */
	feed(p, FL_SIDE_RESPONSE, 5000, 1, ok, sizeof(ok) - 1, &g);
	CHECK_EQ_INT(g.n, 2);
	CHECK_EQ_STR(g.rec[0].operation, "SELECT * FROM `t` WHERE a = ? AND b = ?");
	CHECK(g.rec[0].error);
	CHECK_EQ_STR(g.rec[0].status_text, "42S02");
	CHECK_EQ_STR(g.rec[1].operation, "PING");
	CHECK(!g.rec[1].error);
	fl_parser_free(p);
}

/* Joined: no capabilities known; EOF after the definitions read from the packets. */
static void test_joined_result_sets(void)
{
	static const uint8_t def[] = "\x03" "def\x04shop\x01t\x01t\x02id\x02id\x0c?\x00\x0b\x00"
				     "\x00\x00\x03\x03\x42\x00\x00\x00";
	static const uint8_t eof[] = "\xfe\x00\x00\x22\x00";
	static const uint8_t ok_fe[] = "\xfe\x00\x00\x22\x00\x00\x00";
	struct fl_parser *p;
	struct got g = { 0 };

	for (int deprecate = 0; deprecate < 2; deprecate++) {
		p = fl_parser_new(FL_PROTO_MYSQL);
		g.n = 0;
		fl_parser_join(p);
		feed(p, FL_SIDE_REQUEST, 1000, 0, QUERY("SELECT id FROM t"), &g);
		feed(p, FL_SIDE_RESPONSE, 2000, 1, "\x01", 1, &g);
		feed(p, FL_SIDE_RESPONSE, 2000, 2, def, sizeof(def) - 1, &g);
		if (!deprecate)
			feed(p, FL_SIDE_RESPONSE, 2000, 3, eof, sizeof(eof) - 1, &g);
		feed(p, FL_SIDE_RESPONSE, 2000, 4, "\x01" "1", 2, &g);
		feed(p, FL_SIDE_RESPONSE, 2000, 5, "\x01" "2", 2, &g);
		CHECK_EQ_INT(g.n, 0);
		if (deprecate)
			feed(p, FL_SIDE_RESPONSE, 3000, 6, ok_fe, sizeof(ok_fe) - 1, &g);
		else
			feed(p, FL_SIDE_RESPONSE, 3000, 6, eof, sizeof(eof) - 1, &g);
		CHECK_EQ_INT(g.n, 1);
		CHECK_EQ_STR(g.rec[0].operation, "SELECT id FROM t");
		CHECK_EQ_INT(g.rec[0].end_ns, 3000);
		CHECK_EQ_INT(fl_parser_stats(p)->unparsed_bytes, 0);
		fl_parser_free(p);
	}
}

/* A response truncated by the capture: recorded, then resync at a feed start. */
static void test_truncated_then_resync(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_MYSQL);
	struct got g = { 0 };

	fl_parser_join(p);
	feed(p, FL_SIDE_REQUEST, 1000, 0, QUERY("SELECT label FROM items"), &g);
	feed(p, FL_SIDE_RESPONSE, 2000, 1, "\x01", 1, &g);
	fl_parser_gap(p, FL_SIDE_RESPONSE, 2000, 5000, on_rec, &g);
	CHECK_EQ_INT(g.n, 1);
	CHECK_EQ_INT(g.rec[0].resp_bytes, 5 + 5000);
	/* the tail of a row is no response start; a request-side gap loses framing */
	CHECK_EQ_INT(fl_parser_feed(p, FL_SIDE_RESPONSE, 2500, (const uint8_t *)"tem 40\x05\x00\x00\x09", 10,
				    on_rec, &g), 0);
	/* a 100-byte COM_QUERY of which 20 bytes were captured, then more lost */
	CHECK_EQ_INT(fl_parser_feed(p, FL_SIDE_REQUEST, 3000,
				    (const uint8_t *)"\x64\x00\x00\x00\x03SELECT 'a-very-", 20,
				    on_rec, &g), 0);
	fl_parser_gap(p, FL_SIDE_REQUEST, 3000, 4000, on_rec, &g);
	/* the query ended inside the gap: named from its prefix, answered */
	feed(p, FL_SIDE_RESPONSE, 4000, 1, ok, sizeof(ok) - 1, &g);
	feed(p, FL_SIDE_REQUEST, 5000, 0, "\x0e", 1, &g);
	feed(p, FL_SIDE_RESPONSE, 6000, 1, ok, sizeof(ok) - 1, &g);
	CHECK_EQ_INT(g.n, 3);
	CHECK_EQ_STR(g.rec[1].operation, "SELECT ?");
	CHECK_EQ_INT(g.rec[1].req_bytes, 104);
	CHECK_EQ_STR(g.rec[2].operation, "PING");
	CHECK_EQ_INT(g.rec[2].start_ns, 5000);
	CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 2);
	CHECK_EQ_INT(fl_parser_stats(p)->unparsed_bytes, 10);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 0);
	fl_parser_free(p);
}

static void test_local_infile_gives_up(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_MYSQL);
	struct got g = { 0 };

	fl_parser_join(p);
	feed(p, FL_SIDE_REQUEST, 1000, 0, QUERY("LOAD DATA LOCAL INFILE '/etc/x' INTO TABLE t"), &g);
	feed(p, FL_SIDE_RESPONSE, 2000, 1, "\xfb/etc/x", 7, &g);
	CHECK_EQ_INT(fl_parser_stats(p)->given_up, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 1);
	CHECK_EQ_INT(g.n, 0);
	fl_parser_free(p);
}

RUN_TESTS(test_detect, test_ssl_request_gives_up, test_literals_and_close,
	  test_joined_result_sets, test_truncated_then_resync, test_local_infile_gives_up)
