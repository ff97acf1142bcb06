/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gatectl: queries and decisions over the faultline store (docs/gatectl.md).
 *
 * Shared by the subcommands: the invocation context, time arguments, the
 * edge data layer over the store, and the table/JSON output helpers.
 *
 * Errors: every int function returns 0 (or a non-negative verdict where it
 * says so) or a negative errno, and leaves a one-line lowercase message in
 * ctx->err; main() prints it and maps it to an exit code (enum gate_exit).
 */
#ifndef FAULTLINE_GATECTL_H
#define FAULTLINE_GATECTL_H

#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"

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
};

/* id -> index map, open addressing; ids are SQLite rowids (any int64). */
struct gate_idmap {
	int64_t *keys;
	size_t *vals;
	uint8_t *used;
	size_t n;
	size_t cap;		/* power of two */
};

/*
 * gate_idmap_get() - the value of @key, OUT: *@val. Returns true if found.
 */
bool gate_idmap_get(const struct gate_idmap *m, int64_t key, size_t *val);

/* gate_idmap_put() - set @key to @val. Returns 0 or -ENOMEM. */
int gate_idmap_put(struct gate_idmap *m, int64_t key, size_t val);

/* gate_idmap_release() - free @m and empty it. */
void gate_idmap_release(struct gate_idmap *m);

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
	char err[512];		/* message for the last negative return */
};

/* A subcommand: parses its own argv (argv[0] is its name). */
struct gate_cmd {
	const char *name;
	const char *summary;	/* one line for the top-level help */
	int (*run)(struct gate_ctx *ctx, int argc, char **argv);
};

extern const struct gate_cmd gate_cmd_graph;
extern const struct gate_cmd gate_cmd_scope;
extern const struct gate_cmd gate_cmd_health;
extern const struct gate_cmd gate_cmd_blindspots;
extern const struct gate_cmd gate_cmd_paths;
extern const struct gate_cmd gate_cmd_import;
extern const struct gate_cmd gate_cmd_compact;
extern const struct gate_cmd gate_cmd_diff;
extern const struct gate_cmd gate_cmd_merge;
extern const struct gate_cmd gate_cmd_fault;

/* ---- context, options, errors (main.c) ---- */

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

/* gate_no_args() - -EINVAL unless getopt consumed all of argv. */
int gate_no_args(struct gate_ctx *ctx, int argc, char **argv);

/*
 * gate_open() - open ctx->db_path read-only into ctx->db and start the read
 * transaction every query of the command runs in (one snapshot).
 * Returns 0, or -ENOENT / -EISDIR / -EACCES / -EPROTO / -EIO with
 * "cannot open 'PATH': why" in ctx->err.
 */
int gate_open(struct gate_ctx *ctx);

/*
 * gate_open_writable() - open (creating if missing, migrating if older)
 * ctx->db_path writable into ctx->db, for the commands that record
 * (imports). No transaction is started. Returns 0 or what gate_open()
 * returns, with the same messages.
 */
int gate_open_writable(struct gate_ctx *ctx);

/*
 * gate_close() - finalize the statements, free the service cache (every
 * gate_service and gate_edge name with it) and close ctx->db; idempotent.
 */
void gate_close(struct gate_ctx *ctx);

/* gate_parse_u64() - parse a non-negative integer option value. */
int gate_parse_u64(struct gate_ctx *ctx, const char *opt, const char *s,
		   uint64_t *out);

/* gate_parse_double() - parse a finite option value >= @min. */
int gate_parse_double(struct gate_ctx *ctx, const char *opt, const char *s,
		      double min, double *out);

/*
 * gate_store_check() - refuse, before anything writes to it, what at @path
 * is not a faultline store this build can open: missing, a directory, not
 * SQLite, schema 0 or newer. Opens and closes it read-only.
 * Returns 0 or -ENOENT / -EISDIR / -EACCES / -EPROTO / -EIO, with "cannot
 * open 'PATH': why" in ctx->err. (compact.c)
 */
int gate_store_check(struct gate_ctx *ctx, const char *path);

/*
 * gate_open_write() - open (create, migrate) the store at @path writable,
 * for the commands that write (compact, merge). OUT: *@db, closed by the
 * caller with sqlite3_close(). Returns 0 or a negative errno with a message
 * in ctx->err. (compact.c)
 */
int gate_open_write(struct gate_ctx *ctx, const char *path, sqlite3 **db);

/* ---- time (time.c) ---- */

