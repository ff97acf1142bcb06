// SPDX-License-Identifier: BSD-2-Clause
#include "hist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint32_t fl_hist_index(uint64_t v)
{
	if (v < FL_HIST_SUB)
		return (uint32_t)v;
	unsigned msb = 63 - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (msb - FL_HIST_SUB_BITS)) & (FL_HIST_SUB - 1);
	return (msb - FL_HIST_SUB_BITS + 1) * FL_HIST_SUB + sub;
}

uint64_t fl_hist_bucket_mid(uint32_t idx)
{
	if (idx < FL_HIST_SUB)
		return idx;
	unsigned msb = idx / FL_HIST_SUB + FL_HIST_SUB_BITS - 1;
	uint64_t sub = idx % FL_HIST_SUB;
	uint64_t width = 1ull << (msb - FL_HIST_SUB_BITS);
	uint64_t low = (1ull << msb) + sub * width;
	return low + width / 2;
}

/* Index of the first bin with idx >= @idx. */
static uint32_t hist_find(const struct fl_hist *h, uint32_t idx)
{
	uint32_t lo = 0, hi = h->nbins;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (h->bins[mid].idx < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int hist_add_idx(struct fl_hist *h, uint32_t idx, uint64_t n)
{
	uint32_t pos = hist_find(h, idx);

	if (pos < h->nbins && h->bins[pos].idx == idx) {
		h->bins[pos].count += n;
		h->count += n;
		return 0;
	}
	if (h->nbins == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 8;
		struct fl_hist_bin *b = realloc(h->bins, cap * sizeof(*b));
		if (!b)
			return -ENOMEM;
		h->bins = b;
		h->cap = cap;
	}
	memmove(&h->bins[pos + 1], &h->bins[pos],
		(h->nbins - pos) * sizeof(h->bins[0]));
	h->bins[pos].idx = (uint16_t)idx;
	h->bins[pos].count = n;
	h->nbins++;
	h->count += n;
	return 0;
}

int fl_hist_add(struct fl_hist *h, uint64_t value_ns, uint32_t n)
{
	if (!n)
		return 0;
	return hist_add_idx(h, fl_hist_index(value_ns), n);
}

int fl_hist_merge(struct fl_hist *dst, const struct fl_hist *src)
{
	for (uint32_t i = 0; i < src->nbins; i++) {
		int err = hist_add_idx(dst, src->bins[i].idx, src->bins[i].count);
		if (err)
			return err;
	}
	return 0;
}

uint64_t fl_hist_quantile(const struct fl_hist *h, double q)
{
	if (!h->count)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999999);
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (uint32_t i = 0; i < h->nbins; i++) {
		seen += h->bins[i].count;
		if (seen >= rank)
			return fl_hist_bucket_mid(h->bins[i].idx);
	}
	return fl_hist_bucket_mid(h->bins[h->nbins - 1].idx);
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		p[n++] = b | (v ? 0x80 : 0);
	} while (v);
	return n;
}

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -EINVAL;
		uint8_t b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -EINVAL;
}

int fl_hist_encode(const struct fl_hist *h, uint8_t **blob, size_t *len)
{
	/* each bin: idx delta <= 2 bytes of varint, count <= 10 */
	uint8_t *buf = malloc(1 + (size_t)h->nbins * 12);
	size_t n = 0;
	uint32_t prev = 0;

	if (!buf)
		return -ENOMEM;
	buf[n++] = FL_HIST_BLOB_VERSION;
	for (uint32_t i = 0; i < h->nbins; i++) {
		n += put_varint(buf + n, h->bins[i].idx - prev);
		n += put_varint(buf + n, h->bins[i].count);
		prev = h->bins[i].idx + 1u;
	}
	*blob = buf;
	*len = n;
	return 0;
}

int fl_hist_decode_merge(struct fl_hist *h, const void *blob, size_t len)
{
	const uint8_t *p = blob, *end = p + len;
	struct fl_hist tmp = FL_HIST_INIT;
	uint64_t idx = 0;
	int err = -EINVAL;

	if (len < 1 || p[0] != FL_HIST_BLOB_VERSION)
		return -EINVAL;
	p++;
	while (p < end) {
		uint64_t delta, count;
		if (get_varint(&p, end, &delta) || get_varint(&p, end, &count))
			goto out_release;
		/* checked before adding: a huge delta must not wrap into range */
		if (delta >= FL_HIST_BUCKETS || idx + delta >= FL_HIST_BUCKETS ||
		    count == 0)
			goto out_release;
		idx += delta;
		err = hist_add_idx(&tmp, (uint32_t)idx, count);
		if (err)
			goto out_release;
		err = -EINVAL;
		idx++;
	}
	err = fl_hist_merge(h, &tmp);
out_release:
	fl_hist_release(&tmp);
	return err;
}

void fl_hist_reset(struct fl_hist *h)
{
	h->nbins = 0;
	h->count = 0;
}

void fl_hist_release(struct fl_hist *h)
{
	if (!h)
		return;
	free(h->bins);
	memset(h, 0, sizeof(*h));
}
