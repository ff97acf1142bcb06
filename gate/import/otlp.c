// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl import otlp: OpenTelemetry spans in OTLP/JSON (the JSON mapping
 * of ExportTraceServiceRequest, opentelemetry-proto trace/v1/trace.proto;
 * OTLP specification "JSON Protobuf Encoding": ids as hex strings, int64
 * as decimal strings or numbers, enums as integers or their names). A file
 * is one such document or JSON Lines of them (the Collector's file
 * exporter).
 *
 * A request is a CLIENT span, paired with each SERVER span whose parent it
 * is (same trace). Its server: the SERVER span's service; without one,
 * peer.service, server.address[:server.port] (net.peer.name[:net.peer.port])
 * or the db.system. Its operation follows the agent's naming: HTTP "METHOD
 * /route" through fl_http_route(), SQL through fl_sql_normalize() (never a
 * literal), Redis the command name, RPC "service/method". Span names and
 * other attribute values are never stored.
 *
 * Done in three passes: parse every document into spans (validating, with
 * the JSON path of what is wrong), index them by (trace, span id), then
 * write each request and path link.
 */
#include "grow.h"
#include "chars.h"
#include "import/writer.h"
#include "output/output.h"
#include "opname.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define OT_PATH_MAX 256
#define OT_ANCESTRY_MAX 1024	/* parent hops followed up to a SERVER span */
#define OT_NONE UINT32_MAX

/* OTLP Span.SpanKind */
enum ot_kind {
	OT_KIND_UNSPECIFIED = 0,
	OT_KIND_INTERNAL = 1,
	OT_KIND_SERVER = 2,
	OT_KIND_CLIENT = 3,
	OT_KIND_PRODUCER = 4,
	OT_KIND_CONSUMER = 5,
};

static const char *const kind_names[] = {
	"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
	"SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
};

static const char *const status_names[] = {
	"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR",
};

/* What a span says about the request it is one end of. */
struct ot_span {
	uint8_t trace[16];
	uint8_t id[8];
	uint8_t parent[8];
	bool has_parent;
	bool dup;		/* same (trace, id) as an earlier span: ignored */
	uint8_t kind;		/* enum ot_kind */
	bool error;		/* status ERROR, HTTP 5xx, gRPC status != 0 */
	bool client_error;	/* HTTP 4xx */
	bool route;		/* op from http.route (a template) */
	uint32_t svc;		/* index of its service.name in the strings */
	int64_t start_ns, end_ns;
	char *proto;		/* owned: http, postgresql, redis, grpc, ... */
	char *op;		/* owned: the normalised operation */
	char *peer;		/* owned or NULL: peer.service */
	char *addr;		/* owned or NULL: "host[:port]" */
	char *db;		/* owned or NULL: db.system */
	uint32_t first_server;	/* CLIENT: its first SERVER child */
	uint32_t next_server;	/* SERVER: the next SERVER sibling */
	uint32_t parent_at;	/* index of the parent span, or OT_NONE */
	int64_t edge;		/* SERVER: the edge it answered (0: none) */
};

struct ot {
	struct imp *im;
	struct ot_span *v;
	size_t n, cap;
	char **svcs;		/* service names, owned */
	size_t nsvcs, capsvcs;
	uint32_t *slots;	/* (trace, id) -> index + 1, open addressing */
	size_t nslots;
	/* what the summary reports */
	uint64_t docs, requests, links, no_peer, no_client, other_kinds;
	uint64_t dups;
	struct gate_idmap edges;	/* distinct edges written */
	/* while parsing: where in the file */
	struct imp_pos at;
	char path[OT_PATH_MAX];
};

