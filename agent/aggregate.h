/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Aggregation of records into edges (client service, server service,
 * protocol, operation, TLS or not) with per-minute windows of requests, errors, bytes
 * and a latency histogram (lib/hist.h), flushed to the store as deltas:
 * window rows are added to, never overwritten, so several agents or restarts
 * sum correctly.
 */
#ifndef FAULTLINE_AGGREGATE_H
#define FAULTLINE_AGGREGATE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include "agent.h"
#include "proto.h"

enum svc_kind { SVC_SERVICE, SVC_DATABASE, SVC_CACHE, SVC_QUEUE, SVC_EXTERNAL };

/* svc_kind_from() - the kind named @s ("service", "database", ...). */
enum svc_kind svc_kind_from(const char *s);

struct aggregator;

/* An edge of the aggregator: stable from creation to agg_free(). */
struct agg_edge;

/* How a child request was tied to the request its caller was serving. */
enum agg_link_method {
	AGG_LINK_THREAD,	/* same thread between request read and response */
	AGG_LINK_TRACEPARENT,	/* same W3C trace-id in and out of the service */
};

/*
 * agg_new() - an empty aggregator whose edges are stored as seen by
 * @source: "ebpf" (a production node) or "test" (the gate's sandbox), the
 * edge_windows.source and edge_sources.source it writes (docs/store.md).
 * NULL with errno = ENOMEM, or EINVAL for another @source.
 */
struct aggregator *agg_new(const char *source);

/* agg_free() - release @a and everything not flushed; NULL is fine. */
void agg_free(struct aggregator *a);

/*
 * Route cardinality cap. The distinct operations of one server service over
 * a protocol whose operations are routes (today "http") are capped at
 * max_routes; a record of a route beyond the cap is counted on the edge of
 * the overflow operation "METHOD {overflow}" ("_OTHER {overflow}" for a
 * non-standard method), which no real route can equal (a route starts with
 * '/' or is '*'). docs/agent.md, "Route cap".
 */
#define AGG_MAX_ROUTES_DEFAULT 500
#define AGG_ROUTE_OVERFLOW "{overflow}"

struct metrics;

/*
 * agg_set_metrics() - also count every record and failed connect, from
 * now on, on the cumulative Prometheus series of @mx (agent/metrics.h),
 * cached per edge; NULL: not. @mx must outlive @a.
 */
void agg_set_metrics(struct aggregator *a, struct metrics *mx);

/* agg_set_max_routes() - cap routes per server at @max_routes; 0: no cap. */
void agg_set_max_routes(struct aggregator *a, unsigned max_routes);

/*
 * agg_seed_routes() - learn the routes already named in the store @db, so
 * that a restarted agent names the same routes and sends the same ones to
 * the overflow: every capped edge's operation per server, oldest
 * (first_seen) first, up to the cap. Call before the first agg_record().
 * Returns 0, -ENOMEM, or -EIO with the SQLite message in @errbuf.
 */
int agg_seed_routes(struct aggregator *a, sqlite3 *db, char *errbuf,
		    size_t errlen);

/* agg_routes_overflowed() - records counted under an overflow operation. */
uint64_t agg_routes_overflowed(const struct aggregator *a);

/* agg_route_is_overflow() - @op is an overflow operation ("GET {overflow}"). */
bool agg_route_is_overflow(const char *op);

/*
 * agg_record() - count @rec on the edge @client -> @server (names, copied)
 * in the window of its start. @wall_start_ns: the record's start as Unix
 * ns. @server_kind: the server's kind. @tls: the record was read from TLS
 * plaintext (part of the edge's key here; the store's edges.tls is set once
 * any of an edge's records was). A route over the cap is counted under its
 * overflow operation (above). Returns 0 or -ENOMEM.
 */
int agg_record(struct aggregator *a, const char *client, const char *server,
	       enum svc_kind server_kind, const struct fl_record *rec,
	       bool tls, uint64_t wall_start_ns, struct agg_edge **edge);

/*
 * agg_edge() - the edge (@client, @server, @proto, @operation, @tls),
 * created without counts if new. OUT of agg_record() as well: its @edge
 * (may be NULL). NULL on ENOMEM.
 */
struct agg_edge *agg_edge(struct aggregator *a, const char *client,
			  const char *server, enum svc_kind server_kind,
			  enum fl_proto proto, const char *operation, bool tls);

