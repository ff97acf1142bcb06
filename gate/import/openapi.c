// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl import openapi: the operations of one service from its OpenAPI 3
 * description (OpenAPI Specification 3.0/3.1, JSON). Each path and method
 * ("paths" -> Path Item -> get/put/post/delete/options/head/patch/trace)
 * becomes operation "METHOD /route" of the service, named as the agent
 * names observed requests: path parameters ("{userId}") become "{id}" and
 * the route goes through fl_http_route(). The first server URL's path
 * ("https://h/v1" -> "/v1") prefixes every route.
 *
 * The service's schema operations are replaced by the new description:
 * what a later description no longer lists is removed. Operations are
 * merged with edges when read (sources.c), so an edge observed later
 * still finds them.
 */
#include "chars.h"
#include "import/writer.h"
#include "output/output.h"
#include "opname.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define OA_PATH_MAX 512

static const char *const oa_methods[] = {
	"get", "put", "post", "delete", "options", "head", "patch", "trace",
};
#define N_METHODS (sizeof(oa_methods) / sizeof(oa_methods[0]))

/* Path Item fields that are not operations (OpenAPI 3.1 §4.8.9.1). */
static const char *const oa_item_fields[] = {
	"summary", "description", "servers", "parameters",
};

struct oa {
	struct imp *im;
	bool check;		/* a first pass: validate, write nothing */
	int64_t service_id;
	char prefix[256];	/* the first server URL's path, no trailing '/' */
	uint64_t ops, matched, removed;
};

