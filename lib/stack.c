// SPDX-License-Identifier: BSD-2-Clause
/*
 * The stack file parser (lib/stack.h, docs/stack.md).
 *
 * jansson parses the text and keeps no positions, so a value found wrong
 * after parsing is located again by a small scanner over the text (the
 * text is valid JSON by then): the checks keep a path of keys and indexes
 * as they descend, and only an error walks the text to it.
 */
#include "stack.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JPATH_MAX 8

struct jpath {
	int n;
	struct {
		const char *key;	/* object member, or NULL: array index */
		size_t idx;
	} c[JPATH_MAX];
};

struct parse {
	const char *path;	/* the file as given */
	const char *text;
	size_t len;
	struct jpath jp;
	char *err;
	size_t errlen;
	const char *dir;	/* absolute directory of the file */
};

/* ---- locating a value in the text ---- */

struct scan {
	const char *p, *end;
};

static void scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' ||
				 *s->p == '\r'))
		s->p++;
}

/* At a '"': past the string. OUT: its raw body [*b, *e). */
static void scan_string(struct scan *s, const char **b, const char **e)
{
	s->p++;
	*b = s->p;
	while (s->p < s->end && *s->p != '"') {
		if (*s->p == '\\' && s->p + 1 < s->end)
			s->p++;
		s->p++;
	}
	*e = s->p;
	if (s->p < s->end)
		s->p++;
}

