// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl: entry point, global options, subcommand dispatch, and the one
 * place where negative errnos become exit codes and messages.
 */
#include "gatectl.h"
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct gate_cmd *const cmds[] = {
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
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl [--db FILE] [-o FORMAT] COMMAND [OPTIONS]\n"
		"\n"
		"Query faultline's interaction graph and judge changes against it.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-12s%s\n", cmds[i]->name, cmds[i]->summary);
	fprintf(f,
		"\n"
		"options (before or after COMMAND):\n"
		"  --db FILE           the store, opened read-only but by import and\n"
		"                      compact (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT    table (default) or json; dot for graph\n"
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
		"  gatectl import otlp traces.jsonl\n");
}

int gate_fail(struct gate_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
	return err;
}

static int parse_format(struct gate_ctx *ctx, const char *s)
{
	if (!strcmp(s, "table"))
		ctx->fmt = GATE_FMT_TABLE;
	else if (!strcmp(s, "json"))
		ctx->fmt = GATE_FMT_JSON;
	else if (!strcmp(s, "dot"))
		ctx->fmt = GATE_FMT_DOT;
	else
		return gate_fail(ctx, -EINVAL,
				 "unknown output format '%s' (want table, json or dot)", s);
	return 0;
}

int gate_common_opt(struct gate_ctx *ctx, int c, char **argv,
		    void (*help)(FILE *f))
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	switch (c) {
	case 'D':
		ctx->db_path = optarg;
		return 1;
	case 'o':
		return parse_format(ctx, optarg) ?: 1;
	case 'h':
		help(stdout);
		return GATE_HELP_SHOWN;
	case ':':
		return gate_fail(ctx, -EINVAL, "option '%s' needs a value", arg);
	case '?':
		if (strncmp(arg, "--", 2) && optopt)
			return gate_fail(ctx, -EINVAL, "unknown option '-%c'", optopt);
		return gate_fail(ctx, -EINVAL, "unknown option '%s'", arg);
	}
	return 0;
}

int gate_no_args(struct gate_ctx *ctx, int argc, char **argv)
{
	if (optind < argc)
		return gate_fail(ctx, -EINVAL, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int gate_parse_u64(struct gate_ctx *ctx, const char *opt, const char *s,
		   uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	*out = v;
	return 0;
bad:
	return gate_fail(ctx, -EINVAL, "invalid value '%s' for '%s' (want a whole number)",
			 s, opt);
}

int gate_parse_double(struct gate_ctx *ctx, const char *opt, const char *s,
		      double min, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < min)
		return gate_fail(ctx, -EINVAL,
				 "invalid value '%s' for '%s' (want a number >= %g)",
				 s, opt, min);
	*out = v;
	return 0;
}

/*
 * What SQLite reports badly: a directory ("disk I/O error"), an unreadable
 * file, a file that is not SQLite at all ("schema version -1").
 */
static int open_precheck(struct gate_ctx *ctx)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	struct stat sb;
	ssize_t n;
	int fd;

	if (stat(ctx->db_path, &sb))
		return 0;	/* fl_store_open() says why */
	if (S_ISDIR(sb.st_mode))
		return gate_fail(ctx, -EISDIR, "cannot open '%s': %s", ctx->db_path,
				 strerror(EISDIR));
	fd = open(ctx->db_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gate_fail(ctx, -errno, "cannot open '%s': %s", ctx->db_path,
				 strerror(errno));
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n > 0 && (n < (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(head))))
		return gate_fail(ctx, -EPROTO, "cannot open '%s': not a SQLite database",
				 ctx->db_path);
	return 0;
}

static int open_error(struct gate_ctx *ctx, int err, const char *why);

int gate_open(struct gate_ctx *ctx)
{
	char why[400];
	int err;

	err = open_precheck(ctx);
	if (err)
		return err;
	why[0] = '\0';
	err = fl_store_open(ctx->db_path, false, &ctx->db, why, sizeof(why));
	if (!err) {
		/* one read transaction for the whole command: a consistent
		 * snapshot while the agent writes (WAL), and no lock and
		 * cache revalidation per query; a page cache of up to 64 MiB */
		if (sqlite3_exec(ctx->db, "PRAGMA cache_size = -65536; BEGIN",
				 NULL, NULL, NULL) != SQLITE_OK)
			return gate_fail(ctx, -EIO, "cannot read '%s': %s",
					 ctx->db_path, sqlite3_errmsg(ctx->db));
		return 0;
	}
	ctx->db = NULL;
	return open_error(ctx, err, why);
}

int gate_open_writable(struct gate_ctx *ctx)
{
	char why[400];
	int err;

	err = open_precheck(ctx);
	if (err)
		return err;
	why[0] = '\0';
	err = fl_store_open(ctx->db_path, true, &ctx->db, why, sizeof(why));
	if (!err)
		return 0;
	ctx->db = NULL;
	return open_error(ctx, err, why);
}

/*
 * The store's messages: "cannot open 'P': E", "what: sqlite error",
 * "not a faultline store (...)"; say each once, about the path.
 */
static int open_error(struct gate_ctx *ctx, int err, const char *why)
{
	if (!strncmp(why, "cannot open '", 13))
		return gate_fail(ctx, err, "%s", why);
	const char *colon = strstr(why, ": ");
	if (err == -EIO && colon)
		return gate_fail(ctx, err, "cannot open '%s': %s", ctx->db_path,
				 colon + 2);
	return gate_fail(ctx, err, "cannot open '%s': %s", ctx->db_path,
			 why[0] ? why : strerror(-err));
}

void gate_close(struct gate_ctx *ctx)
{
	for (int i = 0; i < GATE_SQL_COUNT; i++) {
		sqlite3_finalize(ctx->stmts[i]);
		ctx->stmts[i] = NULL;
	}
	ctx->schema_read = false;
	for (size_t i = 0; i < ctx->nsvcs; i++) {
		free((char *)ctx->svcs[i].name);
		free((char *)ctx->svcs[i].kind);
	}
	free(ctx->svcs);
	ctx->svcs = NULL;
	ctx->nsvcs = ctx->capsvcs = 0;
	gate_idmap_release(&ctx->svc_at);
	if (ctx->db && !sqlite3_get_autocommit(ctx->db))
		sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(ctx->db);
	ctx->db = NULL;
}

static const struct gate_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < N_CMDS; i++)
		if (!strcmp(cmds[i]->name, name))
			return cmds[i];
	return NULL;
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
		cmd = optind + 1 < argc ? find_cmd(argv[optind + 1]) : NULL;
		if (cmd) {
			char *hargv[] = { argv[optind + 1], "--help", NULL };
			optind = 0;
			return exit_code(cmd->run(&ctx, 2, hargv));
		}
		usage(stdout);
		return GATE_EXIT_OK;
	}
	cmd = find_cmd(argv[optind]);
	if (!cmd) {
		r = gate_fail(&ctx, -EINVAL,
			      "unknown command '%s' (see 'gatectl --help')", argv[optind]);
		goto out;
	}
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: re-initialise getopt for the command's argv */
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
