// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl deep: one fault at a time on every edge the stack's tests cross,
 * in the warm sandbox; which tests notice, where the failure spreads, what
 * absorbs it (docs/deep.md). Results are stored for select's ranking.
 */
#include "cmd/cmd.h"
#include "output/output.h"
#include "query/open.h"
#include "query/time.h"
#include "sandbox/deep.h"
#include "sandbox/fault.h"
#include "sandbox/sandbox.h"
#include "stack.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEEP_DEFAULT_FAULTS "refuse,reset,blackhole,latency:100ms,latency:1s,bandwidth:64kbit"
#define DEEP_DEFAULT_BUDGET_NS (30LL * 60 * GATE_NS_PER_S)
#define DEEP_RELAY_NAME "gatectl"	/* how the agent names the fault relay */

struct deep_edge {
	const char *client, *server;	/* borrowed from the stack */
	size_t client_svc;		/* index in stack->svcs */
	int port;
	double prod_requests;		/* production traffic, for the order */
};

struct deep_fault_result {
	size_t edge;
	struct fl_fault fault;
	int64_t test_run;
	json_t *tests_run, *detected_by;	/* arrays of names; owned */
	struct deep_effect eff;
	struct deep_ops after;
	const char *outcome;		/* detected|cascaded|absorbed */
	const char *evidence;		/* why absorbed is read as it is */
};

struct deep {
	struct gate_ctx *ctx;
	const char *stack_path, *edges_filter, *faults_arg, *name, *state_dir;
	int64_t budget_ns;
	struct fl_stack stack;
	struct sandbox sb;
	bool sb_open;
	sqlite3 *db;		/* ctx->db, borrowed */
	struct deep_base base;
	struct fl_fault *faults;
	size_t nfaults;
	struct deep_edge *edges;
	size_t nedges;
	struct deep_fault_result *res;
	size_t nres;
	json_t *not_reached;
	int64_t started_ns;
	bool interrupted;
};

static void deep_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl deep --stack FILE [--edges FILTER] [--faults LIST] [--budget DUR]\n"
		"                    [--name NAME] [--state-dir DIR] [-o table|json|markdown]\n"
		"\n"
		"Inject one network fault at a time on each edge the stack's tests cross\n"
		"(client service -> server service), in the warm sandbox, and run the\n"
		"tests whose learned footprints include that edge: which tests detect\n"
		"the fault, which edges it cascades to, what absorbs it. Needs learned\n"
		"footprints ('gatectl learn --stack FILE' first).\n"
		"\n"
		"  --edges FILTER   'CLIENT->SERVER,...', globs allowed (default: every edge)\n"
		"  --faults LIST    default " DEEP_DEFAULT_FAULTS "\n"
		"  --budget DUR     stop starting faults after DUR (default 30m); what was\n"
		"                   not reached is listed\n"
		"\n"
		"exit status: 0 every (edge, fault) reached, 3 budget or signal left some\n"
		"unreached, 2 usage, input or sandbox error\n"
		"\n"
		"examples:\n"
		"  gatectl deep --stack tools/estate/shop.json --budget 20m -o markdown\n"
		"  gatectl deep --stack shop.json --edges 'cart->cart-redis' --faults refuse,latency:1s\n");
}

static int faults_parse(struct deep *d)
{
	char *list = strdup(d->faults_arg), *save = NULL;
	int err = 0;

	if (!list)
		return gate_fail(d->ctx, -ENOMEM, "out of memory");
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct fl_fault *v = realloc(d->faults, (d->nfaults + 1) * sizeof(*v));

		if (!v) {
			err = gate_fail(d->ctx, -ENOMEM, "out of memory");
			break;
		}
		d->faults = v;
		if ((err = fl_fault_parse(t, &d->faults[d->nfaults], d->ctx->err, sizeof(d->ctx->err))))
			break;
		d->nfaults++;
	}
	free(list);
	if (!err && !d->nfaults)
		err = gate_fail(d->ctx, -EINVAL, "'--faults' names no fault");
	return err;
}

