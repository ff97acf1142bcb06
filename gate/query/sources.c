// SPDX-License-Identifier: BSD-2-Clause
/*
 * Provenance: how an edge is known (the agent, imported traces, test runs,
 * an imported API description) and the confidence derived from it
 * (docs/gatectl.md "Sources and confidence").
 *
 * Queries, each on a primary key:
 *   edge_sources of an edge        -> PRIMARY KEY(edge_id, source)
 *   schema operation of its server -> PRIMARY KEY(service_id, protocol, operation, source)
 *   windows of an edge (fallback)  -> PRIMARY KEY(edge_id, ...)
 */
#include "grow.h"
#include "chars.h"
#include "query/sources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const src_names[GATE_SRC_COUNT] = {
	[GATE_SRC_EBPF] = "ebpf",
	[GATE_SRC_TRACE] = "trace",
	[GATE_SRC_TEST] = "test",
	[GATE_SRC_SCHEMA] = "schema",
};

static const char *const conf_names[] = {
	[GATE_CONF_LOW] = "low",
	[GATE_CONF_MEDIUM] = "medium",
	[GATE_CONF_HIGH] = "high",
};

const char *gate_src_name(enum gate_src s)
{
	return s < GATE_SRC_COUNT ? src_names[s] : "?";
}

int gate_src_from_name(const char *name)
{
	for (int i = 0; i < GATE_SRC_COUNT; i++)
		if (name && !strcmp(src_names[i], name))
			return i;
	return -1;
}

const char *gate_confidence_name(enum gate_confidence c)
{
	return conf_names[c];
}

static int src_fail(struct gate_src_reader *r)
{
	return gate_fail(r->ctx, -EIO, "cannot read edge sources in '%s': %s",
			 r->ctx->db_path, sqlite3_errmsg(r->ctx->db));
}

static int prep(struct gate_src_reader *r, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(r->ctx->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			       st, NULL) != SQLITE_OK)
		return src_fail(r);
	return 0;
}

int gate_src_reader_init(struct gate_ctx *ctx, struct gate_src_reader *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	r->schema = gate_schema_version(ctx);
	if (r->schema < 0)
		return r->schema;
	err = prep(r, "SELECT coalesce(sum(requests + conn_errors), 0) "
		      "FROM edge_windows WHERE edge_id = ?1", &r->samples);
	if (!err && r->schema >= 3)
		err = prep(r, "SELECT source, samples, first_seen_ns, last_seen_ns "
			      "FROM edge_sources WHERE edge_id = ?1", &r->sources);
	if (!err && r->schema >= 4)
		err = prep(r, "SELECT min(first_seen_ns), max(last_seen_ns) "
			      "FROM operations WHERE service_id = ?1 AND protocol = ?2 "
			      "AND operation = ?3 AND source = 'schema'", &r->schema_op);
	if (err)
		gate_src_reader_release(r);
	return err;
}

void gate_src_reader_release(struct gate_src_reader *r)
{
	sqlite3_finalize(r->sources);
	sqlite3_finalize(r->samples);
	sqlite3_finalize(r->schema_op);
	r->sources = r->samples = r->schema_op = NULL;
}

/* The edge_sources rows of @e into @e->src; unknown source names skipped. */
static int read_rows(struct gate_src_reader *r, struct gate_edge *e, bool *any)
{
	sqlite3_stmt *st = r->sources;
	int rc, i;

	*any = false;
	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*any = true;
		i = gate_src_from_name((const char *)sqlite3_column_text(st, 0));
		if (i < 0)
			continue;	/* a newer writer's source: not ours to rank */
		e->src.s[i].have = true;
		e->src.s[i].samples = (uint64_t)sqlite3_column_int64(st, 1);
		e->src.s[i].first_ns = sqlite3_column_int64(st, 2);
		e->src.s[i].last_ns = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : src_fail(r);
}

/* No edge_sources row: what migration 2 -> 3 records for an agent's edge. */
static int read_fallback(struct gate_src_reader *r, struct gate_edge *e)
{
	struct gate_source *s = &e->src.s[GATE_SRC_EBPF];
	int rc;

	sqlite3_bind_int64(r->samples, 1, e->id);
	rc = sqlite3_step(r->samples);
	if (rc == SQLITE_ROW) {
		s->have = true;
		s->samples = (uint64_t)sqlite3_column_int64(r->samples, 0);
		s->first_ns = e->first_seen_ns;
		s->last_ns = e->last_seen_ns;
	}
	sqlite3_reset(r->samples);
	return rc == SQLITE_ROW ? 0 : src_fail(r);
}