/*
 * gate_time_parse() - parse a time argument into ns since the epoch:
 * RFC 3339 ("2026-11-21T05:00:00Z", optional fraction, "Z" or "+hh:mm"),
 * Unix seconds ("@1763700000"), or a duration before @now_ns ("30s", "15m",
 * "2h", "1d", combined as in "1h30m"). OUT: *@out_ns.
 * Returns 0 or -EINVAL (-ERANGE when outside what int64 ns can hold).
 */
int gate_time_parse(const char *s, int64_t now_ns, int64_t *out_ns);

/*
 * gate_time_format() - @ns since the epoch as UTC RFC 3339 with
 * milliseconds, "2026-11-21T05:00:00.123Z", into @buf (>= 32 bytes).
 */
void gate_time_format(int64_t ns, char *buf, size_t len);

/* gate_now_ns() - the wall clock, ns since the epoch. */
int64_t gate_now_ns(void);

/*
 * gate_time_arg() - gate_time_parse() for option @opt, with an error
 * message naming the option and value.
 */
int gate_time_arg(struct gate_ctx *ctx, const char *opt, const char *s,
		  int64_t *out_ns);

/* ---- edges over the store (edges.c) ---- */

/* Windows whose window_start (Unix s) is in [lo_s, hi_s). */
struct gate_range {
	int64_t lo_s;
	int64_t hi_s;
};

/*
 * gate_range_make() - the windows of the time range [@since_ns, @until_ns):
 * window_start >= since floored to the minute, window_start * 1e9 < until.
 * INT64_MIN / INT64_MAX mean unbounded.
 */
struct gate_range gate_range_make(int64_t since_ns, int64_t until_ns);

/*
 * gate_range_since() - @since_ns floored to its minute: the start of the
 * first window a range includes, as shown in output. INT64_MIN stays.
 */
int64_t gate_range_since(int64_t since_ns);

/* Traffic of one edge summed over the windows of a range. */
struct gate_stats {
	uint64_t windows;	/* window rows found */
	uint64_t requests;
	uint64_t errors;	/* 5xx, error replies, resets */
	uint64_t client_errors;	/* HTTP 4xx */
	uint64_t conn_errors;	/* resets, refusals */
	struct fl_hist hist;	/* merged latency histogram, ns; owned */
};

/*
 * How an edge is known (docs/gatectl.md "Sources and confidence"), from
 * edge_sources and, for 'schema', the operations table (sources.c).
 */
enum gate_src {
	GATE_SRC_EBPF = 0,	/* observed by the agent */
	GATE_SRC_TRACE,		/* imported spans (gatectl import otlp) */
	GATE_SRC_TEST,		/* observed by the agent during test runs only */
	GATE_SRC_SCHEMA,	/* an imported API description (import openapi) */
	GATE_SRC_COUNT
};

struct gate_source {
	bool have;		/* the edge is known from this source */
	uint64_t samples;	/* requests + failed connects seen; 0 for schema */
	int64_t first_ns;	/* first seen, ns since the epoch */
	int64_t last_ns;	/* last seen */
};

struct gate_sources {
	struct gate_source s[GATE_SRC_COUNT];
};

enum gate_confidence {
	GATE_CONF_LOW = 0,	/* test runs or schema only */
	GATE_CONF_MEDIUM,	/* traces, or observed more than 24 h before */
	GATE_CONF_HIGH,		/* observed in production within 24 h */
};

/* An edge; names and kinds are borrowed from the ctx's service cache. */
struct gate_edge {
	int64_t id;
	int64_t client_id;
	int64_t server_id;
	const char *client;
	const char *client_kind;
	const char *server;
	const char *server_kind;
	char *protocol;		/* owned */
	char *operation;	/* owned */
	bool tls;		/* seen over TLS (false in a schema 1 store) */
	int64_t first_seen_ns;
	int64_t last_seen_ns;
	struct gate_stats stats;	/* over the command's range */
	struct gate_stats before;	/* health: the baseline range */
	int tag;		/* per-command use (scope reason, health verdict) */
	struct gate_sources src;	/* graph: how it is known (sources.c) */
};

/* A growable array of edges; owns its elements. */
struct gate_edges {
	struct gate_edge *v;
	size_t n;
	size_t cap;
};

/*
 * gate_service_find() - look up service @name. OUT: *@svc, its strings
 * valid until gate_close(). Returns 0, -ENOENT ("unknown service 'x'"),
 * -EIO or -ENOMEM.
 */
int gate_service_find(struct gate_ctx *ctx, const char *name,
		      struct gate_service *svc);

