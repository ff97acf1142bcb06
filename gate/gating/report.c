// SPDX-License-Identifier: BSD-2-Clause
/*
 * The gate's outputs (docs/gate.md "Output"): the JSON report (a public
 * interface; stored in gate_runs.report), a table for people, a Markdown
 * PR comment and JUnit XML (libxml2's xmlTextWriter).
 */
#include "gating/gating.h"
#include "output/render.h"

#include <errno.h>
#include <libxml/xmlwriter.h>
#include <stdlib.h>
#include <string.h>

static json_t *tests_json(const struct gate_report *r, const size_t *t, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(r->res[t[i]].run.t->name));
	return a;
}

static json_t *edge4(const char *c, const char *s, const char *p, const char *o)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "client", c, "server", s, "protocol", p,
			 "operation", o);
}

static const struct gate_finding *finding_of(const struct gate_verdict *v, const char *c,
					     const char *s, const char *p, const char *o)
{
	const struct gate_finding *best = NULL;

	for (size_t i = 0; i < v->nf; i++) {
		const struct gate_finding *f = &v->f[i];
		if (!f->counts || strcmp(f->client, c) || strcmp(f->server, s) ||
		    strcmp(f->protocol, p) || strcmp(f->operation, o))
			continue;
		if (f->kind == GF_RISE && f->role == GR_NONE)
			continue;
		if (!best || f->kind == GF_RISE)
			best = f;
	}
	return best;
}

static json_t *prediction(const struct gate_report *r, const char *c, const char *s,
			  const char *p, const char *o)
{
	const struct gate_finding *f = finding_of(r->v, c, s, p, o);
	json_t *tests = json_array(), *j;
	uint64_t req = 0, errs = 0;
	const char *expected = "healthy", *status = NULL;
	double conf;

	for (size_t i = 0; i < r->nres; i++) {
		const struct fp_edge *e = fp_find(&r->res[i].fp, c, s, p, o);
		if (!e)
			continue;
		json_array_append_new(tests, json_string(r->res[i].run.t->name));
		req += e->req;
		for (size_t k = 0; k < e->nst; k++)
			errs += e->st[k].err;
	}
	if (f) {
		expected = f->kind == GF_RISE ? "errors" : f->kind == GF_NEW ? "new" :
			   f->kind == GF_MISSING ? "missing" : "latency";
		status = f->kind == GF_RISE ? f->status : NULL;
		conf = f->flaky_only ? 0.5 : f->inferred ? 0.7 : 0.9;
	} else {
		size_t n = json_array_size(tests);
		conf = n ? (0.6 + 0.1 * (double)n > 0.95 ? 0.95 : 0.6 + 0.1 * (double)n) : 0.1;
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:{s:o, s:I, s:I}}",
		      "client", c, "server", s, "protocol", p, "operation", o,
		      "expected", expected, "status", status ? json_string(status) : json_null(),
		      "confidence", gate_json_rate(conf), "evidence", "tests", tests,
		      "requests", (json_int_t)req, "errors", (json_int_t)errs);
	if (j && f && f->kind == GF_CALLS)
		json_object_set_new(json_object_get(j, "evidence"), "shift", json_string("calls"));
	return j;
}

