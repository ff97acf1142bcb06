/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * PostgreSQL v3 parser: records from real psql 15, pgbench 15 (extended
 * protocol, named and unnamed statements) and psycopg2 sessions with a
 * PostgreSQL 15 server (SSLRequest refused, SCRAM-SHA-256 authentication),
 * fed whole, split in two at every byte and one byte at a time; pipelined
 * Syncs, errors, COPY, gaps in bodies and framing, garbage, secrets.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proto.h"

#include "proto_replay.h"

/* ---- captured: libpq 15 / pgbench 15 / psycopg2 <-> PostgreSQL 15 --------- */

/* SSLRequest, refused; StartupMessage; SCRAM-SHA-256; ReadyForQuery. */
static const struct chunk pg_startup[] = {
	CHUNK(REQ, 1000, "\000\000\000\010\004\322\026/"),
	CHUNK(RSP, 2000, "N"),
	CHUNK(REQ, 3000, "\000\000\000\077\000\003\000\000user\000postgres\000database"
	      "\000postgres\000application_name\000psql\000\000"),
	CHUNK(RSP, 4000, "R\000\000\000\027\000\000\000\012SCRAM-SHA-256\000\000"),
	CHUNK(REQ, 5000, "p\000\000\0006SCRAM-SHA-256\000\000\000\000 n,,n=,r=GFWkScXC"
	      "yWuVevpM/lzpjZI5"),
	CHUNK(RSP, 6000, "R\000\000\000\134\000\000\000\013r=GFWkScXCyWuVevpM/lzpjZI58"
	      "RhtS4UDDKJVG4WmyJitm99r,s=zIORGv30KiDci3SoBaKlCA==,i=4096"),
	CHUNK(REQ, 7000, "p\000\000\000lc=biws,r=GFWkScXCyWuVevpM/lzpjZI58RhtS4UDDKJVG"
	      "4WmyJitm99r,p=/+gAw28tm4PwbriwMR86xYDBcQCAzw/HX5Bs5mztz4A="),
	CHUNK(RSP, 8000, "R\000\000\0006\000\000\000\014v=ethYX42TvQ21d2bIaUWzp6VYa/Pc"
	      "L25iDh2vfCJDvIk=R\000\000\000\010\000\000\000\000S\000\000"
	      "\000\032application_name\000psql\000S\000\000\000\031client_"
	      "encoding\000UTF8\000S\000\000\000\027DateStyle\000ISO, MDY"
	      "\000S\000\000\000&default_transaction_read_only\000off\000S"
	      "\000\000\000\027in_hot_standby\000off\000S\000\000\000\031in"
	      "teger_datetimes\000on\000S\000\000\000\033IntervalStyle\000p"
	      "ostgres\000S\000\000\000\024is_superuser\000on\000S\000\000"
	      "\000\031server_encoding\000UTF8\000S\000\000\0002server_vers"
	      "ion\00015.18 (Debian 15.18-0+deb12u1)\000S\000\000\000#sessi"
	      "on_authorization\000postgres\000S\000\000\000#standard_confo"
	      "rming_strings\000on\000S\000\000\000\025TimeZone\000Etc/UTC"
	      "\000K\000\000\000\014\000\000FL\263s\370\025Z\000\000\000"
	      "\005I"),
};

/* psql -c "SELECT ... 'hunter2' AND 1=1"; Terminate */
static const struct chunk pg_select[] = {
	CHUNK(REQ, 9000, "Q\000\000\000BSELECT usename FROM pg_user WHERE usename = 'h"
	      "unter2' AND 1=1\000"),
	CHUNK(RSP, 10000, "T\000\000\000 \000\001usename\000\000\000.\356\000\001\000"
	      "\000\000\023\000@\377\377\377\377\000\000C\000\000\000\015SE"
	      "LECT 0\000Z\000\000\000\005I"),
	CHUNK(REQ, 11000, "X\000\000\000\004"),
};

/* psql: a query on a missing table: ErrorResponse 42P01, then ReadyForQuery */
static const struct chunk pg_error[] = {
	CHUNK(REQ, 9000, "Q\000\000\000 SELECT * FROM no_such_table\000"),
	CHUNK(RSP, 10000, "E\000\000\000pSERROR\000VERROR\000C42P01\000Mrelation \042no"
	      "_such_table\042 does not exist\000P15\000Fparse_relation.c"
	      "\000L1392\000RparserOpenTable\000\000"),
	CHUNK(RSP, 11000, "Z\000\000\000\005I"),
	CHUNK(REQ, 12000, "X\000\000\000\004"),
};

