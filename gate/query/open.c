// SPDX-License-Identifier: BSD-2-Clause
/*
 * The one store opener of gatectl: what SQLite reports badly is refused
 * first, the store's own refusals are said once, about the path.
 */
#include "query/open.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * What SQLite reports badly: a directory ("disk I/O error"), an unreadable
 * file, a file that is not SQLite at all ("schema version -1"). A missing
 * file is fl_store_open()'s to report, unless @must_exist.
 */
static int open_precheck(struct gate_ctx *ctx, const char *path, bool must_exist)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	struct stat sb;
	ssize_t n;
	int fd;

	if (stat(path, &sb))
		return must_exist ? gate_fail(ctx, -errno, "cannot open '%s': %s", path,
					      strerror(errno)) : 0;
	if (S_ISDIR(sb.st_mode))
		return gate_fail(ctx, -EISDIR, "cannot open '%s': %s", path,
				 strerror(EISDIR));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gate_fail(ctx, -errno, "cannot open '%s': %s", path,
				 strerror(errno));
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n > 0 && (n < (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(head))))
		return gate_fail(ctx, -EPROTO, "cannot open '%s': not a SQLite database",
				 path);
	return 0;
}

/*
 * The store's messages: "cannot open 'P': E", "what: sqlite error",
 * "not a faultline store (...)"; say each once, about the path.
 */
static int open_error(struct gate_ctx *ctx, int err, const char *path,
		      const char *why)
{
	const char *colon = strstr(why, ": ");

	if (!strncmp(why, "cannot open '", 13))
		return gate_fail(ctx, err, "%s", why);
	if (err == -EIO && colon)
		return gate_fail(ctx, err, "cannot open '%s': %s", path, colon + 2);
	return gate_fail(ctx, err, "cannot open '%s': %s", path,
			 why[0] ? why : strerror(-err));
}

int gate_store_open(struct gate_ctx *ctx, const char *path,
		    enum gate_open_mode mode, sqlite3 **out)
{
	char why[400] = "";
	sqlite3 *db = NULL;
	int err;

	if (out)
		*out = NULL;
	err = open_precheck(ctx, path, mode == GATE_OPEN_CHECK);
	if (err)
		return err;
	err = fl_store_open(path, mode == GATE_OPEN_WRITE, &db, why, sizeof(why));
	if (err)
		return open_error(ctx, err, path, why);
	if (mode == GATE_OPEN_CHECK) {
		sqlite3_close(db);
		return 0;
	}
	/* one read transaction for the whole command: a consistent snapshot
	 * while the agent writes (WAL), and no lock and cache revalidation
	 * per query; a page cache of up to 64 MiB */
	if (mode == GATE_OPEN_READ &&
	    sqlite3_exec(db, "PRAGMA cache_size = -65536; BEGIN", NULL, NULL,
			 NULL) != SQLITE_OK) {
		err = gate_fail(ctx, -EIO, "cannot read '%s': %s", path,
				sqlite3_errmsg(db));
		sqlite3_close(db);
		return err;
	}
	*out = db;
	return 0;
}

int gate_open(struct gate_ctx *ctx)
{
	return gate_store_open(ctx, ctx->db_path,
			       ctx->store == GATE_CMD_WRITES ? GATE_OPEN_WRITE
							     : GATE_OPEN_READ, &ctx->db);
}

int gate_open_writable(struct gate_ctx *ctx)
{
	return gate_store_open(ctx, ctx->db_path, GATE_OPEN_WRITE, &ctx->db);
}

int gate_store_check(struct gate_ctx *ctx, const char *path)
{
	return gate_store_open(ctx, path, GATE_OPEN_CHECK, NULL);
}

int gate_open_write(struct gate_ctx *ctx, const char *path, sqlite3 **db)
{
	return gate_store_open(ctx, path, GATE_OPEN_WRITE, db);
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