/* "cannot import 'F': line L: PATH: why" */
static int ot_fail(struct ot *o, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ot_fail(struct ot *o, const char *path, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return gate_fail(o->im->ctx, -EINVAL, "cannot import '%s': line %d: %s: %s",
			 o->im->path, o->at.line, path, why);
}

static int ot_oom(struct ot *o)
{
	return gate_fail(o->im->ctx, -ENOMEM, "out of memory");
}

/* @base + "." + @key (or "[i]" when @key is NULL) into @out. */
static void path_sub(char *out, const char *base, const char *key, size_t i)
{
	int n;

	/* paths are short: resourceSpans[i].scopeSpans[j].spans[k].x */
	if (key)
		n = snprintf(out, OT_PATH_MAX, "%s%s%s", base, *base ? "." : "", key);
	else
		n = snprintf(out, OT_PATH_MAX, "%s[%zu]", base, i);
	if (n >= OT_PATH_MAX)
		memcpy(out + OT_PATH_MAX - 4, "...", 4);
}

/* Array @key of @obj, or an empty array when absent; error if not one. */
static int get_array(struct ot *o, json_t *obj, const char *base, const char *key,
		     bool required, json_t **out)
{
	char p[OT_PATH_MAX];
	json_t *v = json_object_get(obj, key);

	*out = v;
	path_sub(p, base, key, 0);
	if (!v || json_is_null(v)) {
		*out = NULL;
		return required ? ot_fail(o, p, "missing") : 0;
	}
	if (!json_is_array(v))
		return ot_fail(o, p, "not an array");
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hex string @s of exactly 2 * @n digits, not all zero, into @out. */
static bool parse_hex_id(const char *s, uint8_t *out, size_t n)
{
	bool nonzero = false;

	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)s[2 * i]);
		int lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
		nonzero |= out[i] != 0;
	}
	return nonzero;
}

/* An id field: @n bytes; absent or "" allowed when !@required. */
static int get_id(struct ot *o, json_t *span, const char *base, const char *key,
		  uint8_t *out, size_t n, bool required, bool *have)
{
	char p[OT_PATH_MAX];
	json_t *v = json_object_get(span, key);

	path_sub(p, base, key, 0);
	*have = false;
	if (!v || (json_is_string(v) && !json_string_length(v) && !required))
		return required ? ot_fail(o, p, "missing") : 0;
	if (!json_is_string(v) || !parse_hex_id(json_string_value(v), out, n))
		return ot_fail(o, p, "not a %zu-byte id in hex", n);
	*have = true;
	return 0;
}

/* A fixed64/int64 field: a decimal string or a JSON integer, >= 0. */
static int get_u64(struct ot *o, json_t *obj, const char *base, const char *key,
		   int64_t *out)
{
	char p[OT_PATH_MAX];
	json_t *v = json_object_get(obj, key);
	char *end;

	path_sub(p, base, key, 0);
	if (!v)
		return ot_fail(o, p, "missing");
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		errno = 0;
		unsigned long long x = strtoull(s, &end, 10);
		if (isdigit((unsigned char)*s) && !*end && !errno && x <= INT64_MAX) {
			*out = (int64_t)x;
			return 0;
		}
	}
	return ot_fail(o, p, "not a time in ns since the epoch");
}

/*
 * An enum field: an integer 0..@n-1 or one of @names. Absent: 0.
 * @what names it in the error ("span kind").
 */
static int get_enum(struct ot *o, json_t *obj, const char *base, const char *key,
		    const char *const *names, int n, const char *what, int *out)
{
	char p[OT_PATH_MAX];
	json_t *v = json_object_get(obj, key);

	path_sub(p, base, key, 0);
	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		if (x >= 0 && x < n) {
			*out = (int)x;
			return 0;
		}
		return ot_fail(o, p, "unknown %s %lld", what, (long long)x);
	}
	if (json_is_string(v)) {
		for (int i = 0; i < n; i++)
			if (!strcmp(json_string_value(v), names[i])) {
				*out = i;
				return 0;
			}
		return ot_fail(o, p, "unknown %s '%.64s'", what, json_string_value(v));
	}
	return ot_fail(o, p, "not a %s", what);
}

/* ---- attributes ---- */

/* The attributes of a span or resource we use: borrowed from the JSON. */
struct ot_attrs {
	const char *service_name;
	const char *method, *route, *url_path, *target, *url_full;
	const char *db_system, *db_text, *db_op;
	const char *rpc_system, *rpc_service, *rpc_method;
	const char *addr, *peer_name, *peer_service;
	int64_t port, peer_port, status, grpc_status;	/* -1: absent */
};

