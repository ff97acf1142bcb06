// SPDX-License-Identifier: BSD-2-Clause
#include "store_write.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SERVICE_SQL(kind_sql)                                                 \
	"INSERT INTO services(name, kind, first_seen_ns, last_seen_ns) "       \
	"VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET "             \
	"last_seen_ns = max(last_seen_ns, excluded.last_seen_ns), "           \
	"first_seen_ns = min(first_seen_ns, excluded.first_seen_ns)" kind_sql \
	" RETURNING id"

/* FL_SW_KIND_PROMOTE: a protocol's kind is never lost */
#define KIND_PROMOTE                                                          \
	", kind = CASE WHEN kind IN ('database', 'cache', 'queue') THEN kind " \
	"WHEN excluded.kind IN ('database', 'cache', 'queue') THEN excluded.kind " \
	"WHEN kind = 'external' THEN excluded.kind ELSE kind END"

#define WINDOW_SQL(hist_sql)                                                  \
	"INSERT INTO edge_windows(edge_id, source, window_start, width_s, "     \
	"requests, errors, client_errors, conn_errors, req_bytes, resp_bytes, " \
	"latency_sum_ns, latency_hist) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, " \
	"?9, ?10, ?11, ?12) " FL_SW_WINDOW_CONFLICT(hist_sql)

#define COUNTER_SQL(update_sql)                                               \
	"INSERT INTO agent_counters(name, value, updated_ns) VALUES (?1, ?2, ?3) " \
	"ON CONFLICT(name) DO UPDATE SET " update_sql

static const char *const service_sql[] = {
	[FL_SW_KIND_PROMOTE] = SERVICE_SQL(KIND_PROMOTE),
	[FL_SW_KIND_KEEP] = SERVICE_SQL(""),
};

static const char *const window_sql[] = {
	[FL_SW_HIST_MERGE] = WINDOW_SQL(FL_SW_HIST_SQL_MERGE),
	[FL_SW_HIST_KEEP_NULL] = WINDOW_SQL(FL_SW_HIST_SQL_KEEP_NULL),
};

static const char *const counter_sql[] = {
	[FL_SW_COUNTER_SET] = COUNTER_SQL("value = excluded.value, "
					  "updated_ns = excluded.updated_ns"),
	[FL_SW_COUNTER_ADD] = COUNTER_SQL("value = value + excluded.value, "
					  "updated_ns = max(updated_ns, excluded.updated_ns)"),
};

static const char *const fixed_sql[FL_SW_COUNT] = {
	/* tls: once seen over TLS, an edge stays marked */
	[FL_SW_EDGE] =
	"INSERT INTO edges(client_id, server_id, protocol, operation, "
	"first_seen_ns, last_seen_ns, tls) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
	"ON CONFLICT(client_id, server_id, protocol, operation) DO UPDATE SET "
	"first_seen_ns = min(first_seen_ns, excluded.first_seen_ns), "
	"last_seen_ns = max(last_seen_ns, excluded.last_seen_ns), "
	"tls = max(tls, excluded.tls) RETURNING id",
	[FL_SW_SOURCE] =
	"INSERT INTO edge_sources(edge_id, source, samples, first_seen_ns, "
	"last_seen_ns) VALUES (?1, ?2, ?3, ?4, ?5) "
	"ON CONFLICT(edge_id, source) DO UPDATE SET "
	"samples = samples + excluded.samples, "
	"first_seen_ns = min(first_seen_ns, excluded.first_seen_ns), "
	"last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)",
	[FL_SW_LINK] =
	"INSERT INTO path_links(parent_edge_id, child_edge_id, method, "
	"window_start, width_s, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	FL_SW_LINK_CONFLICT,
	[FL_SW_IMPORT] =
	"INSERT INTO imports(kind, path, service, imported_ns, items) "
	"VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
	[FL_SW_IMPORT_ITEMS] = "UPDATE imports SET items = ?1 WHERE id = ?2",
	/* a merged row has no import of its own: it keeps the one it has */
	[FL_SW_OPERATION] =
	"INSERT INTO operations(service_id, protocol, operation, source, "
	"import_id, first_seen_ns, last_seen_ns) VALUES (?1, ?2, ?3, ?4, ?5, "
	"?6, ?7) ON CONFLICT(service_id, protocol, operation, source) DO UPDATE "
	"SET import_id = coalesce(excluded.import_id, import_id), "
	"first_seen_ns = min(first_seen_ns, excluded.first_seen_ns), "
	"last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)",
	/* the cap holds in the store: ?8 = FL_SW_STATUS_MAX */
	[FL_SW_STATUS] =
	"INSERT INTO edge_window_statuses(edge_id, source, window_start, "
	"width_s, status, requests, errors) SELECT ?1, ?2, ?3, ?4, "
	"CASE WHEN ?5 = '" FL_SW_STATUS_OTHER "' OR EXISTS (SELECT 1 FROM "
	"edge_window_statuses WHERE edge_id = ?1 AND source = ?2 AND "
	"window_start = ?3 AND status = ?5) OR (SELECT count(*) FROM "
	"edge_window_statuses WHERE edge_id = ?1 AND source = ?2 AND "
	"window_start = ?3 AND status <> '" FL_SW_STATUS_OTHER "') < ?8 "
	"THEN ?5 ELSE '" FL_SW_STATUS_OTHER "' END, ?6, ?7 WHERE true "
	"ON CONFLICT(edge_id, source, window_start, status) DO UPDATE SET "
	"width_s = max(width_s, excluded.width_s), "
	"requests = requests + excluded.requests, "
	"errors = errors + excluded.errors",
	[FL_SW_FOOTPRINT] =
	"INSERT INTO footprints(run_id, test, client, server, protocol, "
	"operation, status, requests, errors, latency_sum_ns, latency_hist) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
	"ON CONFLICT(run_id, test, client, server, protocol, operation, status) "
	"DO UPDATE SET requests = requests + excluded.requests, "
	"errors = errors + excluded.errors, "
	"latency_sum_ns = latency_sum_ns + excluded.latency_sum_ns, "
	FL_SW_HIST_SQL_KEEP_NULL,
	[FL_SW_DEPLOYMENT] =
	"INSERT INTO deployments(service, old_version, new_version, at_ns, node, "
	"source, gate_run_id, pid, old_pid, detail) VALUES (?1, ?2, ?3, ?4, ?5, "
	"?6, ?7, ?8, ?9, ?10) RETURNING id",
	[FL_SW_AGENT_FLUSH] =
	"INSERT OR REPLACE INTO agent_flushes(node, source, at_ns, agent_start_ns, "
	"flush_s, window_s, lost) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
};

