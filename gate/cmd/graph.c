// SPDX-License-Identifier: BSD-2-Clause
/* gatectl graph: the interaction graph over a time range. */
#include "cmd/cmd.h"
#include "output/output.h"
#include "query/edges.h"
#include "query/open.h"
#include "query/sources.h"
#include "query/time.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A service of the listed edges; strings borrowed from an edge. */
struct graph_svc {
	const char *name;
	const char *kind;
};

static void graph_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl graph [--since T] [--until T] [--db FILE] [-o table|json|dot]\n"
		"\n"
		"The services and edges (client -> server, protocol, operation) seen in\n"
		"the per-minute windows of a time range, with requests, errors, error\n"
		"rate and p50/p99 latency merged over those windows. An edge without\n"
		"windows in the range is left out. Each edge shows how it is known\n"
		"(SRC: ebpf, trace, test, schema) and a confidence (CONF: high, medium,\n"
		"low); operations known only from an imported API description are\n"
		"listed after the edges.\n"
		"\n"
		"options:\n"
		"  --since T           first window: the minute holding T (default: all)\n"
		"  --until T           windows that start before T (default: all)\n"
		"  --db FILE           the store (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT    table, json or dot (Graphviz; one arrow per\n"
		"                      client, server and protocol)\n"
		"\n"
		"examples:\n"
		"  gatectl graph --since 1h\n"
		"  gatectl graph --since 2026-11-21T05:00:00Z --until 2026-11-21T06:00:00Z -o json\n"
		"  gatectl graph -o dot | dot -Tsvg > graph.svg\n");
}

static int svc_cmp(const void *a, const void *b)
{
	return strcmp(((const struct graph_svc *)a)->name,
		      ((const struct graph_svc *)b)->name);
}

/* Whether @name is among the first @n of @v. */
static bool svc_listed(const struct graph_svc *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return true;
	return false;
}

/*
 * The distinct services of @es and of the schema-only operations @ops,
 * sorted by name. OUT: *@out, *@n.
 */
static int graph_services(const struct gate_edges *es, const struct gate_ops *ops,
			  struct graph_svc **out, size_t *n)
{
	struct gate_idmap seen = { 0 };
	struct graph_svc *v = malloc((2 * es->n + ops->n + 1) * sizeof(*v));
	size_t cnt = 0, dummy;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < es->n; i++) {
		const struct gate_edge *e = &es->v[i];
		for (int side = 0; side < 2; side++) {
			int64_t id = side ? e->server_id : e->client_id;
			if (gate_idmap_get(&seen, id, &dummy))
				continue;
			if (gate_idmap_put(&seen, id, cnt)) {
				gate_idmap_release(&seen);
				free(v);
				return -ENOMEM;
			}
			v[cnt].name = side ? e->server : e->client;
			v[cnt++].kind = side ? e->server_kind : e->client_kind;
		}
	}
	gate_idmap_release(&seen);
	for (size_t i = 0; i < ops->n; i++) {
		if (svc_listed(v, cnt, ops->v[i].service))
			continue;
		v[cnt].name = ops->v[i].service;
		v[cnt++].kind = ops->v[i].kind;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), svc_cmp);
	*out = v;
	*n = cnt;
	return 0;
}

/*
 * Provenance of an edge (sources.c): "sources" and "confidence" added to
 * its JSON object @je, at @ref_ns. Returns 0 or -ENOMEM.
 */
static int graph_json_provenance(json_t *je, const struct gate_sources *src,
				 int64_t ref_ns)
{
	if (!je || json_object_set_new(je, "sources", gate_sources_json(src)) ||
	    json_object_set_new(je, "confidence", json_string(
			gate_confidence_name(gate_confidence(src, ref_ns)))))
		return -ENOMEM;
	return 0;
}

