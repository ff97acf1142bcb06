// SPDX-License-Identifier: BSD-2-Clause
/*
 * The per-status breakdown of an edge over a range (schema 5,
 * edge_window_statuses): `graph -o json` edges get "statuses" {status:
 * requests}, and, when every request of the range had one and the same
 * status, the OpenTelemetry attribute that carries it:
 * http.response.status_code (int), rpc.grpc.status_code (int) or
 * db.response.status_code (the SQLSTATE, a string). An edge's aggregate has
 * no single status otherwise, so the attribute is left out rather than
 * invented (docs/gatectl.md, graph "Statuses").
 */
#include "output/output.h"
#include "query/ctx.h"
#include "query/open.h"
#include "query/time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* the sources listed: a seek per (edge, source) on the primary key, then
 * the range, rather than every window of the edge */
static const char statuses_sql[] =
	"SELECT status, sum(requests) FROM edge_window_statuses "
	"WHERE edge_id = ?1 AND source IN ('ebpf', 'test', 'trace') "
	"AND window_start >= ?2 AND window_start < ?3 "
	"GROUP BY status ORDER BY status";

/* A decimal of 1..9 digits: the status as an int, or -1. */
static long status_int(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n && n < 10 && !s[n] ? strtol(s, NULL, 10) : -1;
}

/* The attribute of a single status @s of an edge of @protocol, into @attrs. */
static int status_attribute(json_t *attrs, const char *protocol, const char *s)
{
	long v;

	if (!attrs)
		return 0;
	if (!strcmp(protocol, "http") && (v = status_int(s)) >= 0)
		return json_object_set_new(attrs, "http.response.status_code",
					   json_integer(v));
	if (!strcmp(protocol, "grpc") && !strncmp(s, "grpc:", 5) &&
	    (v = status_int(s + 5)) >= 0)
		return json_object_set_new(attrs, "rpc.grpc.status_code",
					   json_integer(v));
	if ((!strcmp(protocol, "postgresql") || !strcmp(protocol, "mysql")) &&
	    strlen(s) == 5)
		return json_object_set_new(attrs, "db.response.status_code",
					   json_string(s));
	return 0;
}

int gate_statuses_add(struct gate_ctx *ctx, sqlite3_stmt **st,
		      const struct gate_edge *e, struct gate_range r, json_t *je)
{
	json_t *js = json_object();
	const char *only = NULL;
	char one[32] = "";
	int rc, n = 0, err = 0;

	if (!js || json_object_set_new(je, "statuses", js))
		return gate_fail(ctx, -ENOMEM, "out of memory");
	if (gate_schema_version(ctx) < 5)
		return 0;
	if (!*st && sqlite3_prepare_v2(ctx->db, statuses_sql, -1, st, NULL))
		return gate_fail(ctx, -EIO, "cannot read edge_window_statuses in '%s': %s",
				 ctx->db_path, sqlite3_errmsg(ctx->db));
	sqlite3_bind_int64(*st, 1, e->id);
	sqlite3_bind_int64(*st, 2, r.lo_s);
	sqlite3_bind_int64(*st, 3, r.hi_s);
	while ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(*st, 0);
		if (!s)
			continue;
		if (json_object_set_new(js, s, json_integer(sqlite3_column_int64(*st, 1)))) {
			err = gate_fail(ctx, -ENOMEM, "out of memory");
			goto out_reset;
		}
		if (!n++)
			snprintf(one, sizeof(one), "%s", s);
	}
	if (rc != SQLITE_DONE) {
		err = gate_fail(ctx, -EIO, "cannot read edge_window_statuses in '%s': %s",
				ctx->db_path, sqlite3_errmsg(ctx->db));
		goto out_reset;
	}
	only = n == 1 && strcmp(one, "_other") ? one : NULL;
	if (only && status_attribute(json_object_get(je, "attributes"), e->protocol, only))
		err = gate_fail(ctx, -ENOMEM, "out of memory");
out_reset:
	sqlite3_reset(*st);
	sqlite3_clear_bindings(*st);
	return err;
}