static void scan_value(struct scan *s)
{
	const char *b, *e;
	int depth = 0;

	scan_ws(s);
	do {
		if (s->p >= s->end)
			return;
		char c = *s->p;
		if (c == '"') {
			scan_string(s, &b, &e);
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		else if (!depth && (c == ',' || c == ' ' || c == '\n' || c == '\t' ||
				    c == '\r'))
			return;
		s->p++;
	} while (depth > 0 || (s->p < s->end && !strchr(",}] \t\r\n", *s->p)));
}

/* Does the raw JSON string body [b, e) spell @key? (escapes: rare, compared raw) */
static bool key_is(const char *b, const char *e, const char *key)
{
	size_t n = strlen(key);

	return (size_t)(e - b) == n && !memcmp(b, key, n);
}

/*
 * The offset of what @jp names: an object member's key, an array element's
 * first byte; the deepest component found if the walk stops early.
 */
static size_t scan_find(const struct parse *ps, const struct jpath *jp)
{
	struct scan s = { ps->text, ps->text + ps->len };
	const char *at = ps->text;

	scan_ws(&s);
	at = s.p;
	for (int i = 0; i < jp->n; i++) {
		scan_ws(&s);
		if (s.p >= s.end)
			break;
		if (jp->c[i].key && *s.p == '{') {
			bool found = false;
			s.p++;
			for (;;) {
				const char *b, *e, *kp;
				scan_ws(&s);
				if (s.p >= s.end || *s.p != '"')
					break;
				kp = s.p;
				scan_string(&s, &b, &e);
				scan_ws(&s);
				if (s.p < s.end && *s.p == ':')
					s.p++;
				if (key_is(b, e, jp->c[i].key)) {
					at = kp;
					found = true;
					break;
				}
				scan_value(&s);
				scan_ws(&s);
				if (s.p < s.end && *s.p == ',')
					s.p++;
			}
			if (!found)
				break;
		} else if (!jp->c[i].key && *s.p == '[') {
			size_t k = 0;
			s.p++;
			scan_ws(&s);
			while (k < jp->c[i].idx && s.p < s.end && *s.p != ']') {
				scan_value(&s);
				scan_ws(&s);
				if (s.p < s.end && *s.p == ',')
					s.p++;
				scan_ws(&s);
				k++;
			}
			if (k != jp->c[i].idx || s.p >= s.end)
				break;
			at = s.p;
		} else {
			break;
		}
	}
	return (size_t)(at - ps->text);
}

static void where_str(const struct jpath *jp, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (int i = 0; i < jp->n && o < len; i++) {
		int w;
		if (jp->c[i].key)
			w = snprintf(buf + o, len - o, "%s%s", i ? "." : "", jp->c[i].key);
		else
			w = snprintf(buf + o, len - o, "[%zu]", jp->c[i].idx);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

/* "FILE:LINE:COL: WHERE: reason" for the value at ps->jp. Returns -EINVAL. */
static int perr(struct parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int perr(struct parse *ps, const char *fmt, ...)
{
	size_t off = scan_find(ps, &ps->jp);
	int line = 1, col = 1;
	char where[256], why[512];
	va_list ap;

	for (size_t i = 0; i < off; i++) {
		if (ps->text[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)ps->text[i] & 0xc0) != 0x80) {
			col++;	/* columns in characters, as jansson counts */
		}
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	where_str(&ps->jp, where, sizeof(where));
	snprintf(ps->err, ps->errlen, "%s:%d:%d: %s%s%s", ps->path, line, col,
		 where, where[0] ? ": " : "", why);
	return -EINVAL;
}

static void jp_key(struct parse *ps, const char *key)
{
	if (ps->jp.n < JPATH_MAX)
		ps->jp.c[ps->jp.n] = (typeof(ps->jp.c[0])){ .key = key };
	ps->jp.n++;
}

static void jp_idx(struct parse *ps, size_t idx)
{
	if (ps->jp.n < JPATH_MAX)
		ps->jp.c[ps->jp.n] = (typeof(ps->jp.c[0])){ .idx = idx };
	ps->jp.n++;
}

static void jp_pop(struct parse *ps)
{
	ps->jp.n--;
}

/* ---- argv ---- */

void fl_argv_release(struct fl_argv *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static int argv_push(struct fl_argv *a, char *s)
{
	char **v = realloc(a->v, (a->n + 2) * sizeof(*v));

	if (!v) {
		free(s);
		return -ENOMEM;
	}
	a->v = v;
	v[a->n++] = s;
	v[a->n] = NULL;
	return 0;
}

int fl_argv_split(const char *cmd, struct fl_argv *out, char *err, size_t errlen)
{
	size_t len = strlen(cmd);
	char *word = malloc(len + 1);
	struct fl_argv a = { 0 };
	size_t w = 0;
	bool in_word = false;
	int ret = 0;

	if (!word)
		return -ENOMEM;
	for (const char *p = cmd; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n') {
			if (in_word) {
				word[w] = 0;
				char *dup = strdup(word);
				if (!dup || argv_push(&a, dup)) {
					free(dup);
					ret = -ENOMEM;
					goto out;
				}
				w = 0;
				in_word = false;
			}
			continue;
		}
		in_word = true;
		if (*p == '\\') {
			if (!p[1]) {
				snprintf(err, errlen, "trailing backslash in '%s'", cmd);
				ret = -EINVAL;
				goto out;
			}
			if (p[1] != '\n')
				word[w++] = p[1];
			p++;
		} else if (*p == '\'') {
			const char *q = strchr(p + 1, '\'');
			if (!q) {
				snprintf(err, errlen, "unmatched ' in '%s'", cmd);
				ret = -EINVAL;
				goto out;
			}
			memcpy(word + w, p + 1, (size_t)(q - p - 1));
			w += (size_t)(q - p - 1);
			p = q;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1])) {
					p++;
					if (*p == '\n')
						continue;
				}
				word[w++] = *p;
			}
			if (!*p) {
				snprintf(err, errlen, "unmatched \" in '%s'", cmd);
				ret = -EINVAL;
				goto out;
			}
		} else {
			word[w++] = *p;
		}
	}
	if (in_word) {
		word[w] = 0;
		char *dup = strdup(word);
		if (!dup || argv_push(&a, dup)) {
			free(dup);
			ret = -ENOMEM;
			goto out;
		}
	}
	if (!a.n) {
		snprintf(err, errlen, "empty command");
		ret = -EINVAL;
	}
out:
	free(word);
	if (ret)
		fl_argv_release(&a);
	else
		*out = a;
	return ret;
}

