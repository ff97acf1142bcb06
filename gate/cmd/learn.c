// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl learn --stack FILE [--runs N]: every test of the stack on the
 * baseline sandbox under the agent, N times; results, durations and
 * footprints into the store (docs/gate.md "Learn").
 */
#include "cmd/cmd.h"
#include "gating/gating.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void learn_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl learn --stack FILE [--runs N] [--name N] [--state-dir D]\n"
		"                     [--db FILE] [-o table|json]\n"
		"\n"
		"Run every test of the stack file on the baseline sandbox (started if\n"
		"it is not up) under the sandbox agent, N times (default 1), and record\n"
		"each test's result, duration and footprint: the edges, operations and\n"
		"statuses it made. Runs accumulate: a test that both passed and failed\n"
		"on the baseline is flaky (its pass rate shown); footprints keep the\n"
		"union of the runs. The store is created if it does not exist.\n"
		"\n"
		"options:\n"
		"  --stack FILE        the stack file (required)\n"
		"  --runs N            how many times to run the suite (default 1)\n"
		"  --name, --state-dir the sandbox (see 'gatectl sandbox --help')\n"
		"  --db FILE           the store (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT    table or json\n"
		"\n"
		"exit status: 0 learned (whatever the tests did), 2 bad input,\n"
		"3 the sandbox failed (infra)\n"
		"\n"
		"examples:\n"
		"  sudo gatectl --db gate.db learn --stack tools/estate/shop.json --runs 3\n");
}

/* Edges of the store seen in production (source ebpf) that no footprint has. */
static int prod_uncovered(struct gate_ctx *ctx, const struct learned *l, long *edges,
			  long *uncovered)
{
	sqlite3_stmt *st;
	int r;

	*edges = *uncovered = 0;
	if (sqlite3_prepare_v2(ctx->db,
			       "SELECT c.name, s.name, e.protocol, e.operation FROM edges e "
			       "JOIN services c ON c.id = e.client_id JOIN services s ON "
			       "s.id = e.server_id WHERE EXISTS (SELECT 1 FROM edge_windows w "
			       "WHERE w.edge_id = e.id AND w.source = 'ebpf')", -1, &st,
			       NULL) != SQLITE_OK)
		return gate_fail(ctx, -EIO, "cannot read edges: %s", sqlite3_errmsg(ctx->db));
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		(*edges)++;
		if (!fp_find(&l->all, (const char *)sqlite3_column_text(st, 0),
			     (const char *)sqlite3_column_text(st, 1),
			     (const char *)sqlite3_column_text(st, 2),
			     (const char *)sqlite3_column_text(st, 3)))
			(*uncovered)++;
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : gate_fail(ctx, -EIO, "cannot read edges: %s",
					      sqlite3_errmsg(ctx->db));
}

static int learn_report(struct gate_ctx *ctx, const struct fl_stack *stack,
			const struct learned *l, int runs, int pass, int fail, double secs,
			bool cold, double up_s)
{
	static const char *const heads[] = { "TEST", "RUNS", "PASS", "FAIL", "FLAKY",
					     "MEAN_S", "EDGES" };
	long prod_edges, prod_unc;
	struct gate_table t;
	json_t *root = NULL, *jt = NULL;
	int nflaky = 0, err;

	if ((err = prod_uncovered(ctx, l, &prod_edges, &prod_unc)))
		return err;
	if (ctx->fmt == GATE_FMT_JSON) {
		root = json_pack("{s:s, s:i, s:i, s:i, s:i, s:[], s:i, s:I, s:I, s:f, s:b, s:f}",
				 "stack", stack->name, "runs", runs, "tests", (int)stack->ntests,
				 "passed", pass, "failed", fail, "by_test", "edges_covered",
				 (int)l->all.n, "production_edges", (json_int_t)prod_edges,
				 "production_edges_uncovered", (json_int_t)prod_unc,
				 "duration_s", secs, "sandbox_cold", cold, "sandbox_up_s", up_s);
		if (!root)
			return gate_fail(ctx, -ENOMEM, "out of memory");
		jt = json_object_get(root, "by_test");
	}
	gate_table_init(&t, heads, "lrrrlrr", 7);
	for (size_t i = 0; i < stack->ntests; i++) {
		const struct learned_test *lt = learned_find(l, stack->tests[i].name);
		bool flaky = learned_flaky(lt);
		char r[16], p[16], f[16], fl[32], m[32], e[16];
		nflaky += flaky;
		if (!lt)
			continue;
		if (jt) {
			json_array_append_new(jt, json_pack("{s:s, s:i, s:i, s:i, s:b, s:f, s:f, s:i}",
				"name", lt->name, "runs", lt->runs, "passed", lt->passes,
				"failed", lt->fails, "flaky", flaky,
				"pass_rate", lt->runs ? (double)lt->passes / lt->runs : 0.0,
				"mean_duration_s", lt->mean_s, "edges", (int)lt->base.n));
			continue;
		}
		snprintf(r, sizeof(r), "%d", lt->runs);
		snprintf(p, sizeof(p), "%d", lt->passes);
		snprintf(f, sizeof(f), "%d", lt->fails);
		snprintf(fl, sizeof(fl), flaky ? "yes (%.0f%% pass)" : "no",
			 lt->runs ? 100.0 * lt->passes / lt->runs : 0.0);
		snprintf(m, sizeof(m), "%.3f", lt->mean_s);
		snprintf(e, sizeof(e), "%zu", lt->base.n);
		const char *row[] = { lt->name, r, p, f, fl, m, e };
		if ((err = gate_table_row(&t, row)))
			break;
	}
	if (root) {
		json_object_set_new(root, "flaky", json_integer(nflaky));
		err = gate_json_print(ctx, root);
		json_decref(root);
	} else if (!err) {
		gate_table_print(&t, stdout);
		printf("\nlearn: %zu tests x %d run%s: %d passed, %d failed, %d flaky; "
		       "%zu edges covered; %ld of %ld production edges covered by no test; "
		       "%.1f s (sandbox %s%s)\n",
		       stack->ntests, runs, runs == 1 ? "" : "s", pass, fail, nflaky,
		       l->all.n, prod_unc, prod_edges, secs, cold ? "started cold" : "warm",
		       "");
	}
	gate_table_release(&t);
	return err;
}

