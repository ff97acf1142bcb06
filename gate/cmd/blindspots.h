/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gatectl blindspots, the parts that join the graph with what the agent
 * could not parse or never saw (blindspots_extra.c): unknown protocols,
 * TLS not decrypted, edges and operations never observed.
 */
#ifndef FAULTLINE_GATE_BLINDSPOTS_H
#define FAULTLINE_GATE_BLINDSPOTS_H

#include "query/edges.h"
#include "query/sources.h"

/*
 * A window row (alias @W) of edge @E counts unless it came from a trace
 * while the edge has observed windows at all (the rule of edges.c, over
 * every window): blindspots has no time range.
 */
#define BS_TRACE_OK(W, E)                                                   \
	"(" W ".source <> 'trace' OR NOT EXISTS (SELECT 1 FROM edge_windows o " \
	"WHERE o.edge_id = " E " AND o.source IN ('ebpf', 'test')))"

/* An agent counter that may be absent from the store. */
struct bs_opt {
	bool have;		/* the store has the row */
	uint64_t value;
};

/* An edge of a list, its sums over every window. */
struct bs_edge {
	struct gate_edge e;		/* id, names (owned here), protocol, operation, src */
	uint64_t requests, req_bytes, resp_bytes;
};

struct bs_edges {
	struct bs_edge *v;
	size_t n, cap;
};

struct bs_extra {
	struct bs_opt unknown_conns, unknown_bytes;	/* unknown_proto_* */
	struct bs_opt tls_opaque, tls_attach, tls_unmapped;
	struct bs_edges unknown;	/* edges of protocol 'unknown' */
	struct bs_edges unobserved;	/* edges without an ebpf/test source */
	struct gate_ops schema_only;	/* operations without an edge */
	int64_t ref_ns;			/* confidence judged at (now) */
};

/* bs_extra_read() - read every part. Returns 0, -EIO or -ENOMEM. */
int bs_extra_read(struct gate_ctx *ctx, struct bs_extra *x);

/*
 * bs_extra_json() - add "unknown_protocols", "tls_not_decrypted" and
 * "never_observed" to @root. Returns 0 or -ENOMEM.
 */
int bs_extra_json(const struct bs_extra *x, json_t *root);

/* bs_extra_table() - print the three sections. Returns 0 or -ENOMEM. */
int bs_extra_table(const struct bs_extra *x);

/*
 * bs_reason() - what agent counter @name not being 0 means ("events lost:
 * ring buffer full"), static; NULL for a total (events, records, ...) or a
 * name this build does not know.
 */
const char *bs_reason(const char *name);

struct gate_render_blind;

/*
 * bs_not_seen() - the agent counters of the open store ctx->db that say
 * something was not seen and are > 0, with bs_reason(), for graph -o html.
 * OUT: *@out (caller frees), *@n. Returns 0, -EIO or -ENOMEM.
 */
int bs_not_seen(struct gate_ctx *ctx, struct gate_render_blind **out, size_t *n);

/* bs_extra_release() - free what @x owns. */
void bs_extra_release(struct bs_extra *x);

#endif /* FAULTLINE_GATE_BLINDSPOTS_H */