/* @s with every "${NAME}" of @vars replaced; a new string or NULL. */
static char *expand(const char *s, char *const *vars)
{
	size_t cap = strlen(s) + 1, n = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	while (*s) {
		const char *val = NULL;
		size_t skip = 0;
		if (s[0] == '$' && s[1] == '{' && vars) {
			for (char *const *v = vars; *v; v++) {
				const char *eq = strchr(*v, '=');
				size_t kl = eq ? (size_t)(eq - *v) : 0;
				if (eq && !strncmp(s + 2, *v, kl) && s[2 + kl] == '}') {
					val = eq + 1;
					skip = kl + 3;
					break;
				}
			}
		}
		size_t add = val ? strlen(val) : 1;
		if (n + add + 1 > cap) {
			cap = (n + add + 1) * 2;
			char *o = realloc(out, cap);
			if (!o) {
				free(out);
				return NULL;
			}
			out = o;
		}
		if (val) {
			memcpy(out + n, val, add);
			s += skip;
		} else {
			out[n] = *s++;
		}
		n += add;
	}
	out[n] = 0;
	return out;
}

int fl_argv_copy(const struct fl_argv *src, char *const *vars, struct fl_argv *dst)
{
	struct fl_argv a = { 0 };

	for (size_t i = 0; i < src->n; i++) {
		char *s = expand(src->v[i], vars);
		if (!s || argv_push(&a, s)) {
			fl_argv_release(&a);
			return -ENOMEM;
		}
	}
	if (!a.v && !(a.v = calloc(1, sizeof(*a.v))))
		return -ENOMEM;
	*dst = a;
	return 0;
}

/* ---- checks ---- */

static int only_keys(struct parse *ps, json_t *obj, const char *const *keys)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const char *const *k = keys;
		if (!strncmp(key, "x-", 2))
			continue;	/* a reader's own extension, ignored */
		while (*k && strcmp(*k, key))
			k++;
		if (!*k) {
			jp_key(ps, key);
			char known[256] = "";
			for (k = keys; *k; k++)
				snprintf(known + strlen(known), sizeof(known) - strlen(known),
					 "%s%s", k == keys ? "" : ", ", *k);
			return perr(ps, "unknown key (known: %s)", known);
		}
	}
	return 0;
}

/*
 * A name that is safe as a file, cgroup and control-socket word: starts
 * with a letter or digit; test names (@dots) may hold a pytest node id.
 */
static bool name_ok(const char *s, bool dots)
{
	size_t n = strlen(s);

	if (!n || n >= FL_STACK_NAME_MAX ||
	    !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	      (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		      *s == '.' || (dots && (*s == ':' || *s == '/' || *s == '[' ||
				       *s == ']'))))
			return false;
	return true;
}

static int get_string(struct parse *ps, json_t *obj, const char *key, bool need,
		      char **out)
{
	json_t *v = json_object_get(obj, key);
	int ret = 0;

	*out = NULL;
	jp_key(ps, key);
	if (!v) {
		jp_pop(ps);
		if (need)
			return perr(ps, "\"%s\" is required", key);
		return 0;
	}
	if (!json_is_string(v) || !json_string_length(v))
		ret = perr(ps, "must be a non-empty string");
	else if (strlen(json_string_value(v)) != json_string_length(v))
		ret = perr(ps, "must not contain NUL");
	else if (!(*out = strdup(json_string_value(v))))
		ret = -ENOMEM;
	jp_pop(ps);
	return ret;
}