json_t *gate_report_json(const struct gate_report *r)
{
	const struct selection *sel = r->sel;
	json_t *root, *a;
	size_t nsel = 0;

	root = json_pack("{s:s, s:s, s:I, s:I, s:s, s:[], s:[], s:f, s:[], s:[], "
			 "s:{s:[], s:[]}, s:[], s:[], s:[]}",
			 "verdict", r->v->verdict, "reason", r->v->reason,
			 "run", (json_int_t)r->gate_run_id, "test_run", (json_int_t)r->test_run_id,
			 "stack", r->stack->name, "changed", "changes", "duration_s",
			 r->duration_s, "tests", "boundaries", "drift", "new_edges",
			 "missing_edges", "shifts", "uncovered", "predictions");
	if (!root)
		return NULL;
	for (size_t i = 0; i < r->nchanges; i++) {
		json_array_append_new(json_object_get(root, "changed"),
				      json_string(r->change_svc[i]));
		json_array_append_new(json_object_get(root, "changes"), json_pack(
			"{s:s, s:s}", "service", r->change_svc[i], "cmd", r->change_cmd[i]));
	}
	a = json_object_get(root, "tests");
	for (size_t i = 0; i < r->nres; i++) {
		const struct gate_tres *t = &r->res[i];
		const char *cls = gate_class_str(t->cls);
		json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:f, s:o, s:o, s:o}",
			"name", t->run.t->name, "result", t->run.pass ? "pass" : "fail",
			"class", cls ? json_string(cls) : json_null(),
			"duration_s", t->run.res.duration_s,
			"message", t->run.message[0] ? json_string(t->run.message) : json_null(),
			"why", t->why[0] ? json_string(t->why) : json_null(),
			"rerun", t->reran ? json_string(t->rerun_pass ? "pass" : "fail")
					  : json_null()));
		nsel++;
	}
	for (size_t i = 0; i < sel->ntests; i++)
		if (!sel->tests[i].selected)
			json_array_append_new(a, json_pack("{s:s, s:s, s:n, s:f, s:s}",
				"name", sel->tests[i].t->name, "result", "skipped", "class",
				"duration_s", 0.0, "reason", gate_sel_why_str(sel->tests[i].why)));
	for (size_t i = 0; i < r->v->nf; i++) {
		const struct gate_finding *f = &r->v->f[i];
		char sample[300];
		json_t *j;
		if (!f->counts && f->kind == GF_RISE)
			continue;
		if (f->kind == GF_RISE && f->role == GR_NONE)
			continue;
		j = edge4(f->client, f->server, f->protocol, f->operation);
		json_object_set_new(j, "tests", tests_json(r, f->tests, f->ntests));
		if (f->kind == GF_RISE) {
			gate_sample(f, sample, sizeof(sample));
			json_object_set_new(j, "status", json_string(f->status));
			json_object_set_new(j, "requests", json_integer((json_int_t)f->requests));
			json_object_set_new(j, "errors", json_integer((json_int_t)f->errors));
			json_object_set_new(j, "baseline_errors",
					    json_integer((json_int_t)f->base_errors));
			json_object_set_new(j, "role", json_string(f->role == GR_CAUSE ? "cause"
									     : "symptom"));
			json_object_set_new(j, "change", f->change ? json_string(f->change)
								   : json_null());
			json_object_set_new(j, "inferred", json_boolean(f->inferred));
			json_object_set_new(j, "flaky_only", json_boolean(f->flaky_only));
			json_object_set_new(j, "sample", json_string(sample));
			json_array_append_new(json_object_get(root, "boundaries"), j);
		} else if (f->kind == GF_NEW || f->kind == GF_MISSING) {
			json_object_set_new(j, "requests", json_integer((json_int_t)(
				f->kind == GF_NEW ? f->requests : f->base_requests)));
			json_object_set_new(j, "flaky_only", json_boolean(f->flaky_only));
			json_array_append_new(json_object_get(json_object_get(root, "drift"),
				f->kind == GF_NEW ? "new_edges" : "missing_edges"), j);
		} else {
			json_object_set_new(j, "kind", json_string(gate_fkind_str(f->kind)));
			json_object_set_new(j, "requests", json_integer((json_int_t)f->requests));
			json_object_set_new(j, "baseline_requests",
					    json_integer((json_int_t)f->base_requests));
			if (f->kind == GF_LATENCY) {
				json_object_set_new(j, "p50_ms", gate_json_ms(true, f->p50_ms));
				json_object_set_new(j, "baseline_p50_ms",
						    gate_json_ms(true, f->base_p50_ms));
			}
			json_object_set_new(j, "flaky_only", json_boolean(f->flaky_only));
			json_array_append_new(json_object_get(root, "shifts"), j);
		}
	}
	for (size_t i = 0; i < sel->nedges; i++) {
		const struct sel_edge *e = &sel->edges[i];
		json_array_append_new(json_object_get(root, "predictions"),
				      prediction(r, e->client, e->server, e->protocol, e->operation));
		if (e->touched)
			continue;
		json_t *j = edge4(e->client, e->server, e->protocol, e->operation);
		json_object_set_new(j, "requests", json_integer((json_int_t)e->prod_requests));
		json_object_set_new(j, "share", gate_json_rate(sel->prod_total ?
			(double)e->prod_requests / (double)sel->prod_total : 0));
		json_object_set_new(j, "blind_spot", json_boolean(e->blind_spot));
		json_array_append_new(json_object_get(root, "uncovered"), j);
	}
	for (size_t i = 0; i < r->v->nf; i++) {
		const struct gate_finding *f = &r->v->f[i];
		bool in_sel = false;
		for (size_t k = 0; k < sel->nedges && !in_sel; k++)
			in_sel = !strcmp(sel->edges[k].client, f->client) &&
				 !strcmp(sel->edges[k].server, f->server) &&
				 !strcmp(sel->edges[k].protocol, f->protocol) &&
				 !strcmp(sel->edges[k].operation, f->operation);
		if (in_sel || !f->counts || (f->kind == GF_RISE && f->role == GR_NONE))
			continue;
		/* a new edge, or a rise off the affected set: predicted too, once */
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = !strcmp(r->v->f[k].client, f->client) &&
			      !strcmp(r->v->f[k].server, f->server) &&
			      !strcmp(r->v->f[k].protocol, f->protocol) &&
			      !strcmp(r->v->f[k].operation, f->operation) && r->v->f[k].counts;
		if (!dup)
			json_array_append_new(json_object_get(root, "predictions"),
					      prediction(r, f->client, f->server, f->protocol,
							 f->operation));
	}
	json_object_set_new(root, "selection", json_pack("{s:f, s:f, s:f, s:i, s:i}",
		"budget_s", sel->budget_s, "estimated_s", sel->selected_s, "suite_s",
		sel->suite_s, "selected", (int)nsel, "left_out", (int)(sel->ntests - nsel)));
	return root;
}