static int oa_fail(struct oa *o, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "cannot import 'F': PATH: why" */
static int oa_fail(struct oa *o, const char *path, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return gate_fail(o->im->ctx, -EINVAL, "cannot import '%s': %s: %s",
			 o->im->path, path, why);
}

static int oa_db_fail(struct oa *o, const char *what)
{
	return gate_fail(o->im->ctx, -EIO, "cannot %s in '%s': %s", what,
			 o->im->ctx->db_path, sqlite3_errmsg(o->im->ctx->db));
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

/* "openapi": "3.x.y" */
static int check_version(struct oa *o, json_t *root)
{
	json_t *v = json_object_get(root, "openapi");
	const char *s;

	if (!v && json_object_get(root, "swagger"))
		return oa_fail(o, "swagger", "Swagger 2.0 is not supported (want OpenAPI 3)");
	if (!v)
		return oa_fail(o, "openapi", "missing (not an OpenAPI 3 description)");
	if (!json_is_string(v))
		return oa_fail(o, "openapi", "not a version string");
	s = json_string_value(v);
	if (strncmp(s, "3.", 2) || !isdigit((unsigned char)s[2]))
		return oa_fail(o, "openapi", "version '%.32s' is not 3.x", s);
	return 0;
}

/* The path of servers[0].url, when it has one and no variables. */
static int server_prefix(struct oa *o, json_t *root)
{
	json_t *servers = json_object_get(root, "servers"), *url;
	const char *u, *p;
	size_t n;

	if (servers && !json_is_array(servers))
		return oa_fail(o, "servers", "not an array");
	url = json_object_get(json_array_get(servers, 0), "url");
	if (!json_is_string(url))
		return 0;
	u = json_string_value(url);
	p = strstr(u, "://");
	p = p ? strchr(p + 3, '/') : (u[0] == '/' ? u : NULL);
	if (!p || strchr(p, '{'))
		return 0;
	n = strcspn(p, "?#");
	while (n && p[n - 1] == '/')
		n--;
	if (n >= sizeof(o->prefix))
		return oa_fail(o, "servers[0].url", "path longer than %zu bytes",
			       sizeof(o->prefix) - 1);
	memcpy(o->prefix, p, n);
	o->prefix[n] = '\0';
	return 0;
}

/* The service's id: created (kind service) when the store lacks it. */
static int oa_service(struct oa *o)
{
	sqlite3 *db = o->im->ctx->db;
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT id FROM services WHERE name = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return oa_db_fail(o, "read services");
	sqlite3_bind_text(st, 1, o->im->service, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		o->service_id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return oa_db_fail(o, "read services");
	return imp_service(o->im, o->im->service, "service", o->im->now_ns,
			   o->im->now_ns, &o->service_id);
}

/* Count the observed (or traced) edges to the service with @op. */
static int count_matches(struct oa *o, const char *op)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(o->im->ctx->db,
			       "SELECT count(*) FROM edges WHERE server_id = ?1 "
			       "AND protocol = 'http' AND operation = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return oa_db_fail(o, "read edges");
	sqlite3_bind_int64(st, 1, o->service_id);
	sqlite3_bind_text(st, 2, op, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
		o->matched++;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : oa_db_fail(o, "read edges");
}

static int add_operation(struct oa *o, const char *route, const char *method)
{
	char full[FL_OP_MAX], tmpl[FL_OP_MAX], op[FL_OP_MAX], upper[16];
	size_t i;
	int err;

	for (i = 0; method[i] && i + 1 < sizeof(upper); i++)
		upper[i] = (char)toupper((unsigned char)method[i]);
	upper[i] = '\0';
	snprintf(full, sizeof(full), "%s%s", o->prefix, route);
	imp_route_template(full, tmpl, sizeof(tmpl));
	fl_http_route(upper, strlen(upper), tmpl, strlen(tmpl), op, sizeof(op));
	fl_utf8_fix(op);
	if (o->check)
		return 0;
	err = imp_operation(o->im, o->service_id, "http", op);
	if (!err)
		err = count_matches(o, op);
	o->ops++;
	return err;
}

/* One Path Item: its operations; other fields checked, not used. */
static int read_path_item(struct oa *o, const char *route, json_t *item)
{
	char p[OA_PATH_MAX], q[OA_PATH_MAX + 32];
	const char *key;
	json_t *v;
	int err;

	snprintf(p, sizeof(p), "paths['%.400s']", route);
	if (route[0] != '/')
		return oa_fail(o, p, "a path must start with '/'");
	if (!json_is_object(item))
		return oa_fail(o, p, "not a Path Item object");
	json_object_foreach(item, key, v) {
		snprintf(q, sizeof(q), "%s.%.24s", p, key);
		if (in_list(key, oa_methods, N_METHODS)) {
			if (!json_is_object(v))
				return oa_fail(o, q, "not an Operation object");
			if ((err = add_operation(o, route, key)))
				return err;
		} else if (!strcmp(key, "$ref")) {
			return oa_fail(o, q, "Path Item references are not supported");
		} else if (!in_list(key, oa_item_fields, 4) && strncmp(key, "x-", 2)) {
			return oa_fail(o, q, "unknown field (want an HTTP method in lowercase)");
		}
	}
	return 0;
}

/* The service's schema operations this import did not list. */
static int remove_stale(struct oa *o)
{
	sqlite3 *db = o->im->ctx->db;
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "DELETE FROM operations WHERE service_id = ?1 "
				   "AND source = 'schema' AND import_id IS NOT ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return oa_db_fail(o, "write operations");
	sqlite3_bind_int64(st, 1, o->service_id);
	sqlite3_bind_int64(st, 2, o->im->import_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return oa_db_fail(o, "write operations");
	o->removed = (uint64_t)sqlite3_changes(db);
	return 0;
}

static void openapi_print(const json_t *s)
{
	printf("imported openapi '%s' as service '%s': %lld operations, %lld of them "
	       "also observed, %lld no longer listed removed\n",
	       json_string_value(json_object_get(s, "path")),
	       json_string_value(json_object_get(s, "service")),
	       (long long)json_integer_value(json_object_get(s, "operations")),
	       (long long)json_integer_value(json_object_get(s, "matched")),
	       (long long)json_integer_value(json_object_get(s, "removed")));
}

static int read_doc(struct oa *o, json_t *root)
{
	json_t *paths, *item;
	const char *route;
	int err;

	if (!json_is_object(root))
		return oa_fail(o, "(document)", "not an OpenAPI object");
	if ((err = check_version(o, root)) || (err = server_prefix(o, root)))
		return err;
	paths = json_object_get(root, "paths");
	if (!paths)
		return oa_fail(o, "paths", "missing");
	if (!json_is_object(paths))
		return oa_fail(o, "paths", "not a Paths object");
	if (!o->check && (err = oa_service(o)))
		return err;
	json_object_foreach(paths, route, item) {
		if (!strncmp(route, "x-", 2))
			continue;	/* a Paths extension */
		if ((err = read_path_item(o, route, item)))
			return err;
	}
	return o->check ? 0 : remove_stale(o);
}

int imp_openapi_run(struct imp *im, const char *buf, size_t len)
{
	struct oa o = { .im = im };
	struct imp_pos at;
	size_t off = 0;
	json_t *root, *more;
	int err;

	err = imp_json_next(im, buf, len, &off, &root, &at);
	if (err)
		return err;
	if (!root)
		return gate_fail(im->ctx, -EINVAL, "cannot import '%s': no JSON document",
				 im->path);
	err = imp_json_next(im, buf, len, &off, &more, &at);
	if (!err && more)
		err = gate_fail(im->ctx, -EINVAL,
				"cannot import '%s': line %d, column %d: more than one JSON document",
				im->path, at.line, at.column);
	json_decref(more);
	o.check = true;		/* all of it checked before the store is opened */
	if (!err)
		err = read_doc(&o, root);
	o.check = false;
	if (!err)
		err = imp_begin(im);
	if (!err)
		err = read_doc(&o, root);
	json_decref(root);
	if (err)
		return err;
	im->items = o.ops;
	im->print = openapi_print;
	im->summary = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "kind", "openapi",
				"path", im->path, "service", im->service,
				"operations", (json_int_t)o.ops,
				"matched", (json_int_t)o.matched,
				"removed", (json_int_t)o.removed);
	return im->summary ? 0 : gate_fail(im->ctx, -ENOMEM, "out of memory");
}
