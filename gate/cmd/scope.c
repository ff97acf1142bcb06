// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl scope: the edges a change to some services puts at risk.
 *
 * The changed services' own edges (outbound: it is the client, inbound: it
 * is the server), and every edge whose server calls a changed service
 * directly or through other services (upstream). Found by a breadth-first
 * walk up the callers from the changed services, one indexed lookup of the
 * inbound edges per caller, so the cost grows with the affected part of the
 * graph, not the whole store. Each service is expanded once: cycles end.
 */
#include "cmd/cmd.h"
#include "output/output.h"
#include "query/edges.h"
#include "query/open.h"
#include "query/time.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum scope_rel {		/* a service's relation; larger wins */
	REL_NONE = 0,
	REL_CALLEE,		/* called by a changed service */
	REL_CALLER,		/* reaches a changed service */
	REL_CHANGED,
};

enum scope_reason {
	REASON_OUTBOUND = 0,	/* a changed service is the client */
	REASON_INBOUND,		/* a changed service is the server */
	REASON_UPSTREAM,	/* between callers on a path to a change */
};

static const char *const rel_names[] = { "none", "callee", "caller", "changed" };
static const char *const reason_names[] = { "outbound", "inbound", "upstream" };

struct scope_svc {
	int64_t id;
	const char *name;	/* borrowed from the ctx's service cache */
	const char *kind;
	enum scope_rel rel;
	int dist;		/* hops from the nearest changed service */
};

struct scope {
	struct gate_ctx *ctx;
	struct gate_range range;
	struct scope_svc *svcs;	/* discovered services */
	size_t nsvcs, capsvcs;
	struct gate_idmap svc_at;	/* service id -> index in svcs */
	struct gate_edges edges;	/* edges in scope */
	struct gate_idmap edge_seen;	/* ids of the edges looked at */
	int64_t *queue;		/* callers still to expand */
	size_t qhead, qlen, qcap;
	const char **changed;	/* names as given, deduplicated */
	size_t nchanged;
};

static void scope_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl scope --changed SERVICE [--changed SERVICE...] [--since T]\n"
		"                     [--until T] [--db FILE] [-o table|json]\n"
		"\n"
		"The edges a change to SERVICE puts at risk: its own edges (outbound\n"
		"when it is the client, inbound when it is the server) and, through any\n"
		"number of hops, the edges into every service that calls it (upstream).\n"
		"Services are listed with their relation (changed, caller, callee) and\n"
		"distance in hops. Only edges with windows in the range count.\n"
		"\n"
		"options:\n"
		"  --changed SERVICE   a changed service; repeat for several (required)\n"
		"  --since T           first window: the minute holding T (default: all)\n"
		"  --until T           windows that start before T (default: all)\n"
		"  --db FILE           the store (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT    table or json\n"
		"\n"
		"exit status: 0 scope computed, 2 unknown service or other error\n"
		"\n"
		"examples:\n"
		"  gatectl scope --changed checkout\n"
		"  gatectl scope --changed checkout --changed payments --since 7d -o json\n");
}

static struct scope_svc *scope_svc_get(struct scope *s, int64_t id)
{
	size_t at;

	return gate_idmap_get(&s->svc_at, id, &at) ? &s->svcs[at] : NULL;
}

/* The entry of service @id, added if new. NULL on ENOMEM. */
static struct scope_svc *scope_svc_add(struct scope *s, int64_t id,
				       const char *name, const char *kind)
{
	struct scope_svc *v = scope_svc_get(s, id);

	if (v)
		return v;
	if (s->nsvcs == s->capsvcs) {
		size_t cap = s->capsvcs ? s->capsvcs * 2 : 16;
		struct scope_svc *n = realloc(s->svcs, cap * sizeof(*n));
		if (!n)
			return NULL;
		s->svcs = n;
		s->capsvcs = cap;
	}
	if (gate_idmap_put(&s->svc_at, id, s->nsvcs))
		return NULL;
	v = &s->svcs[s->nsvcs++];
	*v = (struct scope_svc){ .id = id, .name = name, .kind = kind };
	return v;
}

static int scope_enqueue(struct scope *s, int64_t id)
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
static int scope_caller(struct scope *s, const struct gate_edge *e, int dist)
{
	struct scope_svc *v = scope_svc_add(s, e->client_id, e->client,
					    e->client_kind);

	if (!v)
		return gate_fail(s->ctx, -ENOMEM, "out of memory");
	if (v->rel >= REL_CALLER)
		return 0;	/* changed, or reached at a shorter distance */
	v->rel = REL_CALLER;
	v->dist = dist;
	if (scope_enqueue(s, v->id))
		return gate_fail(s->ctx, -ENOMEM, "out of memory");
	return 0;
}