/*
 * gate_edges_in_range() - every edge with at least one window in @r, with
 * its stats (incl. merged latency) over @r, appended to @out.
 * Returns 0, -EIO, -EPROTO (malformed histogram) or -ENOMEM.
 */
int gate_edges_in_range(struct gate_ctx *ctx, struct gate_range r,
			struct gate_edges *out);

/*
 * gate_edge_load() - append edge @id to @out, with zeroed stats.
 * Returns 0, -ENOENT ("missing edge N in 'DB'"), -EIO, -EPROTO (its
 * service is missing) or -ENOMEM (@out as it was).
 */
int gate_edge_load(struct gate_ctx *ctx, int64_t id, struct gate_edges *out);

/*
 * gate_edges_of() - append to @out, with zeroed stats, every edge where
 * @service_id is the server (@as_server) or the client.
 * Returns 0, -EIO or -ENOMEM (@out as it was).
 */
int gate_edges_of(struct gate_ctx *ctx, int64_t service_id, bool as_server,
		  struct gate_edges *out);

/*
 * gate_edge_stats() - add the windows of edge @id in @r to @st; the latency
 * histogram only if @with_latency. Returns 0, -EIO, -EPROTO or -ENOMEM.
 */
int gate_edge_stats(struct gate_ctx *ctx, int64_t id, struct gate_range r,
		    bool with_latency, struct gate_stats *st);

/* gate_edge_release() - free what @e owns (not @e itself). */
void gate_edge_release(struct gate_edge *e);

/* gate_edges_sort() - sort by client, server, protocol, operation. */
void gate_edges_sort(struct gate_edges *es);

/* gate_edges_release() - free @es and every edge in it. */
void gate_edges_release(struct gate_edges *es);

/* gate_stats_release() - free the histogram of @st. */
void gate_stats_release(struct gate_stats *st);

/* gate_error_rate() - errors / requests, 0 without requests. */
double gate_error_rate(const struct gate_stats *st);

/*
 * gate_quantile_ms() - latency quantile @q of @st in ms rounded to 3
 * decimals; OUT: *@ms. Returns false when there are no latency samples.
 */
bool gate_quantile_ms(const struct gate_stats *st, double q, double *ms);

/*
 * gate_schema_version() - the store's schema version (PRAGMA user_version,
 * read once per invocation). Returns it, or -EIO.
 */
int gate_schema_version(struct gate_ctx *ctx);

/* ---- sources and confidence (sources.c) ---- */

#define GATE_CONF_RECENT_NS (24LL * 3600 * GATE_NS_PER_S) /* "high": ebpf within */

/* Statements that read how edges are known; one per command run. */
struct gate_src_reader {
	struct gate_ctx *ctx;		/* borrowed */
	int schema;			/* the store's schema version */
	sqlite3_stmt *sources;		/* edge_sources of an edge (schema >= 3) */
	sqlite3_stmt *samples;		/* sum of its windows (older stores) */
	sqlite3_stmt *schema_op;	/* operations row of its server (>= 4) */
};

/* gate_src_reader_init() - prepare @r on ctx->db. 0 or -EIO. */
int gate_src_reader_init(struct gate_ctx *ctx, struct gate_src_reader *r);

/* gate_src_reader_release() - finalize the statements of @r. */
void gate_src_reader_release(struct gate_src_reader *r);

/*
 * gate_src_read() - how edge @e is known, OUT: @e->src. Its edge_sources
 * rows, plus 'schema' when its server has the same protocol and operation
 * in the operations table. An edge without any edge_sources row (a store
 * before schema 3, read as it is) is taken as seen by 'ebpf' over its
 * first/last seen with samples = its windows' requests + conn_errors, as
 * migration 2 -> 3 would have recorded it. Returns 0 or -EIO.
 */
int gate_src_read(struct gate_src_reader *r, struct gate_edge *e);

/*
 * gate_confidence() - the confidence of @s at @ref_ns (the end of the
 * query's range, or now): high when 'ebpf' last saw it at or after
 * @ref_ns - 24 h; medium when 'ebpf' saw it earlier, or 'trace' saw it;
 * low otherwise ('test' and/or 'schema' only, or nothing).
 */
enum gate_confidence gate_confidence(const struct gate_sources *s, int64_t ref_ns);

/* gate_confidence_name() - "high", "medium" or "low" (static). */
const char *gate_confidence_name(enum gate_confidence c);

