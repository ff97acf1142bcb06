/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one way gatectl opens a store (query/open.c): read-only in one read
 * snapshot, or writable (created 0600, migrated) for the commands whose
 * table entry says they write, with one set of messages
 * ("cannot open 'PATH': why") for every way it can fail.
 */
#ifndef FAULTLINE_GATE_OPEN_H
#define FAULTLINE_GATE_OPEN_H

#include <sqlite3.h>

#include "query/ctx.h"

/* How gate_store_open() opens a store. */
enum gate_open_mode {
	GATE_OPEN_READ = 0,	/* read-only, in one read transaction (a snapshot) */
	GATE_OPEN_WRITE,	/* writable: created 0600 if missing, migrated */
	GATE_OPEN_CHECK,	/* read-only, closed again: refuse before writing */
};

/*
 * gate_store_open() - the one store opener of gatectl. Before SQLite
 * sees @path, refuses a directory or a file that is not SQLite (and, for
 * GATE_OPEN_CHECK, a missing one); then fl_store_open() refuses schema 0
 * or a newer schema. GATE_OPEN_READ starts the read transaction every
 * query of the command runs in; GATE_OPEN_WRITE starts none.
 * OUT: *@db (NULL for GATE_OPEN_CHECK), closed by the caller.
 * Returns 0, or -ENOENT / -EISDIR / -EACCES / -EPROTO / -EIO with
 * "cannot open 'PATH': why" in ctx->err.
 */
int gate_store_open(struct gate_ctx *ctx, const char *path,
		    enum gate_open_mode mode, sqlite3 **db);

/*
 * gate_open() - open ctx->db_path into ctx->db as the command's table
 * entry says (cmd/cmd.h .store): writable for a command that writes,
 * read-only in one snapshot otherwise (and for a context of no command,
 * e.g. an input store of merge or diff). Returns what gate_store_open()
 * returns.
 */
int gate_open(struct gate_ctx *ctx);

/*
 * gate_open_writable() - open ctx->db_path writable into ctx->db, whatever
 * the table says (kept for code written before the table said it).
 */
int gate_open_writable(struct gate_ctx *ctx);

/*
 * gate_close() - finalize the statements, free the service cache (every
 * gate_service and gate_edge name with it) and close ctx->db; idempotent.
 */
void gate_close(struct gate_ctx *ctx);

/* gate_store_check() - gate_store_open(@path, GATE_OPEN_CHECK). */
int gate_store_check(struct gate_ctx *ctx, const char *path);

/* gate_open_write() - gate_store_open(@path, GATE_OPEN_WRITE, @db). */
int gate_open_write(struct gate_ctx *ctx, const char *path, sqlite3 **db);

#endif /* FAULTLINE_GATE_OPEN_H */
