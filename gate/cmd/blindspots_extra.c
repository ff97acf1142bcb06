// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl blindspots: unknown protocols, TLS not decrypted, and what is
 * known only from imports (never observed by the agent). One scan of
 * edges per list (blindspots is a report, not a hot path), each edge's
 * windows by their primary key.
 */
#include "grow.h"
#include "chars.h"
#include "cmd/blindspots.h"
#include "output/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EDGE_SUMS(TRACE_OK)                                                   \
	"SELECT e.id, c.name, s.name, e.protocol, e.operation, e.first_seen_ns, " \
	"e.last_seen_ns, e.server_id, coalesce(sum(w.requests), 0), "             \
	"coalesce(sum(w.req_bytes), 0), coalesce(sum(w.resp_bytes), 0) "          \
	"FROM edges e JOIN services c ON c.id = e.client_id "                     \
	"JOIN services s ON s.id = e.server_id "                                  \
	"LEFT JOIN edge_windows w ON w.edge_id = e.id" TRACE_OK " "

#define EDGE_ORDER " GROUP BY e.id ORDER BY c.name, s.name, e.protocol, e.operation"

static const char unknown_sql_v2[] =
	EDGE_SUMS("") "WHERE e.protocol = 'unknown'" EDGE_ORDER;
static const char unknown_sql[] =
	EDGE_SUMS(" AND " BS_TRACE_OK("w", "e.id")) "WHERE e.protocol = 'unknown'"
	EDGE_ORDER;
/* known from some source, none of them the agent (ebpf) or a test run */
static const char unobserved_sql[] =
	EDGE_SUMS(" AND " BS_TRACE_OK("w", "e.id"))
	"WHERE EXISTS (SELECT 1 FROM edge_sources x WHERE x.edge_id = e.id) "
	"AND NOT EXISTS (SELECT 1 FROM edge_sources x WHERE x.edge_id = e.id "
	"AND x.source IN ('ebpf', 'test'))" EDGE_ORDER;

static int x_fail(struct gate_ctx *ctx, const char *what)
{
	return gate_fail(ctx, -EIO, "cannot read %s in '%s': %s", what, ctx->db_path,
			 sqlite3_errmsg(ctx->db));
}

static void bs_edges_release(struct bs_edges *es)
{
	for (size_t i = 0; i < es->n; i++) {
		free((char *)es->v[i].e.client);
		free((char *)es->v[i].e.server);
		gate_edge_release(&es->v[i].e);
	}
	free(es->v);
	memset(es, 0, sizeof(*es));
}

static int push_row(struct bs_edges *es, sqlite3_stmt *st)
{
	struct bs_edge *b;

	b = fl_grow(es->v, &es->cap, es->n, sizeof(*b), 16);
	if (!b)
		return -ENOMEM;
	es->v = b;
	b = &es->v[es->n++];
	memset(b, 0, sizeof(*b));
	b->e.id = sqlite3_column_int64(st, 0);
	b->e.client = gate_col_text(st, 1);
	b->e.server = gate_col_text(st, 2);
	b->e.protocol = gate_col_text(st, 3);
	b->e.operation = gate_col_text(st, 4);
	b->e.first_seen_ns = sqlite3_column_int64(st, 5);
	b->e.last_seen_ns = sqlite3_column_int64(st, 6);
	b->e.server_id = sqlite3_column_int64(st, 7);
	b->requests = (uint64_t)sqlite3_column_int64(st, 8);
	b->req_bytes = (uint64_t)sqlite3_column_int64(st, 9);
	b->resp_bytes = (uint64_t)sqlite3_column_int64(st, 10);
	if (!b->e.client || !b->e.server || !b->e.protocol || !b->e.operation)
		return -ENOMEM;
	return 0;
}

/* The edges of @sql, with how each is known. */
static int read_edges(struct gate_ctx *ctx, const char *sql, struct bs_edges *out)
{
	struct gate_src_reader r;
	sqlite3_stmt *st;
	int err = 0, rc;

	if (sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL) != SQLITE_OK)
		return x_fail(ctx, "edges");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (push_row(out, st)) {
			err = gate_fail(ctx, -ENOMEM, "out of memory");
			break;
		}
	if (!err && rc != SQLITE_DONE)
		err = x_fail(ctx, "edges");
	sqlite3_finalize(st);
	if (err)
		return err;
	err = gate_src_reader_init(ctx, &r);
	for (size_t i = 0; i < out->n && !err; i++)
		err = gate_src_read(&r, &out->v[i].e);
	gate_src_reader_release(&r);
	return err;
}