/* An array of strings at @v (path already pushed). */
static int strings(struct parse *ps, json_t *v, bool nonempty, char ***out,
		   size_t *n, const char *what)
{
	size_t i;
	json_t *e;

	*out = NULL;
	*n = 0;
	if (!json_is_array(v) || (nonempty && !json_array_size(v)))
		return perr(ps, "must be a %sarray of %s", nonempty ? "non-empty " : "",
			    what);
	*out = calloc(json_array_size(v) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || strlen(json_string_value(e)) !=
					      json_string_length(e)) {
			jp_idx(ps, i);
			int r = perr(ps, "must be a string");
			jp_pop(ps);
			return r;
		}
		if (!((*out)[i] = strdup(json_string_value(e))))
			return -ENOMEM;
		(*n)++;
	}
	return 0;
}

static int get_argv(struct parse *ps, json_t *v, struct fl_argv *a)
{
	int r = strings(ps, v, true, &a->v, &a->n, "strings (argv, no shell)");

	if (!r && !a->v[0][0])
		r = perr(ps, "the program (first word) must not be empty");
	return r;
}

static int get_number(struct parse *ps, json_t *obj, const char *key, double min,
		      double max, double dflt, double *out)
{
	json_t *v = json_object_get(obj, key);
	int ret = 0;

	*out = dflt;
	if (!v)
		return 0;
	jp_key(ps, key);
	if (!json_is_number(v) || json_number_value(v) < min ||
	    json_number_value(v) > max || !isfinite(json_number_value(v)))
		ret = perr(ps, "must be a number in %g..%g", min, max);
	else
		*out = json_number_value(v);
	jp_pop(ps);
	return ret;
}

static int get_port(struct parse *ps, json_t *v, int *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 65535)
		return perr(ps, "must be an integer port 1..65535");
	*out = (int)json_integer_value(v);
	return 0;
}

static int abs_path(struct parse *ps, const char *p, char **out)
{
	if (p[0] == '/')
		*out = strdup(p);
	else if (asprintf(out, "%s/%s", ps->dir, p) < 0)
		*out = NULL;
	return *out ? 0 : -ENOMEM;
}

static int svc_ready(struct parse *ps, json_t *r, struct fl_stack_service *sv)
{
	static const char *const keys[] = { "tcp", "http", "grpc", "port",
					    "timeout_s", NULL };
	json_t *v;
	int err, kinds = 0;

	sv->ready = FL_READY_TCP;
	sv->ready_port = sv->port;
	sv->ready_timeout_s = FL_STACK_READY_TIMEOUT_S;
	if (!r)
		return 0;
	jp_key(ps, "ready");
	if (!json_is_object(r)) {
		err = perr(ps, "must be an object: {\"tcp\": PORT}, {\"http\": PATH} "
			   "or {\"grpc\": true}");
		goto out;
	}
	if ((err = only_keys(ps, r, keys)))
		goto out;
	if ((v = json_object_get(r, "tcp"))) {
		kinds++;
		jp_key(ps, "tcp");
		err = get_port(ps, v, &sv->ready_port);
		jp_pop(ps);
		if (err)
			goto out;
	}
	if ((v = json_object_get(r, "http"))) {
		kinds++;
		sv->ready = FL_READY_HTTP;
		jp_key(ps, "http");
		if (!json_is_string(v) || json_string_value(v)[0] != '/' ||
		    strpbrk(json_string_value(v), " \r\n"))
			err = perr(ps, "must be a path starting with '/', without blanks");
		else if (!(sv->ready_path = strdup(json_string_value(v))))
			err = -ENOMEM;
		jp_pop(ps);
		if (err)
			goto out;
	}
	if ((v = json_object_get(r, "grpc"))) {
		kinds++;
		sv->ready = FL_READY_GRPC;
		jp_key(ps, "grpc");
		if (!json_is_true(v))
			err = perr(ps, "must be true");
		jp_pop(ps);
		if (err)
			goto out;
	}
	if (kinds > 1) {
		err = perr(ps, "give one of tcp, http, grpc");
		goto out;
	}
	if ((v = json_object_get(r, "port"))) {
		jp_key(ps, "port");
		err = get_port(ps, v, &sv->ready_port);
		jp_pop(ps);
		if (err)
			goto out;
	}
	err = get_number(ps, r, "timeout_s", 0.1, 3600, FL_STACK_READY_TIMEOUT_S,
			 &sv->ready_timeout_s);
out:
	jp_pop(ps);
	return err;
}