/* psql: COPY t FROM STDIN, CopyData + CopyDone */
static const struct chunk pg_copy[] = {
	CHUNK(REQ, 9000, "Q\000\000\000\026COPY t FROM STDIN\000"),
	CHUNK(RSP, 10000, "G\000\000\000\013\000\000\002\000\000\000\000"),
	CHUNK(REQ, 11000, "d\000\000\000\0141\011x\0122\011y\012c\000\000\000\004"),
	CHUNK(RSP, 12000, "C\000\000\000\013COPY 2\000Z\000\000\000\005I"),
	CHUNK(REQ, 13000, "X\000\000\000\004"),
};

/* pgbench -M prepared: Parse P_0 + Sync, then Bind P_0/Describe/Execute/Sync twice */
static const struct chunk pg_prepared[] = {
	CHUNK(REQ, 9000, "P\000\000\000+P_0\000SELECT a, b FROM t WHERE a = $1;\000"
	      "\000\000S\000\000\000\004"),
	CHUNK(RSP, 10000, "1\000\000\000\004Z\000\000\000\005I"),
	CHUNK(REQ, 11000, "B\000\000\000\026\000P_0\000\000\000\000\001\000\000\000\001"
	      "1\000\001\000\000D\000\000\000\006P\000E\000\000\000\011\000"
	      "\000\000\000\000S\000\000\000\004"),
	CHUNK(RSP, 12000, "2\000\000\000\004T\000\000\000.\000\002a\000\000\000@\000"
	      "\000\001\000\000\000\027\000\004\377\377\377\377\000\000b"
	      "\000\000\000@\000\000\002\000\000\000\031\377\377\377\377"
	      "\377\377\000\000D\000\000\000\020\000\002\000\000\000\0011"
	      "\000\000\000\001xC\000\000\000\015SELECT 1\000Z\000\000\000"
	      "\005I"),
	CHUNK(REQ, 13000, "B\000\000\000\026\000P_0\000\000\000\000\001\000\000\000\001"
	      "1\000\001\000\000D\000\000\000\006P\000E\000\000\000\011\000"
	      "\000\000\000\000S\000\000\000\004"),
	CHUNK(RSP, 14000, "2\000\000\000\004T\000\000\000.\000\002a\000\000\000@\000"
	      "\000\001\000\000\000\027\000\004\377\377\377\377\000\000b"
	      "\000\000\000@\000\000\002\000\000\000\031\377\377\377\377"
	      "\377\377\000\000D\000\000\000\020\000\002\000\000\000\0011"
	      "\000\000\000\001xC\000\000\000\015SELECT 1\000Z\000\000\000"
	      "\005I"),
	CHUNK(REQ, 15000, "X\000\000\000\004"),
};

/* pgbench -M extended: unnamed Parse/Bind/Describe/Execute/Sync */
static const struct chunk pg_unnamed[] = {
	CHUNK(REQ, 9000, "P\000\000\000(\000SELECT a, b FROM t WHERE a = $1;\000\000"
	      "\000B\000\000\000\023\000\000\000\000\000\001\000\000\000"
	      "\0012\000\001\000\000D\000\000\000\006P\000E\000\000\000\011"
	      "\000\000\000\000\000S\000\000\000\004"),
	CHUNK(RSP, 10000, "1\000\000\000\0042\000\000\000\004T\000\000\000.\000\002a"
	      "\000\000\000@\000\000\001\000\000\000\027\000\004\377\377"
	      "\377\377\000\000b\000\000\000@\000\000\002\000\000\000\031"
	      "\377\377\377\377\377\377\000\000D\000\000\000\020\000\002"
	      "\000\000\000\0012\000\000\000\001yC\000\000\000\015SELECT 1"
	      "\000Z\000\000\000\005I"),
	CHUNK(REQ, 11000, "X\000\000\000\004"),
};

/* psycopg2: BEGIN, a query with a client-side interpolated literal, ROLLBACK */
static const struct chunk pg_psycopg[] = {
	CHUNK(REQ, 9000, "Q\000\000\000\012BEGIN\000"),
	CHUNK(RSP, 10000, "C\000\000\000\012BEGIN\000Z\000\000\000\005T"),
	CHUNK(REQ, 11000, "Q\000\000\000\033SELECT 'hunter2'::text\000"),
	CHUNK(RSP, 12000, "T\000\000\000\035\000\001text\000\000\000\000\000\000\000"
	      "\000\000\000\031\377\377\377\377\377\377\000\000D\000\000"
	      "\000\021\000\001\000\000\000\007hunter2C\000\000\000\015SELE"
	      "CT 1\000Z\000\000\000\005T"),
	CHUNK(REQ, 13000, "Q\000\000\000\015ROLLBACK\000"),
	CHUNK(RSP, 14000, "C\000\000\000\015ROLLBACK\000Z\000\000\000\005I"),
	CHUNK(REQ, 15000, "X\000\000\000\004"),
};

