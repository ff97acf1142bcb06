// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl select: which tests a change must run, ranked by risk per second
 * of test time and filled greedily into a time budget (docs/gate.md
 * "Select").
 *
 * Affected edges are scope's (gate_scope(): the changed services' own
 * edges and the edges of every caller that reaches them), plus the
 * learned footprint edges that touch a changed service (a service the
 * store has not seen yet still has its tests). A test is a candidate when
 * its footprint touches an edge of a changed service: only requests that
 * reach the change can see it. Risk counts coverage units, (edge, status)
 * pairs of the test's footprint, each worth the edge's weight the first
 * time a chosen test covers it and less after, so the budget goes to
 * tests that add evidence, not to ten tests of the same request.
 */
#include "gating/gating.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEL_GAIN_SECOND 0.35	/* worth of an own unit covered once already */
#define SEL_GAIN_PER_FAULT 0.25	/* per fault caught in the latest deep run, 4 at most */
#define SEL_UPSTREAM 0.5	/* worth of an upstream edge, divided by its distance */
#define SEL_MIN_EST_S 0.05	/* duration floor in risk per second */

const char *gate_sel_why_str(enum sel_why w)
{
	static const char *const s[] = {
		"risk", "must-run tag", "never learned", "over budget",
		"edges already covered by selected tests",
		"touches no edge of a changed service",
		"named by --tests", "not named by --tests",
	};
	return s[w];
}

static struct sel_edge *sel_find(const struct selection *sel, const char *c,
				 const char *s, const char *p, const char *o)
{
	for (size_t i = 0; i < sel->nedges; i++) {
		struct sel_edge *e = &sel->edges[i];
		if (!strcmp(e->server, s) && !strcmp(e->client, c) &&
		    !strcmp(e->operation, o) && !strcmp(e->protocol, p))
			return e;
	}
	return NULL;
}

