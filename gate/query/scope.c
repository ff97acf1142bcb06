// SPDX-License-Identifier: BSD-2-Clause
/* The scope walk (query/scope.h), moved out of cmd/scope.c for select and gate. */
#include "query/scope.h"
#include "grow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct gate_scope_svc *gate_scope_svc(struct gate_scope *s, int64_t id)
{
	size_t at;

	return gate_idmap_get(&s->svc_at, id, &at) ? &s->svcs[at] : NULL;
}

/* The entry of service @id, added if new. NULL on ENOMEM. */
static struct gate_scope_svc *scope_svc_add(struct gate_scope *s, int64_t id,
				       const char *name, const char *kind)
{
	struct gate_scope_svc *v = gate_scope_svc(s, id);

	if (v)
		return v;
	struct gate_scope_svc *n = fl_grow(s->svcs, &s->capsvcs, s->nsvcs, sizeof(*n), 16);

	if (!n)
		return NULL;
	s->svcs = n;
	if (gate_idmap_put(&s->svc_at, id, s->nsvcs))
		return NULL;
	v = &s->svcs[s->nsvcs++];
	*v = (struct gate_scope_svc){ .id = id, .name = name, .kind = kind };
	return v;
}

static int scope_enqueue(struct gate_scope *s, int64_t id)
{
	int64_t *q = fl_grow(s->queue, &s->qcap, s->qlen, sizeof(*q), 16);

	if (!q)
		return -ENOMEM;
	s->queue = q;
	s->queue[s->qlen++] = id;
	return 0;
}

/* The client of @e reaches a changed service in @dist hops. */
static int scope_caller(struct gate_scope *s, const struct gate_edge *e, int dist)
{
	struct gate_scope_svc *v = scope_svc_add(s, e->client_id, e->client,
					    e->client_kind);

	if (!v)
		return gate_fail(s->ctx, -ENOMEM, "out of memory");
	if (v->rel >= GATE_REL_CALLER)
		return 0;	/* changed, or reached at a shorter distance */
	v->rel = GATE_REL_CALLER;
	v->dist = dist;
	if (scope_enqueue(s, v->id))
		return gate_fail(s->ctx, -ENOMEM, "out of memory");
	return 0;
}

/* The server of @e is called by a changed service. */
static int scope_callee(struct gate_scope *s, const struct gate_edge *e)
{
	struct gate_scope_svc *v = scope_svc_add(s, e->server_id, e->server,
					    e->server_kind);

	if (!v)
		return gate_fail(s->ctx, -ENOMEM, "out of memory");
	if (v->rel == GATE_REL_NONE) {
		v->rel = GATE_REL_CALLEE;
		v->dist = 1;
	}
	return 0;
}

/* What scope_expand() passes scope_keep(). */
struct scope_walk {
	struct gate_scope *s;
	bool inbound;
	int dist;
};

/*
 * Keep edge @e if it has windows in the range: its client becomes a caller
 * at dist + 1 (inbound), or its server a callee.
 */
static int scope_keep(void *arg, struct gate_edge *e)
{
	struct scope_walk *w = arg;
	int err = gate_edge_stats(w->s->ctx, e->id, w->s->range, false, &e->stats);

	if (err || !e->stats.windows)
		return err;
	err = w->inbound ? scope_caller(w->s, e, w->dist + 1) : scope_callee(w->s, e);
	return err ? err : 1;
}

/*
 * Walk the edges of service @id: its inbound edges (the clients become
 * callers at @dist + 1) and, if @outbound, its outbound edges (the servers
 * become callees). Edges already in scope (both ends in scope: seen from
 * the other), or idle in the range, are dropped again.
 */
static int scope_expand(struct gate_scope *s, int64_t id, int dist, bool outbound)
{
	for (int pass = outbound ? 0 : 1; pass < 2; pass++) {
		struct scope_walk w = { .s = s, .inbound = pass == 1, .dist = dist };
		int err = gate_edges_of_kept(s->ctx, id, w.inbound, &s->edge_seen,
					     scope_keep, &w, &s->edges);

		if (err)
			return err;
	}
	return 0;
}

static int scope_add_changed(struct gate_scope *s, const char *name)
{
	struct gate_service svc;
	struct gate_scope_svc *v;
	int err;

	err = gate_service_find(s->ctx, name, &svc);
	if (err)
		return err;
	v = scope_svc_add(s, svc.id, svc.name, svc.kind);
	if (!v)
		return gate_fail(s->ctx, -ENOMEM, "out of memory");
	if (v->rel != GATE_REL_CHANGED)
		s->changed[s->nchanged++] = name;
	v->rel = GATE_REL_CHANGED;
	v->dist = 0;
	return 0;
}

int gate_scope_walk(struct gate_scope *s, const char *const *names, size_t n)
{
	int err;

	for (size_t i = 0; i < n; i++) {
		err = scope_add_changed(s, names[i]);
		if (err)
			return err;
	}
	/* every changed service is known before any walk, so none of them
	 * is ever taken for a caller or callee; they are svcs[0..nch) */
	size_t nch = s->nsvcs;
	for (size_t i = 0; i < nch; i++) {
		err = scope_expand(s, s->svcs[i].id, 0, true);
		if (err)
			return err;
	}
	while (s->qhead < s->qlen) {
		int64_t id = s->queue[s->qhead++];
		err = scope_expand(s, id, gate_scope_svc(s, id)->dist, false);
		if (err)
			return err;
	}
	for (size_t i = 0; i < s->edges.n; i++) {
		struct gate_edge *e = &s->edges.v[i];
		if (gate_scope_svc(s, e->client_id)->rel == GATE_REL_CHANGED)
			e->tag = GATE_SCOPE_OUTBOUND;
		else if (gate_scope_svc(s, e->server_id)->rel == GATE_REL_CHANGED)
			e->tag = GATE_SCOPE_INBOUND;
		else
			e->tag = GATE_SCOPE_UPSTREAM;
	}
	return 0;
}

void gate_scope_walk_release(struct gate_scope *s)
{
	free(s->svcs);
	gate_idmap_release(&s->svc_at);
	gate_idmap_release(&s->edge_seen);
	gate_edges_release(&s->edges);
	free(s->queue);
	free(s->changed);
}

int gate_scope(struct gate_ctx *ctx, const char *const *names, size_t n,
	       struct gate_range range, struct gate_scope_out *out)
{
	struct gate_scope s = { .ctx = ctx, .range = range };
	int err;

	memset(out, 0, sizeof(*out));
	s.changed = calloc(n + 1, sizeof(*s.changed));
	if (!s.changed)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	err = gate_scope_walk(&s, names, n);
	if (!err && s.edges.n && !(out->dist = calloc(s.edges.n, sizeof(*out->dist))))
		err = gate_fail(ctx, -ENOMEM, "out of memory");
	for (size_t i = 0; !err && i < s.edges.n; i++) {
		const struct gate_edge *e = &s.edges.v[i];
		int dc = gate_scope_svc(&s, e->client_id)->dist;
		int ds = gate_scope_svc(&s, e->server_id)->dist;
		out->dist[i] = dc < ds ? dc : ds;
	}
	if (!err) {
		out->edges = s.edges;
		memset(&s.edges, 0, sizeof(s.edges));
	}
	gate_scope_walk_release(&s);
	return err;
}

void gate_scope_out_release(struct gate_scope_out *out)
{
	gate_edges_release(&out->edges);
	free(out->dist);
	memset(out, 0, sizeof(*out));
}

