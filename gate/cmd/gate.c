// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl gate --stack FILE --change SERVICE=COMMAND ... (docs/gate.md
 * "Gate"): select, swap only the changed services in the warm sandbox, run
 * the selected tests under the sandbox agent, restore the baseline, rerun
 * the failures on it, judge, record (test run, gate run, predictions) and
 * report.
 */
#include "cmd/cmd.h"
#include "gating/gating.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void gate_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl gate --stack FILE --change SERVICE=COMMAND [--change ...]\n"
		"                    [--budget 60s] [--name N] [--state-dir D] [--db FILE]\n"
		"                    [-o table|json|junit|markdown]\n"
		"\n"
		"Gate a change: COMMAND replaces SERVICE's cmd (split into words as a\n"
		"POSIX shell would, without expansion; port, env and ready check stay).\n"
		"The tests 'gatectl select' picks run in the warm sandbox with only the\n"
		"changed services swapped, under the sandbox agent; then the baseline is\n"
		"restored and failed tests rerun on it. The verdict compares each test's\n"
		"footprint with what learn recorded: failing tests, failure statuses that\n"
		"rose (the deepest is the cause, its callers symptoms), new and missing\n"
		"edges, latency and call-count shifts. Every affected edge gets a\n"
		"prediction for after the deploy.\n"
		"\n"
		"options:\n"
		"  --stack FILE        the stack file (required)\n"
		"  --change S=CMD      a changed service and its new command (repeatable)\n"
		"  --budget D          test time to fill (default 60s)\n"
		"  --tests T1,T2,...   run exactly these tests instead of the selection\n"
		"                      (a comparison, or CI that names its tests)\n"
		"  --name, --state-dir the sandbox (see 'gatectl sandbox --help')\n"
		"  --db FILE           the store (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT    table, json, junit (JUnit XML) or markdown (a PR comment)\n"
		"\n"
		"exit status: 0 pass, 1 fail, 2 bad input (malformed stack, unknown\n"
		"service, a command that does not start; the sandbox as it was),\n"
		"3 inconclusive (infrastructure failure, nothing judged)\n"
		"\n"
		"examples:\n"
		"  sudo gatectl gate --stack shop.json --change 'cart=python3 services/cart_v2.py --port 18403'\n"
		"  sudo gatectl gate --stack shop.json --change users=./users-new --change auth=./auth-new -o junit > gate.xml\n");
}

