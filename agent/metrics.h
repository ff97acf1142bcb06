/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The agent's Prometheus endpoint (--metrics-addr, docs/metrics.md).
 *
 * Two threads, one rule: the ring-buffer consumer never waits for a scrape.
 * The consumer owns the live series (cumulative counts since the agent
 * started, updated with no lock as records are aggregated) and, once a
 * second, publishes an immutable snapshot of them: a copy made on its own
 * thread, then a pointer swapped under a mutex held for nothing else.
 * libmicrohttpd's own thread takes a reference to the current snapshot and
 * renders the text exposition format from it; the last reference frees it.
 *
 * Cardinality is bounded: operations are already capped per server by
 * --max-routes (aggregate.h), statuses per series by MX_STATUS_NAMED, and
 * the series themselves by MX_SERIES_MAX (past it, records are counted in
 * faultline_agent_metrics_series_overflow_total, not exported).
 */
#ifndef FAULTLINE_METRICS_H
#define FAULTLINE_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include "agent.h"
#include "proto.h"

#define MX_STATUS_NAMED 8	/* distinct statuses per series; later: "_other" */
#define MX_SERIES_MAX 20000	/* edge series exported per agent */
#define MX_BOUNDS 11		/* finite histogram buckets: le = 4^k * 16384 ns */

struct metrics;
struct mx_series;

/*
 * metrics_new() - an empty registry (no server yet). @version is the
 * build's version string (borrowed). NULL with errno = ENOMEM.
 */
struct metrics *metrics_new(const char *version);

/*
 * metrics_listen() - serve /metrics on @addr ("ADDR:PORT", "[ADDR6]:PORT")
 * from a libmicrohttpd thread. Returns 0, -EINVAL (malformed address, message
 * in @errbuf) or -EADDRINUSE / -EACCES / -EIO (cannot listen, message in
 * @errbuf).
 */
int metrics_listen(struct metrics *m, const char *addr, char *errbuf,
		   size_t errlen);

/* metrics_free() - stop the server (waits for a scrape in progress), free
 * every series and snapshot; NULL is fine. */
void metrics_free(struct metrics *m);

/*
 * metrics_series() - the live series of the edge (@client, @server,
 * @protocol, @operation, @tls), @server_kind one of aggregate.h's
 * svc_kind names ("database", "queue", ...). The strings are copied. The
 * series lives until metrics_free(); the caller may cache the pointer.
 * NULL on ENOMEM or when MX_SERIES_MAX series exist (then counted).
 * Consumer thread only.
 */
struct mx_series *metrics_series(struct metrics *m, const char *client,
				 const char *server, const char *server_kind,
				 const char *protocol, const char *operation,
				 bool tls);

/*
 * metrics_observe() - count record @rec, of latency @lat_ns, on @s; @s NULL
 * (no series: cap reached) counts an overflowed record. Consumer thread only.
 */
void metrics_observe(struct metrics *m, struct mx_series *s,
		     const struct fl_record *rec, uint64_t lat_ns);

/* metrics_conn_error() - count a failed connection attempt on @s (an edge
 * of protocol "tcp", operation "connect"), or an overflow if NULL. */
void metrics_conn_error(struct metrics *m, struct mx_series *s);

/* Health of the agent, beside its counters, published with them. */
struct mx_health {
	unsigned hooks_loaded;	/* BPF programs attached */
	unsigned hooks_total;	/* BPF programs in the collector */
	uint64_t last_flush_ns;	/* Unix ns of the last store flush; 0: none */
	bool last_flush_ok;	/* it committed */
};

/*
 * metrics_publish() - copy the live series, @stats and @health into a new
 * snapshot and make it the one scrapes read. Consumer thread only; the
 * mutex is held only to swap the pointer. Returns 0 or -ENOMEM (the old
 * snapshot stays).
 */
int metrics_publish(struct metrics *m, const struct agent_stats *stats,
		    const struct mx_health *health);

/*
 * metrics_render() - the text exposition of the current snapshot: a new
 * NUL-terminated buffer (caller frees), OUT: *@len bytes. Any thread.
 * NULL with errno = ENOMEM.
 */
char *metrics_render(struct metrics *m, size_t *len);

/* metrics_bound_ns() - the upper bound (exclusive) of histogram bucket @i
 * (0 .. MX_BOUNDS - 1), ns. */
uint64_t metrics_bound_ns(unsigned i);

#endif /* FAULTLINE_METRICS_H */
