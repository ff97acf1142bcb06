// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl --prometheus: production windows from Prometheus' HTTP API
 * (prom.h). libcurl for HTTP, jansson for the answers.
 */
#include "query/prom.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PROM_TIMEOUT_S 30L
#define PROM_BODY_MAX (512u << 20)	/* refuse answers past 512 MiB */

uint64_t gate_prom_bound_ns(unsigned i)
{
	return 16384ull << (2 * i);	/* agent/metrics.c metrics_bound_ns() */
}

void gate_hist_coarsen(const struct fl_hist *h, uint64_t cum[GATE_PROM_BOUNDS + 1])
{
	memset(cum, 0, (GATE_PROM_BOUNDS + 1) * sizeof(cum[0]));
	for (uint32_t i = 0; i < h->nbins; i++) {
		for (unsigned b = 0; b < GATE_PROM_BOUNDS; b++)
			/* bound 2^(14+2b) is where bucket 32 * (10 + 2b) starts */
			if (h->bins[i].idx < 32u * (10 + 2 * b))
				cum[b] += h->bins[i].count;
		cum[GATE_PROM_BOUNDS] += h->bins[i].count;
	}
}

/* ---- HTTP ---------------------------------------------------------------- */

struct body {
	char *p;
	size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t add = size * nmemb;
	char *p;

	if (b->n + add + 1 > PROM_BODY_MAX || !(p = realloc(b->p, b->n + add + 1)))
		return 0;
	memcpy(p + b->n, ptr, add);
	b->p = p;
	b->n += add;
	b->p[b->n] = 0;
	return add;
}

/*
 * One query of Prometheus' /api/v1/query at @time_s: OUT: *@result, the
 * "data.result" array (a new reference). Returns 0, -EIO or -EPROTO with a
 * message in ctx->err, or -ENOMEM.
 */
static int prom_query(struct gate_ctx *ctx, const char *url, const char *query,
		      double time_s, json_t **result)
{
	CURL *c = curl_easy_init();
	struct body b = { 0 };
	char tbuf[64], *q = NULL, *form = NULL, *endpoint = NULL;
	long code = 0;
	json_t *root = NULL;
	json_error_t jerr;
	CURLcode rc;
	int err = -ENOMEM;

	*result = NULL;
	snprintf(tbuf, sizeof(tbuf), "%.3f", time_s);
	if (!c || !(q = curl_easy_escape(c, query, 0)) ||
	    asprintf(&form, "query=%s&time=%s", q, tbuf) < 0 ||
	    asprintf(&endpoint, "%s/api/v1/query", url) < 0) {
		form = form == (char *)-1 ? NULL : form;
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, endpoint);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, PROM_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "gatectl");
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		err = gate_fail(ctx, -EIO, "cannot query prometheus '%s': %s", url,
				curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	root = b.p ? json_loadb(b.p, b.n, 0, &jerr) : NULL;
	if (!json_is_object(root)) {
		err = gate_fail(ctx, -EPROTO, "prometheus '%s' answered HTTP %ld "
				"without a JSON body: is it Prometheus?", url, code);
		goto out;
	}
	const char *status = json_string_value(json_object_get(root, "status"));
	if (!status || strcmp(status, "success")) {
		const char *e = json_string_value(json_object_get(root, "error"));
		err = gate_fail(ctx, -EIO, "prometheus '%s' refused '%s': %s", url,
				query, e ? e : "no reason given");
		goto out;
	}
	*result = json_incref(json_object_get(json_object_get(root, "data"), "result"));
	if (!json_is_array(*result)) {
		json_decref(*result);
		*result = NULL;
		err = gate_fail(ctx, -EPROTO, "prometheus '%s': no result array", url);
		goto out;
	}
	err = 0;
out:
	if (err == -ENOMEM && !ctx->err[0])
		gate_fail(ctx, err, "out of memory");
	json_decref(root);
	free(b.p);
	free(endpoint);
	free(form);
	curl_free(q);
	curl_easy_cleanup(c);
	return err;
}

