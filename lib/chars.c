// SPDX-License-Identifier: BSD-2-Clause
#include "chars.h"

/* fl_utf8_cut() - @len, less an incomplete UTF-8 sequence at the end of @s. */
size_t fl_utf8_cut(const char *s, size_t len)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t k = len, need;

	while (k > 0 && (u[k - 1] & 0xc0) == 0x80 && len - k < 3)
		k--;
	if (k == 0 || u[k - 1] < 0xc0)
		return len;	/* ASCII end, or stray continuation bytes */
	need = u[k - 1] >= 0xf0 ? 4 : u[k - 1] >= 0xe0 ? 3 : 2;
	return k - 1 + need > len ? k - 1 : len;
}
