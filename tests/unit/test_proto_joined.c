// SPDX-License-Identifier: BSD-2-Clause
/*
 * Connections joined mid-life (sockets that existed before the agent):
 * detection at a message boundary and parsers that skip the startup phase.
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

/* 'Q' "SELECT 1" and its answer: RowDescription..CommandComplete, ReadyForQuery */
static const uint8_t pg_q[] = "Q\0\0\0\x0dSELECT 1\0";
static const uint8_t pg_err_q[] = "Q\0\0\0\x17SELECT * FROM nope\0";
static const uint8_t pg_cc[] = "C\0\0\0\x0dSELECT 1\0Z\0\0\0\x05I";
static const uint8_t pg_err[] = "E\0\0\0\x13SERROR\0C42P01\0\0Z\0\0\0\x05I";

static void test_detect_joined_pg(void)
{
	bool more = true;

	/* fl_detect alone wants a StartupMessage */
	CHECK_EQ_INT(fl_detect(pg_q, sizeof(pg_q) - 1, &more), FL_PROTO_UNKNOWN);
	CHECK_EQ_INT(fl_detect_joined(pg_q, sizeof(pg_q) - 1, &more), FL_PROTO_POSTGRES);
	CHECK(!more);
	CHECK_EQ_INT(fl_detect_joined(pg_q, 3, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	/* HTTP and Redis are found as usual */
	CHECK_EQ_INT(fl_detect_joined((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &more),
		     FL_PROTO_HTTP);
	CHECK_EQ_INT(fl_detect_joined((const uint8_t *)"*1\r\n$4\r\nPING\r\n", 14, &more),
		     FL_PROTO_REDIS);
	/* not a frontend message: binary after 'Q', or a bad length */
	CHECK_EQ_INT(fl_detect_joined((const uint8_t *)"Q\0\0\0\x0d\x01\x02", 7, &more),
		     FL_PROTO_UNKNOWN);
	CHECK_EQ_INT(fl_detect_joined((const uint8_t *)"Q\0\0\0\x02xx", 7, &more),
		     FL_PROTO_UNKNOWN);
	CHECK_EQ_INT(fl_detect_joined((const uint8_t *)"\x16\x03\x01\x02\x00", 5, &more),
		     FL_PROTO_UNKNOWN);
}

static void test_pg_joined_records(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct got g = { 0 };

	fl_parser_join(p);
	CHECK_EQ_INT(fl_parser_feed(p, FL_SIDE_REQUEST, 10, pg_q, sizeof(pg_q) - 1,
				    on_rec, &g), 0);
	CHECK_EQ_INT(fl_parser_feed(p, FL_SIDE_RESPONSE, 25, pg_cc, sizeof(pg_cc) - 1,
				    on_rec, &g), 0);
	CHECK_EQ_INT(fl_parser_feed(p, FL_SIDE_REQUEST, 30, pg_err_q,
				    sizeof(pg_err_q) - 1, on_rec, &g), 0);
	CHECK_EQ_INT(fl_parser_feed(p, FL_SIDE_RESPONSE, 42, pg_err,
				    sizeof(pg_err) - 1, on_rec, &g), 0);
	CHECK_EQ_INT(g.n, 2);
	CHECK_EQ_STR(g.rec[0].operation, "SELECT ?");
	CHECK_EQ_INT(g.rec[0].start_ns, 10);
	CHECK_EQ_INT(g.rec[0].end_ns, 25);
	CHECK(!g.rec[0].error);
	CHECK_EQ_STR(g.rec[1].operation, "SELECT * FROM nope");
	CHECK(g.rec[1].error);
	CHECK_EQ_STR(g.rec[1].status_text, "42P01");
	CHECK_EQ_INT(fl_parser_stats(p)->given_up, 0);
	fl_parser_free(p);
}

/* Without fl_parser_join the same bytes are not a startup: the parser gives up. */
static void test_pg_not_joined_gives_up(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct got g = { 0 };

	fl_parser_feed(p, FL_SIDE_REQUEST, 10, pg_q, sizeof(pg_q) - 1, on_rec, &g);
	fl_parser_feed(p, FL_SIDE_RESPONSE, 25, pg_cc, sizeof(pg_cc) - 1, on_rec, &g);
	CHECK_EQ_INT(g.n, 0);
	CHECK_EQ_INT(fl_parser_stats(p)->given_up, 1);
	fl_parser_free(p);
}

/*
 * Found by fuzz_detect: a verdict must not depend on where the first feed
 * ends. A Query header alone needs one more byte; 11 digits after '*' may
 * still be Redis.
 */
static void test_detect_verdict_is_stable(void)
{
	static const uint8_t q[] = "Q\0\0\0 \xd3" "ELECT";
	static const uint8_t r[] = "*11000000000\r\n";
	bool more = false;

	CHECK_EQ_INT(fl_detect_joined(q, 5, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	CHECK_EQ_INT(fl_detect_joined(q, 6, &more), FL_PROTO_UNKNOWN);
	CHECK(!more);
	CHECK_EQ_INT(fl_detect(r, 12, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	CHECK_EQ_INT(fl_detect(r, 14, &more), FL_PROTO_REDIS);
}

/* Found by fuzz_sql: a control byte in a kept token never reaches output. */
static void test_sql_control_bytes(void)
{
	char out[128];
	static const char esc[] = "SELECT \"a\x1b[31mb\" FROM t";

	fl_sql_normalize(esc, sizeof(esc) - 1, out, sizeof(out));
	CHECK_EQ_STR(out, "SELECT \"a?[31mb\" FROM t");
	fl_sql_normalize("\"\x02", 2, out, sizeof(out));
	CHECK(!strchr(out, '\x02'));
}

RUN_TESTS(test_detect_joined_pg, test_pg_joined_records, test_pg_not_joined_gives_up,
	  test_detect_verdict_is_stable, test_sql_control_bytes)
