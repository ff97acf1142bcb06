// SPDX-License-Identifier: BSD-2-Clause
/* The scope walk (query/scope.h), moved out of cmd/scope.c for select and gate. */
#include "query/scope.h"

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
	if (s->nsvcs == s->capsvcs) {
		size_t cap = s->capsvcs ? s->capsvcs * 2 : 16;
		struct gate_scope_svc *n = realloc(s->svcs, cap * sizeof(*n));
		if (!n)
			return NULL;
		s->svcs = n;
		s->capsvcs = cap;
	}
	if (gate_idmap_put(&s->svc_at, id, s->nsvcs))
		return NULL;
	v = &s->svcs[s->nsvcs++];
	*v = (struct gate_scope_svc){ .id = id, .name = name, .kind = kind };
	return v;
}

static int scope_enqueue(struct gate_scope *s, int64_t id)
{
	if (s->qlen == s->qcap) {
		size_t cap = s->qcap ? s->qcap * 2 : 16;
		int64_t *q = realloc(s->queue, cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		s->queue = q;
		s->qcap = cap;
	}
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

/*
 * Keep s->edges.v[@i] if it is new and has windows in the range: moved to
 * v[*@kept], which is then incremented. Otherwise it is released.
 */
static int scope_keep(struct gate_scope *s, size_t i, size_t *kept, bool *keep)
{
	struct gate_edge *e = &s->edges.v[i];
	size_t dummy;
	int err = 0;

	*keep = false;
	if (gate_idmap_get(&s->edge_seen, e->id, &dummy))
		goto out_drop;	/* both ends in scope: seen from the other */
	if (gate_idmap_put(&s->edge_seen, e->id, 0)) {
		err = gate_fail(s->ctx, -ENOMEM, "out of memory");
		goto out_drop;
	}
	err = gate_edge_stats(s->ctx, e->id, s->range, false, &e->stats);
	if (err || !e->stats.windows)
		goto out_drop;
	*keep = true;
	if (i != *kept) {
		s->edges.v[*kept] = *e;
		memset(e, 0, sizeof(*e));
	}
	(*kept)++;
	return 0;
out_drop:
	gate_edge_release(e);
	return err;
}

/*
 * Walk the edges of service @id: its inbound edges (the clients become
 * callers at @dist + 1) and, if @outbound, its outbound edges (the servers
 * become callees). Edges already in scope, or idle in the range, are
 * dropped again.
 */
static int scope_expand(struct gate_scope *s, int64_t id, int dist, bool outbound)
{
	for (int pass = outbound ? 0 : 1; pass < 2; pass++) {
		bool inbound = pass == 1, keep;
		size_t first = s->edges.n, kept = first, n;
		int err = gate_edges_of(s->ctx, id, inbound, &s->edges);

		if (err)
			return err;
		n = s->edges.n;
		for (size_t i = first; i < n; i++) {
			if (!err)
				err = scope_keep(s, i, &kept, &keep);
			else
				gate_edge_release(&s->edges.v[i]);
			if (err || !keep)
				continue;
			struct gate_edge *e = &s->edges.v[kept - 1];
			err = inbound ? scope_caller(s, e, dist + 1) : scope_callee(s, e);
		}
		s->edges.n = kept;
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

