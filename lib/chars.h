/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Character classes (ASCII only: protocol tokens are bytes, not locale
 * text) and UTF-8 truncation, shared by the parsers and by operation
 * naming (lib/opname.h).
 */
#ifndef FAULTLINE_CHARS_H
#define FAULTLINE_CHARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * fl_utf8_cut() - the length <= @len at which @s ends on a whole UTF-8
 * sequence, for strings truncated to fit a buffer.
 */
size_t fl_utf8_cut(const char *s, size_t len);

/*
 * fl_utf8_seq() - the length of the valid UTF-8 sequence at @s (1 to 4),
 * 0 if it is not one.
 */
size_t fl_utf8_seq(const unsigned char *s);

/*
 * fl_utf8_fix() - replace, in place, every byte of NUL-terminated @s that
 * is not part of a valid UTF-8 sequence (overlongs, surrogates, beyond
 * U+10FFFF included) by '?': names read from a store become valid JSON.
 */
void fl_utf8_fix(char *s);

static inline bool fl_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static inline bool fl_is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool fl_is_xdigit(uint8_t c)
{
	return fl_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline uint8_t fl_upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

#endif /* FAULTLINE_CHARS_H */