static int read_counter(struct gate_ctx *ctx, const char *name, struct bs_opt *o)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(ctx->db, "SELECT value FROM agent_counters WHERE name = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return x_fail(ctx, "agent_counters");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	o->have = rc == SQLITE_ROW;
	o->value = o->have ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : x_fail(ctx, "agent_counters");
}

int bs_extra_read(struct gate_ctx *ctx, struct bs_extra *x)
{
	int schema = gate_schema_version(ctx);
	int err;

	if (schema < 0)
		return schema;
	x->ref_ns = ctx->now_ns;
	if ((err = read_counter(ctx, "unknown_proto_conns", &x->unknown_conns)) ||
	    (err = read_counter(ctx, "unknown_proto_bytes", &x->unknown_bytes)) ||
	    (err = read_counter(ctx, "tls_opaque_conns", &x->tls_opaque)) ||
	    (err = read_counter(ctx, "tls_attach_failures", &x->tls_attach)) ||
	    (err = read_counter(ctx, "tls_unmapped", &x->tls_unmapped)))
		return err;
	err = read_edges(ctx, schema >= 3 ? unknown_sql : unknown_sql_v2, &x->unknown);
	if (!err && schema >= 3)
		err = read_edges(ctx, unobserved_sql, &x->unobserved);
	if (!err)
		err = gate_schema_only_ops(ctx, &x->schema_only);
	return err;
}

void bs_extra_release(struct bs_extra *x)
{
	bs_edges_release(&x->unknown);
	bs_edges_release(&x->unobserved);
	gate_ops_release(&x->schema_only);
}

/* ---- JSON ---- */

static json_t *opt_json(const struct bs_opt *o)
{
	return o->have ? json_integer((json_int_t)o->value) : json_null();
}

static json_t *unknown_json(const struct bs_extra *x)
{
	json_t *edges = json_array();
	json_t *obj = json_pack("{s:o, s:o, s:o}",
				"conns", opt_json(&x->unknown_conns),
				"bytes", opt_json(&x->unknown_bytes), "edges", edges);

	for (size_t i = 0; obj && i < x->unknown.n; i++) {
		const struct bs_edge *b = &x->unknown.v[i];
		if (json_array_append_new(edges, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}",
				"client", b->e.client, "server", b->e.server,
				"operation", b->e.operation,
				"requests", (json_int_t)b->requests,
				"req_bytes", (json_int_t)b->req_bytes,
				"resp_bytes", (json_int_t)b->resp_bytes))) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

static json_t *unobserved_json(const struct bs_extra *x)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < x->unobserved.n; i++) {
		const struct bs_edge *b = &x->unobserved.v[i];
		if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:s}",
				"client", b->e.client, "server", b->e.server,
				"protocol", b->e.protocol, "operation", b->e.operation,
				"requests", (json_int_t)b->requests,
				"sources", gate_sources_json(&b->e.src),
				"confidence", gate_confidence_name(
					gate_confidence(&b->e.src, x->ref_ns)))))
			goto out_nomem;
	}
	for (size_t i = 0; arr && i < x->schema_only.n; i++) {
		const struct gate_op *o = &x->schema_only.v[i];
		if (json_array_append_new(arr, json_pack("{s:n, s:s, s:s, s:s, s:I, s:o, s:s}",
				"client", "server", o->service,
				"protocol", o->protocol, "operation", o->operation,
				"requests", (json_int_t)0,
				"sources", gate_sources_json(&o->src),
				"confidence", gate_confidence_name(
					gate_confidence(&o->src, x->ref_ns)))))
			goto out_nomem;
	}
	return arr;
out_nomem:
	json_decref(arr);
	return NULL;
}

int bs_extra_json(const struct bs_extra *x, json_t *root)
{
	json_t *tls = json_pack("{s:o, s:o, s:o}",
				"opaque_conns", opt_json(&x->tls_opaque),
				"attach_failures", opt_json(&x->tls_attach),
				"unmapped", opt_json(&x->tls_unmapped));

	if (json_object_set_new(root, "unknown_protocols", unknown_json(x)) ||
	    json_object_set_new(root, "tls_not_decrypted", tls) ||
	    json_object_set_new(root, "never_observed", unobserved_json(x)))
		return -ENOMEM;
	return 0;
}

