/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gatectl's invocation context: global options, the open store, the last
 * error, and the option helpers every command parses with (query/ctx.c).
 *
 * Errors: every int function returns 0 (or a non-negative verdict where it
 * says so) or a negative errno, and leaves a one-line lowercase message in
 * ctx->err; gatectl.c prints it and maps it to an exit code (enum gate_exit).
 */
#ifndef FAULTLINE_GATE_CTX_H
#define FAULTLINE_GATE_CTX_H

#include <getopt.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "query/idmap.h"

#define GATE_DEFAULT_DB "./faultline.db"
#define GATE_NS_PER_S 1000000000LL
#define GATE_OP_TABLE_MAX 60	/* table column width of an operation, chars */

/* Process exit codes: the public contract of every subcommand. */
enum gate_exit {
	GATE_EXIT_OK = 0,		/* ok / pass */
	GATE_EXIT_FAIL = 1,		/* gate failed or regression found */
	GATE_EXIT_USAGE = 2,		/* usage, input or store error */
	GATE_EXIT_INCONCLUSIVE = 3,	/* not enough data to decide */
};

enum gate_format {
	GATE_FMT_TABLE = 0,
	GATE_FMT_JSON,
	GATE_FMT_DOT,		/* graph only */
	GATE_FMT_SVG,		/* graph only: drawn by libgvc (output/render.c) */
	GATE_FMT_HTML,		/* graph only: one page, the SVG inline */
	GATE_FMT_JUNIT,		/* gate only: JUnit XML */
	GATE_FMT_MARKDOWN,	/* gate only: a PR comment */
	GATE_FMT_COUNT
};

/* "table", "json", "dot", "svg", "html": what -o takes. */
extern const char *const gate_format_names[GATE_FMT_COUNT];

/* Whether a command opens --db, and how (query/open.c obeys it). */
enum gate_cmd_store {
	GATE_CMD_READS = 0,	/* read-only, one snapshot (the default) */
	GATE_CMD_WRITES,	/* writable: created 0600 if missing, migrated */
};

/* The output formats a command accepts, bits of 1 << enum gate_format. */
#define GATE_FMT_BIT(f) (1u << (f))
#define GATE_FMTS_TABLE_JSON (GATE_FMT_BIT(GATE_FMT_TABLE) | GATE_FMT_BIT(GATE_FMT_JSON))

/* The prepared statements of edges.c, prepared once per invocation. */
enum gate_sql {
	GATE_SQL_SERVICE,	/* service by name */
	GATE_SQL_SERVICE_ID,	/* service by id */
	GATE_SQL_EDGE,		/* edge by id */
	GATE_SQL_WINDOWS,	/* windows of one edge in a range */
	GATE_SQL_WINDOW_SUMS,	/* sums of those windows */
	GATE_SQL_EDGES_IN,	/* edges by server */
	GATE_SQL_EDGES_OUT,	/* edges by client */
	GATE_SQL_RANGE,		/* windows of every edge in a range */
	GATE_SQL_COUNT
};

/* A service; the strings belong to the invocation's service cache. */
struct gate_service {
	int64_t id;
	const char *name;
	const char *kind;	/* service|database|cache|queue|external */
};

/* One invocation: global options, the open store, the last error. */
struct gate_ctx {
	const char *db_path;	/* --db */
	const char *prom_url;	/* --prometheus: production windows from there */
	bool db_given;		/* --db was given (else a hook driver's store is the default) */
	enum gate_format fmt;	/* -o */
	sqlite3 *db;		/* read-only; opened by gate_open() */
	sqlite3_stmt *stmts[GATE_SQL_COUNT]; /* lazily prepared; owned */
	struct gate_service *svcs;	/* services read so far; owned */
	size_t nsvcs, capsvcs;
	struct gate_idmap svc_at;	/* service id -> index in svcs */
	bool schema_read;	/* edges_tls below is known */
	bool edges_tls;		/* the store has edges.tls (schema >= 2) */
	int schema_version;	/* PRAGMA user_version, once schema_read */
	int64_t now_ns;		/* wall clock at start, ns since the epoch */
	/* --prometheus: the edges read from there (ids 1..n, stats over the
	 * command's range) answer gate_service_find(), gate_edges_of() and
	 * gate_edge_stats() instead of the store (query/prom.h); borrowed */
	const struct gate_edges *mem;
	/* from the running command's table entry (cmd/cmd.h); zero for a
	 * side store (an input of merge or diff): read-only */
	enum gate_cmd_store store;	/* how gate_open() opens db_path */
	unsigned formats;	/* -o formats accepted; 0: table and json */
	const char *cmd_name;	/* the running command */
	bool prometheus;	/* it reads --prometheus */
	const char *no_prometheus; /* else why not, or NULL */
	char err[512];		/* message for the last negative return */
};


/*
 * gate_fail() - record a printf-style message in ctx->err.
 * Returns @err (a negative errno) so callers can `return gate_fail(...)`.
 */
int gate_fail(struct gate_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Long options every subcommand accepts; spread into each command's table. */
#define GATE_COMMON_LONGOPTS                                  \
	{ "db", required_argument, NULL, 'D' },               \
	{ "output", required_argument, NULL, 'o' },           \
	{ "prometheus", required_argument, NULL, 'P' },       \
	{ "help", no_argument, NULL, 'h' }
#define GATE_COMMON_SHORTOPTS ":o:h"

/*
 * gate_common_opt() - handle getopt_long()'s return @c for the options
 * shared by all subcommands (--db, -o, --help, errors). @usage prints the
 * subcommand's help. Returns 1 when handled, 0 when @c is not a common
 * option, GATE_HELP_SHOWN after printing --help (the caller returns it and
 * main() exits 0), or -EINVAL (message in ctx->err).
 */
int gate_common_opt(struct gate_ctx *ctx, int c, char **argv,
		    void (*usage)(FILE *f));
#define GATE_HELP_SHOWN 1000



/* gate_parse_u64() - parse a non-negative integer option value. */
int gate_parse_u64(struct gate_ctx *ctx, const char *opt, const char *s,
		   uint64_t *out);

/* gate_parse_double() - parse a finite option value >= @min. */
int gate_parse_double(struct gate_ctx *ctx, const char *opt, const char *s,
		      double min, double *out);

#endif /* FAULTLINE_GATE_CTX_H */