static const struct fl_parser_stats no_trouble = { 0 };

#define OP_PGBENCH "SELECT a, b FROM t WHERE a = $1"

static void test_captured_every_split(void)
{
	static const struct want select_w[] = {
		{ "SELECT usename FROM pg_user WHERE usename = ? AND ?=?", 0, "",
		  false, false, 9000, 10000, 67, 53 },
	};
	static const struct want error_w[] = {
		{ "SELECT * FROM no_such_table", 0, "42P01", true, false,
		  9000, 11000, 33, 113 + 6 },
	};
	static const struct want copy_w[] = {
		{ "COPY t FROM STDIN", 0, "", false, false, 9000, 12000, 23 + 18, 12 + 18 },
	};
	static const struct want prepared_w[] = {
		/* the Parse-only batch (prepare) is no request; an Execute's
		 * bytes leave out the Sync (5) and ReadyForQuery (6) */
		{ OP_PGBENCH, 0, "", false, false, 11000, 12000, 45 - 5, 89 - 6 },
		{ OP_PGBENCH, 0, "", false, false, 13000, 14000, 45 - 5, 89 - 6 },
	};
	static const struct want unnamed_w[] = {
		{ OP_PGBENCH, 0, "", false, false, 9000, 10000, 83 - 5, 94 - 6 },
	};
	static const struct want psycopg_w[] = {
		{ "BEGIN", 0, "", false, false, 9000, 10000, 11, 17 },
		{ "SELECT ?::text", 0, "", false, false, 11000, 12000, 28, 68 },
		{ "ROLLBACK", 0, "", false, false, 13000, 14000, 14, 20 },
	};
#define CONV(c, w) \
	check_modes(FL_PROTO_POSTGRES, pg_startup, ARRAY_LEN(pg_startup), c, \
		    ARRAY_LEN(c), w, ARRAY_LEN(w), &no_trouble)
	CONV(pg_select, select_w);
	CONV(pg_error, error_w);
	CONV(pg_copy, copy_w);
	CONV(pg_prepared, prepared_w);
	CONV(pg_unnamed, unnamed_w);
	CONV(pg_psycopg, psycopg_w);
#undef CONV
}

/* ---- hand-built messages ------------------------------------------------ */

struct wire {
	uint8_t d[16384];
	size_t n;
};

static void put_be32(struct wire *w, uint32_t v)
{
	w->d[w->n++] = (uint8_t)(v >> 24);
	w->d[w->n++] = (uint8_t)(v >> 16);
	w->d[w->n++] = (uint8_t)(v >> 8);
	w->d[w->n++] = (uint8_t)v;
}

/* One typed message: type, Int32 length (counting itself), body. */
static void put_msg(struct wire *w, char type, const void *body, size_t len)
{
	if (w->n + 5 + len > sizeof(w->d)) {
		CHECK(!"test wire buffer too small");
		return;
	}
	w->d[w->n++] = (uint8_t)type;
	put_be32(w, (uint32_t)len + 4);
	memcpy(w->d + w->n, body, len);
	w->n += len;
}

#define MSG(w, type, lit) put_msg(w, type, lit, sizeof(lit) - 1)

/* Bodies; "\000" rather than "\0" so that a following digit stays a digit. */
#define READY "I"
#define ERROR_BODY(code) "SERROR\000VERROR\000C" code "\000Mfailed\000\000"