/* ---- table ---- */

static void opt_str(const struct bs_opt *o, char *buf, size_t len)
{
	if (o->have)
		snprintf(buf, len, "%llu", (unsigned long long)o->value);
	else
		snprintf(buf, len, "-");
}

static int unknown_table(const struct bs_extra *x)
{
	static const char *const h[] = { "CLIENT", "SERVER", "OPERATION", "REQS",
					 "REQ_BYTES", "RESP_BYTES" };
	char conns[24], bytes[24];
	struct gate_table t;
	int err = 0;

	opt_str(&x->unknown_conns, conns, sizeof(conns));
	opt_str(&x->unknown_bytes, bytes, sizeof(bytes));
	printf("\nUNKNOWN PROTOCOLS\n");
	printf("connections no parser recognised %s, their bytes %s\n", conns, bytes);
	if (!x->unknown.n)
		return 0;
	gate_table_init(&t, h, "lllrrr", 6);
	for (size_t i = 0; i < x->unknown.n && !err; i++) {
		const struct bs_edge *b = &x->unknown.v[i];
		char op[256], r[24], rq[24], rs[24];

		gate_cell_op(b->e.operation, op, sizeof(op));
		snprintf(r, sizeof(r), "%llu", (unsigned long long)b->requests);
		snprintf(rq, sizeof(rq), "%llu", (unsigned long long)b->req_bytes);
		snprintf(rs, sizeof(rs), "%llu", (unsigned long long)b->resp_bytes);
		const char *row[] = { b->e.client, b->e.server, op, r, rq, rs };
		err = gate_table_row(&t, row);
	}
	if (!err)
		gate_table_print(&t, stdout);
	gate_table_release(&t);
	return err;
}

static void tls_section(const struct bs_extra *x)
{
	char a[24], b[24], c[24];

	opt_str(&x->tls_opaque, a, sizeof(a));
	opt_str(&x->tls_attach, b, sizeof(b));
	opt_str(&x->tls_unmapped, c, sizeof(c));
	printf("\nTLS NOT DECRYPTED\n");
	printf("connections seen only encrypted %s, SSL_* uprobes not attached %s, "
	       "SSL calls without a socket %s\n", a, b, c);
}

static int unobserved_table(const struct bs_extra *x)
{
	static const char *const h[] = { "CLIENT", "SERVER", "PROTO", "OPERATION",
					 "REQS", "SRC", "CONF" };
	struct gate_table t;
	int err = 0;

	printf("\nNEVER OBSERVED\n");
	if (!x->unobserved.n && !x->schema_only.n) {
		printf("none: every edge was observed by the agent or a test run\n");
		return 0;
	}
	gate_table_init(&t, h, "llllrll", 7);
	for (size_t i = 0; i < x->unobserved.n && !err; i++) {
		const struct bs_edge *b = &x->unobserved.v[i];
		char op[256], r[24], src[64];

		gate_cell_op(b->e.operation, op, sizeof(op));
		snprintf(r, sizeof(r), "%llu", (unsigned long long)b->requests);
		gate_sources_str(&b->e.src, src, sizeof(src));
		const char *row[] = { b->e.client, b->e.server, b->e.protocol, op, r, src,
			gate_confidence_name(gate_confidence(&b->e.src, x->ref_ns)) };
		err = gate_table_row(&t, row);
	}
	for (size_t i = 0; i < x->schema_only.n && !err; i++) {
		const struct gate_op *o = &x->schema_only.v[i];
		char op[256], src[64];

		gate_cell_op(o->operation, op, sizeof(op));
		gate_sources_str(&o->src, src, sizeof(src));
		const char *row[] = { "-", o->service, o->protocol, op, "0", src,
			gate_confidence_name(gate_confidence(&o->src, x->ref_ns)) };
		err = gate_table_row(&t, row);
	}
	if (!err)
		gate_table_print(&t, stdout);
	gate_table_release(&t);
	return err;
}

int bs_extra_table(const struct bs_extra *x)
{
	int err = unknown_table(x);

	if (err)
		return err;
	tls_section(x);
	return unobserved_table(x);
}