static int sel_add(struct selection *sel, const char *c, const char *s, const char *p,
		   const char *o, int reason, int dist)
{
	struct sel_edge *e = sel_find(sel, c, s, p, o), *v;

	if (e)
		return 0;
	v = realloc(sel->edges, (sel->nedges + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	sel->edges = v;
	e = &v[sel->nedges];
	memset(e, 0, sizeof(*e));
	e->reason = reason;
	e->dist = dist;
	e->risk_factor = 1;
	if (!(e->client = strdup(c)) || !(e->server = strdup(s)) ||
	    !(e->protocol = strdup(p)) || !(e->operation = strdup(o))) {
		free(e->client);
		free(e->server);
		free(e->protocol);
		return -ENOMEM;
	}
	sel->nedges++;
	return 0;
}

static bool is_changed(const struct selection *sel, const char *name)
{
	for (size_t i = 0; i < sel->nchanged; i++)
		if (!strcmp(sel->changed[i], name))
			return true;
	return false;
}

/* scope over the store, for the changed services it knows */
static int affected_scope(struct gate_ctx *ctx, struct selection *sel)
{
	const char **known = calloc(sel->nchanged + 1, sizeof(*known));
	struct gate_scope_out so = { 0 };
	size_t nk = 0;
	int err = 0;

	if (!known)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	for (size_t i = 0; i < sel->nchanged; i++) {
		struct gate_service svc;
		err = gate_service_find(ctx, sel->changed[i], &svc);
		if (err == -ENOENT) {
			err = 0;	/* not observed yet: footprints only */
			continue;
		}
		if (err)
			goto out;
		known[nk++] = sel->changed[i];
	}
	if (nk && (err = gate_scope(ctx, known, nk, gate_range_make(INT64_MIN, INT64_MAX),
				    &so)))
		goto out;
	for (size_t i = 0; i < so.edges.n && !err; i++) {
		const struct gate_edge *e = &so.edges.v[i];
		err = sel_add(sel, e->client, e->server, e->protocol, e->operation, e->tag,
			      so.dist[i]);
	}
	if (err == -ENOMEM)
		gate_fail(ctx, err, "out of memory");
out:
	gate_scope_out_release(&so);
	free(known);
	ctx->err[0] = err ? ctx->err[0] : 0;
	return err;
}

/* Production requests, edge_risk weight and blind spots of every affected edge. */
static int affected_weights(struct gate_ctx *ctx, struct selection *sel,
			    const struct learned *l)
{
	static const char prod_sql[] =
		"SELECT coalesce(sum(w.requests), 0) FROM edges e JOIN services c ON "
		"c.id = e.client_id JOIN services s ON s.id = e.server_id JOIN "
		"edge_windows w ON w.edge_id = e.id WHERE c.name = ?1 AND s.name = ?2 "
		"AND e.protocol = ?3 AND e.operation = ?4 AND w.source = 'ebpf'";
	sqlite3_stmt *prod = NULL, *risk = NULL, *blind = NULL;
	int err = 0;

	if (sqlite3_prepare_v2(ctx->db, prod_sql, -1, &prod, NULL) != SQLITE_OK)
		return gate_fail(ctx, -EIO, "cannot read windows: %s", sqlite3_errmsg(ctx->db));
	if (gate_has_table(ctx, "edge_risk") > 0)
		sqlite3_prepare_v2(ctx->db, "SELECT weight FROM edge_risk WHERE client = ?1 "
				   "AND server = ?2 AND protocol = ?3 AND operation = ?4",
				   -1, &risk, NULL);
	if (gate_has_table(ctx, "blind_spots") > 0)
		sqlite3_prepare_v2(ctx->db, "SELECT 1 FROM blind_spots WHERE client = ?1 "
				   "AND server = ?2 AND protocol = ?3 AND operation = ?4 "
				   "AND covered_ns IS NULL", -1, &blind, NULL);
	sqlite3_stmt *sts[] = { prod, risk, blind };
	for (size_t i = 0; i < sel->nedges; i++) {
		struct sel_edge *e = &sel->edges[i];
		for (int k = 0; k < 3; k++) {
			if (!sts[k])
				continue;
			sqlite3_reset(sts[k]);
			sqlite3_bind_text(sts[k], 1, e->client, -1, SQLITE_STATIC);
			sqlite3_bind_text(sts[k], 2, e->server, -1, SQLITE_STATIC);
			sqlite3_bind_text(sts[k], 3, e->protocol, -1, SQLITE_STATIC);
			sqlite3_bind_text(sts[k], 4, e->operation, -1, SQLITE_STATIC);
			if (sqlite3_step(sts[k]) != SQLITE_ROW)
				continue;
			if (k == 0)
				e->prod_requests = (uint64_t)sqlite3_column_int64(prod, 0);
			else if (k == 1)
				e->risk_factor = sqlite3_column_double(risk, 0);
			else
				e->blind_spot = true;
		}
		if (!(e->risk_factor > 0))
			e->risk_factor = 1;
		sel->prod_total += e->prod_requests;
		e->touched = fp_find(&l->all, e->client, e->server, e->protocol, e->operation);
		e->weight = (1 + log10(1 + (double)e->prod_requests)) * e->risk_factor *
			    (e->blind_spot ? 2 : 1) *
			    (e->reason == GATE_SCOPE_UPSTREAM ?
			     SEL_UPSTREAM / (e->dist > 1 ? e->dist : 1) : 1);
	}
	for (int k = 0; k < 3; k++)
		sqlite3_finalize(sts[k]);
	return err;
}

static int affected_edges(struct gate_ctx *ctx, struct selection *sel,
			  const struct learned *l)
{
	int err = affected_scope(ctx, sel);

	/* footprint edges of a changed service the store's graph may lack */
	for (size_t i = 0; !err && i < l->all.n; i++) {
		const struct fp_edge *e = &l->all.v[i];
		bool c = is_changed(sel, e->client), s = is_changed(sel, e->server);
		if (c || s)
			err = sel_add(sel, e->client, e->server, e->protocol, e->operation,
				      c ? GATE_SCOPE_OUTBOUND : GATE_SCOPE_INBOUND, 0);
	}
	if (err == -ENOMEM)
		return gate_fail(ctx, err, "out of memory");
	return err ? err : affected_weights(ctx, sel, l);
}

/* The units (edge, status) of @t's learned footprint, as flat indexes. */
static double test_gain(const struct selection *sel, const struct sel_test *st,
			const int *cov, size_t stride)
{
	double gain = 0;

	for (size_t k = 0; k < st->nedges; k++) {
		const struct sel_edge *e = &sel->edges[st->edges[k]];
		const struct fp_edge *fe = fp_find(&st->lt->base, e->client, e->server,
						   e->protocol, e->operation);
		for (size_t s = 0; fe && s < fe->nst && s < stride; s++) {
			int c = cov[st->edges[k] * stride + s];
			double w = e->weight *
				   (fp_status_bad(fe->protocol, fe->st[s].status, fe->st[s].err) ?
				    1.5 : 1);
			if (e->reason == GATE_SCOPE_UPSTREAM)
				gain += c ? 0 : w;
			else
				gain += c == 0 ? w : c == 1 ? SEL_GAIN_SECOND * w : 0;
		}
	}
	if (learned_flaky(st->lt))
		gain *= 0.5 + 0.5 * st->lt->passes / st->lt->runs;
	/* effectiveness: a test that caught real boundary faults ranks higher */
	gain *= 1 + SEL_GAIN_PER_FAULT * (st->faults_caught < 4 ? st->faults_caught : 4);
	gain *= 1 + 0.5 * (st->lt->app_failures < 4 ? st->lt->app_failures : 4);
	return gain;
}

static void test_cover(const struct selection *sel, const struct sel_test *st, int *cov,
		       size_t stride)
{
	for (size_t k = 0; st->lt && k < st->nedges; k++) {
		const struct sel_edge *e = &sel->edges[st->edges[k]];
		const struct fp_edge *fe = fp_find(&st->lt->base, e->client, e->server,
						   e->protocol, e->operation);
		for (size_t s = 0; fe && s < fe->nst && s < stride; s++)
			cov[st->edges[k] * stride + s]++;
		sel->edges[st->edges[k]].covered++;
	}
}

static int tests_prepare(struct selection *sel, const struct fl_stack *stack,
			 struct learned *l)
{
	sel->tests = calloc(stack->ntests + 1, sizeof(*sel->tests));
	if (!sel->tests)
		return -ENOMEM;
	sel->ntests = stack->ntests;
	for (size_t i = 0; i < stack->ntests; i++) {
		struct sel_test *st = &sel->tests[i];
		st->t = &stack->tests[i];
		st->lt = learned_find(l, st->t->name);
		if (st->lt && !st->lt->runs)
			st->lt = NULL;
		st->est_s = st->lt ? st->lt->mean_s : 0;
		sel->suite_s += st->est_s;
		st->why = SEL_OUT_UNAFFECTED;
		if (!(st->edges = calloc(sel->nedges + 1, sizeof(*st->edges))))
			return -ENOMEM;
		bool own = false;
		for (size_t k = 0; st->lt && k < sel->nedges; k++) {
			const struct sel_edge *e = &sel->edges[k];
			if (!fp_find(&st->lt->base, e->client, e->server, e->protocol,
				     e->operation))
				continue;
			st->edges[st->nedges++] = k;
			own |= e->reason != GATE_SCOPE_UPSTREAM;
		}
		if (!own)
			st->nedges = 0;	/* not a candidate */
		for (size_t k = 0; k < stack->nmust_run; k++)
			if (fl_stack_has_tag(st->t, stack->must_run[k]))
				st->why = SEL_MUST_RUN;
		if (!st->lt)
			st->why = SEL_NEVER_LEARNED;
	}
	return 0;
}

static int tests_choose(struct selection *sel)
{
	size_t stride = 1;
	int rank = 0, *cov;

	for (size_t i = 0; i < sel->ntests; i++)
		for (size_t k = 0; sel->tests[i].lt && k < sel->tests[i].nedges; k++) {
			const struct sel_edge *e = &sel->edges[sel->tests[i].edges[k]];
			const struct fp_edge *fe = fp_find(&sel->tests[i].lt->base, e->client,
							   e->server, e->protocol, e->operation);
			if (fe && fe->nst > stride)
				stride = fe->nst;
		}
	cov = calloc(sel->nedges * stride + 1, sizeof(*cov));
	if (!cov)
		return -ENOMEM;
	/* always run: must-run tags and tests without a footprint */
	for (size_t i = 0; i < sel->ntests; i++) {
		struct sel_test *st = &sel->tests[i];
		if (st->why != SEL_MUST_RUN && st->why != SEL_NEVER_LEARNED)
			continue;
		st->selected = true;
		st->rank = ++rank;
		if (st->lt && st->nedges) {
			st->risk = test_gain(sel, st, cov, stride);
			st->risk_per_s = st->risk / fmax(st->est_s, SEL_MIN_EST_S);
		}
		test_cover(sel, st, cov, stride);
		sel->selected_s += st->est_s;
	}
	for (;;) {
		struct sel_test *best = NULL;
		double best_rps = 0, best_gain = 0;
		for (size_t i = 0; i < sel->ntests; i++) {
			struct sel_test *st = &sel->tests[i];
			if (st->selected || !st->nedges)
				continue;
			double g = test_gain(sel, st, cov, stride);
			if (g <= 0) {
				st->why = SEL_OUT_COVERED;
				continue;
			}
			if (sel->selected_s + st->est_s > sel->budget_s) {
				st->why = SEL_OUT_BUDGET;
				continue;
			}
			double rps = g / fmax(st->est_s, SEL_MIN_EST_S);
			if (!best || rps > best_rps) {
				best = st;
				best_rps = rps;
				best_gain = g;
			}
		}
		if (!best)
			break;
		best->selected = true;
		best->why = SEL_RISK;
		best->rank = ++rank;
		best->risk = best_gain;
		best->risk_per_s = best_rps;
		sel->selected_s += best->est_s;
		test_cover(sel, best, cov, stride);
	}
	free(cov);
	return 0;
}

/*
 * What the latest deep run of the stack that faulted an affected edge's
 * client → server says about it: the tests that detected a fault there,
 * and per test how many such faults (effectiveness, docs/deep.md).
 * A store without deep runs (schema < 7, or none yet) changes nothing.
 */
static int deep_feedback(struct gate_ctx *ctx, struct selection *sel,
			 const struct fl_stack *stack)
{
	static const char sql[] =
		"SELECT test, count(*) FROM fault_detections WHERE deep_run_id ="
		" (SELECT max(r.deep_run_id) FROM fault_results r JOIN deep_runs d"
		"  ON d.id = r.deep_run_id WHERE d.stack = ?1 AND r.client = ?2 AND r.server = ?3)"
		" AND client = ?2 AND server = ?3 GROUP BY test ORDER BY test";
	sqlite3_stmt *st = NULL;

	if (gate_has_table(ctx, "fault_detections") <= 0)
		return 0;
	if (sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL) != SQLITE_OK)
		return gate_fail(ctx, -EIO, "cannot read deep runs: %s", sqlite3_errmsg(ctx->db));
	for (size_t i = 0; i < sel->nedges; i++) {
		struct sel_edge *e = &sel->edges[i];
		bool seen = false;

		/* several operations of one client → server share the answer */
		for (size_t k = 0; k < i && !seen; k++)
			seen = !strcmp(sel->edges[k].client, e->client) &&
			       !strcmp(sel->edges[k].server, e->server);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, stack->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, e->client, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e->server, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(st, 0);

			if (!e->caught_by && !(e->caught_by = json_array()))
				break;
			json_array_append_new(e->caught_by, json_string(name));
			for (size_t t = 0; !seen && t < sel->ntests; t++)
				if (!strcmp(sel->tests[t].t->name, name))
					sel->tests[t].faults_caught += (unsigned)sqlite3_column_int(st, 1);
		}
	}
	sqlite3_finalize(st);
	return 0;
}