/* ---- table ---- */

static void tests_str(const struct gate_report *r, const struct gate_finding *f, char *buf,
		      size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (size_t i = 0; i < f->ntests && o + 1 < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", i ? "," : "",
				 r->res[f->tests[i]].run.t->name);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static const char *role_str(const struct gate_finding *f)
{
	if (f->kind == GF_RISE)
		return f->role == GR_CAUSE ? "cause" : "symptom";
	return gate_fkind_str(f->kind);
}

static bool shown(const struct gate_finding *f)
{
	return f->counts && !(f->kind == GF_RISE && f->role == GR_NONE);
}

int gate_report_table(struct gate_ctx *ctx, const struct gate_report *r)
{
	static const char *const bh[] = { "ROLE", "CLIENT", "SERVER", "PROTO", "OPERATION",
					  "STATUS", "ERRS/REQS", "TESTS" };
	static const char *const th[] = { "TEST", "RESULT", "CLASS", "TIME_S", "WHY" };
	struct gate_table tb, tt;
	int err = 0;

	gate_table_init(&tb, bh, "lllllllr", 8);
	gate_table_init(&tt, th, "lllrl", 5);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < r->v->nf && !err; i++) {
			const struct gate_finding *f = &r->v->f[i];
			char op[256], er[64], tests[256];
			if (!shown(f) || (pass == 0) != (f->kind == GF_RISE && f->role == GR_CAUSE))
				continue;
			gate_cell_op(f->operation, op, sizeof(op));
			if (f->kind == GF_LATENCY)
				snprintf(er, sizeof(er), "p50 %.1f->%.1f ms", f->base_p50_ms, f->p50_ms);
			else if (f->kind == GF_CALLS || f->kind == GF_MISSING || f->kind == GF_NEW)
				snprintf(er, sizeof(er), "%llu (was %llu)",
					 (unsigned long long)f->requests,
					 (unsigned long long)f->base_requests);
			else
				snprintf(er, sizeof(er), "%llu/%llu", (unsigned long long)f->errors,
					 (unsigned long long)f->requests);
			tests_str(r, f, tests, sizeof(tests));
			const char *row[] = { role_str(f), f->client, f->server, f->protocol, op,
					      f->status[0] ? f->status : "-", er, tests };
			err = gate_table_row(&tb, row);
		}
	for (size_t i = 0; i < r->nres && !err; i++) {
		const struct gate_tres *t = &r->res[i];
		char d[32];
		snprintf(d, sizeof(d), "%.3f", t->run.res.duration_s);
		const char *row[] = { t->run.t->name, t->run.pass ? "pass" : "FAIL",
				      gate_class_str(t->cls) ?: "-", d,
				      t->why[0] ? t->why : t->run.message[0] ? t->run.message : "" };
		err = gate_table_row(&tt, row);
	}
	if (!err) {
		printf("gate: %s (%s) — changed", r->v->verdict, r->v->reason);
		for (size_t i = 0; i < r->nchanges; i++)
			printf(" %s", r->change_svc[i]);
		printf("; %zu of %zu tests in %.1f s; gate run %lld\n", r->nres, r->sel->ntests,
		       r->duration_s, (long long)r->gate_run_id);
		if (tb.nrows) {
			printf("\nFINDINGS\n");
			gate_table_print(&tb, stdout);
		}
		printf("\nTESTS\n");
		gate_table_print(&tt, stdout);
		size_t unc = 0;
		for (size_t i = 0; i < r->sel->nedges; i++)
			unc += !r->sel->edges[i].touched;
		printf("\nuncovered affected edges: %zu\n", unc);
	}
	gate_table_release(&tb);
	gate_table_release(&tt);
	return err ? gate_fail(ctx, err, "out of memory") : 0;
}