/* The server of @e is called by a changed service. */
static int scope_callee(struct scope *s, const struct gate_edge *e)
{
	struct scope_svc *v = scope_svc_add(s, e->server_id, e->server,
					    e->server_kind);

	if (!v)
		return gate_fail(s->ctx, -ENOMEM, "out of memory");
	if (v->rel == REL_NONE) {
		v->rel = REL_CALLEE;
		v->dist = 1;
	}
	return 0;
}

/*
 * Keep s->edges.v[@i] if it is new and has windows in the range: moved to
 * v[*@kept], which is then incremented. Otherwise it is released.
 */
static int scope_keep(struct scope *s, size_t i, size_t *kept, bool *keep)
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
static int scope_expand(struct scope *s, int64_t id, int dist, bool outbound)
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

static int scope_add_changed(struct scope *s, const char *name)
{
	struct gate_service svc;
	struct scope_svc *v;
	int err;

	err = gate_service_find(s->ctx, name, &svc);
	if (err)
		return err;
	v = scope_svc_add(s, svc.id, svc.name, svc.kind);
	if (!v)
		return gate_fail(s->ctx, -ENOMEM, "out of memory");
	if (v->rel != REL_CHANGED)
		s->changed[s->nchanged++] = name;
	v->rel = REL_CHANGED;
	v->dist = 0;
	return 0;
}

static int scope_walk(struct scope *s, const char *const *names, size_t n)
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
		err = scope_expand(s, id, scope_svc_get(s, id)->dist, false);
		if (err)
			return err;
	}
	for (size_t i = 0; i < s->edges.n; i++) {
		struct gate_edge *e = &s->edges.v[i];
		if (scope_svc_get(s, e->client_id)->rel == REL_CHANGED)
			e->tag = REASON_OUTBOUND;
		else if (scope_svc_get(s, e->server_id)->rel == REL_CHANGED)
			e->tag = REASON_INBOUND;
		else
			e->tag = REASON_UPSTREAM;
	}
	return 0;
}