struct ot_attr_key {
	const char *key;
	bool num;	/* an int64_t field, else a const char * */
	size_t off;	/* offsetof the field in ot_attrs */
};

#define S(f) false, offsetof(struct ot_attrs, f)
#define N(f) true, offsetof(struct ot_attrs, f)
/* Earlier keys win over later synonyms (newer semantic conventions first). */
static const struct ot_attr_key attr_keys[] = {
	{ "service.name", S(service_name) },
	{ "http.request.method", S(method) },
	{ "http.method", S(method) },
	{ "http.route", S(route) },
	{ "url.path", S(url_path) },
	{ "http.target", S(target) },
	{ "url.full", S(url_full) },
	{ "http.url", S(url_full) },
	{ "db.system.name", S(db_system) },
	{ "db.system", S(db_system) },
	{ "db.query.text", S(db_text) },
	{ "db.statement", S(db_text) },
	{ "db.operation.name", S(db_op) },
	{ "db.operation", S(db_op) },
	{ "rpc.system", S(rpc_system) },
	{ "rpc.service", S(rpc_service) },
	{ "rpc.method", S(rpc_method) },
	{ "server.address", S(addr) },
	{ "net.peer.name", S(peer_name) },
	{ "peer.service", S(peer_service) },
	{ "server.port", N(port) },
	{ "net.peer.port", N(peer_port) },
	{ "http.response.status_code", N(status) },
	{ "http.status_code", N(status) },
	{ "rpc.grpc.status_code", N(grpc_status) },
};
#undef S
#undef N

/* AnyValue as an integer: intValue (string or number), or a numeric string. */
static bool anyvalue_int(json_t *val, int64_t *out)
{
	json_t *v = json_object_get(val, "intValue");
	char *end;

	if (!v)
		v = json_object_get(val, "stringValue");
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (*s && !*end && !errno) {
			*out = x;
			return true;
		}
	}
	return false;
}

/* Read the KeyValue list @key of @obj into @a (fields not yet set only). */
static int read_attrs(struct ot *o, json_t *obj, const char *base, struct ot_attrs *a)
{
	char p[OT_PATH_MAX], pi[OT_PATH_MAX];
	json_t *arr, *kv;
	size_t i;
	int err;

	err = get_array(o, obj, base, "attributes", false, &arr);
	if (err || !arr)
		return err;
	path_sub(p, base, "attributes", 0);
	json_array_foreach(arr, i, kv) {
		json_t *key = json_object_get(kv, "key");
		json_t *val = json_object_get(kv, "value");
		path_sub(pi, p, NULL, i);
		if (!json_is_object(kv) || !json_is_string(key))
			return ot_fail(o, pi, "not a key/value pair");
		if (val && !json_is_object(val))
			return ot_fail(o, pi, "value: not an AnyValue object");
		for (size_t k = 0; k < sizeof(attr_keys) / sizeof(attr_keys[0]); k++) {
			const struct ot_attr_key *ak = &attr_keys[k];
			if (strcmp(ak->key, json_string_value(key)))
				continue;
			if (!ak->num) {
				const char **f = (const char **)((char *)a + ak->off);
				json_t *sv = json_object_get(val, "stringValue");
				if (!*f && json_is_string(sv))
					*f = json_string_value(sv);
			} else {
				int64_t *f = (int64_t *)((char *)a + ak->off);
				int64_t x;
				if (*f < 0 && val && anyvalue_int(val, &x))
					*f = x;
				else if (*f < 0 && val)
					return ot_fail(o, pi, "%s: not an integer", ak->key);
			}
		}
	}
	return 0;
}

static void attrs_init(struct ot_attrs *a)
{
	memset(a, 0, sizeof(*a));
	a->port = a->peer_port = a->status = a->grpc_status = -1;
}

/* ---- operations, as the agent names them ---- */

static bool is_sql_system(const char *db)
{
	static const char *const sql[] = {
		"postgresql", "mysql", "mariadb", "mssql", "oracle", "sqlite",
		"db2", "cockroachdb", "h2", "hsqldb", "derby", "clickhouse",
		"trino", "spanner", "redshift", "other_sql",
	};
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
		if (!strcmp(db, sql[i]))
			return true;
	return false;
}

