// SPDX-License-Identifier: BSD-2-Clause
/*
 * graph -o svg / -o html through libgvc (render.h). The graph is built with
 * libcgraph, laid out by the dot engine and rendered to SVG in memory.
 */
#include "output/render.h"

#include <errno.h>
#include <gvc.h>
#include <stdlib.h>
#include <string.h>

/* An arrow: the edges of one client, server and protocol, summed. */
struct arrow {
	const struct gate_edge *first;
	size_t n;			/* edges in it */
	uint64_t requests, errors, client_errors, conn_errors;
	struct fl_hist hist;		/* merged latency; owned */
};

static bool same_arrow(const struct gate_edge *a, const struct gate_edge *b)
{
	return !strcmp(a->client, b->client) && !strcmp(a->server, b->server) &&
	       !strcmp(a->protocol, b->protocol);
}

/* Green below 0.1 %, then yellow, orange, red from 5 % of requests failed. */
static const char *rate_colour(double rate, bool conn_only)
{
	if (conn_only)
		return "#c62828";
	if (rate < 0.001)
		return "#2e7d32";
	if (rate < 0.01)
		return "#9e9d24";
	if (rate < 0.05)
		return "#ef6c00";
	return "#c62828";
}

static const char *node_shape(const char *kind, const char **style,
			      const char **fill)
{
	*style = "rounded,filled";
	*fill = "#dbe9f6";
	if (!strcmp(kind, "database")) {
		*style = "filled";
		*fill = "#e3f1df";
		return "cylinder";
	}
	if (!strcmp(kind, "cache")) {
		*style = "filled";
		*fill = "#fbe5d6";
		return "box3d";
	}
	if (!strcmp(kind, "queue")) {
		*style = "filled";
		*fill = "#efe3f6";
		return "cds";
	}
	if (!strcmp(kind, "external")) {
		*style = "dashed";
		*fill = "#ffffff";
		return "box";
	}
	return "box";
}

static void set(void *obj, const char *k, const char *v)
{
	agsafeset(obj, (char *)k, (char *)v, "");
}

