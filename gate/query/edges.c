// SPDX-License-Identifier: BSD-2-Clause
/*
 * The edge data layer: every query gatectl runs on the store. Each query is
 * a prepared statement served by an index of the schema (docs/store.md):
 *   services by name         -> UNIQUE(name)
 *   service by id            -> rowid (then cached for the invocation)
 *   edges by client          -> UNIQUE(client_id, server_id, protocol, operation)
 *   edges by server          -> edges_server
 *   edge by id               -> rowid
 *   windows of one edge      -> PRIMARY KEY(edge_id, window_start)
 *   windows of a time range  -> edge_windows_time
 * Sums and histogram merges are done here in C, so a window is read once.
 * A schema 1 store (before edges.tls) is read as if no edge were TLS.
 * Windows imported from traces never add to observed ones (schema >= 3):
 * an edge's 'trace' windows count only when it has no 'ebpf' or 'test'
 * window in the queried range (TRACE_OK below).
 * main() wraps a command in one read transaction: one consistent snapshot.
 */
#include "grow.h"
#include "chars.h"
#include "query/edges.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b && (a < 0) != (b < 0)) ? q - 1 : q;
}

struct gate_range gate_range_make(int64_t since_ns, int64_t until_ns)
{
	struct gate_range r = { INT64_MIN, INT64_MAX };

	if (since_ns != INT64_MIN)
		r.lo_s = floor_div(floor_div(since_ns, GATE_NS_PER_S), 60) * 60;
	if (until_ns != INT64_MAX && until_ns != INT64_MIN)
		r.hi_s = floor_div(until_ns - 1, GATE_NS_PER_S) + 1;
	return r;
}

#define EDGE_COLS "id, client_id, server_id, protocol, operation, first_seen_ns, last_seen_ns, tls"
/* schema 1 (before edges.tls): the same columns */
#define EDGE_COLS_V1 "id, client_id, server_id, protocol, operation, first_seen_ns, last_seen_ns, 0"
#define WINDOW_COLS "requests, errors, client_errors, conn_errors, latency_hist"
/*
 * A window row of edge @E (table alias w) counts unless it came from a trace
 * while the edge has observed windows in [?LO, ?HI): one request seen both
 * by the agent and in a trace must not count twice. The subquery is the
 * primary key (edge_id, source, window_start), run only for 'trace' rows.
 */
#define TRACE_OK(E, LO, HI) \
	"(w.source <> 'trace' OR NOT EXISTS (SELECT 1 FROM edge_windows o " \
	"WHERE o.edge_id = " E " AND o.source IN ('ebpf', 'test') " \
	"AND o.window_start >= " LO " AND o.window_start < " HI "))"

static const char *const sqls[GATE_SQL_COUNT] = {
	[GATE_SQL_SERVICE] = "SELECT id FROM services WHERE name = ?1",
	[GATE_SQL_SERVICE_ID] = "SELECT name, kind FROM services WHERE id = ?1",
	[GATE_SQL_EDGE] = "SELECT " EDGE_COLS " FROM edges WHERE id = ?1",
	[GATE_SQL_WINDOWS] =
		"SELECT " WINDOW_COLS " FROM edge_windows w WHERE edge_id = ?1 "
		"AND window_start >= ?2 AND window_start < ?3 AND "
		TRACE_OK("?1", "?2", "?3"),
	/* without latency SQLite sums, and never reads the blobs */
	[GATE_SQL_WINDOW_SUMS] =
		"SELECT count(*), sum(requests), sum(errors), sum(client_errors), "
		"sum(conn_errors) FROM edge_windows w WHERE edge_id = ?1 "
		"AND window_start >= ?2 AND window_start < ?3 AND "
		TRACE_OK("?1", "?2", "?3"),
	[GATE_SQL_EDGES_IN] = "SELECT " EDGE_COLS " FROM edges WHERE server_id = ?1",
	[GATE_SQL_EDGES_OUT] = "SELECT " EDGE_COLS " FROM edges WHERE client_id = ?1",
	[GATE_SQL_RANGE] =
		"SELECT edge_id, " WINDOW_COLS " FROM edge_windows w "
		"INDEXED BY edge_windows_time "
		"WHERE window_start >= ?1 AND window_start < ?2 AND "
		TRACE_OK("w.edge_id", "?1", "?2"),
};