/* A protocol name from a free-form system name: [a-z0-9_.-], <= 31 chars. */
static void proto_name(const char *sys, char *out, size_t size)
{
	size_t n = 0;

	for (; *sys && n + 1 < size && n < 31; sys++) {
		int c = tolower((unsigned char)*sys);
		out[n++] = (isalnum(c) || c == '_' || c == '.' || c == '-') ? (char)c : '_';
	}
	out[n] = '\0';
	if (!n)
		snprintf(out, size, "unknown");
}

/*
 * The first word of @s, at most 32 characters of [A-Za-z0-9._] (others as
 * '_'), uppercased if @upper: a Redis command or an operation name, never
 * the arguments that follow it.
 */
static void first_word(const char *s, bool upper, char *out, size_t size)
{
	size_t n = 0;

	while (*s && isspace((unsigned char)*s))
		s++;
	for (; *s && !isspace((unsigned char)*s) && n + 1 < size && n < 32; s++) {
		unsigned char c = (unsigned char)*s;
		out[n++] = isalpha(c) ? (char)(upper ? toupper(c) : c) :
			   (isdigit(c) || c == '.' || c == '_') ? (char)c : '_';
	}
	out[n] = '\0';
}

/* The protocol and operation of a span from its attributes. */
static int span_operation(struct ot_span *sp, const struct ot_attrs *a)
{
	char proto[32], op[FL_OP_MAX], route[FL_OP_MAX];
	const char *target;

	op[0] = '\0';
	if (a->method) {
		snprintf(proto, sizeof(proto), "http");
		target = a->route ? a->route : a->url_path ? a->url_path :
			 a->target ? a->target : a->url_full ? a->url_full : "";
		if (a->route) {
			imp_route_template(a->route, route, sizeof(route));
			target = route;
		}
		sp->route = a->route != NULL;
		fl_http_route(a->method, strlen(a->method), target, strlen(target),
			      op, sizeof(op));
	} else if (a->db_system) {
		proto_name(a->db_system, proto, sizeof(proto));
		if (!strcmp(proto, "mariadb"))
			snprintf(proto, sizeof(proto), "mysql");
		if (!strcmp(proto, "redis")) {
			first_word(a->db_op ? a->db_op : a->db_text ? a->db_text : "",
				   true, op, sizeof(op));
		} else if (is_sql_system(proto) && a->db_text) {
			fl_sql_normalize(a->db_text, strlen(a->db_text), op, sizeof(op));
		} else if (a->db_op) {
			/* an operation name, never a statement of an unknown language */
			first_word(a->db_op, is_sql_system(proto), op, sizeof(op));
		}
	} else if (a->rpc_system) {
		proto_name(a->rpc_system, proto, sizeof(proto));
		snprintf(op, sizeof(op), "%.120s%s%.120s", a->rpc_service ? a->rpc_service : "",
			 a->rpc_service && a->rpc_method ? "/" : "",
			 a->rpc_method ? a->rpc_method : "");
	} else {
		snprintf(proto, sizeof(proto), "unknown");
	}
	fl_utf8_fix(op);
	sp->proto = strdup(proto);
	sp->op = strdup(op);
	return sp->proto && sp->op ? 0 : -ENOMEM;
}

/* peer.service, and "host[:port]" of the server it called. */
static int span_peer(struct ot_span *sp, const struct ot_attrs *a)
{
	const char *host = a->addr ? a->addr : a->peer_name;
	int64_t port = a->addr ? a->port : a->peer_port;
	char buf[300];

	if (a->peer_service && *a->peer_service && !(sp->peer = strdup(a->peer_service)))
		return -ENOMEM;
	if (host && *host) {
		if (port >= 0 && port <= 65535)
			snprintf(buf, sizeof(buf), "%.255s:%lld", host, (long long)port);
		else
			snprintf(buf, sizeof(buf), "%.255s", host);
		if (!(sp->addr = strdup(buf)))
			return -ENOMEM;
	}
	if (a->db_system && *a->db_system) {
		proto_name(a->db_system, buf, sizeof(buf));
		if (!(sp->db = strdup(buf)))
			return -ENOMEM;
	}
	return 0;
}