/* Several Parse/Bind/Execute/Sync batches in one write, answers in one write. */
static void test_pipelined_syncs(void)
{
	struct wire rq = { .n = 0 }, rs = { .n = 0 };
	size_t b[5];

	MSG(&rq, 'P', "s1\000SELECT * FROM users WHERE id = $1\000\000\000");
	MSG(&rq, 'B', "\000s1\000\000\000\000\001\000\000\000\0017\000\000");
	MSG(&rq, 'E', "\000\000\000\000\000");
	MSG(&rq, 'S', "");
	b[0] = rq.n;
	MSG(&rq, 'P', "\000UPDATE t SET b = 'hunter2' WHERE a = 42\000\000\000");
	MSG(&rq, 'B', "\000\000\000\000\000\000\000\000");
	MSG(&rq, 'E', "\000\000\000\000\000");
	MSG(&rq, 'S', "");
	b[1] = rq.n;
	MSG(&rq, 'B', "\000s1\000\000\000\000\001\000\000\000\0018\000\000");
	MSG(&rq, 'D', "P\000");
	MSG(&rq, 'E', "\000\000\000\000\000");
	MSG(&rq, 'H', "");
	MSG(&rq, 'S', "");
	b[2] = rq.n;
	MSG(&rq, 'B', "\000nope\000\000\000\000\000\000\000");
	MSG(&rq, 'E', "\000\000\000\000\000");
	MSG(&rq, 'S', "");
	b[3] = rq.n;
	MSG(&rq, 'F', "\000\000\004\322\000\000\000\000\000\000");
	b[4] = rq.n;

	MSG(&rs, '1', "");
	MSG(&rs, '2', "");
	MSG(&rs, 'C', "SELECT 0\000");
	MSG(&rs, 'Z', READY);				/* 5 + 5 + 14 + 6 = 30 */
	MSG(&rs, '1', "");
	MSG(&rs, 'E', ERROR_BODY("23505"));
	MSG(&rs, 'Z', "E");				/* 5 + 35 + 6 = 46 */
	MSG(&rs, '2', "");
	MSG(&rs, 'T', "\000\000");
	MSG(&rs, 'C', "SELECT 0\000");
	MSG(&rs, 'Z', READY);				/* 5 + 7 + 14 + 6 = 32 */
	MSG(&rs, 'E', ERROR_BODY("26000"));
	MSG(&rs, 'Z', READY);				/* 35 + 6 = 41 */
	MSG(&rs, 'V', "\000\000\000\001x");
	MSG(&rs, 'Z', READY);				/* 10 + 6 = 16 */
	CHECK_EQ_INT(rs.n, 30 + 46 + 32 + 41 + 16);

	const struct chunk c[] = {
		{ REQ, 9000, (const char *)rq.d, rq.n },
		{ RSP, 10000, (const char *)rs.d, rs.n },
	};
	const struct want w[] = {
		/* an Execute: its messages since the last Sync, up to its
		 * CommandComplete or ErrorResponse (Sync and ReadyForQuery are
		 * the Sync's, 5 and 6 bytes) */
		{ "SELECT * FROM users WHERE id = $1", 0, "", false, false, 9000, 10000,
		  b[0] - 5, 30 - 6 },
		{ "UPDATE t SET b = ? WHERE a = ?", 0, "23505", true, false, 9000, 10000,
		  b[1] - b[0] - 5, 46 - 6 },
		{ "SELECT * FROM users WHERE id = $1", 0, "", false, false, 9000, 10000,
		  b[2] - b[1] - 10, 32 - 6 },		/* Flush and Sync after it */
		{ "EXECUTE", 0, "26000", true, false, 9000, 10000, b[3] - b[2] - 5, 41 - 6 },
		{ "FUNCTION CALL", 0, "", false, false, 9000, 10000, b[4] - b[3], 16 },
	};

	check_modes(FL_PROTO_POSTGRES, pg_startup, ARRAY_LEN(pg_startup), c,
		    ARRAY_LEN(c), w, ARRAY_LEN(w), &no_trouble);
}

/* A Sync with nothing before it is answered but makes no record. */
static void test_bare_sync(void)
{
	struct wire rq = { .n = 0 }, rs = { .n = 0 };
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct recs got = { 0 };

	replay(p, pg_startup, ARRAY_LEN(pg_startup), 0, &got);
	MSG(&rq, 'S', "");
	MSG(&rq, 'H', "");
	MSG(&rq, 'S', "");
	MSG(&rq, 'Q', "SELECT 1\000");
	MSG(&rs, 'Z', READY);
	MSG(&rs, 'Z', READY);
	MSG(&rs, 'C', "SELECT 1\000");
	MSG(&rs, 'Z', READY);
	feed(p, REQ, 9000, rq.d, rq.n, &got);
	feed(p, RSP, 10000, rs.d, rs.n, &got);
	CHECK_EQ_INT(got.n, 1);
	check_rec(&got.r[0], &(struct want){ "SELECT ?", 0, "", false, false, 9000,
					     10000, 14, 20 });
	CHECK(!memcmp(fl_parser_stats(p), &no_trouble, sizeof(no_trouble)));
	fl_parser_free(p);
}

/* ---- truncated capture -------------------------------------------------- */