/* ---- markdown ---- */

/* Find or add the arrow edge (c, s, p, o) in @es. NULL on ENOMEM. */
static struct gate_edge *pic_edge(struct gate_edges *es, const char *c, const char *s,
				  const char *p, const char *o)
{
	for (size_t i = 0; i < es->n; i++)
		if (!strcmp(es->v[i].client, c) && !strcmp(es->v[i].server, s) &&
		    !strcmp(es->v[i].protocol, p) && !strcmp(es->v[i].operation, o))
			return &es->v[i];
	if (es->n == es->cap) {
		size_t cap = es->cap ? 2 * es->cap : 16;
		struct gate_edge *v = realloc(es->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		es->v = v;
		es->cap = cap;
	}
	struct gate_edge *e = &es->v[es->n];
	memset(e, 0, sizeof(*e));
	e->client = c;
	e->server = s;
	e->protocol = strdup(p);
	e->operation = strdup(o);
	if (!e->protocol || !e->operation) {
		free(e->protocol);
		free(e->operation);
		return NULL;
	}
	e->client_kind = e->server_kind = "service";
	es->n++;
	return e;
}

/*
 * The picture of the affected subgraph (docs/gate.md): the change's
 * affected edges with their production requests, the gate's findings with
 * what the tests saw, the broken boundary in red; as an inline image.
 */
static int markdown_picture(struct gate_ctx *ctx, const struct gate_report *r,
			    const struct gate_finding *cause)
{
	struct gate_edges es = { 0 };
	struct gate_render_svc *svcs = NULL;
	struct gate_render_page page = { .title = "affected subgraph" };
	size_t nsvcs = 0;
	int err = -ENOMEM;

	for (size_t i = 0; i < r->sel->nedges; i++) {
		const struct sel_edge *s = &r->sel->edges[i];
		struct gate_edge *e = pic_edge(&es, s->client, s->server, s->protocol, s->operation);
		if (!e)
			goto out;
		e->stats.requests = s->prod_requests;
	}
	for (size_t i = 0; i < r->v->nf; i++) {
		const struct gate_finding *f = &r->v->f[i];
		struct gate_edge *e;
		if (!shown(f))
			continue;
		if (!(e = pic_edge(&es, f->client, f->server, f->protocol, f->operation)))
			goto out;
		e->stats.requests = f->requests;
		e->stats.errors = f->kind == GF_RISE ? f->errors : 0;
	}
	if (!es.n) {
		err = 0;
		goto out;
	}
	gate_edges_sort(&es);
	svcs = calloc(2 * es.n, sizeof(*svcs));
	if (!svcs)
		goto out;
	for (size_t i = 0; i < es.n; i++)
		for (int side = 0; side < 2; side++) {
			const char *n = side ? es.v[i].server : es.v[i].client;
			size_t k = 0;
			while (k < nsvcs && strcmp(svcs[k].name, n))
				k++;
			if (k == nsvcs)
				svcs[nsvcs++] = (struct gate_render_svc){ n, "service" };
		}
	if (cause) {
		page.highlight_client = cause->client;
		page.highlight_server = cause->server;
	}
	err = gate_render_img(ctx, &es, svcs, nsvcs, &page,
			      cause ? "affected subgraph, the broken boundary in red"
				    : "affected subgraph", stdout);
	if (!err)
		printf("\n_affected edges: production requests; findings: what the "
		       "tests saw%s_\n\n", cause ? "; the broken boundary in red" : "");
out:
	for (size_t i = 0; i < es.n; i++) {
		free(es.v[i].protocol);
		free(es.v[i].operation);
	}
	free(es.v);
	free(svcs);
	return err == -ENOMEM ? gate_fail(ctx, err, "out of memory") : err;
}

/* @s for a Markdown table cell or code span: no '|', '`' or newlines. */
static void md(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 1 < len; s++)
		buf[o++] = (*s == '|' || *s == '`' || *s == '\n' || *s == '\r') ? ' ' : *s;
	buf[o] = 0;
}

