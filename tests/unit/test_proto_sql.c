/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fl_sql_normalize(): table tests of PostgreSQL lexical forms — literals
 * of every kind become '?', comments go, whitespace folds, identifiers,
 * keywords, quoted identifiers and $n parameters stay as written — and the
 * promise that a truncated output never holds part of a literal.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "proto.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct sql_case {
	const char *in;
	const char *want;
};

static void check_table(const struct sql_case *c, size_t n)
{
	char out[FL_OP_MAX];

	for (size_t i = 0; i < n; i++) {
		size_t len = fl_sql_normalize(c[i].in, strlen(c[i].in), out, sizeof(out));

		CHECK_EQ_STR(out, c[i].want);
		CHECK_EQ_INT(len, strlen(c[i].want));
	}
}

static void test_literals(void)
{
	static const struct sql_case c[] = {
		{ "SELECT 1", "SELECT ?" },
		{ "select * from t where a = 'x''y' and b = 42;",
		  "select * from t where a = ? and b = ?" },
		{ "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
		  "INSERT INTO t VALUES (?, ?), (?, ?)" },
		{ "SELECT E'it\\'s', e'\\\\', E'a''b'", "SELECT ?, ?, ?" },
		{ "SELECT B'101', X'FF', N'x', U&'d\\0061t'", "SELECT ?, ?, ?, ?" },
		{ "SELECT $$a 'b' c$$, $fn$ body $$ inner $fn$", "SELECT ?, ?" },
		{ "SELECT 'x' || $a$y$a$ || $_1$z$_1$", "SELECT ? || ? || ?" },
		{ "SELECT 'a' 'b'", "SELECT ? ?" },
		{ "SELECT x FROM t WHERE n LIKE 'ab%' ESCAPE '\\'",
		  "SELECT x FROM t WHERE n LIKE ? ESCAPE ?" },
		{ "SELECT '2024-01-01'::date, DATE '2024-01-01', 1::text",
		  "SELECT ?::date, DATE ?, ?::text" },
		{ "SELECT n'x', e.id FROM emp e", "SELECT ?, e.id FROM emp e" },
	};

	check_table(c, ARRAY_LEN(c));
}

static void test_numbers(void)
{
	static const struct sql_case c[] = {
		{ "SELECT 3.14, .5, 5., 1e10, 1.5E-3, 1e+5", "SELECT ?, ?, ?, ?, ?, ?" },
		{ "SELECT 0x1F, 0o17, 0b101, 1_000_000", "SELECT ?, ?, ?, ?" },
		{ "SELECT -7, a-1, a - -1", "SELECT -?, a-?, a - -?" },
		{ "SELECT * FROM t WHERE a IN (1,2,3) LIMIT 10 OFFSET 20",
		  "SELECT * FROM t WHERE a IN (?,?,?) LIMIT ? OFFSET ?" },
		{ "SELECT col1, t2.x3 FROM tab_9", "SELECT col1, t2.x3 FROM tab_9" },
		{ "SELECT 123abc", "SELECT ?" },
	};

	check_table(c, ARRAY_LEN(c));
}

static void test_kept_as_written(void)
{
	static const struct sql_case c[] = {
		{ "SELECT $1, $2::int FROM t WHERE a = $10",
		  "SELECT $1, $2::int FROM t WHERE a = $10" },
		{ "SELECT \"Weird Name\", \"a\"\"b\" FROM \"T1\"",
		  "SELECT \"Weird Name\", \"a\"\"b\" FROM \"T1\"" },
		{ "select Count(*) FROM Orders", "select Count(*) FROM Orders" },
		{ "SELECT caf\xc3\xa9 FROM t", "SELECT caf\xc3\xa9 FROM t" },
		{ "SELECT a$b FROM t", "SELECT a$b FROM t" },
		{ "UPDATE t SET a=:v WHERE b=?", "UPDATE t SET a=:v WHERE b=?" },
	};

	check_table(c, ARRAY_LEN(c));
}

