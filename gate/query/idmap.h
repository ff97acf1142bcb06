/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * id -> index map of the query layer (query/idmap.c): store ids
 * (services, edges) to positions in an array, or one store's ids to
 * another's (merge).
 */
#ifndef FAULTLINE_GATE_IDMAP_H
#define FAULTLINE_GATE_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* id -> index map, open addressing; ids are SQLite rowids (any int64). */
struct gate_idmap {
	int64_t *keys;
	size_t *vals;
	uint8_t *used;
	size_t n;
	size_t cap;		/* power of two */
};

/*
 * gate_idmap_get() - the value of @key, OUT: *@val. Returns true if found.
 */
bool gate_idmap_get(const struct gate_idmap *m, int64_t key, size_t *val);

/* gate_idmap_put() - set @key to @val. Returns 0 or -ENOMEM. */
int gate_idmap_put(struct gate_idmap *m, int64_t key, size_t val);

/* gate_idmap_release() - free @m and empty it. */
void gate_idmap_release(struct gate_idmap *m);

#endif /* FAULTLINE_GATE_IDMAP_H */
