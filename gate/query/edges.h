/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Edges over the store (query/edges.c): services, edges, their windows in
 * a time range summed into stats with merged latency histograms. Every
 * command reads the graph through here.
 */
#ifndef FAULTLINE_GATE_EDGES_H
#define FAULTLINE_GATE_EDGES_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "query/ctx.h"

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
 * (gate_service_find(), gate_edges_of() and gate_edge_stats() answer from
 * ctx->mem instead of the store when it is set: --prometheus.)
 *
 * gate_edges_of() - append to @out, with zeroed stats, every edge where
 * @service_id is the server (@as_server) or the client.
 * Returns 0, -EIO or -ENOMEM (@out as it was).
 */
int gate_edges_of(struct gate_ctx *ctx, int64_t service_id, bool as_server,
		  struct gate_edges *out);

/*
 * gate_edges_of_kept() - gate_edges_of(), keeping what @keep says: each
 * appended edge not yet in @seen (which then records it: a self-call is
 * both an inbound and an outbound edge) goes to @keep(@arg, e), which
 * reads what it needs into @e and returns 1 to keep it, 0 to drop it, or
 * a negative errno. Kept edges stay at the end of @out in order, the
 * others are released (after an error, all the rest). Returns 0, the
 * first error of @keep, -EIO or -ENOMEM.
 */
int gate_edges_of_kept(struct gate_ctx *ctx, int64_t service_id, bool as_server,
		       struct gate_idmap *seen,
		       int (*keep)(void *arg, struct gate_edge *e), void *arg,
		       struct gate_edges *out);

/*
 * gate_edge_stats() - add the windows of edge @id in @r to @st; the latency
 * histogram only if @with_latency. Returns 0, -EIO, -EPROTO or -ENOMEM.
 */
int gate_edge_stats(struct gate_ctx *ctx, int64_t id, struct gate_range r,
		    bool with_latency, struct gate_stats *st);

/*
 * gate_col_text() - a copy of text column @col of the row at @st (NULL
 * read as ""), invalid UTF-8 replaced by '?' (fl_utf8_fix). Caller frees;
 * NULL on ENOMEM.
 */
char *gate_col_text(sqlite3_stmt *st, int col);

/* gate_edge_release() - free what @e owns (not @e itself). */
void gate_edge_release(struct gate_edge *e);

/*
 * gate_edge_cmp() - the order of edges in every listing: client, server,
 * protocol, operation, then id. <0, 0 or >0.
 */
int gate_edge_cmp(const struct gate_edge *x, const struct gate_edge *y);

/* gate_edges_sort() - sort by gate_edge_cmp(). */
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

#endif /* FAULTLINE_GATE_EDGES_H */
