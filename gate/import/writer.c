// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl import: the command, and the writer the importers share. Every
 * write is an upsert that adds to what is there, on a primary key or
 * UNIQUE index, inside the import's one transaction.
 */
#include "import/writer.h"
#include "hist.h"
#include "query/open.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The importers' rules: an existing service keeps its kind (what the
 * agent named stays); windows merge as the agent's do. */
static const struct fl_sw_rules imp_rules = {
	.kind = FL_SW_KIND_KEEP, .hist = FL_SW_HIST_MERGE,
	.counter = FL_SW_COUNTER_SET,
};

/* "cannot WHAT in 'DB': why" for a failed write (@err from lib/store_write). */
static int imp_db_fail(struct imp *im, int err, const char *what)
{
	return gate_fail(im->ctx, err == -ENOMEM ? -ENOMEM : -EIO,
			 "cannot %s in '%s': %s", what, im->ctx->db_path,
			 im->sw.err[0] ? im->sw.err : sqlite3_errmsg(im->ctx->db));
}

int imp_begin(struct imp *im)
{
	struct gate_ctx *ctx = im->ctx;
	int err;

	err = gate_open(ctx);	/* writable: import's table entry says so */
	if (err)
		return err;
	fl_sw_init(&im->sw, ctx->db, &imp_rules);
	if (sqlite3_exec(ctx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return imp_db_fail(im, -EIO, "start the import");
	im->in_txn = true;
	err = fl_sw_import(&im->sw, im->kind, im->path, im->service, im->now_ns, 0,
			   &im->import_id);
	return err ? imp_db_fail(im, err, "record the import") : 0;
}

int imp_commit(struct imp *im, uint64_t items)
{
	int err = fl_sw_import_items(&im->sw, im->import_id, items);

	if (err)
		return imp_db_fail(im, err, "record the import");
	if (sqlite3_exec(im->ctx->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return imp_db_fail(im, -EIO, "commit the import");
	im->in_txn = false;
	return 0;
}

void imp_end(struct imp *im)
{
	fl_sw_release(&im->sw);
	if (im->in_txn && im->ctx->db)
		sqlite3_exec(im->ctx->db, "ROLLBACK", NULL, NULL, NULL);
	im->in_txn = false;
	json_decref(im->summary);
	im->summary = NULL;
}

int imp_service(struct imp *im, const char *name, const char *kind,
		int64_t first_ns, int64_t last_ns, int64_t *id)
{
	int err = fl_sw_service(&im->sw, name, kind, first_ns, last_ns, id);

	return err ? imp_db_fail(im, err, "write services") : 0;
}

int imp_edge(struct imp *im, int64_t client, int64_t server, const char *proto,
	     const char *op, int64_t first_ns, int64_t last_ns, int64_t *id)
{
	/* OTLP and OpenAPI do not say whether TLS was used: false never
	 * clears an edge's mark */
	struct fl_sw_edge e = {
		.client_id = client, .server_id = server, .protocol = proto,
		.operation = op, .first_ns = first_ns, .last_ns = last_ns,
	};
	int err = fl_sw_edge(&im->sw, &e, id);

	return err ? imp_db_fail(im, err, "write edges") : 0;
}

/* The start of the 60 s window holding @ns. */
static int64_t window_of(int64_t ns)
{
	int64_t s = ns / GATE_NS_PER_S;

	if (ns < 0 && ns % GATE_NS_PER_S)
		s--;
	return s - ((s % 60) + 60) % 60;
}

int imp_request(struct imp *im, int64_t edge_id, const char *source,
		const struct imp_req *r)
{
	struct fl_hist h = FL_HIST_INIT;
	struct fl_sw_window w = {
		.source = source, .start_s = window_of(r->start_ns),
		.width_s = FL_STORE_WINDOW_S, .requests = 1, .errors = r->error,
		.client_errors = r->client_error, .latency_sum_ns = r->latency_ns,
	};
	uint8_t *blob;
	size_t len;
	int err;

	if (fl_hist_add(&h, r->latency_ns, 1) || fl_hist_encode(&h, &blob, &len)) {
		fl_hist_release(&h);
		return gate_fail(im->ctx, -ENOMEM, "out of memory");
	}
	fl_hist_release(&h);
	w.hist = blob;
	w.hist_len = len;
	err = fl_sw_window(&im->sw, edge_id, &w);
	free(blob);
	if (err)
		return imp_db_fail(im, err, "write edge_windows");
	return imp_source(im, edge_id, source, 1, r->start_ns, r->end_ns);
}

int imp_source(struct imp *im, int64_t edge_id, const char *source,
	       uint64_t samples, int64_t first_ns, int64_t last_ns)
{
	int err = fl_sw_source(&im->sw, edge_id, source, samples, first_ns, last_ns);

	return err ? imp_db_fail(im, err, "write edge_sources") : 0;
}

int imp_link(struct imp *im, int64_t parent, int64_t child, const char *method,
	     int64_t start_ns)
{
	int err = fl_sw_link(&im->sw, parent, child, method, window_of(start_ns),
			     FL_STORE_WINDOW_S, 1);

	return err ? imp_db_fail(im, err, "write path_links") : 0;
}

int imp_operation(struct imp *im, int64_t service_id, const char *proto,
		  const char *op)
{
	int err = fl_sw_operation(&im->sw, service_id, proto, op, "schema",
				  im->import_id, im->now_ns, im->now_ns);

	return err ? imp_db_fail(im, err, "write operations") : 0;
}

int imp_read_file(struct gate_ctx *ctx, const char *path, char **out, size_t *outlen)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = NULL, *nb;
	struct stat sb;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gate_fail(ctx, -errno, "cannot read '%s': %s", path, strerror(errno));
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		err = gate_fail(ctx, -EISDIR, "cannot read '%s': %s", path, strerror(EISDIR));
		goto out_close;
	}
	for (;;) {
		if (!buf || len + 1 >= cap) {
			cap = buf ? cap * 2 : cap;
			nb = realloc(buf, cap);
			if (!nb) {
				err = gate_fail(ctx, -ENOMEM, "out of memory");
				goto out_close;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = gate_fail(ctx, -errno, "cannot read '%s': %s", path,
					strerror(errno));
			goto out_close;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out_close:
	free(buf);
	close(fd);
	return err;
}

size_t imp_route_template(const char *route, char *out, size_t size)
{
	size_t n = 0;
	const char *p = route;

	if (!size)
		return 0;
	while (*p && n + 1 < size) {
		const char *seg = p, *end = p;
		while (*end && *end != '/')
			end++;
		/* {id} (OpenAPI, OTel), :id (Express, Rails), <int:id> (Flask) */
		bool param = (end - seg >= 2 && seg[0] == '{' && end[-1] == '}') ||
			     (end - seg >= 2 && seg[0] == '<' && end[-1] == '>') ||
			     (end - seg >= 2 && seg[0] == ':');
		if (param) {
			const char *id = "{id}";
			while (*id && n + 1 < size)
				out[n++] = *id++;
		} else {
			while (seg < end && n + 1 < size)
				out[n++] = *seg++;
		}
		p = end;
		if (*p == '/' && n + 1 < size)
			out[n++] = *p++;
		else if (*p == '/')
			break;
	}
	out[n] = '\0';
	return n;
}

int imp_json_next(struct imp *im, const char *buf, size_t len, size_t *off,
		  json_t **doc, struct imp_pos *at)
{
	json_error_t e;
	size_t i;
	int line = 1, col = 1;

	*doc = NULL;
	while (*off < len && strchr(" \t\r\n", buf[*off]))
		(*off)++;
	if (*off >= len)
		return 0;
	for (i = 0; i < *off; i++) {	/* where the document starts */
		if (buf[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	at->line = line;
	at->column = col;
	*doc = json_loadb(buf + *off, len - *off,
			  JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &e);
	if (!*doc) {
		int l = e.line > 0 ? line + e.line - 1 : line;
		int c = e.line == 1 ? col - 1 + e.column : e.column;
		return gate_fail(im->ctx, -EINVAL,
				 "cannot import '%s': line %d, column %d: %s",
				 im->path, l, c > 0 ? c : 1, e.text);
	}
	*off += (size_t)e.position;
	return 0;
}