/* gate_src_name() - "ebpf", "trace", "test" or "schema" (static). */
const char *gate_src_name(enum gate_src s);

/* gate_src_from_name() - the source named @name, or -1 for none. */
int gate_src_from_name(const char *name);

/*
 * gate_sources_json() - the JSON array [{"source", "samples", "first_seen",
 * "last_seen"}, ...] of @s, strongest first. NULL on ENOMEM.
 */
json_t *gate_sources_json(const struct gate_sources *s);

/* gate_sources_str() - "ebpf+schema", "-" when none, into @buf. */
void gate_sources_str(const struct gate_sources *s, char *buf, size_t len);

/* An operation of a service known only from an API description. */
struct gate_op {
	char *service;		/* owned */
	char *kind;		/* owned */
	char *protocol;		/* owned */
	char *operation;	/* owned */
	struct gate_sources src;	/* 'schema' only */
};

struct gate_ops {
	struct gate_op *v;
	size_t n, cap;
};

/*
 * gate_schema_only_ops() - append to @out the operations of the
 * operations table (schema >= 4) that no edge of the store carries (same
 * server, protocol and operation), by service, protocol, operation.
 * Returns 0 (nothing for an older store), -EIO or -ENOMEM.
 */
int gate_schema_only_ops(struct gate_ctx *ctx, struct gate_ops *out);

/* gate_ops_release() - free @ops and what it owns. */
void gate_ops_release(struct gate_ops *ops);

/* ---- output (output.c) ---- */

/*
 * A text table: columns sized to their widest cell (in UTF-8 characters),
 * two spaces apart, numbers right-aligned. Cells are copied.
 */
struct gate_table {
	size_t ncols;
	const char *const *heads;	/* borrowed, ncols */
	const char *align;		/* borrowed, ncols of 'l' or 'r' */
	char **cells;			/* owned, nrows * ncols */
	size_t nrows;
	size_t cap;			/* rows allocated */
};

/* gate_table_init() - an empty table; @heads and @align are borrowed. */
void gate_table_init(struct gate_table *t, const char *const *heads,
		     const char *align, size_t ncols);

/* gate_table_row() - append one row of t->ncols cells. 0 or -ENOMEM. */
int gate_table_row(struct gate_table *t, const char *const *cells);

/* gate_table_print() - write @t (head, then rows) to @f. */
void gate_table_print(const struct gate_table *t, FILE *f);

/* gate_table_release() - free the cells of @t. */
void gate_table_release(struct gate_table *t);

/*
 * gate_cell_op() - @op for a table cell: control characters shown as
 * spaces, cut to GATE_OP_TABLE_MAX characters ending in "…", "-" when
 * empty. OUT: @buf (>= 4 * GATE_OP_TABLE_MAX + 4 bytes to never cut short).
 */
void gate_cell_op(const char *op, char *buf, size_t len);

/*
 * gate_otel_attributes() - a new JSON object of the OpenTelemetry attributes
 * of edge @e that the store can fill (http.request.method, http.route,
 * db.system, db.operation.name, db.query.text, rpc.system, rpc.service,
 * rpc.method, server.address, server.port), per its protocol; docs/gatectl.md.
 * NULL on ENOMEM.
 */
json_t *gate_otel_attributes(const struct gate_edge *e);

/* gate_json_ms() - a JSON number of ms (3 decimals), or null if !@have. */
json_t *gate_json_ms(bool have, double ms);

/*
 * gate_json_edge() - @e as the edge object of `graph -o json` (identity,
 * stats, p50/p90/p99, first/last seen, tls; docs/gatectl.md), a new
 * reference, or NULL on ENOMEM. Defined in graph.c.
 */
json_t *gate_json_edge(const struct gate_edge *e);

/* gate_json_rate() - a JSON number rounded to 6 decimals. */
json_t *gate_json_rate(double rate);

/* gate_json_time() - a JSON string, gate_time_format() of @ns. */
json_t *gate_json_time(int64_t ns);

/*
 * gate_json_print() - write @root to stdout, indented, keys in insertion
 * order, and a newline. Returns 0 or -EIO.
 */
int gate_json_print(struct gate_ctx *ctx, json_t *root);

/* gate_utf8_fix() - replace the bytes of @s that are not UTF-8 by '?'. */
void gate_utf8_fix(char *s);

/* gate_ms_str() - "%.3f" of @ms or "-" when !@have, into @buf. */
void gate_ms_str(bool have, double ms, char *buf, size_t len);

#endif /* FAULTLINE_GATECTL_H */