int gate_select(struct gate_ctx *ctx, const struct fl_stack *stack,
		struct learned *l, const char *const *changed, size_t nchanged,
		double budget_s, struct selection *sel)
{
	int err;

	sel->budget_s = budget_s;
	sel->changed = calloc(nchanged + 1, sizeof(*sel->changed));
	if (!sel->changed)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	for (size_t i = 0; i < nchanged; i++)
		if (!is_changed(sel, changed[i]))
			sel->changed[sel->nchanged++] = changed[i];
	if ((err = affected_edges(ctx, sel, l)))
		return err;
	if ((err = tests_prepare(sel, stack, l)))
		return gate_fail(ctx, -ENOMEM, "out of memory");
	if ((err = deep_feedback(ctx, sel, stack)))
		return err;
	if ((err = tests_choose(sel)))
		return gate_fail(ctx, -ENOMEM, "out of memory");
	return 0;
}

int gate_select_force(struct gate_ctx *ctx, struct selection *sel, const char *names)
{
	char *copy = strdup(names), *save = NULL;
	int rank = 0, err = 0;

	if (!copy)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	sel->selected_s = 0;
	for (size_t i = 0; i < sel->ntests; i++) {
		sel->tests[i].selected = false;
		sel->tests[i].rank = 0;
		sel->tests[i].why = SEL_OUT_FORCED;
	}
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		size_t i = 0;
		while (i < sel->ntests && strcmp(sel->tests[i].t->name, w))
			i++;
		if (i == sel->ntests) {
			err = gate_fail(ctx, -EINVAL, "unknown test '%s' in '--tests'", w);
			break;
		}
		if (sel->tests[i].selected)
			continue;
		sel->tests[i].selected = true;
		sel->tests[i].why = SEL_FORCED;
		sel->tests[i].rank = ++rank;
		sel->selected_s += sel->tests[i].est_s;
	}
	free(copy);
	return err;
}