/* The tooltip of an arrow: totals, latency, its operations (at most 12). */
static char *arrow_tip(const struct arrow *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct gate_stats st = { .hist = a->hist };
	double p50 = 0, p99 = 0;

	if (!f)
		return NULL;
	fprintf(f, "%s -> %s (%s%s)\n%llu requests, %llu errors (%.2f %%)",
		a->first->client, a->first->server, a->first->protocol,
		a->first->tls ? "+tls" : "", (unsigned long long)a->requests,
		(unsigned long long)a->errors,
		a->requests ? 100.0 * (double)a->errors / (double)a->requests : 0.0);
	if (a->client_errors)
		fprintf(f, ", %llu 4xx", (unsigned long long)a->client_errors);
	if (a->conn_errors)
		fprintf(f, ", %llu failed connects", (unsigned long long)a->conn_errors);
	if (gate_quantile_ms(&st, 0.5, &p50) && gate_quantile_ms(&st, 0.99, &p99))
		fprintf(f, "\np50 %.3f ms, p99 %.3f ms", p50, p99);
	for (size_t i = 0; i < a->n && i < 12; i++) {
		const struct gate_edge *e = a->first + i;
		fprintf(f, "\n  %s: %llu req, %llu err", e->operation[0] ? e->operation : "-",
			(unsigned long long)e->stats.requests,
			(unsigned long long)e->stats.errors);
	}
	if (a->n > 12)
		fprintf(f, "\n  ... %zu more operations", a->n - 12);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Sum the run of edges starting at @es->v[@i] into @a; the index after it. */
static size_t arrow_collect(const struct gate_edges *es, size_t i, struct arrow *a)
{
	size_t j = i;

	memset(a, 0, sizeof(*a));
	a->first = &es->v[i];
	for (; j < es->n && same_arrow(&es->v[i], &es->v[j]); j++) {
		a->requests += es->v[j].stats.requests;
		a->errors += es->v[j].stats.errors;
		a->client_errors += es->v[j].stats.client_errors;
		a->conn_errors += es->v[j].stats.conn_errors;
		fl_hist_merge(&a->hist, &es->v[j].stats.hist);
	}
	a->n = j - i;
	return j;
}

static int add_arrows(Agraph_t *g, const struct gate_edges *es,
		      const struct gate_render_page *page)
{
	for (size_t i = 0; i < es->n;) {
		struct arrow a;
		char label[160], width[16], name[32];
		size_t next = arrow_collect(es, i, &a);
		Agnode_t *t = agnode(g, (char *)a.first->client, 0);
		Agnode_t *h = agnode(g, (char *)a.first->server, 0);
		double rate = a.requests ? (double)a.errors / (double)a.requests : 0;
		bool hl = page->highlight_client && page->highlight_server &&
			  !strcmp(page->highlight_client, a.first->client) &&
			  !strcmp(page->highlight_server, a.first->server);
		char *tip = arrow_tip(&a);
		Agedge_t *e;
		int w = 1;

		snprintf(name, sizeof(name), "e%zu", i);
		e = t && h && tip ? agedge(g, t, h, name, 1) : NULL;
		if (!e) {
			free(tip);
			fl_hist_release(&a.hist);
			return -ENOMEM;
		}
		for (uint64_t r = a.requests; r >= 10 && w < 6; r /= 10)
			w++;
		snprintf(width, sizeof(width), "%d", hl ? 6 : w);
		snprintf(label, sizeof(label), "%s%s %llu req, %llu err",
			 a.first->protocol, a.first->tls ? "+tls" : "",
			 (unsigned long long)a.requests, (unsigned long long)a.errors);
		if (!a.requests && a.conn_errors)
			snprintf(label, sizeof(label), "%llu failed connects",
				 (unsigned long long)a.conn_errors);
		set(e, "label", label);
		set(e, "color", hl ? "#d50000" : rate_colour(rate, !a.requests && a.conn_errors));
		set(e, "fontcolor", hl ? "#d50000" : "#333333");
		set(e, "penwidth", width);
		set(e, "tooltip", tip);
		set(e, "labeltooltip", tip);
		set(e, "id", name);
		set(e, "class", hl ? "edge broken" : "edge");
		free(tip);
		fl_hist_release(&a.hist);
		i = next;
	}
	return 0;
}

static Agraph_t *build(const struct gate_edges *es, const struct gate_render_svc *svcs,
		       size_t nsvcs, const struct gate_render_page *page)
{
	Agraph_t *g = agopen((char *)"faultline", Agdirected, NULL);

	if (!g)
		return NULL;
	set(g, "rankdir", "LR");
	set(g, "fontname", "Helvetica");
	set(g, "bgcolor", "white");
	set(g, "nodesep", "0.4");
	agattr(g, AGEDGE, (char *)"fontname", (char *)"Helvetica");
	agattr(g, AGEDGE, (char *)"fontsize", (char *)"10");
	for (size_t i = 0; i < nsvcs; i++) {
		const char *style, *fill, *shape = node_shape(svcs[i].kind, &style, &fill);
		char tip[512];
		Agnode_t *n = agnode(g, (char *)svcs[i].name, 1);

		if (!n)
			goto out_close;
		snprintf(tip, sizeof(tip), "%s (%s)", svcs[i].name, svcs[i].kind);
		set(n, "shape", shape);
		set(n, "style", style);
		set(n, "fillcolor", fill);
		set(n, "fontname", "Helvetica");
		set(n, "fontsize", "11");
		set(n, "tooltip", tip);
		set(n, "class", svcs[i].kind);
	}
	if (add_arrows(g, es, page))
		goto out_close;
	return g;
out_close:
	agclose(g);
	return NULL;
}

int gate_render_svg(struct gate_ctx *ctx, const struct gate_edges *es,
		    const struct gate_render_svc *svcs, size_t nsvcs,
		    const struct gate_render_page *page, char **svg, size_t *len)
{
	GVC_t *gvc = gvContext();
	Agraph_t *g = gvc ? build(es, svcs, nsvcs, page) : NULL;
	char *out = NULL;
	unsigned int n = 0;
	int err = 0;

	*svg = NULL;
	*len = 0;
	if (!g) {
		err = gate_fail(ctx, -ENOMEM, "out of memory");
		goto out_free;
	}
	if (gvLayout(gvc, g, "dot")) {
		err = gate_fail(ctx, -EIO, "graphviz: the dot layout failed");
		goto out_close;
	}
	if (gvRenderData(gvc, g, "svg", &out, &n) || !out) {
		err = gate_fail(ctx, -EIO, "graphviz: cannot render svg (is the "
				"core plugin installed? try 'dot -c')");
		goto out_layout;
	}
	*svg = malloc((size_t)n + 1);
	if (!*svg) {
		err = gate_fail(ctx, -ENOMEM, "out of memory");
	} else {
		memcpy(*svg, out, n);
		(*svg)[n] = 0;
		*len = n;
	}
	gvFreeRenderData(out);
out_layout:
	gvFreeLayout(gvc, g);
out_close:
	agclose(g);
out_free:
	if (gvc)
		gvFreeContext(gvc);
	return err;
}

static void html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
		}
	}
}