/* A schema-only operation: no client, no traffic, confidence low. */
static json_t *graph_json_op(const struct gate_op *o, int64_t ref_ns)
{
	json_t *jo = json_pack("{s:s, s:s, s:s}", "service", o->service,
			       "protocol", o->protocol, "operation", o->operation);

	if (graph_json_provenance(jo, &o->src, ref_ns)) {
		json_decref(jo);
		return NULL;
	}
	return jo;
}

/* @je (an edge object, NULL on ENOMEM) with "attributes": the OpenTelemetry
 * attributes of @e (gate/otel.c); NULL on ENOMEM, @je released then. */
static json_t *graph_json_otel(json_t *je, const struct gate_edge *e)
{
	if (je && json_object_set_new(je, "attributes", gate_otel_attributes(e))) {
		json_decref(je);
		je = NULL;
	}
	return je;
}

static json_t *json_time_or_null(int64_t ns, int64_t unbounded)
{
	return ns == unbounded ? json_null() : gate_json_time(ns);
}

static int graph_json(struct gate_ctx *ctx, const struct gate_edges *es,
		      const struct gate_ops *ops, const struct graph_svc *svcs,
		      size_t nsvcs, int64_t since, int64_t until, int64_t ref_ns)
{
	json_t *root, *jsvcs, *jedges;
	sqlite3_stmt *st_cache = NULL;	/* gate_statuses_add()'s */
	int err = -ENOMEM;

	root = json_pack("{s:o, s:o, s:[], s:[]}",
			 "since", json_time_or_null(since, INT64_MIN),
			 "until", json_time_or_null(until, INT64_MAX),
			 "services", "edges");
	if (!root)
		goto out_nomem;
	jsvcs = json_object_get(root, "services");
	jedges = json_object_get(root, "edges");
	for (size_t i = 0; i < nsvcs; i++)
		if (json_array_append_new(jsvcs, json_pack("{s:s, s:s}",
				"name", svcs[i].name, "kind", svcs[i].kind)))
			goto out_nomem;
	for (size_t i = 0; i < es->n; i++) {
		json_t *je = gate_json_edge(&es->v[i]);
		if (graph_json_provenance(je, &es->v[i].src, ref_ns) ||
		    !(je = graph_json_otel(je, &es->v[i])) ||
		    json_array_append_new(jedges, je))
			goto out_nomem;
		if ((err = gate_statuses_add(ctx, &st_cache, &es->v[i],
					     gate_range_make(since, until), je)))
			goto out_err;
		err = -ENOMEM;
	}
	json_t *jops = json_array();
	if (json_object_set_new(root, "operations", jops))
		goto out_nomem;
	for (size_t i = 0; i < ops->n; i++)
		if (json_array_append_new(jops, graph_json_op(&ops->v[i], ref_ns)))
			goto out_nomem;
	sqlite3_finalize(st_cache);
	err = gate_json_print(ctx, root);
	json_decref(root);
	return err;
out_err:
	sqlite3_finalize(st_cache);
	json_decref(root);
	return err;
out_nomem:
	sqlite3_finalize(st_cache);
	json_decref(root);
	return gate_fail(ctx, err, "out of memory");
}

/* The schema-only operations as a table section; nothing when none. */
static int graph_table_ops(const struct gate_ops *ops, int64_t ref_ns)
{
	static const char *const oh[] = { "SERVICE", "PROTO", "OPERATION", "SRC", "CONF" };
	struct gate_table t;
	int err = 0;

	if (!ops->n)
		return 0;
	gate_table_init(&t, oh, "lllll", 5);
	for (size_t i = 0; i < ops->n && !err; i++) {
		const struct gate_op *o = &ops->v[i];
		char op[256], src[64];

		gate_cell_op(o->operation, op, sizeof(op));
		gate_sources_str(&o->src, src, sizeof(src));
		const char *row[] = { o->service, o->protocol, op, src,
				gate_confidence_name(gate_confidence(&o->src, ref_ns)) };
		err = gate_table_row(&t, row);
	}
	if (!err) {
		printf("\nSCHEMA-ONLY OPERATIONS\n");
		gate_table_print(&t, stdout);
	}
	gate_table_release(&t);
	return err;
}

