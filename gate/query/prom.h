/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gatectl's second source of production windows: Prometheus' HTTP API
 * (or anything that speaks it: Thanos, Mimir, VictoriaMetrics), over the
 * agents' /metrics families (docs/metrics.md). The store stays the source
 * for what Prometheus does not have: call-path links, the gate's own
 * state, 1.6 % latency resolution (docs/gatectl.md "--prometheus").
 *
 * Counts over a range are exact, not extrapolated: for every series, the
 * raw samples in (since, until] (a range-vector selector evaluated at
 * until) are summed as increases from the last sample at or before since
 * (an instant query at since); a drop in value, or a start of the series'
 * agent between two samples (faultline_agent_start_time_seconds), is a
 * counter reset: the value counts whole. PromQL's increase() extrapolates to the range's edges
 * and would give 12.6 for 12 requests; this does not.
 */
#ifndef FAULTLINE_GATE_PROM_H
#define FAULTLINE_GATE_PROM_H

#include <jansson.h>

#include "query/edges.h"
#include "query/sources.h"

/* Edges read from Prometheus; owns the service names the edges borrow. */
struct gate_prom_graph {
	struct gate_edges edges;	/* sorted by client, server, protocol, operation */
	char **names;			/* interned service names; owned */
	char **kinds;			/* their kinds; owned */
	size_t nnames, capnames;
	uint64_t series;		/* series read */
	uint64_t instances;		/* distinct scrape targets (agents) seen */
	uint64_t samples;		/* raw samples read */
	struct gate_prom_status *st;	/* requests per status, per edge; owned */
	size_t nst, capst;
};

/* Requests of one status of one edge (the agents' "status" label). */
struct gate_prom_status {
	int64_t client_id, server_id;
	char *protocol, *operation, *status;	/* owned */
	uint64_t requests;
};

/*
 * gate_prom_graph_read() - the edges with traffic in [@since_ns, @until_ns)
 * from the Prometheus at @url (e.g. "http://127.0.0.1:9090"): requests,
 * errors (status_class 5xx or error), client_errors (4xx), conn_errors,
 * latency (the exported buckets, placed at each bucket's geometric middle),
 * first/last seen (the samples' times), summed over every agent. Edge ids
 * number the sorted edges from 1; service ids index @g->names from 1. OUT: @g, released with
 * gate_prom_graph_release(). Returns 0, -EIO (Prometheus unreachable or
 * answering an error: message in ctx->err), -EPROTO (not a Prometheus
 * answer) or -ENOMEM.
 */
int gate_prom_graph_read(struct gate_ctx *ctx, const char *url, int64_t since_ns,
			 int64_t until_ns, struct gate_prom_graph *g);

/*
 * gate_prom_statuses_json() - {status: requests} of edge @e of @g, as the
 * store's "statuses" of graph -o json. NULL on ENOMEM.
 */
json_t *gate_prom_statuses_json(const struct gate_prom_graph *g,
				const struct gate_edge *e);

/* An agent counter summed over every agent (faultline_agent_NAME_total). */
struct gate_prom_counter {
	char name[64];		/* NAME, as in the store's agent_counters */
	uint64_t value;
};

/*
 * gate_prom_counters_read() - every faultline_agent_*_total at @at_ns,
 * summed over the agents (since each started). OUT: *@out (caller frees),
 * *@n. Returns 0 or what a query returns (message in ctx->err).
 */
int gate_prom_counters_read(struct gate_ctx *ctx, const char *url, int64_t at_ns,
			    struct gate_prom_counter **out, size_t *n);

/*
 * gate_prom_graph_read_where() - gate_prom_graph_read() of the series that
 * match @where, a PromQL label matcher ("{client=\"web\"}"), or all if NULL.
 */
int gate_prom_graph_read_where(struct gate_ctx *ctx, const char *url, const char *where,
			       int64_t since_ns, int64_t until_ns, struct gate_prom_graph *g);

/*
 * gate_prom_matcher() - the PromQL matcher of an edge (any NULL part left
 * out), values escaped: a new string (caller frees), NULL on ENOMEM.
 */
char *gate_prom_matcher(const char *client, const char *server, const char *protocol,
			const char *operation);

/* gate_prom_graph_release() - free @g and everything in it. */
void gate_prom_graph_release(struct gate_prom_graph *g);

/*
 * gate_prom_limits_json() - the JSON array of what a Prometheus source
 * cannot say that a store can, for "limits" in -o json output. NULL on
 * ENOMEM.
 */
json_t *gate_prom_limits_json(void);

/*
 * gate_prom_buckets_json() - the latency buckets of @e as read (exact
 * counts per exported bound): [{"le": seconds or "+Inf", "count": N}, ...],
 * cumulative as in Prometheus. NULL on ENOMEM.
 */
json_t *gate_prom_buckets_json(const struct gate_edge *e);

/*
 * gate_hist_coarsen() - the counts of store histogram @h per exported
 * bound (docs/metrics.md): OUT: @cum[GATE_PROM_BOUNDS + 1], cumulative,
 * the last being +Inf. Lets a store answer in Prometheus' buckets.
 */
#define GATE_PROM_BOUNDS 11
void gate_hist_coarsen(const struct fl_hist *h, uint64_t cum[GATE_PROM_BOUNDS + 1]);

/* gate_prom_bound_ns() - exported bucket bound @i (exclusive), ns. */
uint64_t gate_prom_bound_ns(unsigned i);

#endif /* FAULTLINE_GATE_PROM_H */