static void html_edges(FILE *f, const struct gate_edges *es)
{
	fputs("<h2>Edges</h2>\n<table>\n<tr><th>client</th><th>server</th>"
	      "<th>protocol</th><th>operation</th><th>requests</th><th>errors</th>"
	      "<th>failed connects</th><th>error rate</th><th>p50 ms</th>"
	      "<th>p99 ms</th></tr>\n", f);
	for (size_t i = 0; i < es->n; i++) {
		const struct gate_edge *e = &es->v[i];
		double p50 = 0, p99 = 0, rate = gate_error_rate(&e->stats);
		bool h = gate_quantile_ms(&e->stats, 0.5, &p50) &&
			 gate_quantile_ms(&e->stats, 0.99, &p99);

		fprintf(f, "<tr class=\"%s\"><td>", rate >= 0.05 || (!e->stats.requests &&
			e->stats.conn_errors) ? "bad" : rate > 0 ? "warn" : "good");
		html_text(f, e->client);
		fputs("</td><td>", f);
		html_text(f, e->server);
		fprintf(f, "</td><td>%s%s</td><td>", e->protocol, e->tls ? "+tls" : "");
		html_text(f, e->operation);
		fprintf(f, "</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%.2f %%</td>",
			(unsigned long long)e->stats.requests,
			(unsigned long long)e->stats.errors,
			(unsigned long long)e->stats.conn_errors, 100.0 * rate);
		if (h)
			fprintf(f, "<td>%.3f</td><td>%.3f</td></tr>\n", p50, p99);
		else
			fputs("<td>-</td><td>-</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void html_blind(FILE *f, const struct gate_render_page *page)
{
	fputs("<h2>Blind spots</h2>\n", f);
	if (!page->blind_known) {
		fputs("<p class=\"note\">", f);
		html_text(f, page->blind_note ? page->blind_note : "not known");
		fputs("</p>\n", f);
		return;
	}
	if (!page->nblind) {
		fputs("<p id=\"no-blind-spots\">none: the agent counted nothing it "
		      "could not see</p>\n", f);
		return;
	}
	fputs("<ul id=\"blind-spots\">\n", f);
	for (size_t i = 0; i < page->nblind; i++) {
		fprintf(f, "<li><code>%s</code> %llu: ", page->blind[i].name,
			(unsigned long long)page->blind[i].value);
		html_text(f, page->blind[i].what);
		fputs("</li>\n", f);
	}
	fputs("</ul>\n", f);
}

int gate_render_html(struct gate_ctx *ctx, const struct gate_edges *es,
		     const struct gate_render_svc *svcs, size_t nsvcs,
		     const struct gate_render_page *page, FILE *f)
{
	char *svg = NULL, *start;
	size_t len;
	int err = gate_render_svg(ctx, es, svcs, nsvcs, page, &svg, &len);

	if (err)
		return err;
	start = strstr(svg, "<svg");	/* drop the XML prolog and DOCTYPE */
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<title>", f);
	html_text(f, page->title);
	fputs("</title>\n<style>\n"
	      "body{font-family:Helvetica,Arial,sans-serif;margin:1.5em;color:#222}\n"
	      "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin-top:1.5em}\n"
	      ".meta{color:#555;margin:0 0 1em}\n"
	      "#graph svg{max-width:100%;height:auto;border:1px solid #ddd}\n"
	      "#graph g.edge:hover path,#graph g.edge:hover polygon{stroke-width:4}\n"
	      "#graph g.node:hover polygon,#graph g.node:hover path,#graph g.node:hover ellipse{stroke:#000;stroke-width:2}\n"
	      "table{border-collapse:collapse;font-size:.9em}\n"
	      "td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}\n"
	      "tr.bad td{background:#fdecea}tr.warn td{background:#fff6e0}\n"
	      ".legend span{display:inline-block;width:1.5em;height:.5em;margin:0 .3em 0 1em}\n"
	      ".note{color:#555}\n"
	      "</style>\n</head>\n<body>\n<h1>", f);
	html_text(f, page->title);
	fputs("</h1>\n<p class=\"meta\">", f);
	html_text(f, page->source ? page->source : "");
	fputs(" &middot; ", f);
	html_text(f, page->range ? page->range : "");
	fprintf(f, " &middot; %zu services, %zu edges</p>\n", nsvcs, es->n);
	fputs("<p class=\"legend\">error rate:<span style=\"background:#2e7d32\"></span>&lt; 0.1 %"
	      "<span style=\"background:#9e9d24\"></span>&lt; 1 %"
	      "<span style=\"background:#ef6c00\"></span>&lt; 5 %"
	      "<span style=\"background:#c62828\"></span>&ge; 5 % or failed connects"
	      " &middot; hover an arrow or a service for details</p>\n"
	      "<div id=\"graph\">\n", f);
	fputs(start ? start : svg, f);
	fputs("</div>\n", f);
	html_edges(f, es);
	html_blind(f, page);
	fputs("</body>\n</html>\n", f);
	free(svg);
	return 0;
}

static void base64(FILE *f, const unsigned char *p, size_t n)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		fputc(t[v >> 18 & 63], f);
		fputc(t[v >> 12 & 63], f);
		fputc(i + 1 < n ? t[v >> 6 & 63] : '=', f);
		fputc(i + 2 < n ? t[v & 63] : '=', f);
	}
}

int gate_render_img(struct gate_ctx *ctx, const struct gate_edges *es,
		    const struct gate_render_svc *svcs, size_t nsvcs,
		    const struct gate_render_page *page, const char *alt, FILE *f)
{
	char *svg = NULL;
	size_t len;
	int err = gate_render_svg(ctx, es, svcs, nsvcs, page, &svg, &len);

	if (err)
		return err;
	fputs("<img alt=\"", f);
	html_text(f, alt);
	fputs("\" src=\"data:image/svg+xml;base64,", f);
	base64(f, (const unsigned char *)svg, len);
	fputs("\">\n", f);
	free(svg);
	return 0;
}