void fl_sw_init(struct fl_sw *w, sqlite3 *db, const struct fl_sw_rules *rules)
{
	memset(w, 0, sizeof(*w));
	w->db = db;
	if (rules)
		w->rules = *rules;
}

void fl_sw_release(struct fl_sw *w)
{
	for (int i = 0; i < FL_SW_COUNT; i++) {
		sqlite3_finalize(w->st[i]);
		w->st[i] = NULL;
	}
}

static int sw_fail(struct fl_sw *w)
{
	snprintf(w->err, sizeof(w->err), "%s", sqlite3_errmsg(w->db));
	return sqlite3_errcode(w->db) == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

/* Statement @i of @w, prepared once; NULL with w->err set. */
static sqlite3_stmt *sw_stmt(struct fl_sw *w, enum fl_sw_stmt i)
{
	const char *sql = fixed_sql[i];

	if (w->st[i])
		return w->st[i];
	if (i == FL_SW_SERVICE)
		sql = service_sql[w->rules.kind];
	else if (i == FL_SW_WINDOW)
		sql = window_sql[w->rules.hist];
	else if (i == FL_SW_COUNTER)
		sql = counter_sql[w->rules.counter];
	if (sqlite3_prepare_v3(w->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &w->st[i], NULL) != SQLITE_OK) {
		sw_fail(w);
		w->st[i] = NULL;
	}
	return w->st[i];
}

/* Step @st to its end; with @id, the first row's column 0. Resets @st. */
static int sw_step(struct fl_sw *w, sqlite3_stmt *st, int64_t *id)
{
	int rc = sqlite3_step(st), err = 0;

	if (rc == SQLITE_ROW && id)
		*id = sqlite3_column_int64(st, 0);
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		err = sw_fail(w);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return err;
}

int fl_sw_service(struct fl_sw *w, const char *name, const char *kind,
		  int64_t first_ns, int64_t last_ns, int64_t *id)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_SERVICE);

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, first_ns);
	sqlite3_bind_int64(st, 4, last_ns);
	return sw_step(w, st, id);
}

int fl_sw_edge(struct fl_sw *w, const struct fl_sw_edge *e, int64_t *id)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_EDGE);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, e->client_id);
	sqlite3_bind_int64(st, 2, e->server_id);
	sqlite3_bind_text(st, 3, e->protocol, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->operation, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, e->first_ns);
	sqlite3_bind_int64(st, 6, e->last_ns);
	sqlite3_bind_int(st, 7, e->tls);
	return sw_step(w, st, id);
}

int fl_sw_window(struct fl_sw *w, int64_t edge_id, const struct fl_sw_window *win)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_WINDOW);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, edge_id);
	sqlite3_bind_text(st, 2, win->source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, win->start_s);
	sqlite3_bind_int64(st, 4, win->width_s);
	sqlite3_bind_int64(st, 5, (int64_t)win->requests);
	sqlite3_bind_int64(st, 6, (int64_t)win->errors);
	sqlite3_bind_int64(st, 7, (int64_t)win->client_errors);
	sqlite3_bind_int64(st, 8, (int64_t)win->conn_errors);
	sqlite3_bind_int64(st, 9, (int64_t)win->req_bytes);
	sqlite3_bind_int64(st, 10, (int64_t)win->resp_bytes);
	sqlite3_bind_int64(st, 11, (int64_t)win->latency_sum_ns);
	if (win->hist)
		sqlite3_bind_blob(st, 12, win->hist, (int)win->hist_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 12);
	return sw_step(w, st, NULL);
}