/* The statements that read windows, for a store before schema 3 (no source). */
static const char *const sqls_v2[GATE_SQL_COUNT] = {
	[GATE_SQL_WINDOWS] =
		"SELECT " WINDOW_COLS " FROM edge_windows WHERE edge_id = ?1 "
		"AND window_start >= ?2 AND window_start < ?3",
	[GATE_SQL_WINDOW_SUMS] =
		"SELECT count(*), sum(requests), sum(errors), sum(client_errors), "
		"sum(conn_errors) FROM edge_windows WHERE edge_id = ?1 "
		"AND window_start >= ?2 AND window_start < ?3",
	[GATE_SQL_RANGE] =
		"SELECT edge_id, " WINDOW_COLS " FROM edge_windows "
		"INDEXED BY edge_windows_time "
		"WHERE window_start >= ?1 AND window_start < ?2",
};

/* The statements that read edges, for a schema 1 store. */
static const char *const sqls_v1[GATE_SQL_COUNT] = {
	[GATE_SQL_EDGE] = "SELECT " EDGE_COLS_V1 " FROM edges WHERE id = ?1",
	[GATE_SQL_EDGES_IN] = "SELECT " EDGE_COLS_V1 " FROM edges WHERE server_id = ?1",
	[GATE_SQL_EDGES_OUT] = "SELECT " EDGE_COLS_V1 " FROM edges WHERE client_id = ?1",
};

int64_t gate_range_since(int64_t since_ns)
{
	if (since_ns == INT64_MIN)
		return INT64_MIN;
	return gate_range_make(since_ns, INT64_MAX).lo_s * GATE_NS_PER_S;
}

static int db_fail(struct gate_ctx *ctx, const char *what)
{
	return gate_fail(ctx, -EIO, "cannot %s in '%s': %s", what, ctx->db_path,
			 sqlite3_errmsg(ctx->db));
}

static int oom(struct gate_ctx *ctx)
{
	return gate_fail(ctx, -ENOMEM, "out of memory");
}

/* Read once the schema version: edges.tls (>= 2), windows' source (>= 3). */
static int schema_read(struct gate_ctx *ctx)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(ctx->db, "PRAGMA user_version", -1, &st, NULL))
		return db_fail(ctx, "read the schema version");
	ctx->schema_version = sqlite3_step(st) == SQLITE_ROW ?
			      sqlite3_column_int(st, 0) : 0;
	ctx->edges_tls = ctx->schema_version >= 2;
	sqlite3_finalize(st);
	ctx->schema_read = true;
	return 0;
}

int gate_schema_version(struct gate_ctx *ctx)
{
	int err;

	if (!ctx->schema_read && (err = schema_read(ctx)))
		return err;
	return ctx->schema_version;
}

/*
 * The prepared statement @id, reset with no bindings. Statements live until
 * gate_close(); the caller resets it when done. One user at a time.
 */
static int stmt(struct gate_ctx *ctx, enum gate_sql id, sqlite3_stmt **st)
{
	const char *sql = sqls[id];
	int err;

	if (!ctx->schema_read && (err = schema_read(ctx)))
		return err;
	if (ctx->schema_version < 3 && sqls_v2[id])
		sql = sqls_v2[id];
	if (!ctx->edges_tls && sqls_v1[id])
		sql = sqls_v1[id];
	if (ctx->stmts[id]) {
		sqlite3_reset(ctx->stmts[id]);
		sqlite3_clear_bindings(ctx->stmts[id]);
	} else if (sqlite3_prepare_v3(ctx->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				      &ctx->stmts[id], NULL) != SQLITE_OK) {
		return db_fail(ctx, "query");
	}
	*st = ctx->stmts[id];
	return 0;
}

char *gate_col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	char *s = strdup(t ? (const char *)t : "");

	if (s)
		fl_utf8_fix(s);
	return s;
}

/* Add service @id with @name and @kind (copied) to the cache. */
static int svc_cache_add(struct gate_ctx *ctx, int64_t id, sqlite3_stmt *st,
			 int name_col, int kind_col, struct gate_service *out)
{
	struct gate_service *v;

	if (ctx->nsvcs == ctx->capsvcs) {
		size_t cap = ctx->capsvcs ? ctx->capsvcs * 2 : 64;
		v = realloc(ctx->svcs, cap * sizeof(*v));
		if (!v)
			return oom(ctx);
		ctx->svcs = v;
		ctx->capsvcs = cap;
	}
	v = &ctx->svcs[ctx->nsvcs];
	v->id = id;
	v->name = gate_col_text(st, name_col);
	v->kind = gate_col_text(st, kind_col);
	if (!v->name || !v->kind || gate_idmap_put(&ctx->svc_at, id, ctx->nsvcs)) {
		free((char *)v->name);
		free((char *)v->kind);
		return oom(ctx);
	}
	ctx->nsvcs++;
	*out = *v;
	return 0;
}

