/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Parser core (proto_core.c), internal to the protocol parsers: the parser
 * object, the per-protocol vtable, and what every protocol shares: a capped
 * growable buffer, line assembly, and the FIFO of pending requests that
 * pairs responses with requests. Nothing here is for callers of proto.h.
 *
 * Pairing model. A protocol pushes a pending entry when a request is known
 * (HTTP: at the end of its head; PostgreSQL: at Query/Sync; Redis: at the
 * end of the command) and completes the oldest entry when a response ends.
 * Entries are identified by a sequence number so that a side can keep
 * updating "its" entry (request body bytes) without holding a pointer into
 * the ring. Markers keep FIFO order honest after loss:
 *  - FL_PEND_LOST: at least one request was lost here (request-side gap or
 *    garbage in a head or between requests). The next response to reach
 *    it is discarded (counted unpaired and requests_lost: its request was
 *    in the lost stretch) and it becomes a FL_PEND_MAYBE_LOST.
 *  - FL_PEND_MAYBE_LOST: an unknown number of requests (maybe none) were
 *    lost here, e.g. a gap in the chunked body of a request already queued.
 *    Causality decides: a response that began before the next queued
 *    request was sent cannot answer it and is discarded (counted unpaired
 *    and requests_lost, as at a LOST marker); the first one that
 *    began after it resolves the marker. Exact unless the client pipelined
 *    across the loss.
 *  - q.lost_head: requests dropped on overflow (already counted unpaired);
 *    the next responses are discarded without being counted again.
 * Response-side loss drops every pending request (fl_pending_lose, counted
 * unpaired and requests_lost): how many responses went by unseen cannot be
 * known, and a wrong pairing is worse than none.
 */
#ifndef FAULTLINE_PROTO_CORE_H
#define FAULTLINE_PROTO_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chars.h"
#include "proto.h"


#define FL_BUF_CAP (64 * 1024)		/* most bytes buffered per side */
#define FL_BAD_STREAK_MAX 8		/* parse errors without a record, then give up */
#define FL_BAD_BYTES_MAX (1024 * 1024)	/* unparsed bytes without a record, then give up */

/*
 * A growable byte buffer with a hard cap.
 * Invariants: len <= cap <= the max passed to fl_buf_append();
 * data == NULL iff cap == 0. Owned by the struct that embeds it.
 */
struct fl_buf {
	uint8_t *data;		/* bytes; NULL when nothing is allocated */
	size_t len;		/* bytes in use */
	size_t cap;		/* bytes allocated */
};

/* fl_buf_append() - append @n bytes; 0, -E2BIG (would exceed @max), -ENOMEM. */
int fl_buf_append(struct fl_buf *b, const void *src, size_t n, size_t max);

/*
 * fl_buf_reset() - wipe and empty @b (kept lines may hold header values or
 * SQL literals); frees large allocations so idle connections stay small.
 */
void fl_buf_reset(struct fl_buf *b);

/* fl_buf_release() - wipe and free @b's memory; @b is empty and reusable after. */
void fl_buf_release(struct fl_buf *b);

/*
 * A line being assembled across feeds: only its first bytes are kept (the
 * parsers never need a whole header value), the rest is only counted.
 */
struct fl_line {
	struct fl_buf kept;	/* first bytes of the line (at most "keep") */
	uint64_t total;		/* bytes of the line so far, LF included once seen */
	bool last_cr;		/* the last byte before the LF seen so far was CR */
};

/* A finished line: CR LF stripped; @truncated if bytes beyond @len were not kept. */
struct fl_span {
	const uint8_t *p;	/* first byte (in the input or in fl_line.kept) */
	size_t len;		/* bytes available at @p */
	bool truncated;		/* the line was longer than @len */
};

enum fl_line_rc {
	FL_LINE_MORE = 0,	/* no LF yet; all input consumed */
	FL_LINE_DONE = 1,	/* line finished, OUT: span valid until the next call */
};

/*
 * fl_line_take() - consume @d[0..@n) up to and including the next LF.
 * Keeps at most @keep bytes of the line; fails with -E2BIG, consuming
 * nothing, when the line would exceed @max bytes. OUT: *@used (bytes
 * consumed), *@out (when FL_LINE_DONE). Returns enum fl_line_rc or -errno.
 * The caller resets @l with fl_line_reset() after a finished line.
 */
int fl_line_take(struct fl_line *l, const uint8_t *d, size_t n, size_t keep,
		 size_t max, size_t *used, struct fl_span *out);

/* fl_line_reset() - forget the line in progress. */
void fl_line_reset(struct fl_line *l);

enum fl_pend_kind {
	FL_PEND_REQUEST = 0,	/* a request: its response makes a record */
	FL_PEND_LOST,		/* marker: requests lost, the next response discarded */
	FL_PEND_MAYBE_LOST,	/* marker: requests maybe lost, causality decides */
	FL_PEND_SILENT,		/* expects a response but makes no record (PG bare Sync) */
};

