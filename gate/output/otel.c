// SPDX-License-Identifier: BSD-2-Clause
/*
 * OpenTelemetry attributes of an edge (semantic conventions 1.26+: HTTP,
 * database, RPC and server attributes), derived from what the store keeps:
 * the protocol, the operation and the server's name. Nothing is invented:
 * an attribute the store has no value for is left out (db.namespace: the
 * database name is not recorded). The status attributes come from the
 * per-status rows, when an edge has a single status (gate/output/statuses.c).
 */
#include "output/output.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Set @key to a string of @len bytes of @s; false when out of memory. */
static bool attr_str(json_t *o, const char *key, const char *s, size_t len)
{
	return !json_object_set_new(o, key, json_stringn(s, len));
}

/* "METHOD /route": http.request.method, http.route (not for overflow). */
static bool otel_http(json_t *o, const char *op)
{
	size_t mlen = strcspn(op, " ");
	const char *route = op[mlen] ? op + mlen + 1 : NULL;

	if (!mlen)
		return true;
	if (!attr_str(o, "http.request.method", op, mlen))
		return false;
	/* "{overflow}" (agent --max-routes) names no route */
	if (route && (*route == '/' || !strcmp(route, "*")))
		return attr_str(o, "http.route", route, strlen(route));
	return true;
}

/* The normalised statement: db.operation.name (its first keyword, upper
 * case) and db.query.text (the statement: literals are already '?'). */
static bool otel_sql(json_t *o, const char *system, const char *op)
{
	char kw[32];
	size_t n = 0;

	if (!attr_str(o, "db.system", system, strlen(system)))
		return false;
	if (!*op)
		return true;
	while (n < sizeof(kw) - 1 && isalpha((unsigned char)op[n])) {
		kw[n] = (char)toupper((unsigned char)op[n]);
		n++;
	}
	/* a keyword is a whole word of letters */
	if (n && (!op[n] || op[n] == ' ' || op[n] == '(' || op[n] == ';') &&
	    !attr_str(o, "db.operation.name", kw, n))
		return false;
	return attr_str(o, "db.query.text", op, strlen(op));
}

static bool otel_redis(json_t *o, const char *op)
{
	if (!attr_str(o, "db.system", "redis", 5))
		return false;
	return !*op || attr_str(o, "db.operation.name", op, strlen(op));
}

/* "package.Service/Method" (or the HTTP/2 path "/package.Service/Method"). */
static bool otel_grpc(json_t *o, const char *op)
{
	const char *slash;

	if (!attr_str(o, "rpc.system", "grpc", 4))
		return false;
	if (*op == '/')
		op++;
	slash = strrchr(op, '/');
	if (!slash || slash == op || !slash[1])
		return true;
	return attr_str(o, "rpc.service", op, (size_t)(slash - op)) &&
	       attr_str(o, "rpc.method", slash + 1, strlen(slash + 1));
}

/*
 * A server named by its address ("10.0.0.9:443", "[::1]:5432": a peer the
 * agent could not tie to a process): server.address (no brackets) and
 * server.port. Any other name is a service name, not an address.
 */
static bool otel_server(json_t *o, const char *server)
{
	const char *colon = strrchr(server, ':');
	char addr[INET6_ADDRSTRLEN], buf[16], *end;
	size_t alen;
	long port;

	if (!colon || !colon[1])
		return true;
	alen = (size_t)(colon - server);
	if (alen > 2 && server[0] == '[' && server[alen - 1] == ']') {
		server++;
		alen -= 2;
	}
	if (alen == 0 || alen >= sizeof(addr))
		return true;
	memcpy(addr, server, alen);
	addr[alen] = 0;
	if (inet_pton(strchr(addr, ':') ? AF_INET6 : AF_INET, addr, buf) != 1)
		return true;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 || !isdigit((unsigned char)colon[1]))
		return true;
	return attr_str(o, "server.address", addr, alen) &&
	       !json_object_set_new(o, "server.port", json_integer(port));
}

json_t *gate_otel_attributes(const struct gate_edge *e)
{
	json_t *o = json_object();
	const char *p = e->protocol, *op = e->operation;
	bool ok;

	if (!o)
		return NULL;
	if (!strcmp(p, "http") || !strcmp(p, "http2"))
		ok = otel_http(o, op);
	else if (!strcmp(p, "postgresql") || !strcmp(p, "mysql"))
		ok = otel_sql(o, p, op);
	else if (!strcmp(p, "redis"))
		ok = otel_redis(o, op);
	else if (!strcmp(p, "grpc"))
		ok = otel_grpc(o, op);
	else
		ok = true;
	if (ok)
		ok = otel_server(o, e->server);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}
