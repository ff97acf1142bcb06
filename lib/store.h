/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The store: one SQLite file in WAL mode, mode 0600, schema versioned with
 * PRAGMA user_version and forward migrations (docs/store.md).
 *
 * Times are wall-clock: *_ns columns are ns since the Unix epoch, window
 * starts are Unix seconds (multiples of 60). Latency histograms are blobs of
 * lib/hist.h's encoding.
 */
#ifndef FAULTLINE_STORE_H
#define FAULTLINE_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#define FL_STORE_SCHEMA_VERSION 7
#define FL_STORE_WINDOW_S 60	/* edge_windows granularity, seconds */
#define FL_STORE_BUSY_MS 5000	/* how long a connection waits for a lock */

/*
 * fl_store_open() - open (and, if @writable, create and migrate) the store
 * at @path. A writable store is created with mode 0600. Registers the SQL
 * function fl_hist_merge(a, b) (merged histogram blob of two blobs).
 * OUT: *@db, closed by the caller with sqlite3_close().
 * Returns 0, or a negative errno: -ENOENT (read-only and missing), -EPROTO
 * (not a faultline store, a damaged one, or a newer schema than this build
 * knows), -EBUSY (locked by another process past FL_STORE_BUSY_MS), -EROFS
 * (read-only: on a read-only filesystem with unmerged WAL content), -EIO
 * (SQLite error). A read-only open on a read-only filesystem with no WAL
 * content opens the file immutable (docs/store.md). On error a one-line message is written to @errbuf
 * (@errlen bytes) and nothing in the file has changed.
 */
int fl_store_open(const char *path, bool writable, sqlite3 **db,
		  char *errbuf, size_t errlen);

#endif /* FAULTLINE_STORE_H */