/* Whether "client->server" matches --edges (globs, comma-separated). */
static bool edge_selected(const char *filter, const char *client, const char *server)
{
	char name[2 * FL_STACK_NAME_MAX + 4], pat[512];
	const char *p = filter;

	if (!filter)
		return true;
	snprintf(name, sizeof(name), "%s->%s", client, server);
	while (*p) {
		size_t n = strcspn(p, ",");

		snprintf(pat, sizeof(pat), "%.*s", (int)n, p);
		if (*pat && !fnmatch(pat, name, 0))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* Production requests on client → server in the store (not the sandbox's). */
static double prod_requests(sqlite3 *db, const char *client, const char *server)
{
	static const char sql[] =
		"SELECT coalesce(sum(w.requests), 0) FROM edge_windows w"
		" JOIN edges e ON e.id = w.edge_id"
		" JOIN services c ON c.id = e.client_id JOIN services s ON s.id = e.server_id"
		" WHERE w.source <> 'test' AND c.name = ?1 AND s.name = ?2";
	sqlite3_stmt *st;
	double n = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, server, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int edge_cmp(const void *a, const void *b)
{
	const struct deep_edge *x = a, *y = b;
	int c;

	if (x->prod_requests != y->prod_requests)
		return x->prod_requests > y->prod_requests ? -1 : 1;
	c = strcmp(x->client, y->client);
	return c ? c : strcmp(x->server, y->server);
}

static void not_reached(struct deep *d, const char *client, const char *server,
			const char *fault, const char *reason)
{
	json_t *o = json_pack("{s:s, s:s, s:s?, s:s}", "client", client, "server", server,
			      "fault", fault, "reason", reason);

	if (o)
		json_array_append_new(d->not_reached, o);
}

/* The service→service edges the learned footprints cross, in fault order. */
static int edges_build(struct deep *d)
{
	for (size_t t = 0; t < d->base.ntests; t++) {
		const struct deep_ops *ops = &d->base.tests[t].ops;

		for (size_t i = 0; i < ops->n; i++) {
			const struct deep_op *o = &ops->v[i];
			struct fl_stack_service *c = fl_stack_service(&d->stack, o->client);
			struct fl_stack_service *s = fl_stack_service(&d->stack, o->server);
			size_t k;

			for (k = 0; k < d->nedges; k++)
				if (!strcmp(d->edges[k].client, o->client) &&
				    !strcmp(d->edges[k].server, o->server))
					break;
			if (k < d->nedges || !edge_selected(d->edges_filter, o->client, o->server))
				continue;
			if (!c || !s) {
				bool seen = false;
				size_t j;

				for (j = 0; j < json_array_size(d->not_reached); j++) {
					json_t *x = json_array_get(d->not_reached, j);

					seen |= !strcmp(json_string_value(json_object_get(x, "client")), o->client) &&
						!strcmp(json_string_value(json_object_get(x, "server")), o->server);
				}
				if (!seen)
					not_reached(d, o->client, o->server, NULL,
						    !c ? "client is not a service of the stack (the test runner or outside)"
						       : "server is not a service of the stack");
				continue;
			}
			struct deep_edge *v = realloc(d->edges, (d->nedges + 1) * sizeof(*v));

			if (!v)
				return gate_fail(d->ctx, -ENOMEM, "out of memory");
			d->edges = v;
			d->edges[d->nedges++] = (struct deep_edge){
				.client = c->name, .server = s->name,
				.client_svc = (size_t)(c - d->stack.svcs), .port = s->port,
				.prod_requests = prod_requests(d->db, c->name, s->name),
			};
		}
	}
	qsort(d->edges, d->nedges, sizeof(d->edges[0]), edge_cmp);
	if (!d->nedges)
		return gate_fail(d->ctx, -EINVAL, "no edge between services of '%s' in the learned footprints%s",
				 d->stack.name, d->edges_filter ? " matches '--edges'" : "");
	return 0;
}

/* ---- store ---- */

static int64_t run_begin(struct deep *d)
{
	sqlite3_stmt *st;
	int64_t id = -1;

	if (sqlite3_prepare_v2(d->db, "INSERT INTO test_runs (kind, stack, sandbox, started_ns)"
				      " VALUES ('deep', ?1, ?2, ?3)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, d->stack.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->sb.name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, gate_now_ns());
	if (sqlite3_step(st) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(d->db);
	sqlite3_finalize(st);
	return id;
}

static void run_end(struct deep *d, int64_t run)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(d->db, "UPDATE test_runs SET ended_ns = ?2 WHERE id = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int64(st, 2, gate_now_ns());
	sqlite3_step(st);
	sqlite3_finalize(st);
}

static void result_put(struct deep *d, int64_t run, const char *test,
		       const struct sb_result *r)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(d->db, "INSERT OR REPLACE INTO test_results"
				      " (run_id, test, result, duration_ns, exit_code, message)"
				      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_text(st, 2, test, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->exit_code == 0 && !r->timed_out ? "pass" : "fail", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)(r->duration_s * 1e9));
	sqlite3_bind_int(st, 5, r->exit_code);
	sqlite3_bind_text(st, 6, r->timed_out ? "timed out" : NULL, -1, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

/* The footprints the agent wrote for test run @run, summed over its tests. */
static int run_ops(struct deep *d, int64_t run, struct deep_ops *ops)
{
	sqlite3_stmt *st;
	int rc, err = 0;

	if (sqlite3_prepare_v2(d->db, "SELECT client, server, protocol, operation, requests,"
				      " errors, latency_hist FROM footprints WHERE run_id = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return gate_fail(d->ctx, -EIO, "cannot read footprints: %s", sqlite3_errmsg(d->db));
	sqlite3_bind_int64(st, 1, run);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW)
		err = deep_ops_add(ops, (const char *)sqlite3_column_text(st, 0),
				   (const char *)sqlite3_column_text(st, 1),
				   (const char *)sqlite3_column_text(st, 2),
				   (const char *)sqlite3_column_text(st, 3),
				   sqlite3_column_double(st, 4), sqlite3_column_double(st, 5),
				   sqlite3_column_blob(st, 6), (size_t)sqlite3_column_bytes(st, 6));
	sqlite3_finalize(st);
	return err ? gate_fail(d->ctx, err, "out of memory") : 0;
}

/* ---- one fault ---- */

/* The learned footprint of the tests in @names, summed. */
static int base_sum(struct deep *d, json_t *names, struct deep_ops *sum)
{
	size_t i;
	json_t *n;

	json_array_foreach(names, i, n) {
		struct deep_test *t = deep_test_find(&d->base, json_string_value(n));

		for (size_t k = 0; t && k < t->ops.n; k++) {
			const struct deep_op *o = &t->ops.v[k];
			uint8_t *blob = NULL;
			size_t len = 0;
			int err;

			if (o->hist.count && fl_hist_encode(&o->hist, &blob, &len))
				return -ENOMEM;
			err = deep_ops_add(sum, o->client, o->server, o->protocol, o->operation,
					   o->requests, o->errors, blob, len);
			free(blob);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Run the tests of @tests under the fault as test run @r->test_run. */
static int fault_tests(struct deep *d, struct deep_fault_result *r, json_t *tests)
{
	char line[256], reply[256], log[4096];
	size_t i;
	json_t *n;
	int err;

	json_array_foreach(tests, i, n) {
		const char *name = json_string_value(n);
		struct fl_stack_test *t = fl_stack_test(&d->stack, name);
		struct sb_result res;

		snprintf(line, sizeof(line), "begin %" PRId64 " %s", r->test_run, name);
		if ((err = sb_control(&d->sb, line, reply, sizeof(reply))))
			return gate_fail(d->ctx, -EIO, "sandbox agent: %s", d->sb.err);
		sb_log_path(&d->sb, "deep-test", log, sizeof(log));
		err = sb_run(&d->sb, &t->cmd, NULL, log, t->timeout_s, &res);
		snprintf(line, sizeof(line), "end %" PRId64 " %s", r->test_run, name);
		if (sb_control(&d->sb, line, reply, sizeof(reply)) && !err)
			return gate_fail(d->ctx, -EIO, "sandbox agent: %s", d->sb.err);
		if (err == -EINTR)
			return err;
		if (err)
			return gate_fail(d->ctx, err, "%s", d->sb.err);
		result_put(d, r->test_run, name, &res);
		json_array_append(r->tests_run, n);
		if (res.exit_code != 0 || res.timed_out)
			json_array_append(r->detected_by, n);
	}
	return 0;
}

static void classify(struct deep_fault_result *r)
{
	bool callers_hit = r->eff.ncascade > 0;

	if (json_array_size(r->detected_by)) {
		r->outcome = "detected";
		r->evidence = "a test failed";
	} else if (callers_hit) {
		r->outcome = "cascaded";
		r->evidence = "errors or latency rose on other edges, no test failed";
	} else {
		r->outcome = "absorbed";
		if (r->eff.faulted_requests == 0)
			r->evidence = "blind spot: the tests made no request on the edge under the fault";
		else if (r->eff.faulted_errors > 0 || r->eff.retries)
			r->evidence = "resilient: the edge failed, its callers did not";
		else if (r->fault.kind == FL_FAULT_LATENCY &&
			 r->eff.faulted_p99_ms >= r->eff.base_p99_ms + r->fault.delay_ns / 2e6)
			r->evidence = "resilient: the edge slowed, its callers stayed within their timeouts";
		else
			r->evidence = "blind spot: the edge answered as usual (the fault did not bite)";
	}
}

static int fault_one(struct deep *d, const struct deep_edge *e, const struct fl_fault *f)
{
	struct deep_fault_result *r, *v;
	struct fl_fault_target t = {
		.netns = NULL, .client_cgroup = NULL,
		.server_addr = "127.0.0.1", .server_port = (uint16_t)e->port,
	};
	struct fl_fault_handle *h = NULL;
	struct deep_ops base = { 0 };
	char cg[4200], nsp[128];
	json_t *tests = json_array();
	int err;

	for (size_t i = 0; i < d->base.ntests; i++)
		if (fl_stack_test(&d->stack, d->base.tests[i].name) &&
		    deep_test_touches(&d->base.tests[i], e->client, e->server))
			json_array_append_new(tests, json_string(d->base.tests[i].name));
	v = realloc(d->res, (d->nres + 1) * sizeof(*v));
	if (!v || !tests) {
		json_decref(tests);
		return gate_fail(d->ctx, -ENOMEM, "out of memory");
	}
	d->res = v;
	r = &d->res[d->nres++];
	memset(r, 0, sizeof(*r));
	r->edge = (size_t)(e - d->edges);
	r->fault = *f;
	r->tests_run = json_array();
	r->detected_by = json_array();
	r->test_run = run_begin(d);
	if (r->test_run < 0) {
		json_decref(tests);
		return gate_fail(d->ctx, -EIO, "cannot record a test run: %s", sqlite3_errmsg(d->db));
	}
	snprintf(cg, sizeof(cg), "%s/%s", d->sb.cgroup, e->client);
	snprintf(nsp, sizeof(nsp), "/run/netns/%s", d->sb.netns);
	t.netns = nsp;
	t.client_cgroup = cg;
	err = fl_fault_inject(f, &t, &h, d->ctx->err, sizeof(d->ctx->err));
	/* the relay sees only new connections: the client reopens its pool */
	if (!err && fl_fault_new_conns_only(f) && (err = sb_restart(&d->sb, e->client_svc)))
		gate_fail(d->ctx, err, "%s", d->sb.err);
	if (!err)
		err = fault_tests(d, r, tests);
	if (h) {
		char e2[256];
		int cerr = fl_fault_clear(h, e2, sizeof(e2));

		if (cerr && !err)
			err = gate_fail(d->ctx, cerr, "%s", e2);
	}
	/* whatever the fault did to the client's connections ends here */
	if (err != -EINTR && sb_restart(&d->sb, e->client_svc) && !err)
		err = gate_fail(d->ctx, -EIO, "%s", d->sb.err);
	run_end(d, r->test_run);
	if (!err)
		err = run_ops(d, r->test_run, &r->after);
	if (!err && (err = base_sum(d, r->tests_run, &base)))
		gate_fail(d->ctx, err, "out of memory");
	if (!err && (err = deep_effect_judge(&r->after, &base, e->client, e->server,
					     DEEP_RELAY_NAME, &r->eff)))
		gate_fail(d->ctx, err, "out of memory");
	deep_ops_release(&base);
	json_decref(tests);
	if (!err)
		classify(r);
	return err;
}

/* The mean learned duration of the tests that cross @e, s. */
static double edge_cost_s(const struct deep *d, const struct deep_edge *e)
{
	double s = 0;

	for (size_t i = 0; i < d->base.ntests; i++)
		if (deep_test_touches(&d->base.tests[i], e->client, e->server))
			s += d->base.tests[i].duration_s;
	return s;
}

static int walk(struct deep *d)
{
	int64_t deadline = d->started_ns + d->budget_ns;
	char param[32], fault[64];
	int err = 0;

	for (size_t i = 0; i < d->nedges; i++) {
		const struct deep_edge *e = &d->edges[i];

		for (size_t k = 0; k < d->nfaults; k++) {
			const struct fl_fault *f = &d->faults[k];

			fl_fault_param(f, param, sizeof(param));
			snprintf(fault, sizeof(fault), "%s%s%s", fl_fault_kind_name(f->kind),
				 *param ? ":" : "", param);
			if (err || d->interrupted || sb_interrupted) {
				not_reached(d, e->client, e->server, fault,
					    err ? "stopped by an error" : "interrupted");
				continue;
			}
			if (gate_now_ns() + (int64_t)(edge_cost_s(d, e) * 1e9) > deadline) {
				not_reached(d, e->client, e->server, fault, "budget");
				continue;
			}
			if (d->ctx->fmt == GATE_FMT_TABLE)
				fprintf(stderr, "deep: %s -> %s %s\n", e->client, e->server, fault);
			err = fault_one(d, e, f);
			if (err == -EINTR) {
				d->interrupted = true;
				err = 0;
			}
		}
	}
	return err;
}

/* ---- report ---- */

static const char *edge_protocol(const struct deep *d, const struct deep_edge *e)
{
	for (size_t t = 0; t < d->base.ntests; t++)
		for (size_t i = 0; i < d->base.tests[t].ops.n; i++) {
			const struct deep_op *o = &d->base.tests[t].ops.v[i];

			if (!strcmp(o->client, e->client) && !strcmp(o->server, e->server))
				return o->protocol;
		}
	return "unknown";
}

static json_t *result_json(const struct deep *d, const struct deep_fault_result *r)
{
	const struct deep_edge *e = &d->edges[r->edge];
	json_t *cas = json_array();
	char param[32];

	fl_fault_param(&r->fault, param, sizeof(param));
	for (size_t i = 0; i < r->eff.ncascade; i++) {
		const struct deep_cascade *c = &r->eff.cascade[i];

		json_array_append_new(cas, json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:I, s:f, s:b, s:b}",
			"client", c->after->client, "server", c->after->server,
			"protocol", c->after->protocol, "operation", c->after->operation,
			"errors", (json_int_t)llround(c->after->errors), "p99_ms", c->p99_ms,
			"learned_errors", (json_int_t)llround(c->base_errors),
			"learned_p99_ms", c->base_p99_ms,
			"errors_rose", c->errors_rose, "latency_rose", c->latency_rose));
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:o, s:I, s:I, s:I, s:s, s:s}",
		"client", e->client, "server", e->server, "protocol", edge_protocol(d, e),
		"fault", fl_fault_kind_name(r->fault.kind), "param", param,
		"tests_run", r->tests_run, "detected_by", r->detected_by, "cascade", cas,
		"retries", (json_int_t)r->eff.retries,
		"requests", (json_int_t)llround(r->eff.faulted_requests),
		"errors", (json_int_t)llround(r->eff.faulted_errors),
		"outcome", r->outcome, "evidence", r->evidence);
}

/* Per learned test: faults it detected, and those per second of its time. */
static json_t *tests_json(const struct deep *d)
{
	json_t *a = json_array();

	for (size_t t = 0; t < d->base.ntests; t++) {
		const struct deep_test *dt = &d->base.tests[t];
		size_t n = 0, ran = 0;

		for (size_t i = 0; i < d->nres; i++) {
			size_t k;
			json_t *x;

			json_array_foreach(d->res[i].tests_run, k, x)
				ran += !strcmp(json_string_value(x), dt->name);
			json_array_foreach(d->res[i].detected_by, k, x)
				n += !strcmp(json_string_value(x), dt->name);
		}
		if (!ran)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:f, s:f}", "name", dt->name,
			"faults_run", (json_int_t)ran, "faults_detected", (json_int_t)n,
			"duration_s", dt->duration_s,
			"effectiveness", dt->duration_s > 0 ? (double)n / dt->duration_s : 0.0));
	}
	return a;
}

/* Edges where no test noticed any fault of those run on them. */
static json_t *blind_json(const struct deep *d)
{
	json_t *a = json_array();

	for (size_t e = 0; e < d->nedges; e++) {
		json_t *faults = json_array();
		bool any = false, detected = false;
		char param[32], name[64];

		for (size_t i = 0; i < d->nres; i++) {
			const struct deep_fault_result *r = &d->res[i];

			if (r->edge != e || !r->outcome)
				continue;
			any = true;
			if (!strcmp(r->outcome, "detected")) {
				detected = true;
				continue;
			}
			fl_fault_param(&r->fault, param, sizeof(param));
			snprintf(name, sizeof(name), "%s%s%s", fl_fault_kind_name(r->fault.kind),
				 *param ? ":" : "", param);
			json_array_append_new(faults, json_string(name));
		}
		if (any && !detected)
			json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "client", d->edges[e].client,
							   "server", d->edges[e].server, "faults", faults));
		else
			json_decref(faults);
	}
	return a;
}

static json_t *report_json(const struct deep *d)
{
	json_t *faults = json_array();

	for (size_t i = 0; i < d->nres; i++)
		if (d->res[i].outcome)
			json_array_append_new(faults, result_json(d, &d->res[i]));
	return json_pack("{s:s, s:f, s:o, s:o, s:o, s:O}", "stack", d->stack.name,
			 "duration_s", (double)(gate_now_ns() - d->started_ns) / 1e9,
			 "faults", faults, "tests", tests_json(d), "blind_spots", blind_json(d),
			 "not_reached", d->not_reached);
}

/* "D2" detected by 2 tests, "C3" cascaded to 3 edges, "A" absorbed, "-" not run. */
static void cell(const struct deep *d, size_t e, size_t k, char *buf, size_t len)
{
	snprintf(buf, len, "-");
	for (size_t i = 0; i < d->nres; i++) {
		const struct deep_fault_result *r = &d->res[i];

		if (r->edge != e || !r->outcome || memcmp(&r->fault, &d->faults[k], sizeof(r->fault)))
			continue;
		if (!strcmp(r->outcome, "detected"))
			snprintf(buf, len, "D%zu", json_array_size(r->detected_by));
		else if (!strcmp(r->outcome, "cascaded"))
			snprintf(buf, len, "C%zu", r->eff.ncascade);
		else
			snprintf(buf, len, "A");
	}
}

static void report_text(const struct deep *d, json_t *rep, bool md)
{
	char param[32], name[64], c[16];
	json_t *x;
	size_t i;

	printf(md ? "### faultline deep: %s\n\n" : "DEEP %s\n", d->stack.name);
	printf(md ? "| edge |" : "%-36s", md ? "" : "EDGE");
	for (size_t k = 0; k < d->nfaults; k++) {
		fl_fault_param(&d->faults[k], param, sizeof(param));
		snprintf(name, sizeof(name), "%s%s%s", fl_fault_kind_name(d->faults[k].kind),
			 *param ? ":" : "", param);
		printf(md ? " %s |" : " %-14s", name);
	}
	printf("\n");
	if (md) {
		printf("|---|");
		for (size_t k = 0; k < d->nfaults; k++)
			printf("---|");
		printf("\n");
	}
	for (size_t e = 0; e < d->nedges; e++) {
		snprintf(name, sizeof(name), "%s -> %s", d->edges[e].client, d->edges[e].server);
		printf(md ? "| %s |" : "%-36s", name);
		for (size_t k = 0; k < d->nfaults; k++) {
			cell(d, e, k, c, sizeof(c));
			printf(md ? " %s |" : " %-14s", c);
		}
		printf("\n");
	}
	printf("%s(D<n>: detected by n tests, C<n>: cascaded to n edges with no test failing,"
	       " A: absorbed, -: not reached)\n", md ? "\n" : "");
	printf(md ? "\n**Tests** (faults detected per second of test time)\n\n" : "\nTESTS\n");
	json_array_foreach(json_object_get(rep, "tests"), i, x)
		printf(md ? "- `%s`: %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " faults, %.2f/s\n"
			  : "%-40s detected %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT "  %.2f/s\n",
		       json_string_value(json_object_get(x, "name")),
		       json_integer_value(json_object_get(x, "faults_detected")),
		       json_integer_value(json_object_get(x, "faults_run")),
		       json_real_value(json_object_get(x, "effectiveness")));
	printf(md ? "\n**Resilience blind spots** (no test noticed any fault)\n\n" : "\nBLIND SPOTS\n");
	if (!json_array_size(json_object_get(rep, "blind_spots")))
		printf("%snone\n", md ? "- " : "");
	json_array_foreach(json_object_get(rep, "blind_spots"), i, x)
		printf("%s%s -> %s\n", md ? "- " : "", json_string_value(json_object_get(x, "client")),
		       json_string_value(json_object_get(x, "server")));
	if (json_array_size(d->not_reached))
		printf(md ? "\n%zu (edge, fault) pairs not reached (see -o json)\n"
			  : "\nNOT REACHED %zu (see -o json)\n", json_array_size(d->not_reached));
	printf(md ? "\n_%.1f s_\n" : "\n%.1f s\n", json_real_value(json_object_get(rep, "duration_s")));
}

/* deep_runs, fault_results, fault_detections (schema 7). */
static int store_results(struct deep *d, json_t *rep)
{
	char *txt = json_dumps(rep, JSON_COMPACT);
	sqlite3_stmt *st = NULL;
	int64_t run = -1;
	int err = -EIO;

	if (!txt)
		return gate_fail(d->ctx, -ENOMEM, "out of memory");
	if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(d->db, "INSERT INTO deep_runs (stack, started_ns, ended_ns, report)"
				      " VALUES (?1, ?2, ?3, ?4)", -1, &st, NULL) != SQLITE_OK)
		goto out_rollback;
	sqlite3_bind_text(st, 1, d->stack.name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, d->started_ns);
	sqlite3_bind_int64(st, 3, gate_now_ns());
	sqlite3_bind_text(st, 4, txt, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto out_rollback;
	run = sqlite3_last_insert_rowid(d->db);
	sqlite3_finalize(st);
	st = NULL;
	for (size_t i = 0; i < d->nres; i++) {
		const struct deep_fault_result *r = &d->res[i];
		const struct deep_edge *e = &d->edges[r->edge];
		char param[32];
		size_t k;
		json_t *x;

		if (!r->outcome)
			continue;
		fl_fault_param(&r->fault, param, sizeof(param));
		if (sqlite3_prepare_v2(d->db, "INSERT OR REPLACE INTO fault_results (deep_run_id, client,"
					      " server, fault, param, test_run_id, outcome, retries)"
					      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &st, NULL) != SQLITE_OK)
			goto out_rollback;
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_text(st, 2, e->client, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e->server, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, fl_fault_kind_name(r->fault.kind), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, param, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 6, r->test_run);
		sqlite3_bind_text(st, 7, r->outcome, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 8, (int64_t)r->eff.retries);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto out_rollback;
		sqlite3_finalize(st);
		st = NULL;
		json_array_foreach(r->detected_by, k, x) {
			if (sqlite3_prepare_v2(d->db, "INSERT OR REPLACE INTO fault_detections (deep_run_id,"
						      " client, server, fault, param, test)"
						      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL) != SQLITE_OK)
				goto out_rollback;
			sqlite3_bind_int64(st, 1, run);
			sqlite3_bind_text(st, 2, e->client, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, e->server, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 4, fl_fault_kind_name(r->fault.kind), -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 5, param, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 6, json_string_value(x), -1, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE)
				goto out_rollback;
			sqlite3_finalize(st);
			st = NULL;
		}
	}
	err = sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
	if (!err)
		goto out;
out_rollback:
	sqlite3_finalize(st);
	gate_fail(d->ctx, -EIO, "cannot record the deep run in '%s': %s", d->ctx->db_path,
		  sqlite3_errmsg(d->db));
	sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	err = -EIO;
out:
	free(txt);
	return err;
}

/* (edge, fault) pairs the walk did not run (not edges it cannot fault). */
static size_t unreached_faults(const struct deep *d)
{
	size_t n = 0, i;
	json_t *x;

	json_array_foreach(d->not_reached, i, x)
		n += json_is_string(json_object_get(x, "fault"));
	return n;
}

static void deep_release(struct deep *d)
{
	fl_fault_clear_all();
	for (size_t i = 0; i < d->nres; i++) {
		json_decref(d->res[i].tests_run);
		json_decref(d->res[i].detected_by);
		deep_effect_release(&d->res[i].eff);
		deep_ops_release(&d->res[i].after);
	}
	free(d->res);
	free(d->edges);
	free(d->faults);
	deep_base_release(&d->base);
	json_decref(d->not_reached);
	if (d->sb_open)
		sb_close(&d->sb);
	fl_stack_release(&d->stack);
}

static int deep_args(struct deep *d, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "stack", required_argument, NULL, 's' },
		{ "edges", required_argument, NULL, 'e' },
		{ "faults", required_argument, NULL, 'f' },
		{ "budget", required_argument, NULL, 'b' },
		{ "name", required_argument, NULL, 'n' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ 0 }
	};
	int64_t t;
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(d->ctx, c, argv, deep_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		switch (c) {
		case 's': d->stack_path = optarg; break;
		case 'e': d->edges_filter = optarg; break;
		case 'f': d->faults_arg = optarg; break;
		case 'n': d->name = optarg; break;
		case 'S': d->state_dir = optarg; break;
		case 'b':
			if ((err = gate_time_arg(d->ctx, "--budget", optarg, &t)))
				return err;
			d->budget_ns = d->ctx->now_ns - t;
			if (d->budget_ns <= 0)
				return gate_fail(d->ctx, -EINVAL, "'--budget' must be a positive duration");
			break;
		}
	}
	if ((err = gate_no_args(d->ctx, argc, argv)))
		return err;
	if (!d->stack_path)
		return gate_fail(d->ctx, -EINVAL, "deep needs '--stack FILE'");
	return faults_parse(d);
}

static int deep_run(struct gate_ctx *ctx, int argc, char **argv)
{
	struct deep d = {
		.ctx = ctx, .faults_arg = DEEP_DEFAULT_FAULTS,
		.budget_ns = DEEP_DEFAULT_BUDGET_NS, .started_ns = gate_now_ns(),
	};
	json_t *rep = NULL;
	unsigned swept;
	char nsp[128];
	bool cold;
	int err;

	d.not_reached = json_array();
	if (!d.not_reached)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	if ((err = deep_args(&d, argc, argv)))
		goto out;
	if ((err = fl_stack_load(d.stack_path, &d.stack, ctx->err, sizeof(ctx->err))))
		goto out;
	if ((err = gate_open(ctx)))	/* writable: the table entry says so */
		goto out;
	d.db = ctx->db;
	err = deep_base_load(d.db, d.stack.name, &d.base);
	if (err == -ENOENT) {
		err = gate_fail(ctx, -EINVAL, "no learned footprints of stack '%s' in '%s'"
			       " (run 'gatectl learn --stack %s' first)", d.stack.name,
			       ctx->db_path, d.stack_path);
		goto out;
	}
	if (err) {
		err = gate_fail(ctx, err, "cannot read footprints from '%s'", ctx->db_path);
		goto out;
	}
	if ((err = edges_build(&d)))
		goto out;
	sb_signals_install();
	if ((err = sb_open(&d.sb, &d.stack, d.name, d.state_dir, ctx->db_path))) {
		err = gate_fail(ctx, err, "%s", d.sb.err);
		goto out;
	}
	d.sb_open = true;
	if ((err = sb_up(&d.sb, &cold))) {
		err = gate_fail(ctx, err == -EINTR ? -EINTR : -EIO, "%s", d.sb.err);
		goto out;
	}
	snprintf(nsp, sizeof(nsp), "/run/netns/%s", d.sb.netns);
	if ((err = fl_fault_sweep(nsp, &swept, ctx->err, sizeof(ctx->err))))
		goto out;
	if (swept)
		fprintf(stderr, "deep: removed %u fault(s) a killed run left in '%s'\n", swept, d.sb.netns);
	err = walk(&d);
	fl_fault_clear_all();
	if (err)
		goto out;
	rep = report_json(&d);
	if (!rep) {
		err = gate_fail(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	if ((err = store_results(&d, rep)))
		goto out;
	if (ctx->fmt == GATE_FMT_JSON)
		err = gate_json_print(ctx, rep);
	else
		report_text(&d, rep, ctx->fmt == GATE_FMT_MARKDOWN);
	/* a pair the budget or a signal left out: the picture is incomplete */
	if (!err && (d.interrupted || sb_interrupted || unreached_faults(&d)))
		err = GATE_EXIT_INCONCLUSIVE;
out:
	json_decref(rep);
	deep_release(&d);
	return err;
}

const struct gate_cmd gate_cmd_deep = {
	.name = "deep",
	.summary = "fault every edge the tests cross, one at a time: who notices, where it spreads",
	.run = deep_run,
	.store = GATE_CMD_WRITES,	/* test runs, footprints, deep results */
	.formats = GATE_FMTS_TABLE_JSON | GATE_FMT_BIT(GATE_FMT_MARKDOWN),
};
