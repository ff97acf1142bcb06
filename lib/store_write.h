/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The store's write layer: every insert or upsert of services, edges,
 * edge_windows, edge_sources, path_links, agent_counters, imports,
 * operations, edge_window_statuses and footprints goes through here (the agent's flush, gatectl import and
 * merge, lib/compact.c, the test fixture builder, the bench generators).
 * The schema and its migrations stay in lib/store.c.
 *
 * Every write is an upsert on the table's primary key or UNIQUE index that
 * adds to what is there: counters add, first_seen takes the min, last_seen
 * the max, width_s the max (a minute row meeting an hourly row at the same
 * start is inside it), an edge once seen over TLS stays marked. Where the
 * writers differ on purpose, the difference is a named rule of struct
 * fl_sw_rules, chosen once per writer:
 *
 *   kind     FL_SW_KIND_PROMOTE (agent, merge): a kind learned from a
 *            protocol (database, cache, queue) is never lost, and an
 *            'external' service takes the kind it is seen with next;
 *            FL_SW_KIND_KEEP (import): an existing service keeps its kind,
 *            what the agent named stays.
 *   hist     FL_SW_HIST_MERGE (agent, import, fixtures, genweek):
 *            fl_hist_merge() on every conflict, so two windows without
 *            latency become an empty histogram blob; FL_SW_HIST_KEEP_NULL
 *            (merge, compact): a NULL side is no histogram, the other side
 *            is kept as it is (NULL when both are).
 *   counter  FL_SW_COUNTER_SET (agent, fixtures): a counter is the agent's
 *            running total, the newest value replaces the old;
 *            FL_SW_COUNTER_ADD (merge): counters of several nodes add up,
 *            updated_ns takes the max.
 *
 * TLS is a value, not a rule: a writer that cannot know it (an OTLP import)
 * passes false, which never clears an edge's mark.
 *
 * Errors: every int function returns 0 or a negative errno (-EIO: SQLite
 * error, -ENOMEM) and leaves SQLite's message in w->err. No function starts
 * or ends a transaction: the caller runs a batch in its own BEGIN
 * IMMEDIATE ... COMMIT.
 */
#ifndef FAULTLINE_STORE_WRITE_H
#define FAULTLINE_STORE_WRITE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fl_sw_kind { FL_SW_KIND_PROMOTE = 0, FL_SW_KIND_KEEP };
enum fl_sw_hist { FL_SW_HIST_MERGE = 0, FL_SW_HIST_KEEP_NULL };
enum fl_sw_counter { FL_SW_COUNTER_SET = 0, FL_SW_COUNTER_ADD };

/* The rules of one writer (see above); zero is the agent's. */
struct fl_sw_rules {
	enum fl_sw_kind kind;
	enum fl_sw_hist hist;
	enum fl_sw_counter counter;
};

/*
 * The conflict clauses of edge_windows and path_links, as SQL text, for a
 * set-based INSERT ... SELECT (lib/compact.c's roll-up) that must add up
 * exactly as the row writers do. The window clause takes the
 * FL_SW_HIST_KEEP_NULL rule.
 */
#define FL_SW_HIST_SQL_MERGE "latency_hist = fl_hist_merge(latency_hist, excluded.latency_hist)"
#define FL_SW_HIST_SQL_KEEP_NULL                                              \
	"latency_hist = CASE WHEN excluded.latency_hist IS NULL THEN latency_hist " \
	"WHEN latency_hist IS NULL THEN excluded.latency_hist "                 \
	"ELSE fl_hist_merge(latency_hist, excluded.latency_hist) END"