static int svc_env(struct parse *ps, json_t *env, struct fl_stack_service *sv)
{
	const char *key;
	json_t *v;
	int err = 0;

	if (!env)
		return 0;
	jp_key(ps, "env");
	if (!json_is_object(env)) {
		err = perr(ps, "must be an object of strings");
		goto out;
	}
	sv->env = calloc(json_object_size(env) + 1, sizeof(*sv->env));
	if (!sv->env) {
		err = -ENOMEM;
		goto out;
	}
	json_object_foreach(env, key, v) {
		jp_key(ps, key);
		if (!key[0] || strchr(key, '='))
			err = perr(ps, "not a variable name");
		else if (!json_is_string(v))
			err = perr(ps, "must be a string");
		else if (asprintf(&sv->env[sv->nenv], "%s=%s", key,
				  json_string_value(v)) < 0)
			err = -ENOMEM;
		else
			sv->nenv++;
		jp_pop(ps);
		if (err)
			break;
	}
out:
	jp_pop(ps);
	return err;
}

static int svc_setup(struct parse *ps, json_t *v, struct fl_stack_service *sv)
{
	json_t *e;
	size_t i;
	int err = 0;

	if (!v)
		return 0;
	jp_key(ps, "setup");
	if (!json_is_array(v) || !json_array_size(v)) {
		err = perr(ps, "must be an argv, or an array of argvs");
		goto out;
	}
	if (!json_is_array(json_array_get(v, 0))) {	/* one argv */
		sv->setup = calloc(1, sizeof(*sv->setup));
		if (!sv->setup) {
			err = -ENOMEM;
			goto out;
		}
		sv->nsetup = 1;
		err = get_argv(ps, v, &sv->setup[0]);
		goto out;
	}
	sv->setup = calloc(json_array_size(v), sizeof(*sv->setup));
	if (!sv->setup) {
		err = -ENOMEM;
		goto out;
	}
	json_array_foreach(v, i, e) {
		jp_idx(ps, i);
		sv->nsetup++;
		err = get_argv(ps, e, &sv->setup[i]);
		jp_pop(ps);
		if (err)
			break;
	}
out:
	jp_pop(ps);
	return err;
}

