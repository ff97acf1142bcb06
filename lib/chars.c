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

size_t fl_utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;		/* overlong */
	else if (c == 0xED)
		hi = 0x9F;		/* surrogates */
	else if (c == 0xF0)
		lo = 0x90;		/* overlong */
	else if (c == 0xF4)
		hi = 0x8F;		/* > U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

void fl_utf8_fix(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = fl_utf8_seq(p);
		if (n) {
			p += n;
		} else {
			*p++ = '?';
		}
	}
}
