/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Operation naming: how a request becomes the operation of an edge
 * (docs/gatectl.md, OpenTelemetry semantic conventions). The agent's
 * parsers name what they see with it, and gatectl names imported spans and
 * API descriptions with it, so that the same request gets the same name
 * from any source. Pure functions over bytes, no allocation.
 */
#ifndef FAULTLINE_OPNAME_H
#define FAULTLINE_OPNAME_H

#include <stddef.h>

#define FL_OP_MAX 256		/* operation string, including NUL */

/*
 * fl_sql_normalize() - write the normalised form of SQL statement @sql
 * (@len bytes, not NUL-terminated) into @out (@out_size bytes, always
 * NUL-terminated, truncated to fit): string and numeric literals become '?',
 * runs of whitespace one space, comments dropped, leading/trailing space and
 * a trailing ';' removed. Returns the length written. Never copies a literal.
 */
size_t fl_sql_normalize(const char *sql, size_t len, char *out, size_t out_size);

/*
 * fl_sql_normalize_mysql() - fl_sql_normalize() with MySQL's lexical rules:
 * '..' and ".." are string literals with backslash escapes (both become
 * '?'), `..` is a kept identifier, '#' starts a line comment.
 */
size_t fl_sql_normalize_mysql(const char *sql, size_t len, char *out,
			      size_t out_size);

/*
 * fl_http_route() - write "METHOD /route" for @method and @target into @out:
 * the query string and fragment are dropped (their values are secrets), and
 * path segments that are numbers, UUIDs or hex strings of 16+ digits become
 * "{id}". Returns the length written (NUL-terminated, truncated to fit).
 */
size_t fl_http_route(const char *method, size_t mlen, const char *target,
		     size_t tlen, char *out, size_t out_size);

#endif /* FAULTLINE_OPNAME_H */