/* Changed first, then callers, then callees; nearer first; then name. */
static int svc_cmp(const void *a, const void *b)
{
	const struct scope_svc *x = a, *y = b;

	if (x->rel != y->rel)
		return x->rel > y->rel ? -1 : 1;
	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int scope_json(struct scope *s, int64_t since, int64_t until)
{
	json_t *root, *jc, *js, *je;

	root = json_pack("{s:[], s:o, s:o, s:[], s:[]}", "changed",
			 "since", since == INT64_MIN ? json_null() : gate_json_time(since),
			 "until", until == INT64_MAX ? json_null() : gate_json_time(until),
			 "services", "edges");
	if (!root)
		return gate_fail(s->ctx, -ENOMEM, "out of memory");
	jc = json_object_get(root, "changed");
	js = json_object_get(root, "services");
	je = json_object_get(root, "edges");
	for (size_t i = 0; i < s->nchanged; i++)
		if (json_array_append_new(jc, json_string(s->changed[i])))
			goto out_nomem;
	for (size_t i = 0; i < s->nsvcs; i++) {
		const struct scope_svc *v = &s->svcs[i];
		if (json_array_append_new(js, json_pack("{s:s, s:s, s:s, s:i}",
				"name", v->name, "kind", v->kind,
				"relation", rel_names[v->rel], "distance", v->dist)))
			goto out_nomem;
	}
	for (size_t i = 0; i < s->edges.n; i++) {
		const struct gate_edge *e = &s->edges.v[i];
		if (json_array_append_new(je, json_pack(
				"{s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:s, s:b}",
				"client", e->client, "server", e->server,
				"protocol", e->protocol, "operation", e->operation,
				"requests", (json_int_t)e->stats.requests,
				"errors", (json_int_t)e->stats.errors,
				"error_rate", gate_json_rate(gate_error_rate(&e->stats)),
				"reason", reason_names[e->tag], "tls", e->tls)))
			goto out_nomem;
	}
	int err = gate_json_print(s->ctx, root);
	json_decref(root);
	return err;
out_nomem:
	json_decref(root);
	return gate_fail(s->ctx, -ENOMEM, "out of memory");
}

static int scope_table(struct scope *s)
{
	static const char *const sh[] = { "NAME", "KIND", "RELATION", "DISTANCE" };
	static const char *const eh[] = { "CLIENT", "SERVER", "PROTO", "OPERATION",
					  "REQS", "ERRS", "ERR%", "REASON" };
	size_t nrel[4] = { 0 }, nreason[3] = { 0 };
	struct gate_table st, et;
	int err = 0;

	gate_table_init(&st, sh, "lllr", 4);
	gate_table_init(&et, eh, "llllrrrl", 8);
	for (size_t i = 0; i < s->nsvcs && !err; i++) {
		const struct scope_svc *v = &s->svcs[i];
		char dist[16];
		snprintf(dist, sizeof(dist), "%d", v->dist);
		const char *row[] = { v->name, v->kind, rel_names[v->rel], dist };
		nrel[v->rel]++;
		err = gate_table_row(&st, row);
	}
	for (size_t i = 0; i < s->edges.n && !err; i++) {
		const struct gate_edge *e = &s->edges.v[i];
		char op[256], reqs[24], errs[24], rate[24];
		gate_cell_op(e->operation, op, sizeof(op));
		snprintf(reqs, sizeof(reqs), "%llu", (unsigned long long)e->stats.requests);
		snprintf(errs, sizeof(errs), "%llu", (unsigned long long)e->stats.errors);
		snprintf(rate, sizeof(rate), "%.2f", 100.0 * gate_error_rate(&e->stats));
		const char *row[] = { e->client, e->server, e->protocol, op, reqs,
				      errs, rate, reason_names[e->tag] };
		nreason[e->tag]++;
		err = gate_table_row(&et, row);
	}
	if (!err) {
		printf("SERVICES\n");
		gate_table_print(&st, stdout);
		printf("\nEDGES\n");
		gate_table_print(&et, stdout);
		printf("\nscope: %zu changed, %zu callers, %zu callees; "
		       "%zu edges (%zu outbound, %zu inbound, %zu upstream)\n",
		       nrel[REL_CHANGED], nrel[REL_CALLER], nrel[REL_CALLEE],
		       s->edges.n, nreason[REASON_OUTBOUND],
		       nreason[REASON_INBOUND], nreason[REASON_UPSTREAM]);
	}
	gate_table_release(&st);
	gate_table_release(&et);
	return err ? gate_fail(s->ctx, err, "out of memory") : 0;
}

static void scope_release(struct scope *s)
{
	free(s->svcs);
	gate_idmap_release(&s->svc_at);
	gate_idmap_release(&s->edge_seen);
	gate_edges_release(&s->edges);
	free(s->queue);
	free(s->changed);
}

static int scope_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "changed", required_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ 0 }
	};
	int64_t since = INT64_MIN, until = INT64_MAX;
	struct scope s = { .ctx = ctx };
	const char **names;
	size_t nnames = 0;
	int c, err;

	/* at most one --changed per argument */
	names = calloc((size_t)argc + 1, sizeof(*names));
	s.changed = calloc((size_t)argc + 1, sizeof(*s.changed));
	if (!names || !s.changed) {
		err = gate_fail(ctx, -ENOMEM, "out of memory");
		goto out_release;
	}
	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, scope_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			goto out_release;
		if (err)
			continue;
		if (c == 'c')
			names[nnames++] = optarg;
		else if ((err = gate_time_arg(ctx, c == 's' ? "--since" : "--until",
					      optarg, c == 's' ? &since : &until)))
			goto out_release;
	}
	if ((err = gate_no_args(ctx, argc, argv)))
		goto out_release;
	if (!nnames) {
		err = gate_fail(ctx, -EINVAL, "scope needs '--changed SERVICE'");
		goto out_release;
	}
	if (since != INT64_MIN && until != INT64_MAX && until <= since) {
		err = gate_fail(ctx, -EINVAL, "'--until' must be after '--since'");
		goto out_release;
	}
	if ((err = gate_open(ctx)))
		goto out_release;
	s.range = gate_range_make(since, until);
	if ((err = scope_walk(&s, names, nnames)))
		goto out_release;
	qsort(s.svcs, s.nsvcs, sizeof(s.svcs[0]), svc_cmp);
	gate_edges_sort(&s.edges);
	err = ctx->fmt == GATE_FMT_JSON ? scope_json(&s, gate_range_since(since), until)
					: scope_table(&s);
out_release:
	scope_release(&s);
	free(names);
	return err;
}

const struct gate_cmd gate_cmd_scope = {
	.name = "scope",
	.summary = "the edges a change to some services puts at risk",
	.run = scope_run,
	.store = GATE_CMD_READS,
	.formats = GATE_FMTS_TABLE_JSON,
};
