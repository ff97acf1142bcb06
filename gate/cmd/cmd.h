/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The command table's entry type and the commands (one file each in
 * cmd/, git builtin/ style). Commands never call each other: what two of
 * them share lives in query/, judge/, output/ or import/.
 */
#ifndef FAULTLINE_GATE_CMD_H
#define FAULTLINE_GATE_CMD_H

#include "query/ctx.h"

/*
 * A subcommand: one entry of the table in gatectl.c. run() parses its own
 * argv (argv[0] is its name) with gate_common_opt(); gate_no_args() (or
 * gate_format_check() for a command with operands) refuses an -o the
 * entry's @formats does not list, so no command checks formats itself.
 */
struct gate_cmd {
	const char *name;
	const char *summary;	/* one line for the top-level help */
	int (*run)(struct gate_ctx *ctx, int argc, char **argv);
	enum gate_cmd_store store;	/* how gate_open() opens --db */
	unsigned formats;	/* GATE_FMT_BIT()s accepted; 0: table and json */
	bool prometheus;	/* reads production windows from --prometheus */
	const char *no_prometheus; /* else why not (for the message), or NULL */
};

/*
 * gate_cmd_names() - "a, b and c": the names of the commands @want(entry,
 * @arg) says yes to, into @buf (@len bytes). Returns @buf.
 */
const char *gate_cmd_names(bool (*want)(const struct gate_cmd *c, int arg),
			   int arg, char *buf, size_t len);

/* gate_cmd_writes() - for gate_cmd_names(): the entry opens --db writable. */
bool gate_cmd_writes(const struct gate_cmd *c, int unused);

/*
 * gate_cmds_with_format() - "graph", or "a and b": the commands of the
 * table that accept @fmt (static). For the format check's message.
 */
const char *gate_cmds_with_format(enum gate_format fmt);

/* The table, in the order of the help text (cmd/cmd.c). */
extern const struct gate_cmd *const gate_cmds[];
extern const size_t gate_ncmds;

/* gate_cmd_find() - the entry named @name, or NULL. */
const struct gate_cmd *gate_cmd_find(const char *name);

/*
 * gate_cmd_enter() - make @cmd the running command of @ctx: its table
 * flags (store, formats) go into the context.
 */
void gate_cmd_enter(struct gate_ctx *ctx, const struct gate_cmd *cmd);

/*
 * gate_no_args() - -EINVAL unless getopt consumed all of argv; then
 * gate_format_check().
 */
int gate_no_args(struct gate_ctx *ctx, int argc, char **argv);

/*
 * gate_format_check() - -EINVAL ("output format 'dot' is only for graph")
 * unless the running command's table entry accepts ctx->fmt, or when
 * --prometheus was given to a command that cannot read it (the message says
 * why: what Prometheus does not have). Commands call
 * it through gate_no_args(); one that takes operands calls it after its
 * options.
 */
int gate_format_check(struct gate_ctx *ctx);

extern const struct gate_cmd gate_cmd_graph;
extern const struct gate_cmd gate_cmd_scope;
extern const struct gate_cmd gate_cmd_health;
extern const struct gate_cmd gate_cmd_blindspots;
extern const struct gate_cmd gate_cmd_paths;
extern const struct gate_cmd gate_cmd_import;
extern const struct gate_cmd gate_cmd_compact;
extern const struct gate_cmd gate_cmd_diff;
extern const struct gate_cmd gate_cmd_merge;
extern const struct gate_cmd gate_cmd_fault;
extern const struct gate_cmd gate_cmd_sandbox;
extern const struct gate_cmd gate_cmd_learn;
extern const struct gate_cmd gate_cmd_select;
extern const struct gate_cmd gate_cmd_gate;
extern const struct gate_cmd gate_cmd_deep;
extern const struct gate_cmd gate_cmd_deploy;
extern const struct gate_cmd gate_cmd_deploys;
extern const struct gate_cmd gate_cmd_verify;
extern const struct gate_cmd gate_cmd_accuracy;
extern const struct gate_cmd gate_cmd_tests;

#endif /* FAULTLINE_GATE_CMD_H */
