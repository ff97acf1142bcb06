/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * How an edge is known and how much to trust it (query/sources.c):
 * edge_sources rows, schema-only operations, confidence.
 */
#ifndef FAULTLINE_GATE_SOURCES_H
#define FAULTLINE_GATE_SOURCES_H

#include <jansson.h>
#include <sqlite3.h>

#include "query/edges.h"

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

#endif /* FAULTLINE_GATE_SOURCES_H */
