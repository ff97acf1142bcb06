/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SQL normaliser: the operation name of a statement, with every literal
 * replaced by '?' so that no value (password, e-mail, card number) ever
 * leaves the parser, and with the spelling folded so that one statement
 * shape gives one operation.
 *
 * One left-to-right scan with PostgreSQL's lexical rules: '..' strings
 * (with '' escapes) and their prefixed forms E'..' (backslash escapes),
 * B'..', X'..', N'..', U&'..'; dollar-quoted $tag$..$tag$ bodies; numbers
 * (decimal, exponent, 0x/0o/0b, 1_000); line and nested block comments. An
 * unterminated literal runs to the end of the input, so a truncated
 * statement never leaks the start of a value. Identifiers, keywords,
 * "quoted identifiers", $1 parameters and operators are kept as written.
 *
 * MySQL's rules (fl_sql_normalize_mysql) differ where a value could leak:
 * '..' and ".." are both string literals with backslash escapes, `..` is a
 * quoted identifier, '#' starts a line comment. Where the two disagree the
 * MySQL scan hides more, never less (a '\' in NO_BACKSLASH_ESCAPES mode
 * only extends a literal; ANSI_QUOTES identifiers become '?').
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "chars.h"
#include "opname.h"

struct sql_out {
	char *buf;
	size_t size;		/* bytes of @buf, >= 1 */
	size_t len;		/* bytes written, excluding the NUL */
	bool space;		/* whitespace or a comment since the last token */
	bool full;		/* something did not fit */
	bool mysql;		/* MySQL's lexical rules (see fl_sql_normalize_mysql) */
};

/* Control bytes (kept tokens may hold them, e.g. in "quoted" identifiers)
 * become '?': an operation must never carry a terminal escape. */
static void put(struct sql_out *o, char c)
{
	if (o->len + 1 >= o->size) {
		o->full = true;
		return;
	}
	o->buf[o->len++] = ((unsigned char)c < 0x20 || c == 0x7f) ? '?' : c;
}

/* Before each token: one space if any whitespace separated it from the last. */
static void token_start(struct sql_out *o)
{
	if (o->space && o->len)
		put(o, ' ');
	o->space = false;
}

static void put_token(struct sql_out *o, const char *s, size_t n)
{
	token_start(o);
	for (size_t i = 0; i < n && !o->full; i++)
		put(o, s[i]);
}

static bool is_ident_start(uint8_t c)
{
	return fl_is_alpha(c) || c == '_' || c >= 0x80;
}

static bool is_ident(uint8_t c)
{
	return is_ident_start(c) || fl_is_digit(c) || c == '$';
}

static bool is_space(uint8_t c)
{
	return c <= 0x20 || c == 0x7f;
}

/* '..' from the opening quote at @i; @backslash: E'..' escapes. */
static size_t skip_quoted(const char *s, size_t n, size_t i, bool backslash)
{
	for (i++; i < n; i++) {
		if (backslash && s[i] == '\\') {
			i++;
		} else if (s[i] == '\'') {
			if (i + 1 < n && s[i + 1] == '\'')
				i++;
			else
				return i + 1;
		}
	}
	return n;
}

/* MySQL '..' or "..": backslash escapes, the quote doubled. */
static size_t skip_mysql_quoted(const char *s, size_t n, size_t i)
{
	char q = s[i];

	for (i++; i < n; i++) {
		if (s[i] == '\\') {
			i++;
		} else if (s[i] == q) {
			if (i + 1 < n && s[i + 1] == q)
				i++;
			else
				return i + 1;
		}
	}
	return n;
}

/* "quoted identifier" (or MySQL `identifier`) from the opening @q at @i:
 * kept, not a literal. */
static size_t skip_ident_quoted(const char *s, size_t n, size_t i, char q)
{
	for (i++; i < n; i++) {
		if (s[i] != q)
			continue;
		if (i + 1 < n && s[i + 1] == q)
			i++;
		else
			return i + 1;
	}
	return n;
}

/* nested block comment from the "/" at @i */
static size_t skip_block_comment(const char *s, size_t n, size_t i)
{
	unsigned depth = 0;

	while (i < n) {
		if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
			depth++;
			i += 2;
		} else if (i + 1 < n && s[i] == '*' && s[i + 1] == '/') {
			i += 2;
			if (--depth == 0)
				return i;
		} else {
			i++;
		}
	}
	return n;
}

/* Length of the "$tag$" opening at @i, or 0 when it is not one. */
static size_t dollar_tag_len(const char *s, size_t n, size_t i)
{
	size_t k = i + 1;

	if (k < n && s[k] == '$')
		return 2;
	if (k >= n || !is_ident_start((uint8_t)s[k]))
		return 0;
	while (k < n && is_ident((uint8_t)s[k]) && s[k] != '$')
		k++;
	return k < n && s[k] == '$' ? k + 1 - i : 0;
}