int gate_report_markdown(struct gate_ctx *ctx, const struct gate_report *r)
{
	const struct gate_verdict *v = r->v;
	const struct gate_finding *cause = NULL;
	char a[300], b[300], c[300], tests[512], sample[300];
	size_t nfail = 0, unc = 0;

	for (size_t i = 0; i < v->nf; i++)
		if (shown(&v->f[i]) && v->f[i].kind == GF_RISE && v->f[i].role == GR_CAUSE &&
		    !cause)
			cause = &v->f[i];
	printf("## faultline gate: **%s**\n\n", !strcmp(v->verdict, "pass") ? "PASS" :
	       !strcmp(v->verdict, "fail") ? "FAIL" : "INCONCLUSIVE");
	printf("Changed:");
	for (size_t i = 0; i < r->nchanges; i++) {
		md(r->change_svc[i], a, sizeof(a));
		printf(" `%s`", a);
	}
	printf(" · %zu of %zu tests in %.1f s · %s · gate run %lld\n\n", r->nres,
	       r->sel->ntests, r->duration_s, v->reason, (long long)r->gate_run_id);
	if (cause) {
		md(cause->client, a, sizeof(a));
		md(cause->server, b, sizeof(b));
		md(cause->operation, c, sizeof(c));
		gate_sample(cause, sample, sizeof(sample));
		md(sample, tests, sizeof(tests));
		printf("**Boundary that broke:** `%s` → `%s` (%s `%s`): status `%s`, "
		       "%llu of %llu requests failed%s — %s\n\n", a, b, cause->protocol, c,
		       cause->status, (unsigned long long)cause->errors,
		       (unsigned long long)cause->requests,
		       cause->inferred ? " (the failure surfaced in the caller)" : "", tests);
	}
	bool head = false;
	for (size_t i = 0; i < v->nf; i++) {
		const struct gate_finding *f = &v->f[i];
		if (!shown(f))
			continue;
		if (!head) {
			printf("| role | client → server | protocol | operation | status | "
			       "errors / requests | tests |\n|---|---|---|---|---|---|---|\n");
			head = true;
		}
		md(f->client, a, sizeof(a));
		md(f->server, b, sizeof(b));
		md(f->operation, c, sizeof(c));
		tests_str(r, f, sample, sizeof(sample));
		md(sample, tests, sizeof(tests));
		if (f->kind == GF_LATENCY)
			snprintf(sample, sizeof(sample), "p50 %.1f → %.1f ms", f->base_p50_ms,
				 f->p50_ms);
		else if (f->kind == GF_RISE)
			snprintf(sample, sizeof(sample), "%llu / %llu (baseline %llu)",
				 (unsigned long long)f->errors, (unsigned long long)f->requests,
				 (unsigned long long)f->base_errors);
		else
			snprintf(sample, sizeof(sample), "%llu (baseline %llu)",
				 (unsigned long long)f->requests,
				 (unsigned long long)f->base_requests);
		printf("| %s | `%s` → `%s` | %s | `%s` | %s | %s | %s |\n", role_str(f), a, b,
		       f->protocol, c, f->status[0] ? f->status : "-", sample, tests);
	}
	if (head)
		printf("\n");
	int perr = markdown_picture(ctx, r, cause);
	if (perr)
		return perr;
	printf("| test | result | class | time |\n|---|---|---|---|\n");
	for (size_t i = 0; i < r->nres; i++) {
		const struct gate_tres *t = &r->res[i];
		nfail += !t->run.pass;
		md(t->run.t->name, a, sizeof(a));
		md(t->why[0] ? t->why : t->run.message, b, sizeof(b));
		printf("| `%s` | %s | %s%s%s | %.2f s |\n", a, t->run.pass ? "pass" : "**fail**",
		       gate_class_str(t->cls) ?: "-", b[0] && !t->run.pass ? ": " : "",
		       t->run.pass ? "" : b, t->run.res.duration_s);
	}
	size_t nskip = r->sel->ntests - r->nres;
	if (nskip) {
		printf("\n<details><summary>%zu test%s skipped</summary>\n\n", nskip,
		       nskip == 1 ? "" : "s");
		for (size_t i = 0; i < r->sel->ntests; i++)
			if (!r->sel->tests[i].selected) {
				md(r->sel->tests[i].t->name, a, sizeof(a));
				printf("- `%s`: %s\n", a, gate_sel_why_str(r->sel->tests[i].why));
			}
		printf("\n</details>\n");
	}
	for (size_t i = 0; i < r->sel->nedges; i++)
		unc += !r->sel->edges[i].touched;
	printf("\n**Uncovered affected edges** (no test touches them): %s\n", unc ? "" : "none");
	for (size_t i = 0; i < r->sel->nedges; i++) {
		const struct sel_edge *e = &r->sel->edges[i];
		if (e->touched)
			continue;
		md(e->client, a, sizeof(a));
		md(e->server, b, sizeof(b));
		md(e->operation, c, sizeof(c));
		printf("- `%s` → `%s` %s `%s`: %llu production requests (%.1f%% of the "
		       "affected traffic)%s\n", a, b, e->protocol, c,
		       (unsigned long long)e->prod_requests,
		       r->sel->prod_total ? 100.0 * e->prod_requests / r->sel->prod_total : 0.0,
		       e->blind_spot ? ", failed in production before" : "");
	}
	(void)nfail;
	(void)ctx;
	return 0;
}

