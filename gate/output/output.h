/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What gatectl writes (the files of output/): text tables, JSON values in the
 * shapes of docs/gatectl.md, the edge object shared by graph and paths,
 * OpenTelemetry attribute names.
 */
#ifndef FAULTLINE_GATE_OUTPUT_H
#define FAULTLINE_GATE_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "chars.h"
#include "query/edges.h"

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

/*
 * gate_statuses_add() - set "statuses" {status: requests} of edge @e over
 * @r on its JSON object @je ({} before schema 5), and when there is exactly
 * one status, its OpenTelemetry attribute in @je's "attributes"
 * (output/statuses.c). *@st: a statement cache, NULL at first; the caller
 * finalizes it. Returns 0, -EIO or -ENOMEM (message in @ctx).
 */
int gate_statuses_add(struct gate_ctx *ctx, sqlite3_stmt **st,
		      const struct gate_edge *e, struct gate_range r, json_t *je);

/* gate_json_ms() - a JSON number of ms (3 decimals), or null if !@have. */
json_t *gate_json_ms(bool have, double ms);

/*
 * gate_json_edge() - @e as the edge object of `graph -o json` (identity,
 * stats, p50/p90/p99, first/last seen, tls; docs/gatectl.md), a new
 * reference, or NULL on ENOMEM. (output/edge_json.c)
 */
json_t *gate_json_edge(const struct gate_edge *e);

/*
 * gate_sources_json() - the JSON array [{"source", "samples", "first_seen",
 * "last_seen"}, ...] of @s, strongest first. NULL on ENOMEM.
 */
json_t *gate_sources_json(const struct gate_sources *s);

/* gate_sources_str() - "ebpf+schema", "-" when none, into @buf. */
void gate_sources_str(const struct gate_sources *s, char *buf, size_t len);

/* gate_json_rate() - a JSON number rounded to 6 decimals. */
json_t *gate_json_rate(double rate);

/* gate_json_time() - a JSON string, gate_time_format() of @ns. */
json_t *gate_json_time(int64_t ns);

/*
 * gate_json_print() - write @root to stdout, indented, keys in insertion
 * order, and a newline. Returns 0 or -EIO.
 */
int gate_json_print(struct gate_ctx *ctx, json_t *root);

/* gate_utf8_fix() - fl_utf8_fix() (lib/chars.h), the name older code uses. */
#define gate_utf8_fix fl_utf8_fix

/* gate_ms_str() - "%.3f" of @ms or "-" when !@have, into @buf. */
void gate_ms_str(bool have, double ms, char *buf, size_t len);

#endif /* FAULTLINE_GATE_OUTPUT_H */
