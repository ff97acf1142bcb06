// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl sandbox up|status|down --stack FILE [--name N] [--state-dir D]
 * (docs/gate.md "Sandbox").
 */
#include "cmd/cmd.h"
#include "gating/gating.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void sandbox_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl sandbox up|status|down --stack FILE [--name N]\n"
		"                       [--state-dir D] [--db FILE] [-o table|json]\n"
		"\n"
		"The gate's sandbox: every service of the stack file in a network\n"
		"namespace of its own (fl-NAME), each in a cgroup under\n"
		"faultline/NAME, with the sandbox agent recording into --db. 'up'\n"
		"leaves it warm for the next gate (a warm one is checked and repaired);\n"
		"'status' shows each service's pid, readiness and restarts; 'down'\n"
		"stops and removes everything, also what a killed gatectl left.\n"
		"\n"
		"options:\n"
		"  --stack FILE        the stack file (docs/stack.md; required)\n"
		"  --name N            the sandbox's name (default: the stack's name)\n"
		"  --state-dir D       its state (default " SB_STATE_ROOT "/NAME)\n"
		"  --db FILE           the store the sandbox agent writes (default "
		GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT    table or json\n"
		"\n"
		"exit status: 0 ok (status: up), 2 bad stack file or a command that\n"
		"does not start, 3 the sandbox failed to start (infra) or, for status,\n"
		"is not up\n"
		"\n"
		"examples:\n"
		"  sudo gatectl sandbox up --stack tools/estate/shop.json\n"
		"  sudo gatectl sandbox status --stack tools/estate/shop.json -o json\n"
		"  sudo gatectl sandbox down --stack tools/estate/shop.json\n");
}

static int print_status(struct gate_ctx *ctx, struct sandbox *sb, const char *head)
{
	static const char *const heads[] = { "SERVICE", "PID", "READY", "RESTARTS",
					     "SWAPPED", "PORT" };
	json_t *st = sb_status_json(sb);
	struct gate_table t;
	json_t *e;
	size_t i;
	int err = 0;

	if (!st)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	if (ctx->fmt == GATE_FMT_JSON) {
		err = gate_json_print(ctx, st);
		json_decref(st);
		return err;
	}
	if (head)
		printf("%s\n", head);
	printf("sandbox %s: %s (netns %s, agent pid %lld, store %s)\n",
	       json_string_value(json_object_get(st, "name")),
	       json_string_value(json_object_get(st, "state")),
	       json_string_value(json_object_get(st, "netns")),
	       json_integer_value(json_object_get(json_object_get(st, "agent"), "pid")),
	       json_string_value(json_object_get(st, "db")) ?: "-");
	gate_table_init(&t, heads, "lrlrlr", 6);
	json_array_foreach(json_object_get(st, "services"), i, e) {
		char pid[24], rs[24], port[24];
		snprintf(pid, sizeof(pid), "%lld", json_integer_value(json_object_get(e, "pid")));
		snprintf(rs, sizeof(rs), "%lld", json_integer_value(json_object_get(e, "restarts")));
		snprintf(port, sizeof(port), "%lld", json_integer_value(json_object_get(e, "port")));
		const char *row[] = {
			json_string_value(json_object_get(e, "name")), pid,
			json_is_true(json_object_get(e, "ready")) ? "yes" : "no", rs,
			json_is_true(json_object_get(e, "swapped")) ? "yes" : "no", port };
		if ((err = gate_table_row(&t, row)))
			break;
	}
	if (!err)
		gate_table_print(&t, stdout);
	gate_table_release(&t);
	json_decref(st);
	return err ? gate_fail(ctx, err, "out of memory") : 0;
}

static int sandbox_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		GATE_STACK_LONGOPTS,
		{ 0 }
	};
	struct gate_stack_opts so = { 0 };
	struct fl_stack stack = { 0 };
	struct sandbox sb = { .lock_fd = -1, .host_ns_fd = -1, .ns_fd = -1 };
	const char *verb;
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, sandbox_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		if ((err = gate_stack_opt(ctx, &so, c)))
			return err;
	}
	if (optind >= argc)
		return gate_fail(ctx, -EINVAL, "sandbox needs up, status or down");
	verb = argv[optind++];
	if (strcmp(verb, "up") && strcmp(verb, "status") && strcmp(verb, "down"))
		return gate_fail(ctx, -EINVAL, "unknown sandbox command '%s' (want up, "
				 "status or down)", verb);
	if ((err = gate_no_args(ctx, argc, argv)))
		return err;
	if ((err = gate_stack_load(ctx, &so, &stack)))
		return err;
	sb_signals_install();
	if ((err = gate_sandbox_open(ctx, &so, &stack, &sb)))
		goto out;
	if (!strcmp(verb, "up")) {
		bool cold;
		err = gate_sandbox_up(ctx, &sb, &cold);
		if (!err) {
			char head[128];
			snprintf(head, sizeof(head), cold ? "started cold in %.2f s" :
				 "warm (already up)", sb.up_s);
			err = print_status(ctx, &sb, ctx->fmt == GATE_FMT_JSON ? NULL : head);
		}
	} else if (!strcmp(verb, "status")) {
		err = print_status(ctx, &sb, NULL);
		if (!err && !sb.up) {
			json_t *st = sb_status_json(&sb);
			if (strcmp(json_string_value(json_object_get(st, "state")), "up"))
				err = GATE_EXIT_INCONCLUSIVE;
			json_decref(st);
		}
	} else {
		err = gate_sandbox_down(ctx, &sb);
		if (!err && ctx->fmt != GATE_FMT_JSON)
			printf("sandbox %s: down\n", sb.name);
	}
out:
	sb_close(&sb);
	fl_stack_release(&stack);
	return err;
}

const struct gate_cmd gate_cmd_sandbox = {
	.name = "sandbox",
	.summary = "start, inspect or stop the gate's sandbox of a stack file",
	.run = sandbox_run,
	.store = GATE_CMD_READS,
	.formats = GATE_FMTS_TABLE_JSON,
};
