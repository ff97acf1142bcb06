/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Pictures of the graph: `graph -o svg` and `graph -o html`, laid out and
 * drawn by Graphviz's library (libgvc, libcgraph), not by running dot(1).
 * One arrow per client, server and protocol (as -o dot), coloured by its
 * error rate, with the details in a tooltip (SVG <title>: shown on hover).
 */
#ifndef FAULTLINE_GATE_RENDER_H
#define FAULTLINE_GATE_RENDER_H

#include <stdio.h>

#include "query/edges.h"

/* A service to draw; strings borrowed. */
struct gate_render_svc {
	const char *name;
	const char *kind;
};

/* Something the agent could not see, listed on the HTML page. */
struct gate_render_blind {
	char name[64];		/* agent counter name */
	uint64_t value;
	const char *what;	/* static: what it means */
};

/* What the page says beside the picture. */
struct gate_render_page {
	const char *title;		/* "faultline graph" */
	const char *range;		/* "2026-11-21T05:00Z .. now", borrowed */
	const char *source;		/* "store 'x.db'" or "prometheus URL", borrowed */
	bool blind_known;		/* blind spots read (from a store) */
	const struct gate_render_blind *blind;	/* nblind of them */
	size_t nblind;
	const char *blind_note;		/* why they are not known, if so */
	const char *highlight_client;	/* an arrow to draw red and bold (the */
	const char *highlight_server;	/*  broken boundary), or NULL */
};

/*
 * gate_render_svg() - lay @es (sorted by client, server, protocol) and
 * @svcs out with dot and render SVG. OUT: *@svg (caller frees with free()),
 * *@len bytes. Returns 0, -ENOMEM or -EIO (Graphviz failed: message in
 * ctx->err).
 */
int gate_render_svg(struct gate_ctx *ctx, const struct gate_edges *es,
		    const struct gate_render_svc *svcs, size_t nsvcs,
		    const struct gate_render_page *page, char **svg, size_t *len);

/*
 * gate_render_html() - one self-contained HTML page to @f: the SVG inline,
 * the edges as a table, the blind spots. Returns 0 or what
 * gate_render_svg() returns.
 */
int gate_render_html(struct gate_ctx *ctx, const struct gate_edges *es,
		     const struct gate_render_svc *svcs, size_t nsvcs,
		     const struct gate_render_page *page, FILE *f);

/*
 * gate_render_img() - the SVG of @es as a Markdown/HTML image to @f:
 * <img alt="@alt" src="data:image/svg+xml;base64,...">, self-contained (no
 * file beside the report). Returns 0 or what gate_render_svg() returns.
 */
int gate_render_img(struct gate_ctx *ctx, const struct gate_edges *es,
		    const struct gate_render_svc *svcs, size_t nsvcs,
		    const struct gate_render_page *page, const char *alt, FILE *f);

#endif /* FAULTLINE_GATE_RENDER_H */