#define FL_SW_WINDOW_CONFLICT(hist_sql)                                       \
	"ON CONFLICT(edge_id, source, window_start) DO UPDATE SET "            \
	"width_s = max(width_s, excluded.width_s), "                          \
	"requests = requests + excluded.requests, "                           \
	"errors = errors + excluded.errors, "                                 \
	"client_errors = client_errors + excluded.client_errors, "            \
	"conn_errors = conn_errors + excluded.conn_errors, "                  \
	"req_bytes = req_bytes + excluded.req_bytes, "                        \
	"resp_bytes = resp_bytes + excluded.resp_bytes, "                     \
	"latency_sum_ns = latency_sum_ns + excluded.latency_sum_ns, " hist_sql
#define FL_SW_LINK_CONFLICT                                                   \
	"ON CONFLICT(parent_edge_id, child_edge_id, method, window_start) "    \
	"DO UPDATE SET width_s = max(width_s, excluded.width_s), "            \
	"count = count + excluded.count"

enum fl_sw_stmt {
	FL_SW_SERVICE, FL_SW_EDGE, FL_SW_WINDOW, FL_SW_SOURCE, FL_SW_LINK,
	FL_SW_COUNTER, FL_SW_IMPORT, FL_SW_IMPORT_ITEMS, FL_SW_OPERATION,
	FL_SW_STATUS, FL_SW_FOOTPRINT, FL_SW_DEPLOYMENT, FL_SW_AGENT_FLUSH,
	FL_SW_COUNT
};

/* A writer on one open, writable store. */
struct fl_sw {
	sqlite3 *db;				/* borrowed */
	struct fl_sw_rules rules;
	sqlite3_stmt *st[FL_SW_COUNT];		/* prepared on first use; owned */
	char err[256];				/* SQLite's message of the last error */
};

/* An edge row: its identity and when it was seen. */
struct fl_sw_edge {
	int64_t client_id;	/* services.id */
	int64_t server_id;
	const char *protocol;
	const char *operation;
	int64_t first_ns;	/* first seen, ns since the epoch */
	int64_t last_ns;	/* last seen */
	bool tls;		/* seen over TLS */
};

/* A window row of one edge and source; what it adds. */
struct fl_sw_window {
	const char *source;	/* ebpf|test|trace */
	int64_t start_s;	/* window_start, Unix s, a multiple of width_s */
	int64_t width_s;	/* 60, or 3600 once rolled up */
	uint64_t requests, errors, client_errors, conn_errors;
	uint64_t req_bytes, resp_bytes;
	uint64_t latency_sum_ns;
	const void *hist;	/* latency histogram blob (lib/hist.h), or NULL */
	size_t hist_len;	/* bytes of @hist */
};

/*
 * fl_sw_init() - a writer with @rules (NULL: the agent's) on @db, open
 * writable with fl_store_open(). Statements are prepared when first used.
 */
void fl_sw_init(struct fl_sw *w, sqlite3 *db, const struct fl_sw_rules *rules);

/* fl_sw_release() - finalize the statements of @w; @w may be zeroed. */
void fl_sw_release(struct fl_sw *w);

/*
 * fl_sw_service() - upsert service @name of @kind seen over
 * [@first_ns, @last_ns]; the kind as w->rules.kind says. OUT: *@id (may be
 * NULL), services.id.
 */
int fl_sw_service(struct fl_sw *w, const char *name, const char *kind,
		  int64_t first_ns, int64_t last_ns, int64_t *id);

/* fl_sw_edge() - upsert edge @e. OUT: *@id (may be NULL), edges.id. */
int fl_sw_edge(struct fl_sw *w, const struct fl_sw_edge *e, int64_t *id);

/* fl_sw_window() - add @win to edge @edge_id's window row. */
int fl_sw_window(struct fl_sw *w, int64_t edge_id, const struct fl_sw_window *win);

/*
 * fl_sw_source() - edge @edge_id known from @source: @samples more
 * samples (requests + failed connects), seen over [@first_ns, @last_ns].
 */
int fl_sw_source(struct fl_sw *w, int64_t edge_id, const char *source,
		 uint64_t samples, int64_t first_ns, int64_t last_ns);

/*
 * fl_sw_link() - @count more requests of edge @child made while serving
 * a request of edge @parent, found by @method (thread|traceparent|trace),
 * in the window [@start_s, @start_s + @width_s).
 */