/* Service @id, from the cache or the store. */
static int svc_by_id(struct gate_ctx *ctx, int64_t id, struct gate_service *out)
{
	sqlite3_stmt *st;
	size_t at;
	int err, rc;

	if (gate_idmap_get(&ctx->svc_at, id, &at)) {
		*out = ctx->svcs[at];
		return 0;
	}
	err = stmt(ctx, GATE_SQL_SERVICE_ID, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = svc_cache_add(ctx, id, st, 0, 1, out);
	else if (rc == SQLITE_DONE)
		err = gate_fail(ctx, -EPROTO, "edge to missing service %lld in '%s'",
				(long long)id, ctx->db_path);
	else
		err = db_fail(ctx, "read services");
	sqlite3_reset(st);
	return err;
}

static struct gate_edge *edges_push(struct gate_edges *es);

/* ---- the in-memory source (ctx->mem: edges read from Prometheus) ---- */

static int mem_service_find(struct gate_ctx *ctx, const char *name,
			    struct gate_service *svc)
{
	for (size_t i = 0; i < ctx->mem->n; i++) {
		const struct gate_edge *e = &ctx->mem->v[i];
		if (!strcmp(e->client, name)) {
			*svc = (struct gate_service){ e->client_id, e->client, e->client_kind };
			return 0;
		}
		if (!strcmp(e->server, name)) {
			*svc = (struct gate_service){ e->server_id, e->server, e->server_kind };
			return 0;
		}
	}
	return gate_fail(ctx, -ENOENT, "unknown service '%s'", name);
}

static int mem_edges_of(struct gate_ctx *ctx, int64_t service_id, bool as_server,
			struct gate_edges *out)
{
	for (size_t i = 0; i < ctx->mem->n; i++) {
		const struct gate_edge *m = &ctx->mem->v[i];
		struct gate_edge *e;

		if ((as_server ? m->server_id : m->client_id) != service_id)
			continue;
		if (!(e = edges_push(out)))
			return oom(ctx);
		*e = *m;
		memset(&e->stats, 0, sizeof(e->stats));
		memset(&e->before, 0, sizeof(e->before));
		e->protocol = strdup(m->protocol);
		e->operation = strdup(m->operation);
		if (!e->protocol || !e->operation) {
			gate_edge_release(e);
			out->n--;
			return oom(ctx);
		}
	}
	return 0;
}

/* The stats of in-memory edge @id: already over the command's range. */
static int mem_edge_stats(struct gate_ctx *ctx, int64_t id, bool with_latency,
			  struct gate_stats *s)
{
	for (size_t i = 0; i < ctx->mem->n; i++) {
		const struct gate_stats *m = &ctx->mem->v[i].stats;
		if (ctx->mem->v[i].id != id)
			continue;
		s->windows += m->windows;
		s->requests += m->requests;
		s->errors += m->errors;
		s->client_errors += m->client_errors;
		s->conn_errors += m->conn_errors;
		if (with_latency && fl_hist_merge(&s->hist, &m->hist))
			return oom(ctx);
	}
	return 0;
}

int gate_service_find(struct gate_ctx *ctx, const char *name,
		      struct gate_service *svc)
{
	sqlite3_stmt *st;
	int64_t id;
	size_t at;
	int err, rc;

	if (ctx->mem)
		return mem_service_find(ctx, name, svc);
	err = stmt(ctx, GATE_SQL_SERVICE, &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		err = gate_fail(ctx, -ENOENT, "unknown service '%s'", name);
	} else if (rc != SQLITE_ROW) {
		err = db_fail(ctx, "read services");
	} else {
		id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (gate_idmap_get(&ctx->svc_at, id, &at)) {
			*svc = ctx->svcs[at];
			return 0;
		}
		return svc_by_id(ctx, id, svc);
	}
	sqlite3_reset(st);
	return err;
}

void gate_edge_release(struct gate_edge *e)
{
	free(e->protocol);
	free(e->operation);
	gate_stats_release(&e->stats);
	gate_stats_release(&e->before);
	memset(e, 0, sizeof(*e));
}

void gate_edges_release(struct gate_edges *es)
{
	for (size_t i = 0; i < es->n; i++)
		gate_edge_release(&es->v[i]);
	free(es->v);
	memset(es, 0, sizeof(*es));
}

void gate_stats_release(struct gate_stats *st)
{
	fl_hist_release(&st->hist);
}

static struct gate_edge *edges_push(struct gate_edges *es)
{
	struct gate_edge *v = fl_grow(es->v, &es->cap, es->n, sizeof(*v), 16);

	if (!v)
		return NULL;
	es->v = v;
	memset(&es->v[es->n], 0, sizeof(es->v[0]));
	return &es->v[es->n++];
}

/* Append the edge in the EDGE_COLS row of @st to @out. */
static int edge_push_row(struct gate_ctx *ctx, sqlite3_stmt *st,
			 struct gate_edges *out)
{
	struct gate_service c, s;
	struct gate_edge *e;
	int err;

	err = svc_by_id(ctx, sqlite3_column_int64(st, 1), &c);
	if (!err)
		err = svc_by_id(ctx, sqlite3_column_int64(st, 2), &s);
	if (err)
		return err;
	e = edges_push(out);
	if (!e)
		return oom(ctx);
	e->id = sqlite3_column_int64(st, 0);
	e->client_id = c.id;
	e->client = c.name;
	e->client_kind = c.kind;
	e->server_id = s.id;
	e->server = s.name;
	e->server_kind = s.kind;
	e->protocol = gate_col_text(st, 3);
	e->operation = gate_col_text(st, 4);
	e->first_seen_ns = sqlite3_column_int64(st, 5);
	e->last_seen_ns = sqlite3_column_int64(st, 6);
	e->tls = sqlite3_column_int(st, 7) != 0;
	if (!e->protocol || !e->operation) {
		gate_edge_release(e);
		out->n--;
		return oom(ctx);
	}
	return 0;
}

int gate_edge_load(struct gate_ctx *ctx, int64_t id, struct gate_edges *out)
{
	sqlite3_stmt *st;
	int rc, err;

	err = stmt(ctx, GATE_SQL_EDGE, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = edge_push_row(ctx, st, out);
	else if (rc == SQLITE_DONE)
		err = gate_fail(ctx, -ENOENT, "missing edge %lld in '%s'",
				(long long)id, ctx->db_path);
	else
		err = db_fail(ctx, "read edges");
	sqlite3_reset(st);
	return err;
}

/* Append edge @id, which a window names, to @out. */
static int edge_load(struct gate_ctx *ctx, int64_t id, struct gate_edges *out)
{
	int err = gate_edge_load(ctx, id, out);

	if (err == -ENOENT)
		err = gate_fail(ctx, -EPROTO, "window of missing edge %lld in '%s'",
				(long long)id, ctx->db_path);
	return err;
}

int gate_edges_of(struct gate_ctx *ctx, int64_t service_id, bool as_server,
		  struct gate_edges *out)
{
	size_t first = out->n;
	sqlite3_stmt *st;
	int err, rc;

	if (ctx->mem)
		return mem_edges_of(ctx, service_id, as_server, out);
	err = stmt(ctx, as_server ? GATE_SQL_EDGES_IN : GATE_SQL_EDGES_OUT, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, service_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = edge_push_row(ctx, st, out);
		if (err)
			goto out_reset;
	}
	if (rc != SQLITE_DONE)
		err = db_fail(ctx, "read edges");
out_reset:
	sqlite3_reset(st);
	if (err) {
		while (out->n > first)
			gate_edge_release(&out->v[--out->n]);
	}
	return err;
}

int gate_edges_of_kept(struct gate_ctx *ctx, int64_t service_id, bool as_server,
		       struct gate_idmap *seen,
		       int (*keep)(void *arg, struct gate_edge *e), void *arg,
		       struct gate_edges *out)
{
	size_t first = out->n, kept = first, n, dummy;
	int err = gate_edges_of(ctx, service_id, as_server, out);

	if (err)
		return err;
	n = out->n;
	for (size_t i = first; i < n; i++) {
		struct gate_edge *e = &out->v[i];
		int r = 0;

		if (err || gate_idmap_get(seen, e->id, &dummy))
			goto drop;	/* after an error, or seen from the other end */
		if (gate_idmap_put(seen, e->id, 0)) {
			err = gate_fail(ctx, -ENOMEM, "out of memory");
			goto drop;
		}
		r = keep(arg, e);
		if (r <= 0) {
			err = r;
			goto drop;
		}
		if (i != kept) {
			out->v[kept] = *e;
			memset(e, 0, sizeof(*e));
		}
		kept++;
		continue;
drop:
		gate_edge_release(e);
	}
	out->n = kept;
	return err;
}

/* Add one window row (columns from @col: WINDOW_COLS) to @s. */
static int stats_add_row(struct gate_ctx *ctx, sqlite3_stmt *st, int col,
			 bool with_latency, struct gate_stats *s, int64_t edge_id)
{
	s->windows++;
	s->requests += (uint64_t)sqlite3_column_int64(st, col);
	s->errors += (uint64_t)sqlite3_column_int64(st, col + 1);
	s->client_errors += (uint64_t)sqlite3_column_int64(st, col + 2);
	s->conn_errors += (uint64_t)sqlite3_column_int64(st, col + 3);
	if (!with_latency || sqlite3_column_type(st, col + 4) != SQLITE_BLOB)
		return 0;
	int err = fl_hist_decode_merge(&s->hist, sqlite3_column_blob(st, col + 4),
				       (size_t)sqlite3_column_bytes(st, col + 4));
	if (err == -EINVAL)
		return gate_fail(ctx, -EPROTO,
				 "malformed latency histogram for edge %lld in '%s'",
				 (long long)edge_id, ctx->db_path);
	if (err)
		return oom(ctx);
	return 0;
}

int gate_edge_stats(struct gate_ctx *ctx, int64_t id, struct gate_range r,
		    bool with_latency, struct gate_stats *s)
{
	sqlite3_stmt *st;
	int err, rc;

	if (ctx->mem)
		return mem_edge_stats(ctx, id, with_latency, s);
	err = stmt(ctx, with_latency ? GATE_SQL_WINDOWS : GATE_SQL_WINDOW_SUMS, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r.lo_s);
	sqlite3_bind_int64(st, 3, r.hi_s);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (with_latency) {
			err = stats_add_row(ctx, st, 0, true, s, id);
			if (err)
				goto out_reset;
			continue;
		}
		s->windows += (uint64_t)sqlite3_column_int64(st, 0);
		s->requests += (uint64_t)sqlite3_column_int64(st, 1);
		s->errors += (uint64_t)sqlite3_column_int64(st, 2);
		s->client_errors += (uint64_t)sqlite3_column_int64(st, 3);
		s->conn_errors += (uint64_t)sqlite3_column_int64(st, 4);
	}
	if (rc != SQLITE_DONE)
		err = db_fail(ctx, "read edge_windows");
out_reset:
	sqlite3_reset(st);
	return err;
}

int gate_edges_in_range(struct gate_ctx *ctx, struct gate_range r,
			struct gate_edges *out)
{
	struct gate_idmap map = { 0 };
	size_t first = out->n;
	sqlite3_stmt *win;
	int err, rc;

	err = stmt(ctx, GATE_SQL_RANGE, &win);
	if (err)
		return err;
	sqlite3_bind_int64(win, 1, r.lo_s);
	sqlite3_bind_int64(win, 2, r.hi_s);
	while ((rc = sqlite3_step(win)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(win, 0);
		size_t at;
		if (!gate_idmap_get(&map, id, &at)) {
			at = out->n;
			err = edge_load(ctx, id, out);
			if (!err && gate_idmap_put(&map, id, at))
				err = oom(ctx);
			if (err)
				goto out_reset;
		}
		err = stats_add_row(ctx, win, 1, true, &out->v[at].stats, id);
		if (err)
			goto out_reset;
	}
	if (rc != SQLITE_DONE)
		err = db_fail(ctx, "read edge_windows");
out_reset:
	sqlite3_reset(win);
	gate_idmap_release(&map);
	if (err) {
		while (out->n > first)
			gate_edge_release(&out->v[--out->n]);
	}
	return err;
}

int gate_edge_cmp(const struct gate_edge *x, const struct gate_edge *y)
{
	int c;

	if ((c = strcmp(x->client, y->client)) ||
	    (c = strcmp(x->server, y->server)) ||
	    (c = strcmp(x->protocol, y->protocol)) ||
	    (c = strcmp(x->operation, y->operation)))
		return c;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int edge_cmp(const void *a, const void *b)
{
	return gate_edge_cmp(a, b);
}

void gate_edges_sort(struct gate_edges *es)
{
	if (es->n)
		qsort(es->v, es->n, sizeof(es->v[0]), edge_cmp);
}

double gate_error_rate(const struct gate_stats *st)
{
	return st->requests ? (double)st->errors / (double)st->requests : 0.0;
}

bool gate_quantile_ms(const struct gate_stats *st, double q, double *ms)
{
	if (!st->hist.count)
		return false;
	uint64_t ns = fl_hist_quantile(&st->hist, q);
	/* ns -> whole us, rounded half up, -> ms with 3 decimals */
	*ms = (double)((ns + 500) / 1000) / 1000.0;
	return true;
}
