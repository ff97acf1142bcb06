/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Recordings of the collector's raw event stream, for replaying the whole
 * userspace pipeline without the kernel (benchmarks, regression tests).
 *
 * Format (host byte order, one machine): the 8-byte magic "FLREC01\n", an
 * int64 mono_to_wall_ns, then per event a uint32 length and that many bytes
 * exactly as the ring buffer delivered them.
 *
 * A recording holds captured payloads in plaintext, secrets included: files
 * are created 0600 and must be handled like the traffic itself.
 */
#ifndef FAULTLINE_RECORD_H
#define FAULTLINE_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FL_RECORD_MAGIC "FLREC01\n"
#define FL_RECORD_EVENT_MAX (1u << 20) /* larger lengths mean a corrupt file */

/*
 * record_create() - create @path (0600, truncated) and write the header.
 * Returns the stream, or NULL with errno set.
 */
FILE *record_create(const char *path, int64_t mono_to_wall_ns);

/* record_write() - append one event. Returns 0 or -EIO. */
int record_write(FILE *f, const void *data, size_t len);

struct record_reader;

/*
 * record_open() - open @path for replay and read its header. A regular file
 * is mapped (no read(2) and no copy per event, as the ring buffer hands out
 * events in place); anything else (a pipe) is read through stdio.
 * OUT: *@mono_to_wall_ns. Returns the reader, or NULL with errno set
 * (EPROTO: not a recording). Free with record_close().
 */
struct record_reader *record_open(const char *path, int64_t *mono_to_wall_ns);

/*
 * record_next() - the next event. OUT: *@data (8-byte aligned, valid until
 * the next call or record_close()), *@len. Returns 1 for an event, 0 at the
 * end, -EPROTO for a truncated or corrupt record (what came before it was
 * replayed).
 */
int record_next(struct record_reader *r, const void **data, size_t *len);

/* record_close() - release @r; NULL is fine. */
void record_close(struct record_reader *r);

#endif /* FAULTLINE_RECORD_H */