int fl_sw_link(struct fl_sw *w, int64_t parent, int64_t child,
	       const char *method, int64_t start_s, int64_t width_s,
	       uint64_t count);

/* fl_sw_counter() - agent counter @name at @value, as w->rules.counter says. */
int fl_sw_counter(struct fl_sw *w, const char *name, int64_t value,
		  int64_t updated_ns);

/*
 * fl_sw_import() - append a row to imports (@service may be NULL).
 * OUT: *@id (may be NULL), imports.id.
 */
int fl_sw_import(struct fl_sw *w, const char *kind, const char *path,
		 const char *service, int64_t imported_ns, uint64_t items,
		 int64_t *id);

/* fl_sw_import_items() - set the items of import @id to @items. */
int fl_sw_import_items(struct fl_sw *w, int64_t id, uint64_t items);

/*
 * fl_sw_operation() - operation (@protocol, @operation) of service
 * @service_id known from @source ('schema') over [@first_ns, @last_ns];
 * @import_id the import listing it (0: none, the row keeps the one it has).
 */
int fl_sw_operation(struct fl_sw *w, int64_t service_id, const char *protocol,
		    const char *operation, const char *source, int64_t import_id,
		    int64_t first_ns, int64_t last_ns);

/*
 * Schema 5. The per-status cap: an edge-window keeps at most
 * FL_SW_STATUS_MAX named statuses; a status it does not have yet, when it
 * already has that many, is added to FL_SW_STATUS_OTHER instead.
 */
#define FL_SW_STATUS_MAX 16
#define FL_SW_STATUS_OTHER "_other"

/* A footprint row (docs/store.md "Footprints"): what it adds. */
struct fl_sw_footprint {
	int64_t run_id;		/* test_runs.id */
	const char *test;
	const char *client, *server, *protocol, *operation, *status;
	uint64_t requests, errors, latency_sum_ns;
	const void *hist;	/* latency histogram blob, or NULL (connects) */
	size_t hist_len;
};

/*
 * fl_sw_status() - add @requests (@errors of them) of @status to edge
 * @edge_id's window (@source, @start_s, @width_s), under the cap above.
 */
int fl_sw_status(struct fl_sw *w, int64_t edge_id, const char *source,
		 int64_t start_s, int64_t width_s, const char *status,
		 uint64_t requests, uint64_t errors);

/* fl_sw_footprint() - add @f to its footprints row (histograms merge). */
int fl_sw_footprint(struct fl_sw *w, const struct fl_sw_footprint *f);

/* A deployment (schema 6): what the agent saw restart, or what CI said. */
struct fl_sw_deployment {
	const char *service;	/* services.name */
	const char *old_version;	/* NULL if unknown */
	const char *new_version;
	int64_t at_ns;		/* when the new version started */
	const char *node;	/* the agent's hostname, or CI's --node */
	const char *source;	/* agent|ci */
	int64_t gate_run_id;	/* the gate run whose predictions it judges; 0: none */
	bool has_pids;		/* agent: pid and old_pid below are known */
	int64_t pid, old_pid;	/* the new process, the one it replaced */
	const char *detail;	/* JSON (exe, script, cmdline, version), or NULL */
};

/* fl_sw_deployment() - append @d to deployments. OUT: *@id (may be NULL). */
int fl_sw_deployment(struct fl_sw *w, const struct fl_sw_deployment *d, int64_t *id);

/*
 * fl_sw_agent_flush() - the flush record of agent @node (@source) at
 * @at_ns (schema 6 agent_flushes), replacing the one of the same key.
 */
int fl_sw_agent_flush(struct fl_sw *w, const char *node, const char *source,
		      int64_t at_ns, int64_t agent_start_ns, int64_t flush_s,
		      int64_t window_s, int64_t lost);

#endif /* FAULTLINE_STORE_WRITE_H */
