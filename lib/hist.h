/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Mergeable latency histogram (log-linear, HDR-style).
 *
 * Values are ns. Values below 32 have a bucket each; above, every power of
 * two is split into 32 equal buckets, so a bucket's midpoint is within
 * 1/64 (1.6 %) of any value in it: quantiles carry at most 1.6 % relative
 * error, and histograms from any window or node merge exactly by adding
 * bucket counts. docs/store.md documents the blob layout.
 *
 * Invariants: bins sorted by idx, no duplicate idx, no zero count;
 * count == sum of bin counts.
 */
#ifndef FAULTLINE_HIST_H
#define FAULTLINE_HIST_H

#include <stddef.h>
#include <stdint.h>

#define FL_HIST_SUB_BITS 5
#define FL_HIST_SUB (1u << FL_HIST_SUB_BITS) /* buckets per power of two */
#define FL_HIST_BUCKETS (FL_HIST_SUB * (64 - FL_HIST_SUB_BITS + 1))
#define FL_HIST_BLOB_VERSION 1

struct fl_hist_bin {
	uint16_t idx;		/* bucket index, fl_hist_index() */
	uint64_t count;		/* values in that bucket (64-bit: merged months never wrap) */
};

struct fl_hist {
	struct fl_hist_bin *bins; /* sorted by idx; owned */
	uint32_t nbins;		/* bins in use */
	uint32_t cap;		/* bins allocated */
	uint64_t count;		/* values added */
};

#define FL_HIST_INIT { NULL, 0, 0, 0 }

/* fl_hist_index() - bucket index of @value_ns (< FL_HIST_BUCKETS). */
uint32_t fl_hist_index(uint64_t value_ns);

/* fl_hist_bucket_mid() - representative value (ns) of bucket @idx. */
uint64_t fl_hist_bucket_mid(uint32_t idx);

/* fl_hist_add() - add @n values of @value_ns. Returns 0 or -ENOMEM. */
int fl_hist_add(struct fl_hist *h, uint64_t value_ns, uint32_t n);

/* fl_hist_merge() - add every value of @src to @dst. Returns 0 or -ENOMEM. */
int fl_hist_merge(struct fl_hist *dst, const struct fl_hist *src);

/*
 * fl_hist_quantile() - the value (ns) at quantile @q (0..1): the midpoint of
 * the bucket holding the ceil(q * count)-th value. 0 when empty.
 */
uint64_t fl_hist_quantile(const struct fl_hist *h, double q);

/*
 * fl_hist_encode() - serialise @h into a new buffer: OUT: *@blob (caller
 * frees), *@len bytes. Layout: version byte, then per bin two unsigned
 * LEB128 varints (idx delta from the previous bin's idx + 1, count).
 * Returns 0 or -ENOMEM.
 */
int fl_hist_encode(const struct fl_hist *h, uint8_t **blob, size_t *len);

/*
 * fl_hist_decode_merge() - add the values of serialised @blob (@len bytes)
 * to @h. Returns 0, -EINVAL for a malformed blob (h unchanged) or -ENOMEM.
 */
int fl_hist_decode_merge(struct fl_hist *h, const void *blob, size_t len);

/* fl_hist_reset() - empty @h, keeping its memory. */
void fl_hist_reset(struct fl_hist *h);

/* fl_hist_release() - free the memory of @h and empty it; NULL is fine. */
void fl_hist_release(struct fl_hist *h);

#endif /* FAULTLINE_HIST_H */
