/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gatectl import: the writer shared by the importers (import.c) and the
 * importers themselves (import_otlp.c, import_openapi.c).
 *
 * An import runs in one BEGIN IMMEDIATE transaction on a writable store:
 * it commits only when the whole file was read and written; any error rolls
 * everything back, so a malformed file leaves the store as it was
 * (docs/gatectl.md "import").
 */
#ifndef FAULTLINE_GATE_IMPORT_WRITER_H
#define FAULTLINE_GATE_IMPORT_WRITER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "query/ctx.h"
#include "store_write.h"

/* One import: the store open for writing and the transaction. */
struct imp {
	struct gate_ctx *ctx;		/* borrowed */
	const char *kind;		/* "otlp" or "openapi" */
	const char *path;		/* the file, as given */
	const char *service;		/* --service, or NULL */
	int64_t now_ns;			/* the import's time */
	int64_t import_id;		/* imports.id of this import */
	bool in_txn;			/* BEGIN IMMEDIATE done, not ended */
	struct fl_sw sw;		/* the store writer; owned */
	/* set by the importer when it succeeds: */
	uint64_t items;			/* imports.items */
	json_t *summary;		/* what was imported; owned */
	void (*print)(const json_t *summary);	/* the table form */
};

/*
 * imp_begin() - open ctx->db_path writable (created if missing), start the
 * transaction, prepare the statements and add this import's row to
 * imports (items 0 until imp_commit()). Returns 0, or what
 * gate_open_writable() returns, or -EIO (message in ctx->err).
 */
int imp_begin(struct imp *im);

/*
 * imp_commit() - set this import's items to @items and commit.
 * Returns 0 or -EIO (everything rolled back).
 */
int imp_commit(struct imp *im, uint64_t items);

/* imp_end() - roll back unless committed; finalize the statements. */
void imp_end(struct imp *im);

/*
 * imp_service() - the id of service @name, inserted with @kind if new
 * (an existing service keeps its kind: what the agent named stays), its
 * first/last seen widened to [@first_ns, @last_ns]. OUT: *@id.
 * Returns 0 or -EIO.
 */
int imp_service(struct imp *im, const char *name, const char *kind,
		int64_t first_ns, int64_t last_ns, int64_t *id);

/*
 * imp_edge() - the id of edge (@client, @server, @proto, @op), inserted if
 * new, its first/last seen widened. OUT: *@id. Returns 0 or -EIO.
 */
int imp_edge(struct imp *im, int64_t client, int64_t server, const char *proto,
	     const char *op, int64_t first_ns, int64_t last_ns, int64_t *id);

/* One request of an edge, for imp_request(). */
struct imp_req {
	int64_t start_ns;	/* its start: the window is start's minute */
	int64_t end_ns;		/* its end: edge_sources.last_seen */
	uint64_t latency_ns;	/* end - start */
	bool error;		/* 5xx, error status */
	bool client_error;	/* 4xx */
};

/*
 * imp_request() - add request @r of edge @edge_id to its 60 s window and to
 * the edge_sources row of @source (samples + 1, first/last widened).
 * Returns 0, -ENOMEM or -EIO.
 */
int imp_request(struct imp *im, int64_t edge_id, const char *source,
		const struct imp_req *r);

/*
 * imp_source() - mark edge @edge_id known from @source at @ns with
 * @samples more samples. Returns 0 or -EIO.
 */
int imp_source(struct imp *im, int64_t edge_id, const char *source,
	       uint64_t samples, int64_t first_ns, int64_t last_ns);

/*
 * imp_link() - one more child request of @child made while serving a
 * request of @parent, found by @method, in the minute of @start_ns.
 * Returns 0 or -EIO.
 */
int imp_link(struct imp *im, int64_t parent, int64_t child, const char *method,
	     int64_t start_ns);

/*
 * imp_operation() - operation (@proto, @op) of service @service_id, known
 * from an API description of this import. Returns 0 or -EIO.
 */
int imp_operation(struct imp *im, int64_t service_id, const char *proto,
		  const char *op);

/*
 * imp_read_file() - the whole of @path, NUL-terminated. OUT: *@buf (caller
 * frees), *@len. Returns 0 or a negative errno ("cannot read 'P': why").
 */
int imp_read_file(struct gate_ctx *ctx, const char *path, char **buf, size_t *len);

/*
 * imp_route_template() - an HTTP route in the form of fl_http_route()'s
 * templates: "{userId}", ":userId" and "<int:user_id>" path segments
 * become "{id}".
 * Writes NUL-terminated @out (@size bytes). Returns the length.
 */
size_t imp_route_template(const char *route, char *out, size_t size);

/*
 * Where in a file a JSON document starts, to turn jansson's positions,
 * relative to the document, into the file's line and column.
 */
struct imp_pos {
	int line;	/* 1-based */
	int column;	/* 1-based, bytes */
};

/*
 * imp_json_next() - parse the next JSON document of @buf (@len bytes) at
 * *@off (JSON Lines, or any whitespace-separated documents). OUT: *@doc
 * (caller decrefs) or NULL at the end; *@at, where it starts; *@off moves
 * past it. Returns 0, or -EINVAL with "cannot import 'P': line L, column
 * C: why" in ctx->err, -ENOMEM.
 */
int imp_json_next(struct imp *im, const char *buf, size_t len, size_t *off,
		  json_t **doc, struct imp_pos *at);

/*
 * The importers: check all of @buf (@len bytes, NUL-terminated) of
 * im->path first, then imp_begin() and write it through the functions
 * above, inside the transaction; on success set im->items, im->summary
 * and im->print. Return 0 or a negative errno with the message in
 * im->ctx->err (-EINVAL: the file is malformed, and the store was not
 * even opened).
 */
int imp_otlp_run(struct imp *im, const char *buf, size_t len);
int imp_openapi_run(struct imp *im, const char *buf, size_t len);

#endif /* FAULTLINE_GATE_IMPORT_WRITER_H */
