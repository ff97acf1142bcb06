/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Scope: the edges a change to some services puts at risk (the walk of
 * `gatectl scope`, shared with select and gate).
 *
 * The changed services' own edges (outbound: it is the client, inbound: it
 * is the server), and every edge whose server calls a changed service
 * directly or through other services (upstream). Found by a breadth-first
 * walk up the callers from the changed services, one indexed lookup of the
 * inbound edges per caller, so the cost grows with the affected part of the
 * graph, not the whole store. Each service is expanded once: cycles end.
 */
#ifndef FAULTLINE_GATE_SCOPE_H
#define FAULTLINE_GATE_SCOPE_H

#include "query/edges.h"
#include "query/idmap.h"

enum gate_scope_rel {		/* a service's relation; larger wins */
	GATE_REL_NONE = 0,
	GATE_REL_CALLEE,	/* called by a changed service */
	GATE_REL_CALLER,	/* reaches a changed service */
	GATE_REL_CHANGED,
};

enum gate_scope_reason {	/* why an edge is in scope (gate_edge.tag) */
	GATE_SCOPE_OUTBOUND = 0,	/* a changed service is the client */
	GATE_SCOPE_INBOUND,		/* a changed service is the server */
	GATE_SCOPE_UPSTREAM,		/* between callers on a path to a change */
};

struct gate_scope_svc {
	int64_t id;
	const char *name;	/* borrowed from the ctx's service cache */
	const char *kind;
	enum gate_scope_rel rel;
	int dist;		/* hops from the nearest changed service */
};

struct gate_scope {
	struct gate_ctx *ctx;
	struct gate_range range;
	struct gate_scope_svc *svcs;	/* discovered services */
	size_t nsvcs, capsvcs;
	struct gate_idmap svc_at;	/* service id -> index in svcs */
	struct gate_edges edges;	/* edges in scope */
	struct gate_idmap edge_seen;	/* ids of the edges looked at */
	int64_t *queue;		/* callers still to expand */
	size_t qhead, qlen, qcap;
	const char **changed;	/* names as given, deduplicated */
	size_t nchanged;
};

/*
 * gate_scope_walk() - fill @s (ctx, range and changed, with room for @n
 * names, set by the caller) with the services and edges in scope of
 * @names; edge tags are enum gate_scope_reason. Returns 0, -ENOENT
 * (unknown service), -EIO or -ENOMEM.
 */
int gate_scope_walk(struct gate_scope *s, const char *const *names, size_t n);

/* gate_scope_svc() - the entry of service @id in @s, or NULL. */
struct gate_scope_svc *gate_scope_svc(struct gate_scope *s, int64_t id);

/* gate_scope_walk_release() - free what @s owns (changed included, not ctx). */
void gate_scope_walk_release(struct gate_scope *s);

struct gate_scope_out {
	struct gate_edges edges;	/* tag = enum gate_scope_reason; stats over the range */
	int *dist;			/* per edge: hops of its nearer end from a change */
};

/*
 * gate_scope() - the edges a change to @names (services known to the
 * store) puts at risk in @range, for select and gate. OUT: *@out
 * (gate_scope_out_release()). Returns 0, -ENOENT, -EIO or -ENOMEM.
 */
int gate_scope(struct gate_ctx *ctx, const char *const *names, size_t n,
	       struct gate_range range, struct gate_scope_out *out);

/* gate_scope_out_release() - free @out. */
void gate_scope_out_release(struct gate_scope_out *out);

#endif /* FAULTLINE_GATE_SCOPE_H */
