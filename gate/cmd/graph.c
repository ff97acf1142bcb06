// SPDX-License-Identifier: BSD-2-Clause
/* gatectl graph: the interaction graph over a time range. */
#include "cmd/cmd.h"
#include "query/prom.h"
#include "output/render.h"
#include "cmd/blindspots.h"
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
		"usage: gatectl graph [--since T] [--until T] [--buckets] [--db FILE]\n"
		"                     [--prometheus URL] [-o table|json|dot|svg|html]\n"
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
		"  -o, --output FMT    table, json, dot (Graphviz; one arrow per\n"
		"                      client, server and protocol), svg (drawn by\n"
		"                      libgvc, arrows coloured by error rate) or html\n"
		"                      (one self-contained page: the picture, hover\n"
		"                      details, the edges, the blind spots)\n"
		"  --buckets           json: each edge's latency counts per Prometheus\n"
		"                      bucket (docs/metrics.md), from either source\n"
		"  --prometheus URL    read the windows from Prometheus instead of the\n"
		"                      store: every agent it scrapes (default range:\n"
		"                      the last hour)\n"
		"\n"
		"examples:\n"
		"  gatectl graph --since 1h\n"
		"  gatectl graph --since 2026-11-21T05:00:00Z --until 2026-11-21T06:00:00Z -o json\n"
		"  gatectl graph -o dot | dot -Tsvg > graph.svg\n"
		"  gatectl graph --since 1h -o html > graph.html\n"
		"  gatectl --prometheus http://127.0.0.1:9090 graph --since 15m -o json\n");
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

/* Where the windows came from: the store, or Prometheus (prom.h). */
struct graph_src {
	const struct gate_prom_graph *prom;	/* NULL: the store */
	bool buckets;				/* --buckets */
};

static int graph_json_source(struct gate_ctx *ctx, json_t *root,
			     const struct graph_src *gs)
{
	if (!gs->prom)
		return json_object_set_new(root, "source", json_string("store"));
	return json_object_set_new(root, "source", json_string("prometheus")) ||
	       json_object_set_new(root, "prometheus", json_string(ctx->prom_url)) ||
	       json_object_set_new(root, "agents", json_integer((json_int_t)gs->prom->instances)) ||
	       json_object_set_new(root, "series_read", json_integer((json_int_t)gs->prom->series)) ||
	       json_object_set_new(root, "samples_read", json_integer((json_int_t)gs->prom->samples)) ||
	       json_object_set_new(root, "limits", gate_prom_limits_json());
}

