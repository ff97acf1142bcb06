// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl select: the tests a change must run, ranked by risk per second,
 * within a budget (docs/gate.md "Select"; the ranking is gating/select.c).
 */
#include "cmd/cmd.h"
#include "gating/gating.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static double share(const struct selection *sel, const struct sel_edge *e)
{
	return sel->prod_total ? (double)e->prod_requests / (double)sel->prod_total : 0;
}

static void edges_str(const struct selection *sel, const struct sel_test *st, char *buf,
		      size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (size_t k = 0; k < st->nedges && o + 1 < len; k++) {
		const struct sel_edge *e = &sel->edges[st->edges[k]];
		if (e->reason == GATE_SCOPE_UPSTREAM)
			continue;
		int w = snprintf(buf + o, len - o, "%s%s->%s %s", o ? ", " : "", e->client,
				 e->server, e->operation);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	if (o >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

static int select_table(struct gate_ctx *ctx, const struct selection *sel)
{
	static const char *const sh[] = { "RANK", "TEST", "EST_S", "RISK/S", "WHY", "EDGES" };
	static const char *const lh[] = { "TEST", "EST_S", "WHY" };
	static const char *const uh[] = { "CLIENT", "SERVER", "PROTO", "OPERATION",
					  "PROD_REQS", "SHARE" };
	struct gate_table ts, tl, tu;
	size_t nsel = 0, nown = 0, nunc = 0;
	int err = 0;

	gate_table_init(&ts, sh, "rlrrll", 6);
	gate_table_init(&tl, lh, "lrl", 3);
	gate_table_init(&tu, uh, "llllrr", 6);
	for (int r = 1; r <= (int)sel->ntests && !err; r++)
		for (size_t i = 0; i < sel->ntests && !err; i++) {
			const struct sel_test *st = &sel->tests[i];
			char rank[16], est[32], rps[32], edges[512];
			if (st->rank != r)
				continue;
			nsel++;
			snprintf(rank, sizeof(rank), "%d", r);
			snprintf(est, sizeof(est), st->lt ? "%.3f" : "?", st->est_s);
			snprintf(rps, sizeof(rps), "%.2f", st->risk_per_s);
			edges_str(sel, st, edges, sizeof(edges));
			const char *row[] = { rank, st->t->name, est, rps,
					      gate_sel_why_str(st->why), edges[0] ? edges : "-" };
			err = gate_table_row(&ts, row);
		}
	for (size_t i = 0; i < sel->ntests && !err; i++) {
		const struct sel_test *st = &sel->tests[i];
		char est[32];
		if (st->selected)
			continue;
		snprintf(est, sizeof(est), "%.3f", st->est_s);
		const char *row[] = { st->t->name, est, gate_sel_why_str(st->why) };
		err = gate_table_row(&tl, row);
	}
	for (size_t i = 0; i < sel->nedges && !err; i++) {
		const struct sel_edge *e = &sel->edges[i];
		char op[256], req[32], sh[32];
		nown += e->reason != GATE_SCOPE_UPSTREAM;
		if (e->touched)
			continue;
		nunc++;
		gate_cell_op(e->operation, op, sizeof(op));
		snprintf(req, sizeof(req), "%llu", (unsigned long long)e->prod_requests);
		snprintf(sh, sizeof(sh), "%.1f%%", 100 * share(sel, e));
		const char *row[] = { e->client, e->server, e->protocol, op, req, sh };
		err = gate_table_row(&tu, row);
	}
	if (!err) {
		printf("select: changed");
		for (size_t i = 0; i < sel->nchanged; i++)
			printf(" %s", sel->changed[i]);
		printf("; %zu affected edges (%zu own, %zu upstream); %zu of %zu tests, "
		       "%.2f s of a %.0f s budget (whole suite %.2f s)\n\nSELECTED\n",
		       sel->nedges, nown, sel->nedges - nown, nsel, sel->ntests,
		       sel->selected_s, sel->budget_s, sel->suite_s);
		gate_table_print(&ts, stdout);
		if (tl.nrows) {
			printf("\nLEFT OUT\n");
			gate_table_print(&tl, stdout);
		}
		printf("\nUNCOVERED (affected edges no test touches): %zu\n", nunc);
		if (nunc)
			gate_table_print(&tu, stdout);
		for (size_t i = 0; i < sel->nunmapped; i++)
			printf("%sunmapped file (no service's paths): %s\n", i ? "" : "\n",
			       sel->unmapped[i]);
	}
	gate_table_release(&ts);
	gate_table_release(&tl);
	gate_table_release(&tu);
	return err ? gate_fail(ctx, err, "out of memory") : 0;
}

static void select_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl select --changed SERVICE... | --diff BASE [--stack FILE]\n"
		"                      [--budget 60s] [--db FILE] [-o table|json]\n"
		"\n"
		"The tests a change must run: the affected edges (the changed services'\n"
		"own edges and their callers', as 'gatectl scope' finds them), the\n"
		"tests whose learned footprints touch an edge of a changed service,\n"
		"ranked by risk per second of test time and filled greedily into the\n"
		"budget. Tests with a must-run tag and tests never learned are always\n"
		"selected. Affected edges that no test touches are listed as uncovered,\n"
		"with their share of the affected production traffic.\n"
		"\n"
		"options:\n"
		"  --changed SERVICE   a changed service; repeat for several\n"
		"  --diff BASE         the services whose 'paths' globs match the files of\n"
		"                      'git diff --name-only BASE...HEAD' (needs --stack)\n"
		"  --stack FILE        the stack file (required)\n"
		"  --name, --state-dir accepted as by the other gate commands; unused here\n"
		"  --budget D          test time to fill (default 60s; 90, 2m, 1m30s)\n"
		"  --db FILE           the store (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT    table or json\n"
		"\n"
		"exit status: 0 selected, 2 bad input (unknown service, git failed)\n"
		"\n"
		"examples:\n"
		"  gatectl select --stack shop.json --changed cart\n"
		"  gatectl select --stack shop.json --diff origin/main --budget 30s -o json\n");
}

static int select_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		GATE_STACK_LONGOPTS,
		{ "changed", required_argument, NULL, 'c' },
		{ "diff", required_argument, NULL, 'f' },
		{ "budget", required_argument, NULL, 'b' },
		{ 0 }
	};
	struct gate_stack_opts so = { 0 };
	struct fl_stack stack = { 0 };
	struct learned l = { 0 };
	struct selection sel = { 0 };
	const char **names = calloc((size_t)argc + 64, sizeof(*names)), *diff = NULL;
	size_t nnames = 0;
	double budget = GATE_BUDGET_S;
	int c, err;

	if (!names)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, select_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			goto out;
		if (err)
			continue;
		if (c == 'c')
			names[nnames++] = optarg;
		else if (c == 'f')
			diff = optarg;
		else if (c == 'b') {
			if ((err = gate_parse_duration(ctx, "--budget", optarg, &budget)))
				goto out;
		} else
			gate_stack_opt(ctx, &so, c);
	}
	if ((err = gate_no_args(ctx, argc, argv)))
		goto out;
	if (!nnames == !diff) {
		err = gate_fail(ctx, -EINVAL, "select needs '--changed SERVICE' or '--diff BASE' "
				"(one of them)");
		goto out;
	}
	if ((err = gate_stack_load(ctx, &so, &stack)))
		goto out;
	if (diff) {
		if (stack.nsvcs > 64) {
			const char **n2 = realloc(names, (stack.nsvcs + 1) * sizeof(*n2));
			if (!n2) {
				err = gate_fail(ctx, -ENOMEM, "out of memory");
				goto out;
			}
			names = n2;
		}
		if ((err = gate_diff_services(ctx, &stack, diff, names, &nnames, &sel)))
			goto out;
	}
	for (size_t i = 0; i < nnames; i++)
		if (!fl_stack_service(&stack, names[i])) {
			err = gate_fail(ctx, -EINVAL, "unknown service '%s' (not in '%s')",
					names[i], stack.path);
			goto out;
		}
	if ((err = gate_open(ctx)) || (err = learned_load(ctx, stack.name, &l)) ||
	    (err = gate_select(ctx, &stack, &l, names, nnames, budget, &sel)))
		goto out;
	if (ctx->fmt == GATE_FMT_JSON) {
		json_t *j = gate_json_selection(&sel);
		err = j ? gate_json_print(ctx, j) : gate_fail(ctx, -ENOMEM, "out of memory");
		json_decref(j);
	} else {
		err = select_table(ctx, &sel);
	}
out:
	gate_selection_release(&sel);
	learned_release(&l);
	fl_stack_release(&stack);
	free(names);
	return err;
}

const struct gate_cmd gate_cmd_select = {
	.name = "select",
	.summary = "the tests a change must run, by risk per second, within a budget",
	.run = select_run,
	.store = GATE_CMD_READS,
	.formats = GATE_FMTS_TABLE_JSON,
};
