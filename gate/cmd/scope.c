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
#include "query/prom.h"
#include "output/output.h"
#include "query/edges.h"
#include "query/open.h"
#include "query/scope.h"
#include "query/time.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *const rel_names[] = { "none", "callee", "caller", "changed" };
static const char *const reason_names[] = { "outbound", "inbound", "upstream" };

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

/* Changed first, then callers, then callees; nearer first; then name. */
static int svc_cmp(const void *a, const void *b)
{
	const struct gate_scope_svc *x = a, *y = b;

	if (x->rel != y->rel)
		return x->rel > y->rel ? -1 : 1;
	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int scope_json(struct gate_scope *s, int64_t since, int64_t until)
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
		const struct gate_scope_svc *v = &s->svcs[i];
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

static int scope_table(struct gate_scope *s)
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
		const struct gate_scope_svc *v = &s->svcs[i];
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
		       nrel[GATE_REL_CHANGED], nrel[GATE_REL_CALLER], nrel[GATE_REL_CALLEE],
		       s->edges.n, nreason[GATE_SCOPE_OUTBOUND],
		       nreason[GATE_SCOPE_INBOUND], nreason[GATE_SCOPE_UPSTREAM]);
	}
	gate_table_release(&st);
	gate_table_release(&et);
	return err ? gate_fail(s->ctx, err, "out of memory") : 0;
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
	struct gate_scope s = { .ctx = ctx };
	struct gate_prom_graph pg = { 0 };
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
	if (ctx->prom_url) {
		/* production windows of every agent, from Prometheus */
		if (until == INT64_MAX)
			until = ctx->now_ns;
		if (since == INT64_MIN)
			since = until - 3600 * GATE_NS_PER_S;
		if ((err = gate_prom_graph_read(ctx, ctx->prom_url, since, until, &pg)))
			goto out_release;
		ctx->mem = &pg.edges;
	} else if ((err = gate_open(ctx))) {
		goto out_release;
	}
	s.range = gate_range_make(since, until);
	if ((err = gate_scope_walk(&s, names, nnames)))
		goto out_release;
	qsort(s.svcs, s.nsvcs, sizeof(s.svcs[0]), svc_cmp);
	gate_edges_sort(&s.edges);
	err = ctx->fmt == GATE_FMT_JSON ? scope_json(&s, gate_range_since(since), until)
					: scope_table(&s);
out_release:
	gate_scope_walk_release(&s);
	ctx->mem = NULL;
	gate_prom_graph_release(&pg);
	free(names);
	return err;
}

const struct gate_cmd gate_cmd_scope = {
	.name = "scope",
	.summary = "the edges a change to some services puts at risk",
	.run = scope_run,
	.store = GATE_CMD_READS,
	.formats = GATE_FMTS_TABLE_JSON,
	.prometheus = true,
};