static void test_gap_in_bodies(void)
{
	struct wire rq = { .n = 0 }, rs = { .n = 0 };
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct recs got = { 0 };
	uint8_t row[10000];
	size_t head;

	memset(row, 'r', sizeof(row));
	replay(p, pg_startup, ARRAY_LEN(pg_startup), 0, &got);
	MSG(&rq, 'Q', "SELECT data FROM blobs\000");
	feed(p, REQ, 9000, rq.d, rq.n, &got);
	MSG(&rs, 'T', "\000\000");
	head = rs.n;
	put_msg(&rs, 'D', row, sizeof(row));		/* only its first 100 bytes fed */
	feed(p, RSP, 10000, rs.d, head + 100, &got);
	fl_parser_gap(p, FL_SIDE_RESPONSE, 10100, sizeof(row) + 5 - 100, on_rec, &got);
	rs.n = 0;
	MSG(&rs, 'C', "SELECT 1\000");
	MSG(&rs, 'Z', READY);
	feed(p, RSP, 10200, rs.d, rs.n, &got);
	CHECK_EQ_INT(got.n, 1);
	check_rec(&got.r[0], &(struct want){ "SELECT data FROM blobs", 0, "", false,
					     false, 9000, 10200, 28,
					     7 + 10005 + 14 + 6 });

	/* a gap in CopyData, and in the Z closing the COPY */
	rq.n = 0;
	MSG(&rq, 'Q', "COPY t FROM STDIN\000");
	put_msg(&rq, 'd', row, 1000);
	feed(p, REQ, 11000, rq.d, rq.n - 900, &got);
	fl_parser_gap(p, FL_SIDE_REQUEST, 11100, 900, on_rec, &got);
	rq.n = 0;
	MSG(&rq, 'c', "");
	feed(p, REQ, 11200, rq.d, rq.n, &got);
	rs.n = 0;
	MSG(&rs, 'G', "\000\000\000");
	MSG(&rs, 'C', "COPY 1\000");
	MSG(&rs, 'Z', READY);
	feed(p, RSP, 12000, rs.d, rs.n - 1, &got);
	fl_parser_gap(p, FL_SIDE_RESPONSE, 12100, 1, on_rec, &got);
	CHECK_EQ_INT(got.n, 2);
	check_rec(&got.r[1], &(struct want){ "COPY t FROM STDIN", 0, "", false, false,
					     11000, 12100, 23 + 1005 + 5, 8 + 12 + 6 });
	CHECK(!memcmp(fl_parser_stats(p), &no_trouble, sizeof(no_trouble)));
	fl_parser_free(p);
}

/* A gap inside the query text: the operation is what came before it. */
static void test_gap_in_query_text(void)
{
	static const char q[] = "SELECT * FROM t WHERE secret = 'hunter2' AND x = 1";
	struct wire rq = { .n = 0 }, rs = { .n = 0 };
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct recs got = { 0 };

	replay(p, pg_startup, ARRAY_LEN(pg_startup), 0, &got);
	put_msg(&rq, 'Q', q, sizeof(q));		/* with its NUL */
	feed(p, REQ, 9000, rq.d, 5 + 35, &got);	/* up to 'hun */
	fl_parser_gap(p, FL_SIDE_REQUEST, 9100, rq.n - 40, on_rec, &got);
	MSG(&rs, 'C', "SELECT 0\000");
	MSG(&rs, 'Z', READY);
	feed(p, RSP, 10000, rs.d, rs.n, &got);
	CHECK_EQ_INT(got.n, 1);
	CHECK_EQ_STR(got.r[0].operation, "SELECT * FROM t WHERE secret = ?");
	CHECK_EQ_INT(got.r[0].req_bytes, rq.n);
	fl_parser_free(p);
}

/* Framing cannot be found again in PostgreSQL: give up, drop pending. */
static void test_gap_in_framing_gives_up(void)
{
	struct wire rq = { .n = 0 };
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct recs got = { 0 };

	replay(p, pg_startup, ARRAY_LEN(pg_startup), 0, &got);
	MSG(&rq, 'Q', "SELECT 1\000");
	feed(p, REQ, 9000, rq.d, rq.n, &got);
	feed(p, RSP, 10000, "T\000\000", 3, &got);	/* header cut */
	fl_parser_gap(p, FL_SIDE_RESPONSE, 10100, 50, on_rec, &got);
	feed(p, RSP, 10200, "Z\000\000\000\005I", 6, &got);
	CHECK_EQ_INT(got.n, 0);
	CHECK_EQ_INT(fl_parser_stats(p)->given_up, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unparsed_bytes, 6);
	CHECK_EQ_INT(fl_parser_stats(p)->resyncs, 0);
	fl_parser_free(p);
}

