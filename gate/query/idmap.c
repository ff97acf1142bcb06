// SPDX-License-Identifier: BSD-2-Clause
/* The id -> index map: open addressing, linear probing, power-of-two size. */
#include "query/idmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t idmap_slot(int64_t key, size_t cap)
{
	uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 32) & (cap - 1);
}

bool gate_idmap_get(const struct gate_idmap *m, int64_t key, size_t *val)
{
	if (!m->cap)
		return false;
	for (size_t i = idmap_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->used[i])
			return false;
		if (m->keys[i] == key) {
			*val = m->vals[i];
			return true;
		}
	}
}

static int idmap_grow(struct gate_idmap *m)
{
	struct gate_idmap g = { 0 };

	g.cap = m->cap ? m->cap * 2 : 64;
	g.keys = malloc(g.cap * sizeof(*g.keys));
	g.vals = malloc(g.cap * sizeof(*g.vals));
	g.used = calloc(g.cap, 1);
	if (!g.keys || !g.vals || !g.used) {
		gate_idmap_release(&g);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->used[i])
			gate_idmap_put(&g, m->keys[i], m->vals[i]);
	gate_idmap_release(m);
	*m = g;
	return 0;
}

int gate_idmap_put(struct gate_idmap *m, int64_t key, size_t val)
{
	/* keep the load factor <= 1/2 */
	if ((m->n + 1) * 2 > m->cap && idmap_grow(m))
		return -ENOMEM;
	for (size_t i = idmap_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->used[i]) {
			m->used[i] = 1;
			m->keys[i] = key;
			m->vals[i] = val;
			m->n++;
			return 0;
		}
		if (m->keys[i] == key) {
			m->vals[i] = val;
			return 0;
		}
	}
}

void gate_idmap_release(struct gate_idmap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof(*m));
}
