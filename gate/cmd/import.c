// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl import otlp|openapi FILE: the command. The file is read and
 * checked by its importer (import/otlp.c, import/openapi.c) before the
 * store is opened; the importer writes through import/writer.c.
 */
#include "cmd/cmd.h"
#include "import/writer.h"
#include "output/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void import_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl import otlp FILE [--db FILE] [-o table|json]\n"
		"       gatectl import openapi FILE --service S [--db FILE] [-o table|json]\n"
		"\n"
		"Add what another source knows to the store, in one transaction: a\n"
		"malformed file is refused with its position and nothing of it is kept.\n"
		"The store is created if missing.\n"
		"\n"
		"  otlp FILE      OpenTelemetry traces as OTLP/JSON: one\n"
		"                 ExportTraceServiceRequest, or JSON Lines of them (what\n"
		"                 the Collector's file exporter writes). CLIENT/SERVER\n"
		"                 span pairs become requests of edges (source 'trace'),\n"
		"                 per minute, with errors and latency; SERVER -> CLIENT\n"
		"                 spans of one service become path links.\n"
		"  openapi FILE   an OpenAPI 3 description (JSON) of service S: each\n"
		"                 path and method becomes an operation of S (source\n"
		"                 'schema'), merged with observed edges by route.\n"
		"\n"
		"options:\n"
		"  --service S     the service the OpenAPI description is of (openapi)\n"
		"  --db FILE       the store (default " GATE_DEFAULT_DB "), opened writable\n"
		"  -o, --output FMT  table or json: what was imported\n"
		"\n"
		"exit status: 0 imported, 2 usage error, unreadable or malformed file\n"
		"\n"
		"examples:\n"
		"  gatectl import otlp /var/lib/otelcol/traces.jsonl\n"
		"  gatectl import openapi api.json --service api -o json\n");
}

static int import_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "service", required_argument, NULL, 'S' },
		{ 0 }
	};
	struct imp im = { .ctx = ctx, .now_ns = ctx->now_ns };
	char *buf = NULL;
	size_t len = 0;
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, import_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (!err)
			im.service = optarg;
	}
	if (optind >= argc)
		return gate_fail(ctx, -EINVAL, "import needs a kind: 'otlp FILE' or 'openapi FILE --service S'");
	im.kind = argv[optind++];
	if (strcmp(im.kind, "otlp") && strcmp(im.kind, "openapi"))
		return gate_fail(ctx, -EINVAL, "unknown import kind '%s' (want otlp or openapi)",
				 im.kind);
	if (optind >= argc)
		return gate_fail(ctx, -EINVAL, "import %s needs a FILE", im.kind);
	im.path = argv[optind++];
	err = gate_no_args(ctx, argc, argv);
	if (err)
		return err;
	if (!strcmp(im.kind, "openapi") && (!im.service || !*im.service))
		return gate_fail(ctx, -EINVAL, "import openapi needs '--service S'");
	if (!strcmp(im.kind, "otlp") && im.service)
		return gate_fail(ctx, -EINVAL, "'--service' is only for import openapi");
	/*
	 * read and check the file first: an unreadable or malformed one never
	 * opens the store (the importers call imp_begin() once it is checked)
	 */
	err = imp_read_file(ctx, im.path, &buf, &len);
	if (err)
		return err;
	err = !strcmp(im.kind, "otlp") ? imp_otlp_run(&im, buf, len)
				       : imp_openapi_run(&im, buf, len);
	if (!err)
		err = imp_commit(&im, im.items);
	if (!err && ctx->fmt == GATE_FMT_JSON)
		err = gate_json_print(ctx, im.summary);
	else if (!err)
		im.print(im.summary);
	imp_end(&im);
	free(buf);
	return err;
}

const struct gate_cmd gate_cmd_import = {
	.name = "import",
	.summary = "add OTLP traces or an OpenAPI description to the store",
	.run = import_run,
	.store = GATE_CMD_WRITES,
	.formats = GATE_FMTS_TABLE_JSON,
};
