// SPDX-License-Identifier: BSD-2-Clause
/*
 * The invocation context: errors, the options every command shares, the
 * format check of the command table, number options.
 */
#include "query/ctx.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int gate_fail(struct gate_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *const gate_format_names[GATE_FMT_COUNT] = {
	[GATE_FMT_TABLE] = "table", [GATE_FMT_JSON] = "json", [GATE_FMT_DOT] = "dot",
	[GATE_FMT_SVG] = "svg", [GATE_FMT_HTML] = "html",
	[GATE_FMT_JUNIT] = "junit", [GATE_FMT_MARKDOWN] = "markdown",
};

static int parse_format(struct gate_ctx *ctx, const char *s)
{
	for (int f = 0; f < GATE_FMT_COUNT; f++)
		if (!strcmp(s, gate_format_names[f])) {
			ctx->fmt = (enum gate_format)f;
			return 0;
		}
	return gate_fail(ctx, -EINVAL,
			 "unknown output format '%s' (want table, json, dot, svg or html)", s);
}

int gate_common_opt(struct gate_ctx *ctx, int c, char **argv,
		    void (*help)(FILE *f))
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	switch (c) {
	case 'D':
		ctx->db_path = optarg;
		ctx->db_given = true;
		return 1;
	case 'P':
		ctx->prom_url = optarg;
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