static int svc_parse(struct parse *ps, json_t *j, struct fl_stack_service *sv)
{
	static const char *const keys[] = { "name", "cmd", "env", "kind", "port",
					    "ready", "paths", "setup", NULL };
	static const char *const kinds[] = { "service", "database", "cache",
					     "queue", NULL };
	json_t *v;
	int err;

	if (!json_is_object(j))
		return perr(ps, "must be an object");
	if ((err = only_keys(ps, j, keys)) ||
	    (err = get_string(ps, j, "name", true, &sv->name)))
		return err;
	if (!name_ok(sv->name, false)) {
		jp_key(ps, "name");
		return perr(ps, "'%s': a service name is 1..63 of A-Z a-z 0-9 . _ -, "
			    "starting with a letter or digit",
			    sv->name);
	}
	jp_key(ps, "cmd");
	if (!(v = json_object_get(j, "cmd"))) {
		jp_pop(ps);
		return perr(ps, "\"cmd\" is required");
	}
	err = get_argv(ps, v, &sv->cmd);
	jp_pop(ps);
	if (err || (err = get_string(ps, j, "kind", false, &sv->kind)))
		return err;
	if (!sv->kind && !(sv->kind = strdup("service")))
		return -ENOMEM;
	const char *const *k = kinds;
	while (*k && strcmp(*k, sv->kind))
		k++;
	if (!*k) {
		jp_key(ps, "kind");
		return perr(ps, "'%s': want service, database, cache or queue", sv->kind);
	}
	jp_key(ps, "port");
	if (!(v = json_object_get(j, "port"))) {
		jp_pop(ps);
		return perr(ps, "\"port\" is required (the port it listens on)");
	}
	err = get_port(ps, v, &sv->port);
	jp_pop(ps);
	if (err || (err = svc_ready(ps, json_object_get(j, "ready"), sv)) ||
	    (err = svc_env(ps, json_object_get(j, "env"), sv)) ||
	    (err = svc_setup(ps, json_object_get(j, "setup"), sv)))
		return err;
	if ((v = json_object_get(j, "paths"))) {
		char **raw;
		size_t n;
		jp_key(ps, "paths");
		err = strings(ps, v, false, &raw, &n, "globs");
		jp_pop(ps);
		if (!err && !(sv->paths = calloc(n + 1, sizeof(*sv->paths))))
			err = -ENOMEM;
		for (size_t i = 0; !err && i < n; i++) {
			if (!(err = abs_path(ps, raw[i], &sv->paths[i])))
				sv->npaths++;
		}
		for (size_t i = 0; raw && raw[i]; i++)
			free(raw[i]);
		free(raw);
	}
	return err;
}

static int test_parse(struct parse *ps, json_t *j, struct fl_stack_test *t)
{
	static const char *const keys[] = { "name", "cmd", "timeout_s", "tags", NULL };
	json_t *v;
	int err;

	if (!json_is_object(j))
		return perr(ps, "must be an object");
	if ((err = only_keys(ps, j, keys)) ||
	    (err = get_string(ps, j, "name", true, &t->name)))
		return err;
	if (!name_ok(t->name, true)) {
		jp_key(ps, "name");
		return perr(ps, "'%s': a test name is 1..63 of A-Z a-z 0-9 . _ - : / [ ], "
			    "starting with a letter or digit", t->name);
	}
	jp_key(ps, "cmd");
	if (!(v = json_object_get(j, "cmd"))) {
		jp_pop(ps);
		return perr(ps, "\"cmd\" is required");
	}
	err = get_argv(ps, v, &t->cmd);
	jp_pop(ps);
	if (err || (err = get_number(ps, j, "timeout_s", 0.1, 86400,
				     FL_STACK_TEST_TIMEOUT_S, &t->timeout_s)))
		return err;
	if ((v = json_object_get(j, "tags"))) {
		jp_key(ps, "tags");
		err = strings(ps, v, false, &t->tags, &t->ntags, "tags");
		jp_pop(ps);
	}
	return err;
}

static int driver_parse(struct parse *ps, json_t *j, struct fl_stack_driver *d)
{
	static const char *const keys[] = { "up", "swap", "restore", "down", "store",
					    "control", NULL };
	struct {
		const char *key;
		struct fl_argv *a;
	} hooks[] = { { "up", &d->up }, { "swap", &d->swap },
		      { "restore", &d->restore }, { "down", &d->down } };
	char *store = NULL;
	int err;

	if (!j)
		return 0;
	d->set = true;
	jp_key(ps, "driver");
	if (!json_is_object(j)) {
		err = perr(ps, "must be an object");
		goto out;
	}
	if ((err = only_keys(ps, j, keys)))
		goto out;
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		json_t *v = json_object_get(j, hooks[i].key);
		jp_key(ps, hooks[i].key);
		if (!v)
			err = perr(ps, "the driver needs \"%s\" (argv)", hooks[i].key);
		else
			err = get_argv(ps, v, hooks[i].a);
		jp_pop(ps);
		if (err)
			goto out;
	}
	if ((err = get_string(ps, j, "store", true, &store)) ||
	    (err = abs_path(ps, store, &d->store)))
		goto out;
	free(store);
	store = NULL;
	if ((err = get_string(ps, j, "control", false, &store)) || !store)
		goto out;
	err = abs_path(ps, store, &d->control);
