// SPDX-License-Identifier: BSD-2-Clause
/*
 * The one table of HTTP methods (proto.h): what detection takes for the
 * start of an HTTP/1.x stream, what a resynchronising request side takes
 * for the start of a request, and what the aggregator keeps in an
 * overflow operation.
 */
#include <string.h>

#include "proto.h"

#define M(name, std) { name, sizeof(name) - 1, std }

/*
 * The IANA HTTP Method Registry's methods that are in use: RFC 9110's
 * eight and PATCH (the "standard" ones, OpenTelemetry's known
 * http.request.method values), then WebDAV (RFC 4918, 3253, 5323, 4791,
 * 3744), PURGE (caches) and QUERY. A stream starting with any of them is
 * HTTP; an operation over the route cap keeps a standard method's name,
 * any other becomes "_OTHER" as OpenTelemetry says.
 */
const struct fl_http_method fl_http_methods[] = {
	M("GET", true), M("POST", true), M("PUT", true), M("DELETE", true),
	M("HEAD", true), M("OPTIONS", true), M("PATCH", true),
	M("CONNECT", true), M("TRACE", true),
	M("PROPFIND", false), M("PROPPATCH", false), M("MKCOL", false),
	M("COPY", false), M("MOVE", false), M("LOCK", false),
	M("UNLOCK", false), M("REPORT", false), M("SEARCH", false),
	M("MKCALENDAR", false), M("ACL", false), M("PURGE", false),
	M("QUERY", false),
};
const size_t fl_http_nmethods = sizeof(fl_http_methods) / sizeof(fl_http_methods[0]);

const struct fl_http_method *fl_http_method_find(const char *s, size_t n)
{
	for (size_t i = 0; i < fl_http_nmethods; i++)
		if (fl_http_methods[i].len == n && !memcmp(s, fl_http_methods[i].name, n))
			return &fl_http_methods[i];
	return NULL;
}