static size_t skip_dollar_quoted(const char *s, size_t n, size_t i, size_t tag)
{
	const char *end = memmem(s + i + tag, n - i - tag, s + i, tag);

	return end ? (size_t)(end - s) + tag : n;
}

/* A number at @i: digits, fraction, exponent, radix prefixes, '_' groups. */
static size_t skip_number(const char *s, size_t n, size_t i)
{
	while (i < n) {
		uint8_t c = (uint8_t)s[i];

		if ((c == 'e' || c == 'E') && i + 2 < n &&
		    (s[i + 1] == '+' || s[i + 1] == '-') && fl_is_digit(s[i + 2]))
			i += 3;
		else if (fl_is_alpha(c) || fl_is_digit(c) || c == '_' || c == '.')
			i++;
		else
			break;
	}
	return i;
}

/* An identifier at @i, or a prefixed string literal (E'..', U&'..'). */
static size_t word(const char *s, size_t n, size_t i, struct sql_out *o)
{
	size_t k = i;
	uint8_t c = fl_upper((uint8_t)s[i]);

	while (k < n && is_ident((uint8_t)s[k]))
		k++;
	if (k - i == 1 && k < n && s[k] == '\'' && strchr("EBXN", c)) {
		put_token(o, "?", 1);
		return skip_quoted(s, n, k, c == 'E' || o->mysql);
	}
	if (k - i == 1 && c == 'U' && k + 1 < n && s[k] == '&' && s[k + 1] == '\'') {
		put_token(o, "?", 1);
		return skip_quoted(s, n, k + 1, false);
	}
	put_token(o, s + i, k - i);
	return k;
}

/* One token from @i; returns where the next one starts. */
static size_t token(const char *s, size_t n, size_t i, struct sql_out *o)
{
	uint8_t c = (uint8_t)s[i], next = i + 1 < n ? (uint8_t)s[i + 1] : 0;
	size_t k;

	if (is_space(c)) {
		o->space = true;
		return i + 1;
	}
	if ((c == '-' && next == '-') || (c == '#' && o->mysql)) {
		const char *nl = memchr(s + i, '\n', n - i);

		o->space = true;
		return nl ? (size_t)(nl - s) + 1 : n;
	}
	if (c == '/' && next == '*') {
		o->space = true;
		return skip_block_comment(s, n, i);
	}
	if (c == '\'' || (c == '"' && o->mysql)) {
		put_token(o, "?", 1);
		return o->mysql ? skip_mysql_quoted(s, n, i) : skip_quoted(s, n, i, false);
	}
	if (c == '"' || (c == '`' && o->mysql)) {
		k = skip_ident_quoted(s, n, i, (char)c);
		put_token(o, s + i, k - i);
		return k;
	}
	if (c == '$' && (k = dollar_tag_len(s, n, i))) {
		put_token(o, "?", 1);
		return skip_dollar_quoted(s, n, i, k);
	}
	if (c == '$' && fl_is_digit(next)) {	/* $1 parameter */
		for (k = i + 1; k < n && fl_is_digit((uint8_t)s[k]); k++)
			;
		put_token(o, s + i, k - i);
		return k;
	}
	if (fl_is_digit(c) || (c == '.' && fl_is_digit(next))) {
		put_token(o, "?", 1);
		return skip_number(s, n, i);
	}
	if (is_ident_start(c))
		return word(s, n, i, o);
	put_token(o, s + i, 1);
	return i + 1;
}

/*
 * fl_sql_normalize() - @sql (@len bytes, up to a NUL) with literals as '?',
 * comments dropped, whitespace folded, trailing ';' cut, into @out (see
 * proto.h). Returns the length written; 0 when @out_size is 0.
 */
static size_t normalize(const char *sql, size_t len, char *out, size_t out_size,
			bool mysql)
{
	struct sql_out o = { out, out_size, 0, false, false, mysql };
	size_t i = 0;

	if (!out || !out_size)
		return 0;
	if (!sql)
		len = 0;
	len = strnlen(sql ? sql : "", len);	/* a NUL ends the statement */
	while (i < len && !o.full)
		i = token(sql, len, i, &o);
	if (o.full)
		o.len = fl_utf8_cut(out, o.len);
	while (o.len && (out[o.len - 1] == ';' || out[o.len - 1] == ' '))
		o.len--;
	out[o.len] = '\0';
	return o.len;
}

/* fl_sql_normalize() - PostgreSQL's lexical rules (see proto.h). */
size_t fl_sql_normalize(const char *sql, size_t len, char *out, size_t out_size)
{
	return normalize(sql, len, out, out_size, false);
}

/*
 * fl_sql_normalize_mysql() - fl_sql_normalize() with MySQL's lexical rules
 * (MySQL 8.0 Reference Manual, 11.1.1 "String Literals", 11.2 "Schema Object
 * Names", 11.7 "Comments"); see proto.h.
 */
size_t fl_sql_normalize_mysql(const char *sql, size_t len, char *out,
			      size_t out_size)
{
	return normalize(sql, len, out, out_size, true);
}