/* A request waiting for its response. */
struct fl_pending {
	char operation[FL_OP_MAX]; /* normalised operation, NUL-terminated */
	uint64_t seq;		/* unique per parser, never 0 */
	uint64_t start_ns;	/* ts of the feed holding the first byte */
	uint64_t req_bytes;	/* wire bytes of the request so far */
	enum fl_pend_kind kind;
	uint32_t flags;		/* protocol-specific (HTTP: HEAD, CONNECT) */
	bool has_trace_id;	/* HTTP: a valid traceparent field was sent */
	uint8_t trace_id[16];
};

/* FIFO ring of pending requests, grown on demand up to FL_PENDING_MAX. */
struct fl_queue {
	struct fl_pending *slots; /* ring storage; NULL when cap == 0 */
	uint32_t head;		/* index of the oldest entry */
	uint32_t count;		/* entries in use */
	uint32_t cap;		/* entries allocated */
	uint64_t lost_head;	/* responses to discard first (overflow drops) */
	uint64_t next_seq;	/* last sequence number handed out */
};

/* What a finished response contributes to a record. */
struct fl_resp {
	int status;		/* HTTP status code, else 0 */
	char status_text[16];	/* SQLSTATE or Redis error prefix, or "" */
	bool error;
	bool client_error;
	uint64_t start_ns;	/* ts of the feed holding the first byte */
	uint64_t end_ns;	/* ts of the feed holding the last byte */
	uint64_t bytes;		/* wire bytes of the response */
};

struct fl_parser;

/* What each protocol implements; the core handles given-up parsers. */
struct fl_proto_ops {
	size_t priv_size;	/* bytes of protocol state, zeroed at creation */
	int (*feed)(struct fl_parser *p, enum fl_side side, uint64_t ts_ns,
		    const uint8_t *d, size_t n);
	void (*gap)(struct fl_parser *p, enum fl_side side, uint64_t ts_ns,
		    size_t n);
	void (*close)(struct fl_parser *p, uint64_t ts_ns);
	void (*release)(struct fl_parser *p);
	/* optional: between messages on both sides, nothing kept that the
	 * next message needs (see fl_parser_idle()) */
	bool (*idle)(const struct fl_parser *p);
	/* optional, called when idle: free what the next message can
	 * allocate again (line buffers) */
	void (*trim)(struct fl_parser *p);
};

struct fl_parser {
	enum fl_proto proto;
	const struct fl_proto_ops *ops;
	struct fl_parser_stats stats;
	struct fl_queue q;	/* pending requests, oldest first */
	uint32_t bad_streak;	/* parse errors since the last record */
	uint64_t bad_bytes;	/* unparsed bytes since the last record */
	fl_record_cb cb;	/* set for the duration of one public call */
	void *ctx;		/* argument of @cb */
	void *priv;		/* protocol state (ops->priv_size bytes), owned */
};

/*
 * fl_pending_push() - append a pending entry of @kind (zeroed but for seq and
 * kind). When FL_PENDING_MAX entries wait, the oldest is dropped first
 * (counted unpaired) and its response will be discarded. Returns the entry,
 * valid until the next push/complete/clear, or NULL (ENOMEM).
 */
struct fl_pending *fl_pending_push(struct fl_parser *p, enum fl_pend_kind kind);

/* fl_pending_find() - the waiting entry with @seq, or NULL. */
struct fl_pending *fl_pending_find(struct fl_parser *p, uint64_t seq);

/*
 * fl_pending_next() - the entry a response that began at @resp_start_ns
 * would be paired with now, or NULL when it would be discarded.
 */
const struct fl_pending *fl_pending_next(const struct fl_parser *p,
					 uint64_t resp_start_ns);

/*
 * fl_pending_complete() - a response ended: pair it with the oldest entry
 * and emit a record, or discard it (see the pairing model above).
 */
void fl_pending_complete(struct fl_parser *p, const struct fl_resp *r);

/* fl_pending_clear() - drop every entry; requests are counted unpaired. */
void fl_pending_clear(struct fl_parser *p);

/*
 * fl_pending_lose() - the response side lost framing: fl_pending_clear(),
 * and the requests dropped are also counted in stats.requests_lost (their
 * responses went by unpaired; no record will name them).
 */
void fl_pending_lose(struct fl_parser *p);

/*
 * fl_parser_unparsed() - @n bytes were skipped without being understood;
 * @parse_error: they broke framing (vs. discarded while resynchronising).
 * Gives the parser up after too much garbage without a record in between.
 */
void fl_parser_unparsed(struct fl_parser *p, uint64_t n, bool parse_error);

/* fl_parser_give_up() - ignore the rest of the connection; drops pending. */
void fl_parser_give_up(struct fl_parser *p);

/* fl_copy_op() - copy NUL-terminated @src into a pending entry's operation. */
void fl_copy_op(char dst[FL_OP_MAX], const char *src);

#endif /* FAULTLINE_PROTO_CORE_H */