struct change {
	size_t svc;		/* index in the stack */
	const char *name;
	const char *cmd;	/* as given */
	struct fl_argv argv;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_changes(struct gate_ctx *ctx, const struct fl_stack *stack,
			 char **specs, size_t n, struct change *ch)
{
	for (size_t i = 0; i < n; i++) {
		char *eq = strchr(specs[i], '=');
		struct fl_stack_service *sv;
		char why[256];
		if (!eq || eq == specs[i])
			return gate_fail(ctx, -EINVAL, "invalid '--change %s' (want "
					 "SERVICE=COMMAND)", specs[i]);
		*eq = 0;
		ch[i].name = specs[i];
		ch[i].cmd = eq + 1;
		if (!(sv = fl_stack_service(stack, specs[i])))
			return gate_fail(ctx, -EINVAL, "unknown service '%s' (not in '%s')",
					 specs[i], stack->path);
		ch[i].svc = (size_t)(sv - stack->svcs);
		for (size_t k = 0; k < i; k++)
			if (ch[k].svc == ch[i].svc)
				return gate_fail(ctx, -EINVAL, "service '%s' is changed twice",
						 specs[i]);
		int err = fl_argv_split(eq + 1, &ch[i].argv, why, sizeof(why));
		if (err)
			return gate_fail(ctx, err, "invalid command for '%s': %s", specs[i],
					 err == -ENOMEM ? "out of memory" : why);
	}
	return 0;
}

static char *versions_json(const struct fl_stack *stack, const struct change *ch, size_t n)
{
	json_t *o = json_object();
	char *s;

	for (size_t i = 0; o && i < stack->nsvcs; i++)
		json_object_set_new(o, stack->svcs[i].name, json_string("baseline"));
	for (size_t i = 0; o && i < n; i++)
		json_object_set_new(o, ch[i].name, json_string(ch[i].cmd));
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static int gate_row(struct gate_ctx *ctx, const struct fl_stack *stack, int64_t test_run,
		    const struct change *ch, size_t n, int64_t *id)
{
	json_t *c = json_array();
	char *cj;
	sqlite3_stmt *st;
	int err = 0;

	for (size_t i = 0; c && i < n; i++)
		json_array_append_new(c, json_pack("{s:s, s:s}", "service", ch[i].name,
						   "cmd", ch[i].cmd));
	cj = c ? json_dumps(c, JSON_COMPACT) : NULL;
	json_decref(c);
	if (!cj)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	if (sqlite3_prepare_v2(ctx->db, "INSERT INTO gate_runs(test_run_id, stack, changed, "
			       "started_ns) VALUES (?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		free(cj);
		return gate_fail(ctx, -EIO, "cannot record the gate run: %s",
				 sqlite3_errmsg(ctx->db));
	}
	sqlite3_bind_int64(st, 1, test_run);
	sqlite3_bind_text(st, 2, stack->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, cj, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, gate_now_ns());
	if (sqlite3_step(st) != SQLITE_DONE)
		err = gate_fail(ctx, -EIO, "cannot record the gate run: %s",
				sqlite3_errmsg(ctx->db));
	*id = sqlite3_last_insert_rowid(ctx->db);
	sqlite3_finalize(st);
	free(cj);
	return err;
}

/* Classes into test_results, the verdict and report into gate_runs, predictions. */
static int record(struct gate_ctx *ctx, const struct gate_report *rep, json_t *report)
{
	sqlite3_stmt *st = NULL;
	char *txt = json_dumps(report, JSON_COMPACT);
	json_t *preds = json_object_get(report, "predictions"), *p;
	size_t i;
	int err = 0;

	if (!txt)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	if ((err = gate_exec(ctx, "BEGIN IMMEDIATE", "record the gate run")))
		goto out;
	if (sqlite3_prepare_v2(ctx->db, "UPDATE test_results SET class = ? WHERE run_id = ? "
			       "AND test = ?", -1, &st, NULL) != SQLITE_OK)
		goto out_sql;
	for (i = 0; i < rep->nres; i++) {
		const char *cls = gate_class_str(rep->res[i].cls);
		if (!rep->res[i].ran || !cls)
			continue;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, cls, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, rep->test_run_id);
		sqlite3_bind_text(st, 3, rep->res[i].run.t->name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto out_sql;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(ctx->db, "UPDATE gate_runs SET verdict = ?, ended_ns = ?, "
			       "report = ? WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		goto out_sql;
	sqlite3_bind_text(st, 1, rep->v->verdict, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, gate_now_ns());
	sqlite3_bind_text(st, 3, txt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, rep->gate_run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto out_sql;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(ctx->db, "INSERT INTO predictions(gate_run_id, client, server, "
			       "protocol, operation, expected, status, evidence, confidence) "
			       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		goto out_sql;
	json_array_foreach(preds, i, p) {
		char *ev = json_dumps(json_object_get(p, "evidence"), JSON_COMPACT);
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, rep->gate_run_id);
		sqlite3_bind_text(st, 2, json_string_value(json_object_get(p, "client")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, json_string_value(json_object_get(p, "server")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, json_string_value(json_object_get(p, "protocol")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, json_string_value(json_object_get(p, "operation")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, json_string_value(json_object_get(p, "expected")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 7, json_string_value(json_object_get(p, "status")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 8, ev, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 9, json_number_value(json_object_get(p, "confidence")));
		free(ev);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto out_sql;
	}
	sqlite3_finalize(st);
	st = NULL;
	err = gate_exec(ctx, "COMMIT", "record the gate run");
	goto out;
out_sql:
	err = gate_fail(ctx, -EIO, "cannot record the gate run in '%s': %s", ctx->db_path,
			sqlite3_errmsg(ctx->db));
	sqlite3_finalize(st);
	sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
out:
	free(txt);
	return err;
}

/* Run the selected tests (with the change), in rank order. */
static int run_selected(struct gate_ctx *ctx, struct sandbox *sb, const struct selection *sel,
			int64_t run_id, struct gate_tres *res, size_t *nres)
{
	int err;

	*nres = 0;
	for (int r = 1; r <= (int)sel->ntests; r++)
		for (size_t i = 0; i < sel->ntests; i++) {
			const struct sel_test *st = &sel->tests[i];
			if (st->rank != r)
				continue;
			struct gate_tres *t = &res[(*nres)++];
			t->lt = st->lt;
			if ((err = gate_run_test(ctx, sb, run_id, st->t, &t->run)))
				return err;
			t->ran = true;
			if ((err = fp_load(ctx, run_id, st->t->name, &t->fp)))
				return err;
		}
	return 0;
}

static int rerun_failed(struct gate_ctx *ctx, struct sandbox *sb, const char *versions,
			struct gate_tres *res, size_t nres)
{
	int64_t run_id = 0;
	int err;

	for (size_t i = 0; i < nres; i++) {
		struct gate_test_run tr;
		if (!res[i].ran || res[i].run.pass)
			continue;
		if (!run_id && (err = gate_run_begin(ctx, sb, "rerun", versions, &run_id)))
			return err;
		if ((err = gate_run_test(ctx, sb, run_id, res[i].run.t, &tr)))
			return err;
		res[i].reran = true;
		res[i].rerun_pass = tr.pass;
	}
	return run_id ? gate_run_end(ctx, sb, run_id) : 0;
}

static int emit(struct gate_ctx *ctx, const struct gate_report *rep, json_t *j)
{
	switch ((int)ctx->fmt) {
	case GATE_FMT_JSON:
		return gate_json_print(ctx, j);
	case GATE_FMT_JUNIT:
		return gate_report_junit(ctx, rep);
	case GATE_FMT_MARKDOWN:
		return gate_report_markdown(ctx, rep);
	default:
		return gate_report_table(ctx, rep);
	}
}

static int gate_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		GATE_STACK_LONGOPTS,
		{ "change", required_argument, NULL, 'c' },
		{ "budget", required_argument, NULL, 'b' },
		{ "tests", required_argument, NULL, 't' },
		{ 0 }
	};
	struct gate_stack_opts so = { 0 };
	struct fl_stack stack = { 0 };
	struct sandbox sb = { .lock_fd = -1, .host_ns_fd = -1, .ns_fd = -1 };
	struct learned l = { 0 };
	struct selection sel = { 0 };
	struct gate_verdict v = { 0 };
	struct gate_tres *res = NULL;
	struct change *ch = NULL;
	char **specs = calloc((size_t)argc + 1, sizeof(*specs)), *versions = NULL;
	const char **names = NULL, **cmds = NULL, *force = NULL;
	size_t nspecs = 0, nres = 0, swapped = 0;
	double budget = GATE_BUDGET_S, t0 = mono();
	int64_t run_id = 0, gate_id = 0;
	json_t *report = NULL;
	bool cold;
	int c, err;

	if (!specs)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	sb_signals_install();	/* before anything that a signal must undo */
	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, gate_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			goto out;
		if (err)
			continue;
		if (c == 'c')
			specs[nspecs++] = optarg;
		else if (c == 't')
			force = optarg;
		else if (c == 'b') {
			if ((err = gate_parse_duration(ctx, "--budget", optarg, &budget)))
				goto out;
		} else
			gate_stack_opt(ctx, &so, c);
	}
	if ((err = gate_no_args(ctx, argc, argv)))
		goto out;
	if (!nspecs) {
		err = gate_fail(ctx, -EINVAL, "gate needs '--change SERVICE=COMMAND'");
		goto out;
	}
	/* bad input is refused before the sandbox is touched */
	if ((err = gate_stack_load(ctx, &so, &stack)))
		goto out;
	ch = calloc(nspecs, sizeof(*ch));
	names = calloc(nspecs + 1, sizeof(*names));
	cmds = calloc(nspecs + 1, sizeof(*cmds));
	res = calloc(stack.ntests + 1, sizeof(*res));
	if (!ch || !names || !cmds || !res) {
		err = gate_fail(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	if ((err = parse_changes(ctx, &stack, specs, nspecs, ch)))
		goto out;
	for (size_t i = 0; i < nspecs; i++) {
		names[i] = ch[i].name;
		cmds[i] = ch[i].cmd;
	}
	if ((err = gate_open_writable(ctx)) || (err = learned_load(ctx, stack.name, &l)) ||
	    (err = gate_select(ctx, &stack, &l, names, nspecs, budget, &sel)) ||
	    (force && (err = gate_select_force(ctx, &sel, force))))
		goto out;
	sb_signals_install();
	if ((err = gate_sandbox_open(ctx, &so, &stack, &sb)) ||
	    (err = gate_sandbox_up(ctx, &sb, &cold)))
		goto out;
	if (!(versions = versions_json(&stack, ch, nspecs))) {
		err = gate_fail(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	for (; swapped < nspecs; swapped++) {
		err = sb_swap(&sb, ch[swapped].svc, &ch[swapped].argv);
		if (err == -EINTR || sb_interrupted) {
			err = gate_interrupted(ctx, &sb);
			goto out;
		}
		if (err == -EINVAL || err == -ETIMEDOUT) {
			/* the change's command does not start: bad input, baseline back */
			err = gate_fail(ctx, -EINVAL, "the command for '%s' does not start: %s",
					ch[swapped].name, sb.err);
			goto out_restore;
		}
		if (err) {
			fprintf(stderr, "gatectl: sandbox failed swapping '%s': %s\n",
				ch[swapped].name, sb.err);
			err = GATE_EXIT_INCONCLUSIVE;
			goto out_restore;
		}
	}
	if ((err = gate_run_begin(ctx, &sb, "gate", versions, &run_id)) ||
	    (err = gate_row(ctx, &stack, run_id, ch, nspecs, &gate_id)))
		goto out_restore;
	err = run_selected(ctx, &sb, &sel, run_id, res, &nres);
	if (!err)
		err = gate_run_end(ctx, &sb, run_id);
	if (err == -EINTR || sb_interrupted) {
		err = gate_interrupted(ctx, &sb);
		goto out;
	}
	if (err == -EIO) {
		/* the agent or the store went away under the run: infra */
		fprintf(stderr, "gatectl: %s\n", ctx->err);
		err = GATE_EXIT_INCONCLUSIVE;
	}
	if (err)
		goto out_restore;
	for (size_t i = 0; i < nspecs; i++)
		if ((err = sb_restore(&sb, ch[i].svc)))
			break;
	swapped = 0;
	if (!err)
		err = rerun_failed(ctx, &sb, NULL, res, nres);
	if (err == -EINTR || sb_interrupted) {
		err = gate_interrupted(ctx, &sb);
		goto out;
	}
	if (err) {
		fprintf(stderr, "gatectl: %s\n", ctx->err[0] ? ctx->err : sb.err);
		err = GATE_EXIT_INCONCLUSIVE;
		goto out;
	}
	if ((err = gate_judge(&sel, &l, res, nres, &v))) {
		err = gate_fail(ctx, err, "out of memory");
		goto out;
	}
	struct gate_report rep = {
		.stack = &stack, .sel = &sel, .res = res, .nres = nres, .v = &v,
		.gate_run_id = gate_id, .test_run_id = run_id, .duration_s = mono() - t0,
		.change_svc = names, .change_cmd = cmds, .nchanges = nspecs,
	};
	if (!(report = gate_report_json(&rep))) {
		err = gate_fail(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	if ((err = record(ctx, &rep, report)) || (err = emit(ctx, &rep, report)))
		goto out;
	err = !strcmp(v.verdict, "pass") ? GATE_EXIT_OK :
	      !strcmp(v.verdict, "fail") ? GATE_EXIT_FAIL : GATE_EXIT_INCONCLUSIVE;
	goto out;
out_restore:
	for (size_t i = 0; i < swapped + 1 && i < nspecs; i++)
		sb_restore(&sb, ch[i].svc);
out:
	json_decref(report);
	gate_verdict_release(&v);
	for (size_t i = 0; i < nres; i++)
		fp_set_release(&res[i].fp);
	free(res);
	for (size_t i = 0; ch && i < nspecs; i++)
		fl_argv_release(&ch[i].argv);
	free(ch);
	free(names);
	free(cmds);
	free(versions);
	gate_selection_release(&sel);
	learned_release(&l);
	sb_close(&sb);
	fl_stack_release(&stack);
	free(specs);
	return err;
}

const struct gate_cmd gate_cmd_gate = {
	.name = "gate",
	.summary = "gate a change: swap it into the warm sandbox, run the selected tests, judge",
	.run = gate_run,
	.store = GATE_CMD_WRITES,
	.formats = GATE_FMTS_TABLE_JSON | GATE_FMT_BIT(GATE_FMT_JUNIT) |
		   GATE_FMT_BIT(GATE_FMT_MARKDOWN),
};