/* ---- startup variants --------------------------------------------------- */

static const char startup[] = "\000\000\000\040\000\003\000\000user\000app\000"
			      "database\000shop\000\000";

static void test_ssl_accepted_gives_up(void)
{
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct recs got = { 0 };

	feed(p, REQ, 1, "\000\000\000\010\004\322\026\057", 8, &got);
	feed(p, RSP, 2, "S", 1, &got);
	feed(p, REQ, 3, "\026\003\001\002\000\001\000", 7, &got);	/* ClientHello */
	CHECK_EQ_INT(fl_parser_stats(p)->given_up, 1);
	CHECK_EQ_INT(fl_parser_stats(p)->unparsed_bytes, 7);
	CHECK_EQ_INT(got.n, 0);
	fl_parser_free(p);
}

/* GSSENCRequest refused, then a plain startup with cleartext password. */
static void test_gssenc_refused_then_password(void)
{
	struct wire rs = { .n = 0 }, rq = { .n = 0 };
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct recs got = { 0 };

	CHECK_EQ_INT(sizeof(startup) - 1, 32);
	feed(p, REQ, 1, "\000\000\000\010\004\322\026\060", 8, &got);
	feed(p, RSP, 2, "N", 1, &got);
	feed(p, REQ, 3, startup, sizeof(startup) - 1, &got);
	MSG(&rs, 'R', "\000\000\000\003");		/* AuthenticationCleartextPassword */
	feed(p, RSP, 4, rs.d, rs.n, &got);
	MSG(&rq, 'p', "hunter2\000");
	feed(p, REQ, 5, rq.d, rq.n, &got);
	rs.n = 0;
	MSG(&rs, 'R', "\000\000\000\000");
	MSG(&rs, 'S', "server_version\00015.18\000");
	MSG(&rs, 'K', "\000\000\000\001\000\000\000\002");
	MSG(&rs, 'Z', READY);
	feed(p, RSP, 6, rs.d, rs.n, &got);
	rq.n = 0;
	MSG(&rq, 'Q', "SELECT 1\000");
	feed(p, REQ, 7, rq.d, rq.n, &got);
	rs.n = 0;
	MSG(&rs, 'C', "SELECT 1\000");
	MSG(&rs, 'Z', READY);
	feed(p, RSP, 8, rs.d, rs.n, &got);
	CHECK_EQ_INT(got.n, 1);
	check_rec(&got.r[0], &(struct want){ "SELECT ?", 0, "", false, false, 7, 8, 14, 20 });
	CHECK(!memcmp(fl_parser_stats(p), &no_trouble, sizeof(no_trouble)));
	fl_parser_free(p);
}

/* Failed authentication and CancelRequest make no record and no noise. */
static void test_no_record_connections(void)
{
	struct wire rs = { .n = 0 };
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct recs got = { 0 };

	feed(p, REQ, 1, startup, sizeof(startup) - 1, &got);
	MSG(&rs, 'E', ERROR_BODY("28P01"));
	feed(p, RSP, 2, rs.d, rs.n, &got);
	fl_parser_close(p, 3, on_rec, &got);
	CHECK_EQ_INT(got.n, 0);
	CHECK(!memcmp(fl_parser_stats(p), &no_trouble, sizeof(no_trouble)));
	fl_parser_free(p);

	p = fl_parser_new(FL_PROTO_POSTGRES);
	feed(p, REQ, 1, "\000\000\000\020\004\322\026\056\000\000\060\071\001\002\003\004",
	     16, &got);
	fl_parser_close(p, 2, on_rec, &got);
	CHECK_EQ_INT(got.n, 0);
	CHECK(!memcmp(fl_parser_stats(p), &no_trouble, sizeof(no_trouble)));
	fl_parser_free(p);
}

static void test_close_counts_unanswered(void)
{
	struct wire rq = { .n = 0 };
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct recs got = { 0 };

	replay(p, pg_startup, ARRAY_LEN(pg_startup), 0, &got);
	MSG(&rq, 'Q', "SELECT pg_sleep(100)\000");
	MSG(&rq, 'X', "");
	feed(p, REQ, 9000, rq.d, rq.n, &got);
	fl_parser_close(p, 9500, on_rec, &got);
	CHECK_EQ_INT(got.n, 0);
	CHECK_EQ_INT(fl_parser_stats(p)->unpaired, 1);
	fl_parser_free(p);
}

/* ---- garbage ------------------------------------------------------------ */