static void test_space_and_comments(void)
{
	static const struct sql_case c[] = {
		{ "SELECT\n  *\tFROM   t  ;  ", "SELECT * FROM t" },
		{ "  \r\n SELECT 1", "SELECT ?" },
		{ "SELECT /* comment 'x' */ a -- trailing 'y'\nFROM t", "SELECT a FROM t" },
		{ "SELECT /* a /* nested */ still */ 1", "SELECT ?" },
		{ "SELECT/**/1", "SELECT ?" },
		{ "a/**/b", "a b" },
		{ "SELECT 1 -- to the end", "SELECT ?" },
		{ "SELECT 1;;", "SELECT ?" },
		{ "SELECT 1; -- c\n", "SELECT ?" },
		{ "BEGIN; SELECT 1; COMMIT;", "BEGIN; SELECT ?; COMMIT" },
		{ "", "" },
		{ "   ;  ", "" },
		{ "-- only a comment", "" },
	};

	check_table(c, ARRAY_LEN(c));
}

/* Input cut anywhere (truncated capture): an open literal runs to the end. */
static void test_unterminated(void)
{
	static const struct sql_case c[] = {
		{ "SELECT 'unterminated hunter2", "SELECT ?" },
		{ "SELECT E'abc\\'", "SELECT ?" },
		{ "SELECT $tag$ unterminated hunter2", "SELECT ?" },
		{ "SELECT /* unterminated hunter2", "SELECT" },
		{ "SELECT \"open ident", "SELECT \"open ident" },
		{ "SELECT 1.5e", "SELECT ?" },
		{ "SELECT U&", "SELECT U&" },
		{ "SELECT $", "SELECT $" },
	};
	static const char full[] = "SELECT a FROM t WHERE p = 'hunter2' AND q = $x$s3cr3t$x$";
	char out[FL_OP_MAX];

	check_table(c, ARRAY_LEN(c));
	for (size_t cut = 0; cut <= sizeof(full) - 1; cut++) {
		fl_sql_normalize(full, cut, out, sizeof(out));
		CHECK(!strstr(out, "hunt") && !strstr(out, "s3c") && !strstr(out, "er2"));
	}
}

/* A NUL ends the statement (PostgreSQL strings are NUL-terminated). */
static void test_nul_ends(void)
{
	static const char in[] = "SELECT 1\0 'secret'";
	char out[FL_OP_MAX];

	CHECK_EQ_INT(fl_sql_normalize(in, sizeof(in) - 1, out, sizeof(out)), 8);
	CHECK_EQ_STR(out, "SELECT ?");
	CHECK_EQ_INT(fl_sql_normalize(NULL, 5, out, sizeof(out)), 0);
	CHECK_EQ_STR(out, "");
}

static void test_output_limits(void)
{
	char out[FL_OP_MAX], big[4000];
	size_t n;

	CHECK_EQ_INT(fl_sql_normalize("SELECT 'secret' FROM t", 22, out, 10), 8);
	CHECK_EQ_STR(out, "SELECT ?");
	out[0] = 'x';
	CHECK_EQ_INT(fl_sql_normalize("SELECT 1", 8, out, 1), 0);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(fl_sql_normalize("SELECT 1", 8, out, 0), 0);
	CHECK_EQ_INT(fl_sql_normalize("SELECT 1", 8, NULL, 10), 0);

	/* many literals: capped at FL_OP_MAX - 1, no literal inside */
	n = (size_t)snprintf(big, sizeof(big), "INSERT INTO t VALUES ");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "(%d, 'v%d'),", i, i);
	CHECK_EQ_INT(fl_sql_normalize(big, n, out, sizeof(out)), FL_OP_MAX - 1);
	CHECK(!strchr(out, '\'') && !strstr(out, "v1"));

	/* a cut never splits a UTF-8 sequence */
	memcpy(big, "SELECT ", 7);
	for (int i = 0; i < 200; i++)
		memcpy(big + 7 + 2 * i, "\xc3\xa9", 2);
	n = fl_sql_normalize(big, 7 + 400, out, 12);
	CHECK_EQ_INT(n, 11);	/* "SELECT " + 2 whole sequences */
	CHECK_EQ_INT((unsigned char)out[n - 1], 0xa9);
	n = fl_sql_normalize(big, 7 + 400, out, 11);
	CHECK_EQ_INT(n, 9);	/* not 1.5 sequences */
	CHECK_EQ_INT((unsigned char)out[n - 1], 0xa9);
}

RUN_TESTS(test_literals, test_numbers, test_kept_as_written,
	  test_space_and_comments, test_unterminated, test_nul_ends,
	  test_output_limits)
