/* SPDX-License-Identifier: BSD-2-Clause */
/* Growable arrays: the one doubling rule. */
#ifndef FAULTLINE_GROW_H
#define FAULTLINE_GROW_H

#include <stddef.h>

/*
 * fl_grow() - @v (elements of @size bytes, *@cap allocated) with room for
 * element @n: @v itself, or a larger copy (*@cap doubled, starting at
 * @first). NULL on ENOMEM (or a size that overflows), @v and *@cap
 * unchanged: the caller keeps owning @v.
 */
void *fl_grow(void *v, size_t *cap, size_t n, size_t size, size_t first);

#endif /* FAULTLINE_GROW_H */