/* ---- JUnit ---- */

int gate_report_junit(struct gate_ctx *ctx, const struct gate_report *r)
{
	xmlTextWriterPtr w;
	xmlBufferPtr buf = xmlBufferCreate();
	size_t nfail = 0, nerr = 0, nskip = 0;
	double total = 0;
	char num[64], msg[1024], sample[300];
	int rc = 0;

	if (!buf || !(w = xmlNewTextWriterMemory(buf, 0))) {
		xmlBufferFree(buf);
		return gate_fail(ctx, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < r->nres; i++) {
		const struct gate_tres *t = &r->res[i];
		total += t->run.res.duration_s;
		nfail += t->cls == GC_APP;
		nerr += t->cls == GC_INFRA;
		nskip += t->cls == GC_FLAKY || t->cls == GC_PRE;
	}
	const struct gate_finding *cause = NULL;
	for (size_t i = 0; i < r->v->nf; i++)
		if (shown(&r->v->f[i]) && r->v->f[i].kind == GF_RISE &&
		    r->v->f[i].role == GR_CAUSE && !cause)
			cause = &r->v->f[i];
	xmlTextWriterSetIndent(w, 1);
	rc |= xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0;
	rc |= xmlTextWriterStartElement(w, BAD_CAST "testsuites") < 0;
	rc |= xmlTextWriterStartElement(w, BAD_CAST "testsuite") < 0;
	snprintf(msg, sizeof(msg), "faultline-gate.%s", r->stack->name);
	rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST msg) < 0;
	snprintf(num, sizeof(num), "%zu", r->nres);
	rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "tests", BAD_CAST num) < 0;
	snprintf(num, sizeof(num), "%zu", nfail);
	rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "failures", BAD_CAST num) < 0;
	snprintf(num, sizeof(num), "%zu", nerr);
	rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "errors", BAD_CAST num) < 0;
	snprintf(num, sizeof(num), "%zu", nskip);
	rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "skipped", BAD_CAST num) < 0;
	snprintf(num, sizeof(num), "%.3f", total);
	rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "time", BAD_CAST num) < 0;
	rc |= xmlTextWriterStartElement(w, BAD_CAST "properties") < 0;
	struct { const char *k, *v; } props[] = {
		{ "verdict", r->v->verdict }, { "reason", r->v->reason } };
	for (size_t i = 0; i < 2; i++) {
		rc |= xmlTextWriterStartElement(w, BAD_CAST "property") < 0;
		rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST props[i].k) < 0;
		rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "value", BAD_CAST props[i].v) < 0;
		rc |= xmlTextWriterEndElement(w) < 0;
	}
	rc |= xmlTextWriterEndElement(w) < 0;
	for (size_t i = 0; i < r->nres; i++) {
		const struct gate_tres *t = &r->res[i];
		rc |= xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0;
		rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "classname",
						  BAD_CAST r->stack->name) < 0;
		rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST t->run.t->name) < 0;
		snprintf(num, sizeof(num), "%.3f", t->run.res.duration_s);
		rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "time", BAD_CAST num) < 0;
		if (!t->run.pass) {
			const char *el = t->cls == GC_APP ? "failure" : t->cls == GC_INFRA ? "error"
												: "skipped";
			if (cause && t->cls == GC_APP) {
				gate_sample(cause, sample, sizeof(sample));
				snprintf(msg, sizeof(msg), "boundary %s -> %s (%s %s): %s; %s",
					 cause->client, cause->server, cause->protocol,
					 cause->operation, sample, t->run.message);
			} else {
				snprintf(msg, sizeof(msg), "%s: %s; %s", gate_class_str(t->cls) ?: "-",
					 t->why, t->run.message);
			}
			rc |= xmlTextWriterStartElement(w, BAD_CAST el) < 0;
			rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "message", BAD_CAST msg) < 0;
			if (t->cls != GC_FLAKY && t->cls != GC_PRE)
				rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "type",
					BAD_CAST gate_class_str(t->cls)) < 0;
			rc |= xmlTextWriterEndElement(w) < 0;
		}
		rc |= xmlTextWriterEndElement(w) < 0;
	}
	rc |= xmlTextWriterEndDocument(w) < 0;
	xmlFreeTextWriter(w);
	if (!rc)
		fwrite(xmlBufferContent(buf), 1, (size_t)xmlBufferLength(buf), stdout);
	xmlBufferFree(buf);
	return rc ? gate_fail(ctx, -EIO, "cannot write JUnit XML") : 0;
}