out:
	free(store);
	jp_pop(ps);
	return err;
}

static int stack_check(struct parse *ps, json_t *root, struct fl_stack *s)
{
	static const char *const keys[] = { "name", "services", "tests", "must_run",
					    "driver", "description", NULL };
	json_t *v, *e;
	size_t i;
	int err;

	if (!json_is_object(root))
		return perr(ps, "the stack must be a JSON object");
	if ((err = only_keys(ps, root, keys)) ||
	    (err = get_string(ps, root, "name", true, &s->name)))
		return err;
	if (!name_ok(s->name, false)) {
		jp_key(ps, "name");
		return perr(ps, "'%s': a stack name is 1..63 of A-Z a-z 0-9 . _ -, "
			    "starting with a letter or digit", s->name);
	}
	if ((v = json_object_get(root, "description"))) {
		jp_key(ps, "description");
		err = json_is_string(v) ? 0 : perr(ps, "must be a string");
		jp_pop(ps);
		if (err)
			return err;
	}
	jp_key(ps, "services");
	v = json_object_get(root, "services");
	if (!json_is_array(v) || !json_array_size(v)) {
		err = perr(ps, "\"services\" must be a non-empty array");
		goto out_pop;
	}
	if (!(s->svcs = calloc(json_array_size(v), sizeof(*s->svcs)))) {
		err = -ENOMEM;
		goto out_pop;
	}
	json_array_foreach(v, i, e) {
		jp_idx(ps, i);
		s->nsvcs++;
		err = svc_parse(ps, e, &s->svcs[i]);
		for (size_t k = 0; !err && k < i; k++) {
			jp_key(ps, "name");
			if (!strcmp(s->svcs[k].name, s->svcs[i].name))
				err = perr(ps, "service '%s' is defined twice",
					   s->svcs[i].name);
			else if (s->svcs[k].port == s->svcs[i].port) {
				jp_pop(ps);
				jp_key(ps, "port");
				err = perr(ps, "port %d is also the port of '%s'",
					   s->svcs[i].port, s->svcs[k].name);
			}
			jp_pop(ps);
		}
		jp_pop(ps);
		if (err)
			goto out_pop;
	}
	jp_pop(ps);
	jp_key(ps, "tests");
	v = json_object_get(root, "tests");
	if (v && !json_is_array(v)) {
		err = perr(ps, "\"tests\" must be an array");
		goto out_pop;
	}
	if (v && !(s->tests = calloc(json_array_size(v) + 1, sizeof(*s->tests)))) {
		err = -ENOMEM;
		goto out_pop;
	}
	json_array_foreach(v, i, e) {
		jp_idx(ps, i);
		s->ntests++;
		err = test_parse(ps, e, &s->tests[i]);
		for (size_t k = 0; !err && k < i; k++)
			if (!strcmp(s->tests[k].name, s->tests[i].name)) {
				jp_key(ps, "name");
				err = perr(ps, "test '%s' is defined twice", s->tests[i].name);
				jp_pop(ps);
			}
		jp_pop(ps);
		if (err)
			goto out_pop;
	}
	jp_pop(ps);
	if ((v = json_object_get(root, "must_run"))) {
		jp_key(ps, "must_run");
		err = strings(ps, v, false, &s->must_run, &s->nmust_run, "tags");
		if (err)
			goto out_pop;
		jp_pop(ps);
	}
	return driver_parse(ps, json_object_get(root, "driver"), &s->driver);
out_pop:
	jp_pop(ps);
	return err;
}