static void test_bad_lengths(void)
{
	static const struct { int side; const char *d; size_t n; } bad[] = {
		{ REQ, "Q\000\000\000\003", 5 },		/* len < 4 */
		{ REQ, "Q\100\000\000\001", 5 },		/* > 1 GiB */
		{ REQ, "S\000\000\000\005x", 6 },		/* Sync with a body */
		{ REQ, "\001\000\000\000\004", 5 },		/* no such type */
		{ RSP, "Z\000\000\000\006II", 7 },		/* ReadyForQuery of 2 */
		{ RSP, "q\000\000\000\004", 5 },		/* no such type */
	};

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
		struct recs got = { 0 };

		replay(p, pg_startup, ARRAY_LEN(pg_startup), 0, &got);
		feed(p, (enum fl_side)bad[i].side, 9000, bad[i].d, bad[i].n, &got);
		CHECK_EQ_INT(fl_parser_stats(p)->given_up, 1);
		CHECK_EQ_INT(fl_parser_stats(p)->unparsed_bytes, bad[i].n);
		fl_parser_free(p);
	}
	/* untyped: unknown code, absurd startup length, SSLRequest of 9 */
	{
		static const char *const first[] = {
			"\000\000\000\010\000\002\000\000", "\000\001\000\000\000\003\000\000",
			"\000\000\000\011\004\322\026\057",
		};

		for (size_t i = 0; i < ARRAY_LEN(first); i++) {
			struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
			struct recs got = { 0 };

			feed(p, REQ, 1, first[i], 8, &got);
			CHECK_EQ_INT(fl_parser_stats(p)->given_up, 1);
			fl_parser_free(p);
		}
	}
}

static void test_garbage_random(void)
{
	static const size_t sizes[] = { 1, 7, 100, 4096, 70000 };
	uint32_t seed = 0x1234567;

	for (int typed = 0; typed < 2; typed++) {
		for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
			uint8_t *buf = malloc(sizes[s]);
			struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
			const struct fl_parser_stats *st = fl_parser_stats(p);
			struct recs got = { 0 };
			size_t off = 0;

			if (typed)	/* garbage after a good startup */
				replay(p, pg_startup, ARRAY_LEN(pg_startup), 0, &got);
			for (size_t i = 0; i < sizes[s]; i++)
				buf[i] = (uint8_t)rnd(&seed);
			while (off < sizes[s]) {
				size_t n = 1 + rnd(&seed) % 1500;

				n = n > sizes[s] - off ? sizes[s] - off : n;
				feed(p, rnd(&seed) & 1 ? REQ : RSP, off, buf + off, n, &got);
				off += n;
			}
			fl_parser_close(p, off, on_rec, &got);
			CHECK_EQ_INT(got.n, 0);
			CHECK(st->unparsed_bytes <= sizes[s]);
			if (sizes[s] >= 100) {
				CHECK_EQ_INT(st->given_up, 1);
				CHECK(st->unparsed_bytes > 0);
			}
			fl_parser_free(p);
			free(buf);
		}
	}
}

/* ---- secrets ------------------------------------------------------------ */

static void test_secrets_never_stored(void)
{
	static const char *const secrets[] = {
		"hunter2", "abc", "def", "dollar", "4111", "2024", "alice@example.com",
	};
	struct wire rq = { .n = 0 }, rs = { .n = 0 };
	struct fl_parser *p = fl_parser_new(FL_PROTO_POSTGRES);
	struct recs got = { 0 };

	replay(p, pg_startup, ARRAY_LEN(pg_startup), 0, &got);
	MSG(&rq, 'Q', "SELECT * FROM users WHERE password = 'hunter2' AND token = "
	    "E'abc\\'def' AND note = $tag$dollar hunter2$tag$ AND card = 4111111111111111 "
	    "AND since > DATE '2024-01-01' AND mail = U&'alice@example.com' -- hunter2\n;\000");
	MSG(&rq, 'P', "st\000INSERT INTO log VALUES ('hunter2', 2024)\000\000\000");
	MSG(&rq, 'B', "\000st\000\000\000\000\001\000\000\000\007hunter2\000\000");
	MSG(&rq, 'E', "\000\000\000\000\000");
	MSG(&rq, 'S', "");
	MSG(&rs, 'C', "SELECT 0\000");
	MSG(&rs, 'Z', READY);
	MSG(&rs, 'C', "INSERT 0 1\000");
	MSG(&rs, 'Z', READY);
	feed(p, REQ, 9000, rq.d, rq.n, &got);
	feed(p, RSP, 10000, rs.d, rs.n, &got);
	CHECK_EQ_INT(got.n, 2);
	CHECK_EQ_STR(got.r[0].operation, "SELECT * FROM users WHERE password = ? AND token = "
		     "? AND note = ? AND card = ? AND since > DATE ? AND mail = ?");
	CHECK_EQ_STR(got.r[1].operation, "INSERT INTO log VALUES (?, ?)");
	for (int i = 0; i < got.n && i < REC_MAX; i++)
		for (size_t k = 0; k < ARRAY_LEN(secrets); k++)
			CHECK(!strstr(got.r[i].operation, secrets[k]));
	fl_parser_free(p);
}