/* agg_edge_server() - the server's name of @e (owned by @e). */
const char *agg_edge_server(const struct agg_edge *e);

/*
 * agg_link() - count one request of @child made while a request of @parent
 * was being served, found by @method, in the minute of @wall_ns (Unix ns).
 * Flushed to path_links with both edges. Returns 0 or -ENOMEM.
 */
int agg_link(struct aggregator *a, struct agg_edge *parent,
	     struct agg_edge *child, enum agg_link_method method,
	     uint64_t wall_ns);

/*
 * agg_conn_error() - count a failed connection attempt from @client to
 * @server at @wall_ns on the edge (client, server, "tcp", "connect"),
 * its status from @err (a negative errno, agg_conn_status()).
 * Returns 0 or -ENOMEM.
 */
int agg_conn_error(struct aggregator *a, const char *client, const char *server,
		   enum svc_kind server_kind, int err, uint64_t wall_ns);

/*
 * Statuses (docs/store.md "Status strings"): every request's status is
 * counted per window (edge_window_statuses), at most AGG_STATUS_MAX
 * distinct ones per edge-window, the requests of any further status under
 * AGG_STATUS_OTHER; in the store as well (a flush adds a status an
 * edge-window does not have to AGG_STATUS_OTHER once it has the maximum).
 */
#define AGG_STATUS_LEN 16	/* bytes, NUL included */
#define AGG_STATUS_MAX 16
#define AGG_STATUS_OTHER "_other"

/*
 * agg_status() - the status string of @rec into @out: HTTP the code
 * ("404"), gRPC "grpc:N", PostgreSQL/MySQL the SQLSTATE or "ok" ("error"
 * for an error response without one), Redis the error code or "ok".
 */
void agg_status(const struct fl_record *rec, char out[AGG_STATUS_LEN]);

/*
 * agg_conn_status() - the status of a failed connect with negative errno
 * @err: "conn_refused", "conn_reset" or "conn_failed" (static).
 */
const char *agg_conn_status(int err);

struct footprint;

/*
 * agg_set_footprint() - also count every record and failed connect in
 * @fp (agent/footprint.h: it keeps those inside the open test's
 * interval), by the edge's stored operation (after the route cap). NULL:
 * stop. @fp stays the caller's.
 */
void agg_set_footprint(struct aggregator *a, struct footprint *fp);

/*
 * The backlog: windows with pending deltas, kept in memory until a flush
 * commits them. While the store cannot be written (disk full, locked, gone)
 * every minute of every active edge is one more window; at @max of them a
 * record that needs a new window is dropped and counted (a window drop once
 * per edge and minute, a record drop each time), never folded into another
 * minute. One window costs ~100 bytes plus 16 per latency bucket in use
 * (typically 5-40). docs/agent.md, "Backlog".
 */
#define AGG_BACKLOG_DEFAULT 65536

struct agg_backlog {
	uint64_t max;		/* cap on pending windows; 0: none */
	uint64_t windows;	/* pending now */
	uint64_t peak;		/* most pending at once since start */
	uint64_t windows_dropped; /* (edge, minute) windows refused at the cap */
	uint64_t records_dropped; /* records and conn errors not counted: cap */
};

/* agg_set_backlog() - cap the pending windows at @max_windows; 0: no cap. */
void agg_set_backlog(struct aggregator *a, uint64_t max_windows);

/* agg_backlog() - the backlog's state (owned by @a). */
const struct agg_backlog *agg_backlog(const struct aggregator *a);

/*
 * agg_flush() - write every pending delta and @stats to @db in one
 * transaction, then clear the deltas. On error nothing is cleared (the next
 * flush retries) and a negative errno is returned (-EIO), with the SQLite
 * message in @errbuf.
 */
int agg_flush(struct aggregator *a, sqlite3 *db, const struct agent_stats *stats,
	      char *errbuf, size_t errlen);

/*
 * agg_set_window() - write windows @width_s seconds wide from now on (a
 * divisor of 60: 5, 6, 10, 12, 15, 20, 30 or 60; the agent's --window).
 * Process-wide: one agent writes one width.
 */
void agg_set_window(unsigned width_s);

#endif /* FAULTLINE_AGGREGATE_H */