static int learn_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		GATE_STACK_LONGOPTS,
		{ "runs", required_argument, NULL, 'r' },
		{ 0 }
	};
	struct gate_stack_opts so = { 0 };
	struct fl_stack stack = { 0 };
	struct sandbox sb = { .lock_fd = -1, .host_ns_fd = -1, .ns_fd = -1 };
	struct learned l = { 0 };
	uint64_t runs = 1;
	int c, err, pass = 0, fail = 0;
	struct timespec t0, t1;
	bool cold = false;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	sb_signals_install();	/* before anything that a signal must undo */
	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, learn_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		if (c == 'r') {
			if ((err = gate_parse_u64(ctx, "--runs", optarg, &runs)))
				return err;
			if (!runs || runs > 1000)
				return gate_fail(ctx, -EINVAL, "'--runs' must be 1..1000");
		} else {
			gate_stack_opt(ctx, &so, c);
		}
	}
	if ((err = gate_no_args(ctx, argc, argv)))
		return err;
	if ((err = gate_stack_load(ctx, &so, &stack)))
		return err;
	if (!stack.ntests) {
		err = gate_fail(ctx, -EINVAL, "'%s' has no tests", stack.path);
		goto out;
	}
	if ((err = gate_open_writable(ctx)))
		goto out;
	sb_signals_install();
	if ((err = gate_sandbox_open(ctx, &so, &stack, &sb)) ||
	    (err = gate_sandbox_up(ctx, &sb, &cold)))
		goto out;
	for (uint64_t r = 0; r < runs; r++) {
		int64_t run_id;
		if ((err = gate_run_begin(ctx, &sb, "learn", NULL, &run_id)))
			goto out;
		for (size_t i = 0; i < stack.ntests; i++) {
			struct gate_test_run tr;
			err = gate_run_test(ctx, &sb, run_id, &stack.tests[i], &tr);
			if (err == -EINTR || sb_interrupted) {
				err = gate_interrupted(ctx, &sb);
				goto out;
			}
			if (err)
				goto out;
			tr.pass ? pass++ : fail++;
			if (ctx->fmt == GATE_FMT_TABLE && getenv("GATECTL_PROGRESS"))
				fprintf(stderr, "learn: run %llu %s %s %.3f s\n",
					(unsigned long long)r + 1, stack.tests[i].name,
					tr.pass ? "pass" : "FAIL", tr.res.duration_s);
		}
		if ((err = gate_run_end(ctx, &sb, run_id)))
			goto out;
	}
	if ((err = learned_load(ctx, stack.name, &l)))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	err = learn_report(ctx, &stack, &l, (int)runs, pass, fail,
			   (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
			   cold, sb.up_s);
out:
	learned_release(&l);
	sb_close(&sb);
	fl_stack_release(&stack);
	return err;
}

const struct gate_cmd gate_cmd_learn = {
	.name = "learn",
	.summary = "run a stack's tests on the baseline sandbox and record footprints",
	.run = learn_run,
	.store = GATE_CMD_WRITES,
	.formats = GATE_FMTS_TABLE_JSON,
};