/* ---- parsing ---- */

static int svc_index(struct ot *o, const char *name, uint32_t *at)
{
	for (size_t i = o->nsvcs; i-- > 0;)
		if (!strcmp(o->svcs[i], name)) {
			*at = (uint32_t)i;
			return 0;
		}
	if (o->nsvcs == o->capsvcs) {
		size_t cap = o->capsvcs ? o->capsvcs * 2 : 16;
		char **v = realloc(o->svcs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		o->svcs = v;
		o->capsvcs = cap;
	}
	if (!(o->svcs[o->nsvcs] = strdup(name)))
		return -ENOMEM;
	fl_utf8_fix(o->svcs[o->nsvcs]);
	*at = (uint32_t)o->nsvcs++;
	return 0;
}

static struct ot_span *span_push(struct ot *o)
{
	struct ot_span *v = fl_grow(o->v, &o->cap, o->n, sizeof(*v), 256);

	if (!v)
		return NULL;
	o->v = v;
	memset(&o->v[o->n], 0, sizeof(o->v[0]));
	return &o->v[o->n++];
}

static int parse_span(struct ot *o, json_t *js, const char *p, uint32_t svc)
{
	char q[OT_PATH_MAX];
	struct ot_attrs a;
	struct ot_span *sp;
	json_t *status;
	bool have;
	int kind, code, err;

	if (!json_is_object(js))
		return ot_fail(o, p, "not a span object");
	sp = span_push(o);
	if (!sp)
		return ot_oom(o);
	sp->svc = svc;
	sp->first_server = sp->next_server = sp->parent_at = OT_NONE;
	if ((err = get_id(o, js, p, "traceId", sp->trace, 16, true, &have)) ||
	    (err = get_id(o, js, p, "spanId", sp->id, 8, true, &have)) ||
	    (err = get_id(o, js, p, "parentSpanId", sp->parent, 8, false,
			  &sp->has_parent)) ||
	    (err = get_enum(o, js, p, "kind", kind_names, 6, "span kind", &kind)) ||
	    (err = get_u64(o, js, p, "startTimeUnixNano", &sp->start_ns)) ||
	    (err = get_u64(o, js, p, "endTimeUnixNano", &sp->end_ns)))
		return err;
	sp->kind = (uint8_t)kind;
	if (sp->end_ns < sp->start_ns) {
		path_sub(q, p, "endTimeUnixNano", 0);
		return ot_fail(o, q, "before startTimeUnixNano");
	}
	status = json_object_get(js, "status");
	path_sub(q, p, "status", 0);
	if (status && !json_is_object(status))
		return ot_fail(o, q, "not a status object");
	if ((err = get_enum(o, status, q, "code", status_names, 3, "status code", &code)))
		return err;
	attrs_init(&a);
	if ((err = read_attrs(o, js, p, &a)))
		return err;
	if (kind != OT_KIND_CLIENT && kind != OT_KIND_SERVER)
		return 0;
	sp->error = code == 2 || a.status >= 500 || a.grpc_status > 0;
	sp->client_error = a.status >= 400 && a.status < 500;
	if (span_operation(sp, &a) || span_peer(sp, &a))
		return ot_oom(o);
	return 0;
}

static int parse_scope(struct ot *o, json_t *ss, const char *p, uint32_t svc)
{
	char q[OT_PATH_MAX];
	json_t *spans, *js;
	size_t i;
	int err;

	if (!json_is_object(ss))
		return ot_fail(o, p, "not a ScopeSpans object");
	err = get_array(o, ss, p, "spans", false, &spans);
	if (err || !spans)
		return err;
	path_sub(q, p, "spans", 0);
	json_array_foreach(spans, i, js) {
		char pi[OT_PATH_MAX];
		path_sub(pi, q, NULL, i);
		if ((err = parse_span(o, js, pi, svc)))
			return err;
	}
	return 0;
}

static int parse_resource_spans(struct ot *o, json_t *rs, const char *p)
{
	char q[OT_PATH_MAX], pi[OT_PATH_MAX];
	json_t *res, *scopes, *ss;
	struct ot_attrs a;
	uint32_t svc;
	size_t i;
	int err;

	if (!json_is_object(rs))
		return ot_fail(o, p, "not a ResourceSpans object");
	attrs_init(&a);
	res = json_object_get(rs, "resource");
	path_sub(q, p, "resource", 0);
	if (res && !json_is_object(res))
		return ot_fail(o, q, "not a resource object");
	if (res && (err = read_attrs(o, res, q, &a)))
		return err;
	/* the SDKs' default when service.name is not set */
	if (svc_index(o, a.service_name && *a.service_name ? a.service_name
							    : "unknown_service", &svc))
		return ot_oom(o);
	err = get_array(o, rs, p, "scopeSpans", false, &scopes);
	if (err || !scopes)
		return err;
	path_sub(q, p, "scopeSpans", 0);
	json_array_foreach(scopes, i, ss) {
		path_sub(pi, q, NULL, i);
		if ((err = parse_scope(o, ss, pi, svc)))
			return err;
	}
	return 0;
}

static int parse_doc(struct ot *o, json_t *doc)
{
	char pi[OT_PATH_MAX];
	json_t *arr, *rs;
	size_t i;
	int err;

	if (!json_is_object(doc))
		return ot_fail(o, "(document)", "not an ExportTraceServiceRequest object");
	err = get_array(o, doc, "", "resourceSpans", true, &arr);
	if (err)
		return err;
	json_array_foreach(arr, i, rs) {
		path_sub(pi, "resourceSpans", NULL, i);
		if ((err = parse_resource_spans(o, rs, pi)))
			return err;
	}
	o->docs++;
	return 0;
}

/* ---- the span index ---- */

static uint64_t span_hash(const uint8_t *trace, const uint8_t *id)
{
	uint64_t h = 1469598103934665603ull;

	for (int i = 0; i < 16; i++)
		h = (h ^ trace[i]) * 1099511628211ull;
	for (int i = 0; i < 8; i++)
		h = (h ^ id[i]) * 1099511628211ull;
	return h;
}

/* The index of span (@trace, @id), or OT_NONE. */
static uint32_t span_find(const struct ot *o, const uint8_t *trace, const uint8_t *id)
{
	size_t mask = o->nslots - 1;

	for (size_t i = span_hash(trace, id) & mask;; i = (i + 1) & mask) {
		uint32_t at = o->slots[i];
		if (!at)
			return OT_NONE;
		const struct ot_span *sp = &o->v[at - 1];
		if (!memcmp(sp->trace, trace, 16) && !memcmp(sp->id, id, 8))
			return at - 1;
	}
}

static int index_spans(struct ot *o)
{
	size_t n = 16;

	while (n < 2 * o->n + 2)
		n *= 2;
	o->slots = calloc(n, sizeof(*o->slots));
	if (!o->slots)
		return ot_oom(o);
	o->nslots = n;
	for (size_t k = 0; k < o->n; k++) {
		struct ot_span *sp = &o->v[k];
		size_t i = span_hash(sp->trace, sp->id) & (n - 1);
		if (span_find(o, sp->trace, sp->id) != OT_NONE) {
			sp->dup = true;	/* a batch exported twice */
			o->dups++;
			continue;
		}
		while (o->slots[i])
			i = (i + 1) & (n - 1);
		o->slots[i] = (uint32_t)k + 1;
	}
	/* parents, and each CLIENT span's SERVER children */
	for (size_t k = 0; k < o->n; k++) {
		struct ot_span *sp = &o->v[k];
		if (sp->dup || !sp->has_parent)
			continue;
		sp->parent_at = span_find(o, sp->trace, sp->parent);
		if (sp->kind != OT_KIND_SERVER || sp->parent_at == OT_NONE)
			continue;
		struct ot_span *c = &o->v[sp->parent_at];
		if (c->kind == OT_KIND_CLIENT) {
			sp->next_server = c->first_server;
			c->first_server = (uint32_t)k;
		}
	}
	return 0;
}

/* ---- writing ---- */

static const char *kind_of_db(const char *db)
{
	return !strcmp(db, "redis") || !strcmp(db, "memcached") ? "cache" : "database";
}

/* The edge of client span @c to server @server (kind @kind), its id. */
static int write_edge(struct ot *o, const struct ot_span *c, const struct ot_span *s,
		      const char *server, const char *kind, int64_t *edge)
{
	const struct ot_span *n = c;	/* whose naming: the route template wins */
	int64_t cid, sid;
	int err;

	if (s && (s->route || !strcmp(c->proto, "unknown")))
		n = s;
	if ((err = imp_service(o->im, o->svcs[c->svc], "service", c->start_ns,
			       c->end_ns, &cid)) ||
	    (err = imp_service(o->im, server, kind, c->start_ns, c->end_ns, &sid)) ||
	    (err = imp_edge(o->im, cid, sid, n->proto, n->op, c->start_ns,
			    c->end_ns, edge)))
		return err;
	if (!gate_idmap_get(&o->edges, *edge, &(size_t){ 0 }) &&
	    gate_idmap_put(&o->edges, *edge, 0))
		return ot_oom(o);
	return 0;
}

/* One request: client span @c, answered by @s (or NULL). */
static int write_request(struct ot *o, const struct ot_span *c,
			 const struct ot_span *s, int64_t edge)
{
	struct imp_req r = {
		.start_ns = c->start_ns,
		.end_ns = c->end_ns,
		.latency_ns = (uint64_t)(c->end_ns - c->start_ns),
		.error = c->error || (s && s->error),
		.client_error = c->client_error || (s && s->client_error),
	};

	r.client_error = r.client_error && !r.error;
	o->requests++;
	return imp_request(o->im, edge, "trace", &r);
}

/* Every request of CLIENT span @c; edges OUT: none when it has no peer. */
static int write_client(struct ot *o, struct ot_span *c)
{
	const char *server, *kind;
	int64_t edge;
	int err;

	if (c->first_server != OT_NONE) {
		for (uint32_t k = c->first_server; k != OT_NONE; k = o->v[k].next_server) {
			struct ot_span *s = &o->v[k];
			kind = c->db ? kind_of_db(c->db) : "service";
			if ((err = write_edge(o, c, s, o->svcs[s->svc], kind, &edge)) ||
			    (err = write_request(o, c, s, edge)))
				return err;
			s->edge = edge;
		}
		return 0;
	}
	if (c->peer) {
		server = c->peer;
		kind = c->db ? kind_of_db(c->db) : "service";
	} else if (c->addr) {
		server = c->addr;
		kind = c->db ? kind_of_db(c->db) : "external";
	} else if (c->db) {
		server = c->db;
		kind = kind_of_db(c->db);
	} else {
		o->no_peer++;
		return 0;
	}
	if ((err = write_edge(o, c, NULL, server, kind, &edge)) ||
	    (err = write_request(o, c, NULL, edge)))
		return err;
	c->edge = edge;		/* a CLIENT's own edge, for its path links */
	return 0;
}

/*
 * The SERVER span of @c's service that @c was made while serving: the
 * first SERVER ancestor, if it is of the same service. OT_NONE otherwise.
 */
static uint32_t serving_span(const struct ot *o, const struct ot_span *c)
{
	uint32_t k = c->parent_at;

	for (int hops = 0; k != OT_NONE && hops < OT_ANCESTRY_MAX; hops++) {
		const struct ot_span *a = &o->v[k];
		if (a->kind == OT_KIND_SERVER)
			return a->svc == c->svc ? k : OT_NONE;
		k = a->parent_at;
	}
	return OT_NONE;
}

static int write_links(struct ot *o, const struct ot_span *c)
{
	uint32_t k = serving_span(o, c);
	int64_t parent;
	int err;

	if (k == OT_NONE || !o->v[k].edge)
		return 0;
	parent = o->v[k].edge;
	if (c->first_server == OT_NONE) {
		if (!c->edge)
			return 0;
		o->links++;
		return imp_link(o->im, parent, c->edge, "trace", c->start_ns);
	}
	for (uint32_t s = c->first_server; s != OT_NONE; s = o->v[s].next_server) {
		o->links++;
		if ((err = imp_link(o->im, parent, o->v[s].edge, "trace", c->start_ns)))
			return err;
	}
	return 0;
}

static int write_all(struct ot *o)
{
	int err;

	for (size_t k = 0; k < o->n; k++) {
		struct ot_span *sp = &o->v[k];
		if (sp->dup)
			continue;
		if (sp->kind == OT_KIND_CLIENT) {
			if ((err = write_client(o, sp)))
				return err;
		} else if (sp->kind == OT_KIND_SERVER) {
			if (sp->parent_at == OT_NONE ||
			    o->v[sp->parent_at].kind != OT_KIND_CLIENT)
				o->no_client++;
		} else {
			o->other_kinds++;
		}
	}
	/* after every SERVER span knows its edge */
	for (size_t k = 0; k < o->n; k++)
		if (!o->v[k].dup && o->v[k].kind == OT_KIND_CLIENT &&
		    (err = write_links(o, &o->v[k])))
			return err;
	return 0;
}

/* ---- summary ---- */

static void otlp_print(const json_t *s)
{
	printf("imported otlp '%s': %lld spans in %lld documents: %lld requests on "
	       "%lld edges, %lld path links\n",
	       json_string_value(json_object_get(s, "path")),
	       (long long)json_integer_value(json_object_get(s, "spans")),
	       (long long)json_integer_value(json_object_get(s, "documents")),
	       (long long)json_integer_value(json_object_get(s, "requests")),
	       (long long)json_integer_value(json_object_get(s, "edges")),
	       (long long)json_integer_value(json_object_get(s, "path_links")));
	json_t *sk = json_object_get(s, "not_imported");
	printf("not imported: %lld client spans without a peer, %lld server spans "
	       "without a client span, %lld other spans (internal, producer, "
	       "consumer), %lld duplicate spans\n",
	       (long long)json_integer_value(json_object_get(sk, "client_without_peer")),
	       (long long)json_integer_value(json_object_get(sk, "server_without_client")),
	       (long long)json_integer_value(json_object_get(sk, "other_kinds")),
	       (long long)json_integer_value(json_object_get(sk, "duplicates")));
}

static void ot_release(struct ot *o)
{
	for (size_t k = 0; k < o->n; k++) {
		free(o->v[k].proto);
		free(o->v[k].op);
		free(o->v[k].peer);
		free(o->v[k].addr);
		free(o->v[k].db);
	}
	free(o->v);
	for (size_t i = 0; i < o->nsvcs; i++)
		free(o->svcs[i]);
	free(o->svcs);
	free(o->slots);
	gate_idmap_release(&o->edges);
}

int imp_otlp_run(struct imp *im, const char *buf, size_t len)
{
	struct ot o = { .im = im };
	size_t off = 0;
	json_t *doc;
	int err;

	for (;;) {
		err = imp_json_next(im, buf, len, &off, &doc, &o.at);
		if (err || !doc)
			break;
		err = parse_doc(&o, doc);
		json_decref(doc);
		if (err)
			goto out_release;
	}
	if (!err && !o.docs)
		err = gate_fail(im->ctx, -EINVAL, "cannot import '%s': no JSON document",
				im->path);
	if (!err)
		err = index_spans(&o);
	if (!err)
		err = imp_begin(im);
	if (!err)
		err = write_all(&o);
	if (err)
		goto out_release;
	im->items = o.requests;
	im->print = otlp_print;
	im->summary = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}}",
		"kind", "otlp", "path", im->path,
		"documents", (json_int_t)o.docs, "spans", (json_int_t)o.n,
		"requests", (json_int_t)o.requests, "edges", (json_int_t)o.edges.n,
		"path_links", (json_int_t)o.links,
		"not_imported",
		"client_without_peer", (json_int_t)o.no_peer,
		"server_without_client", (json_int_t)o.no_client,
		"other_kinds", (json_int_t)o.other_kinds,
		"duplicates", (json_int_t)o.dups);
	if (!im->summary)
		err = ot_oom(&o);
out_release:
	ot_release(&o);
	return err;
}
