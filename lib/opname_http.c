// SPDX-License-Identifier: BSD-2-Clause
/*
 * HTTP route templating (fl_http_route, lib/opname.h): the operation of a
 * request line, "METHOD /route/{id}". Query strings and fragments are
 * dropped (their values are secrets), ";params" and userinfo too, and path
 * segments that identify one resource (numbers, UUIDs, long hex) become
 * "{id}" so that one route gives one operation.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "chars.h"
#include "opname.h"

struct route_out {
	char *buf;
	size_t size;		/* bytes of @buf, >= 1 */
	size_t len;		/* bytes written, excluding the NUL */
	bool full;		/* something did not fit */
};

static void out_putc(struct route_out *o, char c)
{
	if (o->len + 1 >= o->size) {
		o->full = true;
		return;
	}
	/* control bytes could corrupt logs and JSON downstream */
	o->buf[o->len++] = ((uint8_t)c < 0x20 || c == 0x7f) ? '?' : c;
}

static void out_put(struct route_out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !o->full; i++)
		out_putc(o, s[i]);
}

static bool all_xdigits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!fl_is_xdigit(s[i]))
			return false;
	return true;
}

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !fl_is_xdigit(s[i]))
			return false;
	}
	return true;
}

/* A path segment that identifies one resource: number, UUID, long hex. */
static bool is_id_segment(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && fl_is_digit(s[i]))
		i++;
	if (n && i == n)
		return true;
	return is_uuid(s, n) || (n >= 16 && all_xdigits(s, n));
}

/* Segments of @path up to '?' or '#'; ";params" (e.g. jsessionid) dropped. */
static void route_path(struct route_out *o, const char *path, size_t n)
{
	size_t i = 0;

	while (i < n && path[i] != '?' && path[i] != '#' && !o->full) {
		size_t end = i, core;

		while (end < n && path[end] != '/' && path[end] != '?' && path[end] != '#')
			end++;
		core = i;
		while (core < end && path[core] != ';')
			core++;
		if (is_id_segment(path + i, core - i))
			out_put(o, "{id}", 4);
		else
			out_put(o, path + i, core - i);
		i = end;
		if (i < n && path[i] == '/') {
			out_putc(o, '/');
			i++;
		}
	}
}

/* absolute-form "scheme://authority/path": the path, "/" when empty. */
static bool route_absolute(struct route_out *o, const char *t, size_t n)
{
	size_t i = 0;

	while (i < n && (fl_is_alpha(t[i]) || fl_is_digit(t[i]) ||
			 t[i] == '+' || t[i] == '-' || t[i] == '.'))
		i++;
	if (i == 0 || n - i < 3 || memcmp(t + i, "://", 3))
		return false;
	i += 3;
	while (i < n && t[i] != '/' && t[i] != '?' && t[i] != '#')
		i++;
	if (i == n || t[i] != '/')
		out_putc(o, '/');
	else
		route_path(o, t + i, n - i);
	return true;
}

/*
 * fl_http_route() - "METHOD /route" for a request line (see proto.h): query
 * and fragment dropped, ";params" and userinfo dropped, ids templated.
 */
size_t fl_http_route(const char *method, size_t mlen, const char *target,
		     size_t tlen, char *out, size_t out_size)
{
	struct route_out o = { out, out_size, 0, false };
	const char *at;

	if (!out || !out_size)
		return 0;
	out_put(&o, method, method ? mlen : 0);
	out_putc(&o, ' ');
	if (!target)
		tlen = 0;
	if (tlen && target[0] == '/') {
		route_path(&o, target, tlen);
	} else if (tlen == 1 && target[0] == '*') {
		out_putc(&o, '*');
	} else if (!route_absolute(&o, target, tlen)) {
		/* authority-form (CONNECT host:port): never keep userinfo */
		at = tlen ? memrchr(target, '@', tlen) : NULL;
		if (at) {
			tlen -= (size_t)(at + 1 - target);
			target = at + 1;
		}
		route_path(&o, target, tlen);
	}
	if (o.full)
		o.len = fl_utf8_cut(out, o.len);
	out[o.len] = '\0';
	return o.len;
}