static int graph_table(struct gate_ctx *ctx, const struct gate_edges *es,
		       const struct gate_ops *ops, const struct graph_svc *svcs,
		       size_t nsvcs, int64_t ref_ns)
{
	static const char *const sh[] = { "NAME", "KIND" };
	static const char *const eh[] = { "CLIENT", "SERVER", "PROTO", "OPERATION",
					  "REQS", "ERRS", "ERR%", "P50ms", "P99ms",
					  "SRC", "CONF" };
	struct gate_table st, et;
	int err = 0;

	gate_table_init(&st, sh, "ll", 2);
	gate_table_init(&et, eh, "llllrrrrrll", 11);
	for (size_t i = 0; i < nsvcs && !err; i++) {
		const char *row[] = { svcs[i].name, svcs[i].kind };
		err = gate_table_row(&st, row);
	}
	for (size_t i = 0; i < es->n && !err; i++) {
		const struct gate_edge *e = &es->v[i];
		char op[256], reqs[24], errs[24], rate[24], p50[32], p99[32];
		double v = 0;
		bool have;

		gate_cell_op(e->operation, op, sizeof(op));
		snprintf(reqs, sizeof(reqs), "%llu", (unsigned long long)e->stats.requests);
		snprintf(errs, sizeof(errs), "%llu", (unsigned long long)e->stats.errors);
		snprintf(rate, sizeof(rate), "%.2f", 100.0 * gate_error_rate(&e->stats));
		have = gate_quantile_ms(&e->stats, 0.50, &v);
		gate_ms_str(have, v, p50, sizeof(p50));
		have = gate_quantile_ms(&e->stats, 0.99, &v);
		gate_ms_str(have, v, p99, sizeof(p99));
		char proto[64];
		/* TLS edges: "http+tls"; the JSON has "tls" on every edge */
		snprintf(proto, sizeof(proto), "%s%s", e->protocol,
			 e->tls ? "+tls" : "");
		char src[64];
		gate_sources_str(&e->src, src, sizeof(src));
		const char *row[] = { e->client, e->server, proto, op,
				      reqs, errs, rate, p50, p99, src,
				      gate_confidence_name(gate_confidence(&e->src, ref_ns)) };
		err = gate_table_row(&et, row);
	}
	if (!err) {
		printf("SERVICES\n");
		gate_table_print(&st, stdout);
		printf("\nEDGES\n");
		gate_table_print(&et, stdout);
		err = graph_table_ops(ops, ref_ns);
	}
	gate_table_release(&st);
	gate_table_release(&et);
	return err ? gate_fail(ctx, err, "out of memory") : 0;
}

/* A Graphviz double-quoted string. */
static void dot_str(const char *s, FILE *f)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
	}
	fputc('"', f);
}

static const char *dot_node_attrs(const char *kind)
{
	if (!strcmp(kind, "database"))
		return "shape=cylinder, style=filled, fillcolor=\"#e3f1df\"";
	if (!strcmp(kind, "cache"))
		return "shape=box3d, style=filled, fillcolor=\"#fbe5d6\"";
	if (!strcmp(kind, "queue"))
		return "shape=cds, style=filled, fillcolor=\"#efe3f6\"";
	if (!strcmp(kind, "external"))
		return "shape=box, style=dashed";
	return "shape=box, style=\"rounded,filled\", fillcolor=\"#dbe9f6\"";
}

static bool same_arrow(const struct gate_edge *a, const struct gate_edge *b)
{
	return a->client_id == b->client_id && a->server_id == b->server_id &&
	       !strcmp(a->protocol, b->protocol);
}