static int graph_json(struct gate_ctx *ctx, const struct gate_edges *es,
		      const struct gate_ops *ops, const struct graph_svc *svcs,
		      size_t nsvcs, int64_t since, int64_t until, int64_t ref_ns,
		      const struct graph_src *gs)
{
	json_t *root, *jsvcs, *jedges;
	sqlite3_stmt *st_cache = NULL;	/* gate_statuses_add()'s */
	int err = -ENOMEM;

	root = json_pack("{s:o, s:o, s:[], s:[]}",
			 "since", json_time_or_null(since, INT64_MIN),
			 "until", json_time_or_null(until, INT64_MAX),
			 "services", "edges");
	if (!root || graph_json_source(ctx, root, gs))
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
		if ((gs->buckets || gs->prom) &&
		    json_object_set_new(je, "latency_buckets",
					gate_prom_buckets_json(&es->v[i])))
			goto out_nomem;
		if (gs->prom) {
			if (json_object_set_new(je, "statuses",
						gate_prom_statuses_json(gs->prom, &es->v[i])))
				goto out_nomem;
			continue;
		}
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

/* -o svg / -o html (render.c): the picture, and for html the page. */
static int graph_picture(struct gate_ctx *ctx, const struct gate_edges *es,
			 const struct graph_svc *svcs, size_t nsvcs,
			 int64_t since, int64_t until)
{
	struct gate_render_svc *rs = calloc(nsvcs + 1, sizeof(*rs));
	struct gate_render_page page = { .title = "faultline graph" };
	struct gate_render_blind *blind = NULL;
	char range[96], lo[40], hi[40], source[1100];
	size_t nblind = 0, len;
	char *svg = NULL;
	int err = 0;

	if (!rs)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	for (size_t i = 0; i < nsvcs; i++)
		rs[i] = (struct gate_render_svc){ svcs[i].name, svcs[i].kind };
	if (since == INT64_MIN)
		snprintf(lo, sizeof(lo), "the first window");
	else
		gate_time_format(since, lo, sizeof(lo));
	if (until == INT64_MAX)
		snprintf(hi, sizeof(hi), "now");
	else
		gate_time_format(until, hi, sizeof(hi));
	snprintf(range, sizeof(range), "%s .. %s", lo, hi);
	page.range = range;
	if (ctx->prom_url) {
		struct gate_prom_counter *pc = NULL;
		size_t npc = 0;

		snprintf(source, sizeof(source), "prometheus %s", ctx->prom_url);
		/* the agents' counters of what they did not see, summed */
		err = gate_prom_counters_read(ctx, ctx->prom_url, until, &pc, &npc);
		blind = err ? NULL : calloc(npc + 1, sizeof(*blind));
		if (!err && !blind)
			err = gate_fail(ctx, -ENOMEM, "out of memory");
		for (size_t i = 0; !err && i < npc; i++) {
			const char *what = bs_reason(pc[i].name);
			if (!what || !pc[i].value)
				continue;
			snprintf(blind[nblind].name, sizeof(blind[nblind].name), "%s", pc[i].name);
			blind[nblind].value = pc[i].value;
			blind[nblind++].what = what;
		}
		free(pc);
		page.blind_known = !err;
		page.blind = blind;
		page.nblind = nblind;
	} else {
		snprintf(source, sizeof(source), "store %s", ctx->db_path);
		err = bs_not_seen(ctx, &blind, &nblind);
		page.blind_known = !err;
		page.blind = blind;
		page.nblind = nblind;
	}
	page.source = source;
	if (!err && ctx->fmt == GATE_FMT_HTML) {
		err = gate_render_html(ctx, es, rs, nsvcs, &page, stdout);
	} else if (!err) {
		err = gate_render_svg(ctx, es, rs, nsvcs, &page, &svg, &len);
		if (!err && fwrite(svg, 1, len, stdout) != len)
			err = gate_fail(ctx, -EIO, "cannot write output");
	}
	free(svg);
	free(blind);
	free(rs);
	return err;
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
		{ "buckets", no_argument, NULL, 'b' },
		{ 0 }
	};
	struct gate_prom_graph pg = { 0 };
	struct graph_src gs = { 0 };
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
		if (c == 'b') {
			gs.buckets = true;
			continue;
		}
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
	if (ctx->prom_url) {
		/* production windows from Prometheus: no store opened */
		if (until == INT64_MAX)
			until = ctx->now_ns;
		if (since == INT64_MIN)
			since = until - 3600 * GATE_NS_PER_S;
		if (until <= since)
			return gate_fail(ctx, -EINVAL, "'--until' must be after '--since'");
		err = gate_prom_graph_read(ctx, ctx->prom_url, since, until, &pg);
		if (err)
			goto out_release;
		gs.prom = &pg;
		es = pg.edges;	/* moved: released as es */
		memset(&pg.edges, 0, sizeof(pg.edges));
	} else {
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
	}
	err = graph_services(&es, &ops, &svcs, &nsvcs);
	if (err) {
		err = gate_fail(ctx, err, "out of memory");
		goto out_release;
	}
	/* confidence is judged at the end of the range, never after now */
	int64_t ref_ns = until < ctx->now_ns ? until : ctx->now_ns;
	if (ctx->fmt == GATE_FMT_JSON)
		err = graph_json(ctx, &es, &ops, svcs, nsvcs,
				 gs.prom ? since : gate_range_since(since), until,
				 ref_ns, &gs);
	else if (ctx->fmt == GATE_FMT_DOT)
		err = graph_dot(&es, svcs, nsvcs);
	else if (ctx->fmt == GATE_FMT_SVG || ctx->fmt == GATE_FMT_HTML)
		err = graph_picture(ctx, &es, svcs, nsvcs, since, until);
	else
		err = graph_table(ctx, &es, &ops, svcs, nsvcs, ref_ns);
out_release:
	gate_ops_release(&ops);
	free(svcs);
	gate_edges_release(&es);
	gate_prom_graph_release(&pg);
	return err;
}

const struct gate_cmd gate_cmd_graph = {
	.name = "graph",
	.summary = "services and edges with traffic, errors and latency",
	.run = graph_run,
	.store = GATE_CMD_READS,
	.formats = GATE_FMTS_TABLE_JSON | GATE_FMT_BIT(GATE_FMT_DOT) |
		   GATE_FMT_BIT(GATE_FMT_SVG) | GATE_FMT_BIT(GATE_FMT_HTML),
	.prometheus = true,
};