void gate_selection_release(struct selection *sel)
{
	for (size_t i = 0; i < sel->nedges; i++) {
		free(sel->edges[i].client);
		free(sel->edges[i].server);
		free(sel->edges[i].protocol);
		free(sel->edges[i].operation);
		json_decref(sel->edges[i].caught_by);
	}
	free(sel->edges);
	for (size_t i = 0; i < sel->ntests; i++)
		free(sel->tests[i].edges);
	free(sel->tests);
	free(sel->changed);
	for (size_t i = 0; i < sel->nunmapped; i++)
		free(sel->unmapped[i]);
	free(sel->unmapped);
	memset(sel, 0, sizeof(*sel));
}

/* ---- --diff ---- */

/* Lines of `git ARGS` run in @dir. OUT: *@lines (NULL-terminated). */
static int git_lines(struct gate_ctx *ctx, const char *dir, char *const *args,
		     char ***lines, size_t *n)
{
	int pfd[2], st;
	pid_t pid;
	FILE *f;
	char buf[4096];

	*lines = NULL;
	*n = 0;
	if (pipe2(pfd, O_CLOEXEC))
		return gate_fail(ctx, -errno, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return gate_fail(ctx, -errno, "fork: %s", strerror(errno));
	if (!pid) {
		dup2(pfd[1], 1);
		if (chdir(dir))
			_exit(127);
		execvp("git", args);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	while (f && fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = 0;
		char **v = realloc(*lines, (*n + 2) * sizeof(*v));
		if (!v || !(v[*n] = strdup(buf))) {
			if (v)
				*lines = v;
			break;
		}
		*lines = v;
		v[++*n] = NULL;
	}
	if (f)
		fclose(f);
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return gate_fail(ctx, -EINVAL, "'git %s %s' failed in '%s' (exit %d)",
				 args[1], args[2] ? args[2] : "", dir,
				 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

int gate_diff_services(struct gate_ctx *ctx, const struct fl_stack *stack,
		       const char *base, const char **names, size_t *n,
		       struct selection *sel)
{
	char range[600], **top = NULL, **files = NULL;
	size_t ntop, nfiles;
	int err;

	*n = 0;
	snprintf(range, sizeof(range), "%s...HEAD", base);
	char *a_top[] = { "git", "rev-parse", "--show-toplevel", NULL };
	char *a_diff[] = { "git", "diff", "--name-only", range, "--", NULL };
	if ((err = git_lines(ctx, stack->dir, a_top, &top, &ntop)) ||
	    (err = git_lines(ctx, stack->dir, a_diff, &files, &nfiles)))
		goto out;
	if (!ntop) {
		err = gate_fail(ctx, -EINVAL, "no git work tree at '%s'", stack->dir);
		goto out;
	}
	for (size_t i = 0; i < nfiles; i++) {
		char abs[8192];
		bool hit = false;
		snprintf(abs, sizeof(abs), "%s/%s", top[0], files[i]);
		for (size_t s = 0; s < stack->nsvcs; s++) {
			const struct fl_stack_service *sv = &stack->svcs[s];
			for (size_t g = 0; g < sv->npaths; g++) {
				if (fnmatch(sv->paths[g], abs, 0))
					continue;
				hit = true;
				size_t k = 0;
				while (k < *n && strcmp(names[k], sv->name))
					k++;
				if (k == *n)
					names[(*n)++] = sv->name;
				break;
			}
		}
		if (!hit) {
			char **v = realloc(sel->unmapped, (sel->nunmapped + 1) * sizeof(*v));
			if (!v) {
				err = gate_fail(ctx, -ENOMEM, "out of memory");
				goto out;
			}
			sel->unmapped = v;
			v[sel->nunmapped++] = files[i];
			files[i] = strdup("");	/* moved */
		}
	}
out:
	for (size_t i = 0; top && top[i]; i++)
		free(top[i]);
	free(top);
	for (size_t i = 0; files && files[i]; i++)
		free(files[i]);
	free(files);
	return err;
}

/* ---- output ---- */

static json_t *edge_json(const struct sel_edge *e)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "client", e->client, "server", e->server,
			 "protocol", e->protocol, "operation", e->operation);
}

static const char *reason_str(int r)
{
	return r == GATE_SCOPE_OUTBOUND ? "outbound" : r == GATE_SCOPE_INBOUND ? "inbound"
									       : "upstream";
}

static double share(const struct selection *sel, const struct sel_edge *e)
{
	return sel->prod_total ? (double)e->prod_requests / (double)sel->prod_total : 0;
}

json_t *gate_json_selection(const struct selection *sel)
{
	json_t *root = json_pack("{s:[], s:f, s:f, s:f, s:[], s:[], s:[], s:[], s:[]}",
				 "changed", "budget_s", sel->budget_s, "estimated_s",
				 sel->selected_s, "suite_s", sel->suite_s, "selected",
				 "left_out", "affected", "uncovered", "unmapped_files");
	if (!root)
		return NULL;
	for (size_t i = 0; i < sel->nchanged; i++)
		json_array_append_new(json_object_get(root, "changed"),
				      json_string(sel->changed[i]));
	/* selected in rank order */
	for (int r = 1; r <= (int)sel->ntests; r++)
		for (size_t i = 0; i < sel->ntests; i++) {
			const struct sel_test *st = &sel->tests[i];
			if (st->rank != r)
				continue;
			json_t *edges = json_array();
			for (size_t k = 0; k < st->nedges; k++)
				json_array_append_new(edges, edge_json(&sel->edges[st->edges[k]]));
			json_t *o = json_pack(
				"{s:s, s:i, s:s, s:f, s:o, s:o, s:o}", "name", st->t->name,
				"rank", st->rank, "reason", gate_sel_why_str(st->why),
				"estimated_s", st->est_s, "risk", gate_json_rate(st->risk),
				"risk_per_s", gate_json_rate(st->risk_per_s), "edges", edges);
			if (o && st->faults_caught)
				json_object_set_new(o, "faults_caught", json_integer(st->faults_caught));
			json_array_append_new(json_object_get(root, "selected"), o);
		}
	for (size_t i = 0; i < sel->ntests; i++)
		if (!sel->tests[i].selected)
			json_array_append_new(json_object_get(root, "left_out"), json_pack(
				"{s:s, s:s, s:f}", "name", sel->tests[i].t->name, "reason",
				gate_sel_why_str(sel->tests[i].why), "estimated_s",
				sel->tests[i].est_s));
	for (size_t i = 0; i < sel->nedges; i++) {
		const struct sel_edge *e = &sel->edges[i];
		json_t *j = edge_json(e);
		json_object_set_new(j, "reason", json_string(reason_str(e->reason)));
		json_object_set_new(j, "distance", json_integer(e->dist));
		json_object_set_new(j, "requests", json_integer((json_int_t)e->prod_requests));
		json_object_set_new(j, "share", gate_json_rate(share(sel, e)));
		json_object_set_new(j, "selected_tests", json_integer(e->covered));
		json_object_set_new(j, "touched", json_boolean(e->touched));
		if (e->caught_by)	/* deep: its faults are caught by these tests */
			json_object_set(j, "faults_caught_by", e->caught_by);
		json_array_append(json_object_get(root, "affected"), j);
		if (!e->touched) {
			json_object_del(j, "selected_tests");
			json_object_del(j, "touched");
			json_object_del(j, "distance");
			json_object_set_new(j, "blind_spot", json_boolean(e->blind_spot));
			json_array_append(json_object_get(root, "uncovered"), json_deep_copy(j) ?: j);
		}
		json_decref(j);
	}
	for (size_t i = 0; i < sel->nunmapped; i++)
		json_array_append_new(json_object_get(root, "unmapped_files"),
				      json_string(sel->unmapped[i]));
	return root;
}