/* ---- exact increases --------------------------------------------------------- */

/* A series' identity: its labels, sorted by name, "k=v\x1f..." (owned). */
static char *series_key(json_t *metric)
{
	const char *keys[64];
	size_t n = 0, len = 1;
	const char *k;
	json_t *v;
	char *s, *p;

	json_object_foreach(metric, k, v) {
		if (n < 64)
			keys[n++] = k;
	}
	for (size_t i = 1; i < n; i++)	/* insertion sort: a handful of labels */
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		len += strlen(keys[i]) + 2 +
		       strlen(json_string_value(json_object_get(metric, keys[i])) ?: "");
	p = s = malloc(len);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s=%s\x1f", keys[i],
			     json_string_value(json_object_get(metric, keys[i])) ?: "");
	*p = 0;
	return s;
}

/* One series' traffic in the range. */
struct inc {
	json_t *metric;		/* borrowed from the range answer */
	double value;		/* the exact increase */
	int64_t first_ns, last_ns; /* samples where it rose; 0 if it did not */
};

static double sample_value(json_t *pair, double *t)
{
	*t = json_number_value(json_array_get(pair, 0));
	const char *s = json_string_value(json_array_get(pair, 1));
	return s ? strtod(s, NULL) : NAN;
}

/* When agents started inside the range (faultline_agent_start_time_seconds). */
struct restart {
	const char *instance;	/* borrowed from the answer */
	double at_s;		/* Unix s */
};

struct restarts {
	json_t *answer;		/* owned */
	struct restart *v;	/* owned */
	size_t n;
};

/* Whether @instance's agent started in (@after_s, @upto_s]. */
static bool restarted(const struct restarts *r, const char *instance, double after_s,
		      double upto_s)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (r->v[i].at_s > after_s && r->v[i].at_s <= upto_s &&
		    !strcmp(r->v[i].instance, instance))
			return true;
	return false;
}

/*
 * The increase of series @range (a matrix entry) from @base (its value at
 * since, taken at @base_t; NAN if it had none): rises summed; after a
 * restart of its agent (@r), or a fall, the value counts whole (a reset).
 */
static void series_increase(json_t *range, double base, double base_t,
			    const struct restarts *r, struct inc *out)
{
	json_t *values = json_object_get(range, "values");
	const char *inst = json_string_value(json_object_get(json_object_get(range, "metric"),
							     "instance")) ?: "";
	double prev = isnan(base) ? 0 : base, prev_t = base_t, t, v;
	size_t i;
	json_t *pair;

	out->metric = json_object_get(range, "metric");
	out->value = 0;
	out->first_ns = out->last_ns = 0;
	json_array_foreach(values, i, pair) {
		v = sample_value(pair, &t);
		if (isnan(v))
			continue;
		double d = v >= prev && !restarted(r, inst, prev_t, t) ? v - prev : v;
		prev_t = t;
		if (d > 0) {
			out->value += d;
			int64_t ns = (int64_t)llround(t * 1e9);
			if (!out->first_ns)
				out->first_ns = ns;
			out->last_ns = ns;
		}
		prev = v;
	}
}

struct kv {
	char *key;
	double v, t;
};

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

/*
 * The exact increases of every series of @selector over [@since, @until):
 * OUT: *@incs (caller frees), *@n; *@matrix holds the labels they borrow
 * (caller decrefs). Returns 0 or what prom_query() returns.
 */
static int increases(struct gate_ctx *ctx, const char *url, const char *selector,
		     int64_t since_ns, int64_t until_ns, const struct restarts *rs,
		     json_t **matrix, struct inc **incs, size_t *n,
		     struct gate_prom_graph *g)
{
	json_t *base = NULL, *e;
	struct kv *bv = NULL;
	char *q = NULL;
	size_t nb = 0, i;
	int err;