int fl_sw_source(struct fl_sw *w, int64_t edge_id, const char *source,
		 uint64_t samples, int64_t first_ns, int64_t last_ns)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_SOURCE);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, edge_id);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)samples);
	sqlite3_bind_int64(st, 4, first_ns);
	sqlite3_bind_int64(st, 5, last_ns);
	return sw_step(w, st, NULL);
}

int fl_sw_link(struct fl_sw *w, int64_t parent, int64_t child,
	       const char *method, int64_t start_s, int64_t width_s,
	       uint64_t count)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_LINK);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, parent);
	sqlite3_bind_int64(st, 2, child);
	sqlite3_bind_text(st, 3, method, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, start_s);
	sqlite3_bind_int64(st, 5, width_s);
	sqlite3_bind_int64(st, 6, (int64_t)count);
	return sw_step(w, st, NULL);
}

int fl_sw_counter(struct fl_sw *w, const char *name, int64_t value,
		  int64_t updated_ns)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_COUNTER);

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, value);
	sqlite3_bind_int64(st, 3, updated_ns);
	return sw_step(w, st, NULL);
}

int fl_sw_import(struct fl_sw *w, const char *kind, const char *path,
		 const char *service, int64_t imported_ns, uint64_t items,
		 int64_t *id)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_IMPORT);

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	if (service)
		sqlite3_bind_text(st, 3, service, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, imported_ns);
	sqlite3_bind_int64(st, 5, (int64_t)items);
	return sw_step(w, st, id);
}

int fl_sw_import_items(struct fl_sw *w, int64_t id, uint64_t items)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_IMPORT_ITEMS);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (int64_t)items);
	sqlite3_bind_int64(st, 2, id);
	return sw_step(w, st, NULL);
}

int fl_sw_operation(struct fl_sw *w, int64_t service_id, const char *protocol,
		    const char *operation, const char *source, int64_t import_id,
		    int64_t first_ns, int64_t last_ns)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_OPERATION);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, service_id);
	sqlite3_bind_text(st, 2, protocol, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, operation, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, source, -1, SQLITE_STATIC);
	if (import_id)
		sqlite3_bind_int64(st, 5, import_id);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int64(st, 6, first_ns);
	sqlite3_bind_int64(st, 7, last_ns);
	return sw_step(w, st, NULL);
}

int fl_sw_status(struct fl_sw *w, int64_t edge_id, const char *source,
		 int64_t start_s, int64_t width_s, const char *status,
		 uint64_t requests, uint64_t errors)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_STATUS);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, edge_id);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, start_s);
	sqlite3_bind_int64(st, 4, width_s);
	sqlite3_bind_text(st, 5, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (int64_t)requests);
	sqlite3_bind_int64(st, 7, (int64_t)errors);
	sqlite3_bind_int(st, 8, FL_SW_STATUS_MAX);
	return sw_step(w, st, NULL);
}

int fl_sw_footprint(struct fl_sw *w, const struct fl_sw_footprint *f)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_FOOTPRINT);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, f->run_id);
	sqlite3_bind_text(st, 2, f->test, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, f->client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, f->server, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, f->protocol, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, f->operation, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, f->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (int64_t)f->requests);
	sqlite3_bind_int64(st, 9, (int64_t)f->errors);
	sqlite3_bind_int64(st, 10, (int64_t)f->latency_sum_ns);
	if (f->hist)
		sqlite3_bind_blob(st, 11, f->hist, (int)f->hist_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 11);
	return sw_step(w, st, NULL);
}

/* Bind text @v, or NULL for a NULL @v. */
static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int fl_sw_deployment(struct fl_sw *w, const struct fl_sw_deployment *d, int64_t *id)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_DEPLOYMENT);

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, d->service, -1, SQLITE_STATIC);
	bind_text_or_null(st, 2, d->old_version);
	sqlite3_bind_text(st, 3, d->new_version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, d->at_ns);
	sqlite3_bind_text(st, 5, d->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, d->source, -1, SQLITE_STATIC);
	if (d->gate_run_id)
		sqlite3_bind_int64(st, 7, d->gate_run_id);
	else
		sqlite3_bind_null(st, 7);
	if (d->has_pids) {
		sqlite3_bind_int64(st, 8, d->pid);
		sqlite3_bind_int64(st, 9, d->old_pid);
	} else {
		sqlite3_bind_null(st, 8);
		sqlite3_bind_null(st, 9);
	}
	bind_text_or_null(st, 10, d->detail);
	return sw_step(w, st, id);
}

int fl_sw_agent_flush(struct fl_sw *w, const char *node, const char *source,
		      int64_t at_ns, int64_t agent_start_ns, int64_t flush_s,
		      int64_t window_s, int64_t lost)
{
	sqlite3_stmt *st = sw_stmt(w, FL_SW_AGENT_FLUSH);

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, at_ns);
	sqlite3_bind_int64(st, 4, agent_start_ns);
	sqlite3_bind_int64(st, 5, flush_s);
	sqlite3_bind_int64(st, 6, window_s);
	sqlite3_bind_int64(st, 7, lost);
	return sw_step(w, st, NULL);
}
