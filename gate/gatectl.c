// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl: entry point, global options, dispatch over the command table
 * (cmd/cmd.c),
 * and the one place where negative errnos become exit codes and messages.
 * To add a command: docs/ARCHITECTURE.md "How to add a gatectl command".
 */
#include "cmd/cmd.h"
#include "query/open.h"
#include "query/time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * "read-only but by a, b and c" (the writing commands of the table),
 * wrapped to the help's option column, into @buf.
 */
static const char *wrap_writers(char *buf, size_t len)
{
	char names[256], *save, *w;
	size_t n = 0, col = 0;

	snprintf(names, sizeof(names), "read-only but by ");
	gate_cmd_names(gate_cmd_writes, 0, names + strlen(names),
		       sizeof(names) - strlen(names));
	buf[0] = '\0';
	for (w = strtok_r(names, " ", &save); w && n < len; w = strtok_r(NULL, " ", &save)) {
		size_t wl = strlen(w);
		if (col && col + 1 + wl > 56) {
			n += (size_t)snprintf(buf + n, len - n, "\n");
			col = 0;
		}
		n += (size_t)snprintf(buf + n, len - n, "%s%s", col ? " " : "                      ", w);
		col += (col ? 1 : 0) + wl;
	}
	return buf;
}

static void usage(FILE *f)
{
	char wr[512];

	fprintf(f,
		"usage: gatectl [--db FILE] [-o FORMAT] COMMAND [OPTIONS]\n"
		"\n"
		"Query faultline's interaction graph and judge changes against it.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < gate_ncmds; i++)
		fprintf(f, "  %-12s%s\n", gate_cmds[i]->name, gate_cmds[i]->summary);
	fprintf(f,
		"\n"
		"options (before or after COMMAND):\n"
		"  --db FILE           the store (default " GATE_DEFAULT_DB "), opened\n"
		"%s\n"
		"  --prometheus URL    read production windows from Prometheus' HTTP API\n"
		"                      (graph, scope, verify; docs/gatectl.md \"--prometheus\")\n"
		"  -o, --output FMT    table (default) or json; dot, svg, html for %s\n"
		"  -h, --help          this help; 'gatectl COMMAND --help' for a command\n"
		"\n"
		"times (--since, --until): RFC 3339 (2026-11-21T05:00:00Z,\n"
		"2026-11-21T06:00:00.5+01:00), Unix seconds (@1763700000), or a\n"
		"duration before now (30s, 15m, 2h, 1d, 1h30m)\n"
		"\n"
		"exit status: 0 ok, 1 regression or gate failed, 2 usage, input or\n"
		"store error, 3 inconclusive (not enough data)\n"
		"\n"
		"examples:\n"
		"  gatectl graph --since 1h\n"
		"  gatectl --db /var/lib/faultline/faultline.db graph -o dot | dot -Tsvg > g.svg\n"
		"  gatectl paths --through checkout --since 1h\n"
		"  gatectl scope --changed checkout -o json\n"
		"  gatectl health --service checkout --since 2026-11-21T05:00:00Z\n"
		"  gatectl blindspots -o json\n"
		"  gatectl import otlp traces.jsonl\n",
		wrap_writers(wr, sizeof(wr)), gate_cmds_with_format(GATE_FMT_DOT));
}

/* Global options before the command; "+" stops at the first non-option. */
static int parse_global(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { GATE_COMMON_LONGOPTS, { 0 } };
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+" GATE_COMMON_SHORTOPTS, opts,
				NULL)) != -1) {
		r = gate_common_opt(ctx, c, argv, usage);
		if (r < 0 || r == GATE_HELP_SHOWN)
			return r;
	}
	return 0;
}

static int exit_code(int r)
{
	if (r == GATE_HELP_SHOWN)
		return GATE_EXIT_OK;
	if (r >= 0)
		return r;
	return GATE_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct gate_ctx ctx = {
		.db_path = GATE_DEFAULT_DB,
		.fmt = GATE_FMT_TABLE,
		.now_ns = gate_now_ns(),
	};
	const struct gate_cmd *cmd;
	int r;

	r = parse_global(&ctx, argc, argv);
	if (r)
		goto out;
	if (optind >= argc) {
		usage(stderr);
		return GATE_EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		cmd = optind + 1 < argc ? gate_cmd_find(argv[optind + 1]) : NULL;
		if (cmd) {
			char *hargv[] = { argv[optind + 1], "--help", NULL };
			optind = 0;
			gate_cmd_enter(&ctx, cmd);
			return exit_code(cmd->run(&ctx, 2, hargv));
		}
		usage(stdout);
		return GATE_EXIT_OK;
	}
	cmd = gate_cmd_find(argv[optind]);
	if (!cmd) {
		r = gate_fail(&ctx, -EINVAL,
			      "unknown command '%s' (see 'gatectl --help')", argv[optind]);
		goto out;
	}
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: re-initialise getopt for the command's argv */
	gate_cmd_enter(&ctx, cmd);
	r = cmd->run(&ctx, argc, argv);
	/* a verdict nobody could read is not a pass: /dev/full, a full disk */
	if (r >= 0 && (fflush(stdout) == EOF || ferror(stdout)))
		r = gate_fail(&ctx, -EIO, "cannot write output: %s", strerror(errno));
out:
	if (r < 0)
		fprintf(stderr, "gatectl: %s\n", ctx.err[0] ? ctx.err : strerror(-r));
	gate_close(&ctx);
	return exit_code(r);
}