static int read_all(const char *path, char **text, size_t *len, char *err,
		    size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t cap = 4096, n = 0;
	char *buf;
	int ret = 0;

	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return ret;
	}
	buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
		if (n + 1 == cap) {
			char *b = cap > (64u << 20) ? NULL : realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				buf = NULL;
				ret = cap > (64u << 20) ? -EFBIG : -ENOMEM;
				break;
			}
			buf = b;
			cap *= 2;
		}
	}
	if (buf && ferror(f)) {
		ret = -EIO;
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		free(buf);
		buf = NULL;
	} else if (!buf && !ret) {
		ret = -ENOMEM;
	}
	if (ret == -EFBIG)
		snprintf(err, errlen, "cannot read '%s': larger than 64 MiB", path);
	fclose(f);
	if (buf)
		buf[n] = 0;
	*text = buf;
	*len = n;
	return ret;
}

int fl_stack_load(const char *path, struct fl_stack *out, char *err, size_t errlen)
{
	struct fl_stack s = { 0 };
	struct parse ps = { .path = path, .err = err, .errlen = errlen };
	char *text = NULL, *real = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	int ret;

	err[0] = 0;
	ret = read_all(path, &text, &ps.len, err, errlen);
	if (ret)
		return ret;
	ps.text = text;
	if (!(s.path = strdup(path)) || !(real = realpath(path, NULL))) {
		ret = s.path ? -errno : -ENOMEM;
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(-ret));
		goto out;
	}
	char *slash = strrchr(real, '/');
	*slash = 0;
	if (!(s.dir = strdup(real[0] ? real : "/"))) {
		ret = -ENOMEM;
		goto out;
	}
	ps.dir = s.dir;
	if (memchr(text, 0, ps.len)) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		ret = -EINVAL;
		goto out;
	}
	root = json_loadb(text, ps.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column,
			 jerr.text);
		ret = -EINVAL;
		goto out;
	}
	ret = stack_check(&ps, root, &s);
out:
	if (ret == -ENOMEM && !err[0])
		snprintf(err, errlen, "out of memory reading '%s'", path);
	if (ret)
		fl_stack_release(&s);
	else
		*out = s;
	json_decref(root);
	free(real);
	free(text);
	return ret;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void fl_stack_release(struct fl_stack *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nsvcs; i++) {
		struct fl_stack_service *sv = &s->svcs[i];
		free(sv->name);
		fl_argv_release(&sv->cmd);
		strv_free(sv->env);
		free(sv->kind);
		free(sv->ready_path);
		strv_free(sv->paths);
		for (size_t k = 0; k < sv->nsetup; k++)
			fl_argv_release(&sv->setup[k]);
		free(sv->setup);
	}
	free(s->svcs);
	for (size_t i = 0; i < s->ntests; i++) {
		free(s->tests[i].name);
		fl_argv_release(&s->tests[i].cmd);
		strv_free(s->tests[i].tags);
	}
	free(s->tests);
	strv_free(s->must_run);
	fl_argv_release(&s->driver.up);
	fl_argv_release(&s->driver.swap);
	fl_argv_release(&s->driver.restore);
	fl_argv_release(&s->driver.down);
	free(s->driver.store);
	free(s->driver.control);
	free(s->path);
	free(s->dir);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

struct fl_stack_service *fl_stack_service(const struct fl_stack *s, const char *name)
{
	for (size_t i = 0; i < s->nsvcs; i++)
		if (!strcmp(s->svcs[i].name, name))
			return &s->svcs[i];
	return NULL;
}

struct fl_stack_test *fl_stack_test(const struct fl_stack *s, const char *name)
{
	for (size_t i = 0; i < s->ntests; i++)
		if (!strcmp(s->tests[i].name, name))
			return &s->tests[i];
	return NULL;
}

bool fl_stack_has_tag(const struct fl_stack_test *t, const char *tag)
{
	for (size_t i = 0; i < t->ntags; i++)
		if (!strcmp(t->tags[i], tag))
			return true;
	return false;
}
