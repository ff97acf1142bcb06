/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The command table's entry type and the commands (one file each in
 * cmd/, git builtin/ style). Commands never call each other: what two of
 * them share lives in query/, judge/, output/ or import/.
 */
#ifndef FAULTLINE_GATE_CMD_H
#define FAULTLINE_GATE_CMD_H

#include "query/ctx.h"

/* Whether a command opens --db, and how (query/open.c obeys it). */
enum gate_cmd_store {
	GATE_CMD_READS = 0,	/* read-only, one snapshot (the default) */
	GATE_CMD_WRITES,	/* writable: created 0600 if missing, migrated */
};

/* The output formats a command accepts, bits of 1 << enum gate_format. */
#define GATE_FMT_BIT(f) (1u << (f))
#define GATE_FMTS_TABLE_JSON (GATE_FMT_BIT(GATE_FMT_TABLE) | GATE_FMT_BIT(GATE_FMT_JSON))

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
};

/*
 * gate_cmds_with_format() - "graph", or "a and b": the commands of the
 * table that accept @fmt (static). For the format check's message.
 */
const char *gate_cmds_with_format(enum gate_format fmt);

extern const struct gate_cmd gate_cmd_graph;
extern const struct gate_cmd gate_cmd_scope;
extern const struct gate_cmd gate_cmd_health;
extern const struct gate_cmd gate_cmd_blindspots;
extern const struct gate_cmd gate_cmd_paths;
extern const struct gate_cmd gate_cmd_import;
extern const struct gate_cmd gate_cmd_compact;
extern const struct gate_cmd gate_cmd_diff;
extern const struct gate_cmd gate_cmd_merge;

#endif /* FAULTLINE_GATE_CMD_H */
