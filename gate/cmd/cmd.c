// SPDX-License-Identifier: BSD-2-Clause
/*
 * The command table and what it decides for every command: how --db is
 * opened, which -o formats are accepted (checked once, here).
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * The commands, in the order of the help text. Each entry says how the
 * command opens --db and which -o formats it takes (cmd/cmd.h).
 */
const struct gate_cmd *const gate_cmds[] = {
	&gate_cmd_graph,
	&gate_cmd_paths,
	&gate_cmd_scope,
	&gate_cmd_health,
	&gate_cmd_blindspots,
	&gate_cmd_import,
	&gate_cmd_diff,
	&gate_cmd_merge,
	&gate_cmd_compact,
	&gate_cmd_fault,
	&gate_cmd_sandbox,
	&gate_cmd_learn,
	&gate_cmd_select,
	&gate_cmd_gate,
	&gate_cmd_deep,
	&gate_cmd_deploy,
	&gate_cmd_deploys,
	&gate_cmd_verify,
	&gate_cmd_accuracy,
	&gate_cmd_tests,
};
const size_t gate_ncmds = sizeof(gate_cmds) / sizeof(gate_cmds[0]);

/* "a, b and c": the names of the commands @want says yes to. */
const char *gate_cmd_names(bool (*want)(const struct gate_cmd *c, int arg),
			     int arg, char *buf, size_t len)
{
	size_t n = 0, k = 0, have = 0;

	for (size_t i = 0; i < gate_ncmds; i++)
		have += want(gate_cmds[i], arg);
	buf[0] = '\0';
	for (size_t i = 0; i < gate_ncmds && n < len; i++) {
		if (!want(gate_cmds[i], arg))
			continue;
		k++;
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      k == 1 ? "" : k == have ? " and " : ", ",
				      gate_cmds[i]->name);
	}
	return buf;
}

static bool takes_format(const struct gate_cmd *c, int fmt)
{
	unsigned ok = c->formats ? c->formats : GATE_FMTS_TABLE_JSON;

	return ok & GATE_FMT_BIT(fmt);
}

bool gate_cmd_writes(const struct gate_cmd *c, int unused)
{
	return c->store == GATE_CMD_WRITES;
}

const char *gate_cmds_with_format(enum gate_format fmt)
{
	static char buf[256];

	return gate_cmd_names(takes_format, fmt, buf, sizeof(buf));
}

const struct gate_cmd *gate_cmd_find(const char *name)
{
	for (size_t i = 0; i < gate_ncmds; i++)
		if (!strcmp(gate_cmds[i]->name, name))
			return gate_cmds[i];
	return NULL;
}

void gate_cmd_enter(struct gate_ctx *ctx, const struct gate_cmd *cmd)
{
	ctx->store = cmd->store;
	ctx->formats = cmd->formats;
	ctx->cmd_name = cmd->name;
	ctx->prometheus = cmd->prometheus;
	ctx->no_prometheus = cmd->no_prometheus;
}

int gate_format_check(struct gate_ctx *ctx)
{
	unsigned ok = ctx->formats ? ctx->formats : GATE_FMTS_TABLE_JSON;

	if (ctx->prom_url && !ctx->prometheus && ctx->cmd_name)
		return gate_fail(ctx, -EINVAL, "%s cannot read Prometheus: %s; "
				 "give it a store (--db)", ctx->cmd_name,
				 ctx->no_prometheus ? ctx->no_prometheus :
				 "it works on stores only");
	if (ok & GATE_FMT_BIT(ctx->fmt))
		return 0;
	return gate_fail(ctx, -EINVAL, "output format '%s' is only for %s",
			 gate_format_names[ctx->fmt], gate_cmds_with_format(ctx->fmt));
}

int gate_no_args(struct gate_ctx *ctx, int argc, char **argv)
{
	if (optind < argc)
		return gate_fail(ctx, -EINVAL, "unexpected argument '%s'", argv[optind]);
	return gate_format_check(ctx);
}