static void test_detect(void)
{
	bool more = true;

	CHECK_EQ_INT(fl_detect((const uint8_t *)pg_startup[0].d, pg_startup[0].n, &more),
		     FL_PROTO_POSTGRES);	/* SSLRequest */
	CHECK(!more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)pg_startup[2].d, pg_startup[2].n, &more),
		     FL_PROTO_POSTGRES);	/* StartupMessage */
	CHECK_EQ_INT(fl_detect((const uint8_t *)"\000\000\000\010\004\322\026\060", 8, &more),
		     FL_PROTO_POSTGRES);	/* GSSENCRequest */
	CHECK_EQ_INT(fl_detect((const uint8_t *)"\000\000\000", 3, &more), FL_PROTO_UNKNOWN);
	CHECK(more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"\000\000\000\010\004\322", 6, &more),
		     FL_PROTO_UNKNOWN);
	CHECK(more);
	/* CancelRequest carries no records; lengths must be sane */
	CHECK_EQ_INT(fl_detect((const uint8_t *)"\000\000\000\020\004\322\026\056", 8, &more),
		     FL_PROTO_UNKNOWN);
	CHECK(!more);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"\000\000\000\011\004\322\026\057", 8, &more),
		     FL_PROTO_UNKNOWN);
	CHECK_EQ_INT(fl_detect((const uint8_t *)"\000\001\000\000\000\003\000\000", 8, &more),
		     FL_PROTO_UNKNOWN);
	CHECK(!more);
	CHECK_EQ_STR(fl_proto_name(FL_PROTO_POSTGRES), "postgresql");
}

/* Random gaps anywhere: records may be lost, never mispaired. */
static void test_random_gaps_never_mispair(void)
{
	static const struct want select_w[] = {
		{ "SELECT usename FROM pg_user WHERE usename = ? AND ?=?", 0, "",
		  false, false, 9000, 10000, 67, 53 },
	};
	static const struct want prepared_w[] = {
		/* the Parse-only batch (prepare) is no request; an Execute's
		 * bytes leave out the Sync (5) and ReadyForQuery (6) */
		{ OP_PGBENCH, 0, "", false, false, 11000, 12000, 45 - 5, 89 - 6 },
		{ OP_PGBENCH, 0, "", false, false, 13000, 14000, 45 - 5, 89 - 6 },
	};
	static const struct want psycopg_w[] = {
		{ "BEGIN", 0, "", false, false, 9000, 10000, 11, 17 },
		{ "SELECT ?::text", 0, "", false, false, 11000, 12000, 28, 68 },
		{ "ROLLBACK", 0, "", false, false, 13000, 14000, 14, 20 },
	};

	check_random_gaps(FL_PROTO_POSTGRES, pg_startup, ARRAY_LEN(pg_startup),
			  pg_select, ARRAY_LEN(pg_select), select_w,
			  ARRAY_LEN(select_w), false, 2000);
	check_random_gaps(FL_PROTO_POSTGRES, pg_startup, ARRAY_LEN(pg_startup),
			  pg_prepared, ARRAY_LEN(pg_prepared), prepared_w,
			  ARRAY_LEN(prepared_w), false, 2000);
	check_random_gaps(FL_PROTO_POSTGRES, pg_startup, ARRAY_LEN(pg_startup),
			  pg_psycopg, ARRAY_LEN(pg_psycopg), psycopg_w,
			  ARRAY_LEN(psycopg_w), false, 2000);
}

RUN_TESTS(test_captured_every_split, test_pipelined_syncs, test_bare_sync,
	  test_gap_in_bodies, test_gap_in_query_text,
	  test_gap_in_framing_gives_up, test_ssl_accepted_gives_up,
	  test_gssenc_refused_then_password, test_no_record_connections,
	  test_close_counts_unanswered, test_bad_lengths, test_garbage_random,
	  test_secrets_never_stored, test_detect,
	  test_random_gaps_never_mispair)