static int graph_dot(const struct gate_edges *es, const struct graph_svc *svcs,
		     size_t nsvcs)
{
	printf("digraph faultline {\n"
	       "  rankdir=LR;\n"
	       "  node [fontname=\"Helvetica\", fontsize=10];\n"
	       "  edge [fontname=\"Helvetica\", fontsize=9];\n");
	for (size_t i = 0; i < nsvcs; i++) {
		printf("  ");
		dot_str(svcs[i].name, stdout);
		printf(" [%s];\n", dot_node_attrs(svcs[i].kind));
	}
	/* edges are sorted by client, server, protocol: arrows are runs */
	for (size_t i = 0; i < es->n;) {
		uint64_t req = 0, err = 0;
		size_t j = i;
		for (; j < es->n && same_arrow(&es->v[i], &es->v[j]); j++) {
			req += es->v[j].stats.requests;
			err += es->v[j].stats.errors;
		}
		printf("  ");
		dot_str(es->v[i].client, stdout);
		printf(" -> ");
		dot_str(es->v[i].server, stdout);
		printf(" [label=\"");
		for (const char *p = es->v[i].protocol; *p; p++)
			if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
				putchar(*p);
		printf(" %llu req, %llu err\"%s];\n", (unsigned long long)req,
		       (unsigned long long)err, err ? ", color=\"#c0392b\"" : "");
		i = j;
	}
	printf("}\n");
	return 0;
}

/* How each edge of @es is known; the operations known only from a schema. */
static int graph_provenance(struct gate_ctx *ctx, struct gate_edges *es,
			    struct gate_ops *ops)
{
	struct gate_src_reader r;
	int err;

	err = gate_src_reader_init(ctx, &r);
	for (size_t i = 0; i < es->n && !err; i++)
		err = gate_src_read(&r, &es->v[i]);
	gate_src_reader_release(&r);
	if (!err)
		err = gate_schema_only_ops(ctx, ops);
	return err;
}

static int graph_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ 0 }
	};
	int64_t since = INT64_MIN, until = INT64_MAX;
	struct gate_edges es = { 0 };
	struct gate_ops ops = { 0 };
	struct graph_svc *svcs = NULL;
	size_t nsvcs = 0;
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, graph_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		err = gate_time_arg(ctx, c == 's' ? "--since" : "--until", optarg,
				    c == 's' ? &since : &until);
		if (err)
			return err;
	}
	err = gate_no_args(ctx, argc, argv);
	if (err)
		return err;
	if (since != INT64_MIN && until != INT64_MAX && until <= since)
		return gate_fail(ctx, -EINVAL, "'--until' must be after '--since'");
	err = gate_open(ctx);
	if (err)
		return err;
	err = gate_edges_in_range(ctx, gate_range_make(since, until), &es);
	if (err)
		goto out_release;
	gate_edges_sort(&es);
	err = graph_provenance(ctx, &es, &ops);
	if (err)
		goto out_release;
	err = graph_services(&es, &ops, &svcs, &nsvcs);
	if (err) {
		err = gate_fail(ctx, err, "out of memory");
		goto out_release;
	}
	/* confidence is judged at the end of the range, never after now */
	int64_t ref_ns = until < ctx->now_ns ? until : ctx->now_ns;
	if (ctx->fmt == GATE_FMT_JSON)
		err = graph_json(ctx, &es, &ops, svcs, nsvcs, gate_range_since(since),
				 until, ref_ns);
	else if (ctx->fmt == GATE_FMT_DOT)
		err = graph_dot(&es, svcs, nsvcs);
	else
		err = graph_table(ctx, &es, &ops, svcs, nsvcs, ref_ns);
out_release:
	gate_ops_release(&ops);
	free(svcs);
	gate_edges_release(&es);
	return err;
}

const struct gate_cmd gate_cmd_graph = {
	.name = "graph",
	.summary = "services and edges with traffic, errors and latency",
	.run = graph_run,
	.store = GATE_CMD_READS,
	.formats = GATE_FMTS_TABLE_JSON | GATE_FMT_BIT(GATE_FMT_DOT),
};
