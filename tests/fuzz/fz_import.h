/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * For the importer fuzz targets: run an importer's reading and checking
 * of @d over a store path that is a directory, so a file the importer
 * accepts stops at imp_begin() (cannot open: a directory) without writing
 * anything: the checks are what is fuzzed, cheaply. Either the importer
 * says why it refuses (one message), or it got as far as the store.
 */
#ifndef FAULTLINE_FZ_IMPORT_H
#define FAULTLINE_FZ_IMPORT_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "import/writer.h"
#include "query/open.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fz_import(int (*run)(struct imp *, const char *, size_t),
			     const char *kind, const char *service,
			     const uint8_t *d, size_t n)
{
	struct gate_ctx ctx;
	struct imp im;
	char *buf = malloc(n + 1);	/* the importers take NUL-terminated text */
	int rc;

	if (!buf)
		abort();
	memcpy(buf, d, n);
	buf[n] = 0;
	memset(&ctx, 0, sizeof(ctx));
	ctx.db_path = "/";
	ctx.now_ns = 1795237200000000000ll;
	memset(&im, 0, sizeof(im));
	im.ctx = &ctx;
	im.kind = kind;
	im.path = "fuzz-input";
	im.service = service;
	im.now_ns = ctx.now_ns;
	rc = run(&im, buf, n);
	if (rc && (!ctx.err[0] || !memchr(ctx.err, 0, sizeof(ctx.err))))
		abort();	/* a refusal always says why */
	if (!rc)
		abort();	/* it cannot have written to a directory */
	imp_end(&im);
	gate_close(&ctx);
	free(buf);
}

#endif /* FAULTLINE_FZ_IMPORT_H */