	*matrix = NULL;
	*incs = NULL;
	*n = 0;
	err = prom_query(ctx, url, selector, (double)since_ns / 1e9, &base);
	if (err)
		return err;
	if (asprintf(&q, "%s[%lldms]", selector,
		     (long long)((until_ns - since_ns) / 1000000)) < 0) {
		q = NULL;
		err = gate_fail(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	err = prom_query(ctx, url, q, (double)until_ns / 1e9, matrix);
	if (err)
		goto out;
	bv = calloc(json_array_size(base) + 1, sizeof(*bv));
	*incs = calloc(json_array_size(*matrix) + 1, sizeof(**incs));
	if (!bv || !*incs)
		goto out_nomem;
	json_array_foreach(base, i, e) {
		bv[nb].v = sample_value(json_object_get(e, "value"), &bv[nb].t);
		if (!(bv[nb].key = series_key(json_object_get(e, "metric"))))
			goto out_nomem;
		nb++;
	}
	qsort(bv, nb, sizeof(*bv), kv_cmp);
	json_array_foreach(*matrix, i, e) {
		struct kv k = { .key = series_key(json_object_get(e, "metric")) };
		if (!k.key)
			goto out_nomem;
		struct kv *hit = nb ? bsearch(&k, bv, nb, sizeof(*bv), kv_cmp) : NULL;
		free(k.key);
		series_increase(e, hit ? hit->v : NAN, hit ? hit->t : (double)since_ns / 1e9,
				rs, &(*incs)[*n]);
		g->samples += json_array_size(json_object_get(e, "values"));
		g->series++;
		(*n)++;
	}
	goto out;
out_nomem:
	err = gate_fail(ctx, -ENOMEM, "out of memory");
out:
	for (size_t j = 0; j < nb; j++)
		free(bv[j].key);
	free(bv);
	free(q);
	json_decref(base);
	if (err) {
		free(*incs);
		*incs = NULL;
		*n = 0;
		json_decref(*matrix);
		*matrix = NULL;
	}
	return err;
}

/* ---- edges ----------------------------------------------------------------- */

static const char *label(json_t *metric, const char *name)
{
	return json_string_value(json_object_get(metric, name)) ?: "";
}

static int kind_rank(const char *k)
{
	if (!strcmp(k, "database") || !strcmp(k, "cache") || !strcmp(k, "queue"))
		return 2;
	return strcmp(k, "external") ? 1 : 0;
}

/* Service @name's id (index + 1), interned; its kind raised as the store does. */
static int64_t intern(struct gate_prom_graph *g, const char *name, const char *kind)
{
	for (size_t i = 0; i < g->nnames; i++)
		if (!strcmp(g->names[i], name)) {
			if (kind_rank(kind) > kind_rank(g->kinds[i])) {
				char *k = strdup(kind);
				if (!k)
					return -1;
				free(g->kinds[i]);
				g->kinds[i] = k;
			}
			return (int64_t)i + 1;
		}
	if (g->nnames == g->capnames) {
		size_t cap = g->capnames ? 2 * g->capnames : 32;
		char **n = realloc(g->names, cap * sizeof(*n));
		if (!n)
			return -1;
		g->names = n;
		char **k = realloc(g->kinds, cap * sizeof(*k));
		if (!k)
			return -1;
		g->kinds = k;
		g->capnames = cap;
	}
	g->names[g->nnames] = strdup(name);
	g->kinds[g->nnames] = strdup(kind);
	if (!g->names[g->nnames] || !g->kinds[g->nnames]) {
		free(g->names[g->nnames]);
		free(g->kinds[g->nnames]);
		return -1;
	}
	return (int64_t)++g->nnames;
}

/* A client named by its address was not resolved to a process (aggregate.c). */
static const char *client_kind(const char *name)
{
	if (strchr(name, ':') || strspn(name, "0123456789.") == strlen(name))
		return "external";
	return "service";
}

/* The edge (client, server, protocol, operation) of @metric, created if new. */
static struct gate_edge *edge_of(struct gate_prom_graph *g, json_t *metric,
				 const char *protocol, const char *operation)
{
	const char *client = label(metric, "client"), *server = label(metric, "server");
	const char *skind = label(metric, "server_kind");
	struct gate_edges *es = &g->edges;
	int64_t cid, sid;

	cid = intern(g, client, client_kind(client));
	sid = intern(g, server, skind[0] ? skind : "service");
	if (cid < 0 || sid < 0)
		return NULL;
	for (size_t i = 0; i < es->n; i++)	/* small graphs: a linear scan */
		if (es->v[i].client_id == cid && es->v[i].server_id == sid &&
		    !strcmp(es->v[i].protocol, protocol) &&
		    !strcmp(es->v[i].operation, operation))
			return &es->v[i];
	if (es->n == es->cap) {
		size_t cap = es->cap ? es->cap * 2 : 16;
		struct gate_edge *v = realloc(es->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		es->v = v;
		es->cap = cap;
	}
	struct gate_edge *e = &es->v[es->n];
	memset(e, 0, sizeof(*e));
	e->protocol = strdup(protocol);
	e->operation = strdup(operation);
	if (!e->protocol || !e->operation) {
		free(e->protocol);
		free(e->operation);
		return NULL;
	}
	e->client_id = cid;
	e->server_id = sid;
	es->n++;
	return e;
}

static void seen(struct gate_edge *e, const struct inc *in)
{
	if (!in->first_ns)
		return;
	if (!e->first_seen_ns || in->first_ns < e->first_seen_ns)
		e->first_seen_ns = in->first_ns;
	if (in->last_ns > e->last_seen_ns)
		e->last_seen_ns = in->last_ns;
}

static uint64_t count_of(double v)
{
	return v > 0 ? (uint64_t)llround(v) : 0;
}

static int add_status(struct gate_prom_graph *g, const struct gate_edge *e,
		      const char *status, uint64_t c)
{
	struct gate_prom_status *s;

	for (size_t i = 0; i < g->nst; i++) {
		s = &g->st[i];
		if (s->client_id == e->client_id && s->server_id == e->server_id &&
		    !strcmp(s->protocol, e->protocol) && !strcmp(s->operation, e->operation) &&
		    !strcmp(s->status, status)) {
			s->requests += c;
			return 0;
		}
	}
	if (g->nst == g->capst) {
		size_t cap = g->capst ? 2 * g->capst : 32;
		struct gate_prom_status *v = realloc(g->st, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		g->st = v;
		g->capst = cap;
	}
	s = &g->st[g->nst];
	*s = (struct gate_prom_status){ e->client_id, e->server_id, strdup(e->protocol),
					strdup(e->operation), strdup(status), c };
	if (!s->protocol || !s->operation || !s->status) {
		free(s->protocol);
		free(s->operation);
		free(s->status);
		return -ENOMEM;
	}
	g->nst++;
	return 0;
}

json_t *gate_prom_statuses_json(const struct gate_prom_graph *g,
				const struct gate_edge *e)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < g->nst; i++) {
		const struct gate_prom_status *s = &g->st[i];
		if (s->client_id != e->client_id || s->server_id != e->server_id ||
		    strcmp(s->protocol, e->protocol) || strcmp(s->operation, e->operation))
			continue;
		if (json_object_set_new(o, s->status, json_integer((json_int_t)s->requests))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int add_requests(struct gate_prom_graph *g, const struct inc *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *m = in[i].metric;
		uint64_t c = count_of(in[i].value);
		struct gate_edge *e;
		const char *cls = label(m, "status_class");

		if (!c)
			continue;
		e = edge_of(g, m, label(m, "protocol"), label(m, "operation"));
		if (!e)
			return -ENOMEM;
		e->stats.windows++;
		e->stats.requests += c;
		if (!strcmp(cls, "5xx") || !strcmp(cls, "error"))
			e->stats.errors += c;
		else if (!strcmp(cls, "4xx"))
			e->stats.client_errors += c;
		e->tls |= !strcmp(label(m, "tls"), "true");
		seen(e, &in[i]);
		if (add_status(g, e, label(m, "status"), c))
			return -ENOMEM;
	}
	return 0;
}

static int add_conn_failures(struct gate_prom_graph *g, const struct inc *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t c = count_of(in[i].value);
		struct gate_edge *e;

		if (!c)
			continue;
		e = edge_of(g, in[i].metric, "tcp", "connect");
		if (!e)
			return -ENOMEM;
		e->stats.windows++;
		e->stats.conn_errors += c;
		seen(e, &in[i]);
	}
	return 0;
}

/* The bucket index of an "le" label (GATE_PROM_BOUNDS for +Inf), or -1. */
static int le_index(const char *le)
{
	double v = strtod(le, NULL);

	if (!strcmp(le, "+Inf"))
		return GATE_PROM_BOUNDS;
	for (unsigned b = 0; b < GATE_PROM_BOUNDS; b++)
		if (fabs(v * 1e9 - (double)gate_prom_bound_ns(b)) < 0.5)
			return (int)b;
	return -1;
}

/*
 * Latency: the cumulative bucket increases of each edge, differenced, each
 * bucket's count placed at its geometric middle (2 x its lower bound) in
 * the edge's histogram; the exact per-bucket counts are kept in
 * stats.hist too (gate_prom_buckets_json() re-derives them).
 */
static int add_latency(struct gate_prom_graph *g, const struct inc *in, size_t n)
{
	struct acc {
		struct gate_edge *e;
		uint64_t cum[GATE_PROM_BOUNDS + 1];
	} *acc = calloc(g->edges.n + 1, sizeof(*acc));
	size_t na = 0;
	int err = 0;

	if (!acc)
		return -ENOMEM;
	for (size_t i = 0; i < n && !err; i++) {
		json_t *m = in[i].metric;
		int b = le_index(label(m, "le"));
		struct gate_edge *e = NULL;
		size_t a;

		if (b < 0 || !count_of(in[i].value))
			continue;
		/* only edges that had requests in the range */
		for (size_t k = 0; k < g->edges.n && !e; k++) {
			struct gate_edge *x = &g->edges.v[k];
			if (!strcmp(g->names[x->client_id - 1], label(m, "client")) &&
			    !strcmp(g->names[x->server_id - 1], label(m, "server")) &&
			    !strcmp(x->protocol, label(m, "protocol")) &&
			    !strcmp(x->operation, label(m, "operation")))
				e = x;
		}
		if (!e)
			continue;
		for (a = 0; a < na && acc[a].e != e; a++)
			;
		if (a == na)
			acc[na++].e = e;
		acc[a].cum[b] += count_of(in[i].value);
	}
	for (size_t a = 0; a < na && !err; a++) {
		uint64_t below = 0;
		for (unsigned b = 0; b <= GATE_PROM_BOUNDS && !err; b++) {
			uint64_t cnt = acc[a].cum[b] > below ? acc[a].cum[b] - below : 0;
			uint64_t lo = b ? gate_prom_bound_ns(b - 1) : gate_prom_bound_ns(0) / 4;
			below = acc[a].cum[b] > below ? acc[a].cum[b] : below;
			while (cnt && !err) {
				uint32_t k = cnt > UINT32_MAX ? UINT32_MAX : (uint32_t)cnt;
				err = fl_hist_add(&acc[a].e->stats.hist, 2 * lo, k);
				cnt -= k;
			}
		}
	}
	free(acc);
	return err;
}

/* @s as a PromQL string literal's inside: backslash, quote, newline escaped. */
static void promql_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

char *gate_prom_matcher(const char *client, const char *server, const char *protocol,
			const char *operation)
{
	const char *k[4] = { "client", "server", "protocol", "operation" };
	const char *v[4] = { client, server, protocol, operation };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool first = true;

	if (!f)
		return NULL;
	fputc('{', f);
	for (int i = 0; i < 4; i++) {
		if (!v[i])
			continue;
		fprintf(f, "%s%s=\"", first ? "" : ",", k[i]);
		promql_str(f, v[i]);
		fputc('"', f);
		first = false;
	}
	fputc('}', f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

int gate_prom_graph_read(struct gate_ctx *ctx, const char *url, int64_t since_ns,
			 int64_t until_ns, struct gate_prom_graph *g)
{
	return gate_prom_graph_read_where(ctx, url, NULL, since_ns, until_ns, g);
}

int gate_prom_graph_read_where(struct gate_ctx *ctx, const char *url, const char *where,
			       int64_t since_ns, int64_t until_ns, struct gate_prom_graph *g)
{
	static const char *const fam[3] = {
		"faultline_requests_total",
		"faultline_connection_failures_total",
		"faultline_request_duration_seconds_bucket",
	};
	char base[1024], sel[3][2048];
	size_t ul = strlen(url);
	int err = 0;

	memset(g, 0, sizeof(*g));
	while (ul && url[ul - 1] == '/')
		ul--;
	if (ul >= sizeof(base) || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
		return gate_fail(ctx, -EINVAL, "invalid prometheus URL '%s' (want "
				 "http://HOST:PORT)", url);
	memcpy(base, url, ul);
	base[ul] = 0;
	for (int f = 0; f < 3; f++)
		snprintf(sel[f], sizeof(sel[f]), "%s%s", fam[f], where ? where : "");
	/* agents restarted inside: their counters start again from 0 */
	struct restarts rs = { 0 };
	char rq[96];
	snprintf(rq, sizeof(rq), "faultline_agent_start_time_seconds[%lldms]",
		 (long long)((until_ns - since_ns) / 1000000));
	err = prom_query(ctx, base, rq, (double)until_ns / 1e9, &rs.answer);
	if (err)
		return err;
	size_t nsamples = 0, ri;
	json_t *re;
	json_array_foreach(rs.answer, ri, re)
		nsamples += json_array_size(json_object_get(re, "values"));
	rs.v = calloc(nsamples + 1, sizeof(*rs.v));
	if (!rs.v) {
		json_decref(rs.answer);
		return gate_fail(ctx, -ENOMEM, "out of memory");
	}
	json_array_foreach(rs.answer, ri, re) {
		size_t k;
		json_t *pair;
		json_array_foreach(json_object_get(re, "values"), k, pair) {
			double t, at = sample_value(pair, &t);
			rs.v[rs.n].instance = label(json_object_get(re, "metric"), "instance");
			rs.v[rs.n++].at_s = at;
		}
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return gate_fail(ctx, -ENOMEM, "cannot initialise libcurl");
	for (int f = 0; f < 3 && !err; f++) {
		json_t *matrix = NULL;
		struct inc *in = NULL;
		size_t n = 0;

		err = increases(ctx, base, sel[f], since_ns, until_ns, &rs, &matrix, &in, &n, g);
		if (!err)
			err = f == 0 ? add_requests(g, in, n) :
			      f == 1 ? add_conn_failures(g, in, n) : add_latency(g, in, n);
		if (err == -ENOMEM)
			gate_fail(ctx, err, "out of memory");
		/* agents: the distinct instances of the requests family */
		for (size_t i = 0; f == 0 && i < n; i++) {
			bool dup = false;
			for (size_t j = 0; j < i && !dup; j++)
				dup = !strcmp(label(in[i].metric, "instance"),
					      label(in[j].metric, "instance"));
			g->instances += !dup;
		}
		free(in);
		json_decref(matrix);
	}
	json_decref(rs.answer);
	free(rs.v);
	if (err)
		return err;
	for (size_t i = 0; i < g->edges.n; i++) {
		struct gate_edge *e = &g->edges.v[i];
		e->client = g->names[e->client_id - 1];
		e->client_kind = g->kinds[e->client_id - 1];
		e->server = g->names[e->server_id - 1];
		e->server_kind = g->kinds[e->server_id - 1];
		e->src.s[GATE_SRC_EBPF] = (struct gate_source){
			.have = true,
			.samples = e->stats.requests + e->stats.conn_errors,
			.first_ns = e->first_seen_ns, .last_ns = e->last_seen_ns,
		};
	}
	gate_edges_sort(&g->edges);
	for (size_t i = 0; i < g->edges.n; i++)
		g->edges.v[i].id = (int64_t)i + 1;	/* for ctx->mem */
	return 0;
}

int gate_prom_counters_read(struct gate_ctx *ctx, const char *url, int64_t at_ns,
			    struct gate_prom_counter **out, size_t *n)
{
	json_t *res = NULL, *e;
	size_t i, cnt = 0;
	int err;

	*out = NULL;
	*n = 0;
	err = prom_query(ctx, url, "sum by (__name__) ({__name__=~\"faultline_agent_.+_total\"})",
			 (double)at_ns / 1e9, &res);
	if (err)
		return err;
	*out = calloc(json_array_size(res) + 1, sizeof(**out));
	if (!*out) {
		json_decref(res);
		return gate_fail(ctx, -ENOMEM, "out of memory");
	}
	json_array_foreach(res, i, e) {
		const char *name = label(json_object_get(e, "metric"), "__name__");
		size_t len = strlen(name), pl = strlen("faultline_agent_"), sl = strlen("_total");
		double t, v = sample_value(json_object_get(e, "value"), &t);

		if (len <= pl + sl || isnan(v))
			continue;
		snprintf((*out)[cnt].name, sizeof((*out)[cnt].name), "%.*s",
			 (int)(len - pl - sl), name + pl);
		(*out)[cnt++].value = count_of(v);
	}
	*n = cnt;
	json_decref(res);
	return 0;
}

void gate_prom_graph_release(struct gate_prom_graph *g)
{
	gate_edges_release(&g->edges);
	for (size_t i = 0; i < g->nnames; i++) {
		free(g->names[i]);
		free(g->kinds[i]);
	}
	free(g->names);
	free(g->kinds);
	for (size_t i = 0; i < g->nst; i++) {
		free(g->st[i].protocol);
		free(g->st[i].operation);
		free(g->st[i].status);
	}
	free(g->st);
	memset(g, 0, sizeof(*g));
}

json_t *gate_prom_limits_json(void)
{
	return json_pack("[s, s, s]",
		"call-path links (which request caused which) are not exported to "
		"Prometheus: 'paths' and the callers of a path need a store (--db)",
		"latency: Prometheus buckets are powers of 4 ns (16.4 us .. 17.2 s); "
		"quantiles are bucket midpoints, within a factor of 2, where a store "
		"merges its 1.6 % histograms exactly",
		"operations and statuses past the agents' caps are summed as "
		"'{overflow}' and '_other', as in the store");
}

json_t *gate_prom_buckets_json(const struct gate_edge *e)
{
	uint64_t cum[GATE_PROM_BOUNDS + 1];
	json_t *a = json_array();

	gate_hist_coarsen(&e->stats.hist, cum);
	for (unsigned b = 0; a && b <= GATE_PROM_BOUNDS; b++) {
		json_t *le = b < GATE_PROM_BOUNDS ?
			json_real((double)gate_prom_bound_ns(b) / 1e9) : json_string("+Inf");
		if (json_array_append_new(a, json_pack("{s:o, s:I}", "le", le,
						       "count", (json_int_t)cum[b]))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