/* 'schema' when the server lists the same protocol and operation. */
static int read_schema(struct gate_src_reader *r, struct gate_edge *e)
{
	sqlite3_stmt *st = r->schema_op;
	int rc;

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, e->server_id);
	sqlite3_bind_text(st, 2, e->protocol, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->operation, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		struct gate_source *s = &e->src.s[GATE_SRC_SCHEMA];
		s->have = true;
		s->samples = 0;
		s->first_ns = sqlite3_column_int64(st, 0);
		s->last_ns = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : src_fail(r);
}

int gate_src_read(struct gate_src_reader *r, struct gate_edge *e)
{
	bool any;
	int err;

	memset(&e->src, 0, sizeof(e->src));
	err = read_rows(r, e, &any);
	if (!err && !any)
		err = read_fallback(r, e);
	if (!err)
		err = read_schema(r, e);
	return err;
}

enum gate_confidence gate_confidence(const struct gate_sources *s, int64_t ref_ns)
{
	const struct gate_source *ebpf = &s->s[GATE_SRC_EBPF];

	if (ebpf->have && ebpf->last_ns >= ref_ns - GATE_CONF_RECENT_NS)
		return GATE_CONF_HIGH;
	if (ebpf->have || s->s[GATE_SRC_TRACE].have)
		return GATE_CONF_MEDIUM;
	return GATE_CONF_LOW;
}

/* ---- operations known only from an API description ---- */

/*
 * Schema operations no edge carries (same server, protocol and operation),
 * by service name, protocol, operation: operations_pk then edges_server.
 */
static const char schema_only_sql[] =
	"SELECT s.name, s.kind, o.protocol, o.operation, min(o.first_seen_ns), "
	"max(o.last_seen_ns) FROM operations o JOIN services s ON s.id = o.service_id "
	"WHERE o.source = 'schema' AND NOT EXISTS (SELECT 1 FROM edges e "
	"WHERE e.server_id = o.service_id AND e.protocol = o.protocol "
	"AND e.operation = o.operation) "
	"GROUP BY o.service_id, o.protocol, o.operation "
	"ORDER BY s.name, o.protocol, o.operation";

static int op_push(struct gate_ops *ops, sqlite3_stmt *st)
{
	struct gate_op *o;

	o = fl_grow(ops->v, &ops->cap, ops->n, sizeof(*o), 16);
	if (!o)
		return -ENOMEM;
	ops->v = o;
	o = &ops->v[ops->n];
	memset(o, 0, sizeof(*o));
	o->service = gate_col_text(st, 0);
	o->kind = gate_col_text(st, 1);
	o->protocol = gate_col_text(st, 2);
	o->operation = gate_col_text(st, 3);
	o->src.s[GATE_SRC_SCHEMA].have = true;
	o->src.s[GATE_SRC_SCHEMA].first_ns = sqlite3_column_int64(st, 4);
	o->src.s[GATE_SRC_SCHEMA].last_ns = sqlite3_column_int64(st, 5);
	ops->n++;
	if (!o->service || !o->kind || !o->protocol || !o->operation)
		return -ENOMEM;
	return 0;
}

int gate_schema_only_ops(struct gate_ctx *ctx, struct gate_ops *out)
{
	sqlite3_stmt *st;
	int schema = gate_schema_version(ctx), err = 0, rc;

	if (schema < 4)
		return schema < 0 ? schema : 0;
	if (sqlite3_prepare_v2(ctx->db, schema_only_sql, -1, &st, NULL) != SQLITE_OK)
		return gate_fail(ctx, -EIO, "cannot read operations in '%s': %s",
				 ctx->db_path, sqlite3_errmsg(ctx->db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (op_push(out, st)) {
			err = gate_fail(ctx, -ENOMEM, "out of memory");
			break;
		}
	}
	if (!err && rc != SQLITE_DONE)
		err = gate_fail(ctx, -EIO, "cannot read operations in '%s': %s",
				ctx->db_path, sqlite3_errmsg(ctx->db));
	sqlite3_finalize(st);
	return err;
}

void gate_ops_release(struct gate_ops *ops)
{
	for (size_t i = 0; i < ops->n; i++) {
		free(ops->v[i].service);
		free(ops->v[i].kind);
		free(ops->v[i].protocol);
		free(ops->v[i].operation);
	}
	free(ops->v);
	memset(ops, 0, sizeof(*ops));
}
