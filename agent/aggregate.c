// SPDX-License-Identifier: BSD-2-Clause
#include "aggregate.h"
#include "footprint.h"
#include "hist.h"
#include "metrics.h"
#include "store.h"
#include "store_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EDGE_BUCKETS 4096	/* hash buckets; chains grow past that */
#define WINDOWS_MAX 4		/* distinct pending minutes per link */
#define WINDOWS_KEEP 4		/* windows an edge keeps allocated after a flush */
#define ROUTE_SET_BUCKETS 1024	/* hash buckets of route sets */
#define ROUTE_SLOTS_MIN 8	/* first size of a route set's table */

/* Requests of one status in one window (edge_window_statuses). */
struct win_status {
	char status[AGG_STATUS_LEN];
	uint32_t requests, errors;
};

/* Deltas of one minute of one edge since the last flush. */
struct window {
	int64_t start_s;	/* Unix s, multiple of FL_STORE_WINDOW_S */
	uint64_t requests, errors, client_errors, conn_errors;
	uint64_t req_bytes, resp_bytes, latency_sum_ns;
	struct fl_hist hist;	/* latency, ns */
	struct win_status *st;	/* nst statuses, "_other" last once the cap is
				   reached (kept allocated across flushes) */
	uint8_t nst, stcap;
	bool st_other;		/* st[nst] is "_other" */
};

struct agg_edge {
	struct agg_edge *next;	/* hash chain */
	uint64_t hash;
	char *client, *server, *protocol, *operation; /* one allocation */
	bool tls;		/* records read from TLS plaintext */
	enum svc_kind server_kind;
	uint64_t first_ns, last_ns; /* of the pending deltas, Unix ns */
	struct window *win;	/* pending minutes, any number (the backlog) */
	int nwin;		/* windows with pending deltas */
	int capwin;		/* windows allocated in @win */
	int64_t dropped_s;	/* minute whose window was last refused, or 0 */
	int64_t db_id;		/* edges.id, valid when db_flush == the flush's */
	uint64_t db_flush;
	struct mx_series *mx;	/* its cumulative Prometheus series, or NULL */
};

/* Pending link counts of one minute. */
struct link_window {
	int64_t start_s;
	uint64_t count;
};

/* parent edge -> child edge by one method, with pending deltas */
struct link {
	struct link *next;	/* hash chain */
	struct agg_edge *parent, *child;
	enum agg_link_method method;
	struct link_window win[WINDOWS_MAX];
	int nwin;
};

#define LINK_BUCKETS 1024

/*
 * The distinct operations seen on one server service over one capped
 * protocol: 64-bit FNV-1a hashes of the operation strings (never the
 * strings: bounded at 8 bytes per route), open addressing, 0 = empty.
 */
struct route_set {
	struct route_set *next;	/* hash chain */
	uint64_t hash;		/* of server and protocol */
	char *server, *protocol; /* one allocation */
	uint64_t *slots;	/* operation hashes; a power of two of them */
	uint32_t nslots, n;	/* table size, routes in it (n <= max_routes) */
};

struct aggregator {
	struct agg_edge *buckets[EDGE_BUCKETS];
	struct link *links[LINK_BUCKETS];
	uint64_t flush_no;	/* numbers flushes, for agg_edge.db_flush */
	char source[16];	/* edge_sources.source of what this agent sees */
	unsigned max_routes;	/* distinct operations per server; 0: no cap */
	uint64_t routes_overflowed; /* records counted under an overflow op */
	struct route_set *routes[ROUTE_SET_BUCKETS];
	struct agg_backlog backlog; /* pending windows: cap, peak, drops */
	struct metrics *mx;	/* --metrics-addr: also counted there; borrowed */
	struct footprint *fp;	/* the control socket's test marks, or NULL */
};

static const char *const kind_names[] = {
	[SVC_SERVICE] = "service", [SVC_DATABASE] = "database",
	[SVC_CACHE] = "cache", [SVC_QUEUE] = "queue",
	[SVC_EXTERNAL] = "external",
};

enum svc_kind svc_kind_from(const char *s)
{
	for (int k = SVC_SERVICE; k <= SVC_EXTERNAL; k++)
		if (!strcmp(s, kind_names[k]))
			return (enum svc_kind)k;
	return SVC_SERVICE;
}

struct aggregator *agg_new(const char *source)
{
	struct aggregator *a;

	if (strcmp(source, "ebpf") && strcmp(source, "test")) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a) {
		snprintf(a->source, sizeof(a->source), "%s", source);
		a->max_routes = AGG_MAX_ROUTES_DEFAULT;
		a->backlog.max = AGG_BACKLOG_DEFAULT;
	}
	return a;
}

static void edge_free(struct agg_edge *e)
{
	for (int i = 0; i < e->capwin; i++) {
		fl_hist_release(&e->win[i].hist);
		free(e->win[i].st);
	}
	free(e->win);
	free(e->client);
	free(e);
}

void agg_free(struct aggregator *a)
{
	if (!a)
		return;
	for (int b = 0; b < LINK_BUCKETS; b++) {
		struct link *l = a->links[b], *next;
		for (; l; l = next) {
			next = l->next;
			free(l);
		}
	}
	for (int b = 0; b < EDGE_BUCKETS; b++) {
		struct agg_edge *e = a->buckets[b], *next;
		for (; e; e = next) {
			next = e->next;
			edge_free(e);
		}
	}
	for (int b = 0; b < ROUTE_SET_BUCKETS; b++) {
		struct route_set *r = a->routes[b], *next;
		for (; r; r = next) {
			next = r->next;
			free(r->slots);
			free(r->server);
			free(r);
		}
	}
	free(a);
}

/* FNV-1a over the four key strings, NULs included, and the TLS flag. */
static uint64_t key_hash(const char *const k[4], bool tls)
{
	uint64_t h = (1469598103934665603ull ^ tls) * 1099511628211ull;

	for (int i = 0; i < 4; i++)
		for (const char *p = k[i];; p++) {
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
			if (!*p)
				break;
		}
	return h;
}

static struct agg_edge *edge_get(struct aggregator *a, const char *client,
			     const char *server, const char *protocol,
			     const char *operation, bool tls, enum svc_kind kind)
{
	const char *k[4] = { client, server, protocol, operation };
	uint64_t h = key_hash(k, tls);
	struct agg_edge **head = &a->buckets[h % EDGE_BUCKETS], *e;
	size_t len[4], total = 0;
	char *p;

	for (e = *head; e; e = e->next)
		if (e->hash == h && e->tls == tls && !strcmp(e->client, client) &&
		    !strcmp(e->server, server) && !strcmp(e->protocol, protocol) &&
		    !strcmp(e->operation, operation))
			return e;
	e = calloc(1, sizeof(*e));
	for (int i = 0; i < 4; i++)
		total += (len[i] = strlen(k[i]) + 1);
	p = e ? malloc(total) : NULL;
	if (!p) {
		free(e);
		return NULL;
	}
	e->client = p;
	e->server = (p += len[0]);
	e->protocol = (p += len[1]);
	e->operation = p + len[2];
	memcpy(e->client, client, len[0]);
	memcpy(e->server, server, len[1]);
	memcpy(e->protocol, protocol, len[2]);
	memcpy(e->operation, operation, len[3]);
	e->hash = h;
	e->tls = tls;
	e->server_kind = kind;
	e->next = *head;
	*head = e;
	return e;
}

/* Width of the windows written, s: a divisor of 60 (agg_set_window). */
static unsigned agg_window_s = FL_STORE_WINDOW_S;

void agg_set_window(unsigned width_s)
{
	agg_window_s = width_s;
}

/*
 * The pending window of @e for @wall_ns. A new one counts against the
 * backlog cap: NULL when the cap is reached (the record is dropped and
 * counted: a window drop once per edge and minute, a record drop each
 * time) or on ENOMEM (*@enomem set).
 */
static struct window *window_get(struct aggregator *a, struct agg_edge *e,
				 uint64_t wall_ns, bool *enomem)
{
	int64_t start = (int64_t)(wall_ns / 1000000000ull);
	struct agg_backlog *b = &a->backlog;

	start -= start % (int64_t)agg_window_s;
	for (int i = 0; i < e->nwin; i++)
		if (e->win[i].start_s == start)
			return &e->win[i];
	if (b->max && b->windows >= b->max) {
		b->windows_dropped += e->dropped_s != start;
		b->records_dropped++;
		e->dropped_s = start;
		return NULL;
	}
	if (e->nwin == e->capwin) {
		int cap = e->capwin ? 2 * e->capwin : 2;
		struct window *nw = realloc(e->win, (size_t)cap * sizeof(*nw));

		if (!nw) {
			*enomem = true;
			return NULL;
		}
		memset(nw + e->capwin, 0, (size_t)(cap - e->capwin) * sizeof(*nw));
		e->win = nw;
		e->capwin = cap;
	}
	if (++b->windows > b->peak)
		b->peak = b->windows;
	struct window *w = &e->win[e->nwin++];
	struct fl_hist keep = w->hist;	/* reuse the bins' memory */
	struct win_status *st = w->st;
	uint8_t stcap = w->stcap;
	memset(w, 0, sizeof(*w));
	w->hist = keep;
	w->st = st;
	w->stcap = stcap;
	fl_hist_reset(&w->hist);
	w->start_s = start;
	return w;
}

/* After a flush: an edge that held a long backlog gives the memory back. */
static void windows_trim(struct agg_edge *e)
{
	if (e->capwin <= WINDOWS_KEEP)
		return;
	for (int i = WINDOWS_KEEP; i < e->capwin; i++) {
		fl_hist_release(&e->win[i].hist);
		free(e->win[i].st);
	}
	struct window *nw = realloc(e->win, WINDOWS_KEEP * sizeof(*nw));
	if (nw)
		e->win = nw;
	e->capwin = WINDOWS_KEEP;	/* a failed shrink keeps the block */
}

void agg_set_backlog(struct aggregator *a, uint64_t max_windows)
{
	a->backlog.max = max_windows;
}

const struct agg_backlog *agg_backlog(const struct aggregator *a)
{
	return &a->backlog;
}

static void edge_seen(struct agg_edge *e, uint64_t wall_ns)
{
	if (!e->first_ns || wall_ns < e->first_ns)
		e->first_ns = wall_ns;
	if (wall_ns > e->last_ns)
		e->last_ns = wall_ns;
}

/* ---- route cardinality cap ---------------------------------------------- */

/* FNV-1a of @s, NUL included, continuing from @h. */
static uint64_t fnv_str(uint64_t h, const char *s)
{
	for (;; s++) {
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
		if (!*s)
			return h;
	}
}

/*
 * Protocols whose operations are routes chosen by the peer (a URL path):
 * their distinct operations per server are capped. SQL statements and
 * Redis commands are the program's own text, not the caller's.
 */
static bool route_capped(const char *protocol)
{
	return !strcmp(protocol, "http");
}

/* An overflow operation: "{overflow}" after a standard method, or _OTHER. */
static void route_overflow_op(const char *op, char *out, size_t len)
{
	const struct fl_http_method *m = fl_http_method_find(op, strcspn(op, " "));

	snprintf(out, len, "%s " AGG_ROUTE_OVERFLOW,
		 m && m->standard ? m->name : "_OTHER");
}

bool agg_route_is_overflow(const char *op)
{
	size_t n = strlen(op), k = strlen(" " AGG_ROUTE_OVERFLOW);

	return n >= k && !strcmp(op + n - k, " " AGG_ROUTE_OVERFLOW);
}

static struct route_set *route_set_get(struct aggregator *a, const char *server,
				       const char *protocol)
{
	uint64_t h = fnv_str(fnv_str(1469598103934665603ull, server), protocol);
	struct route_set **head = &a->routes[h % ROUTE_SET_BUCKETS], *r;
	size_t sl = strlen(server) + 1, pl = strlen(protocol) + 1;

	for (r = *head; r; r = r->next)
		if (r->hash == h && !strcmp(r->server, server) &&
		    !strcmp(r->protocol, protocol))
			return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->server = malloc(sl + pl);
	r->slots = calloc(ROUTE_SLOTS_MIN, sizeof(*r->slots));
	if (!r->server || !r->slots) {
		free(r->server);
		free(r->slots);
		free(r);
		return NULL;
	}
	r->protocol = r->server + sl;
	memcpy(r->server, server, sl);
	memcpy(r->protocol, protocol, pl);
	r->nslots = ROUTE_SLOTS_MIN;
	r->hash = h;
	r->next = *head;
	*head = r;
	return r;
}

/* The slot of @h in @r: where it is, or the empty one it would go to. */
static uint64_t *route_slot(const struct route_set *r, uint64_t h)
{
	uint32_t i = (uint32_t)(h ^ (h >> 32)) & (r->nslots - 1);

	while (r->slots[i] && r->slots[i] != h)
		i = (i + 1) & (r->nslots - 1);
	return &r->slots[i];
}

/* Double @r's table (kept at most half full). Returns 0 or -ENOMEM. */
static int route_grow(struct route_set *r)
{
	struct route_set old = *r;

	r->slots = calloc((size_t)old.nslots * 2, sizeof(*r->slots));
	if (!r->slots) {
		r->slots = old.slots;
		return -ENOMEM;
	}
	r->nslots = old.nslots * 2;
	for (uint32_t i = 0; i < old.nslots; i++)
		if (old.slots[i])
			*route_slot(r, old.slots[i]) = old.slots[i];
	free(old.slots);
	return 0;
}

/*
 * Whether @op may be recorded under its own name on @server: 1 if it is
 * known or there is room for it (then it is known from now on), 0 if the
 * server already has max_routes others, -ENOMEM.
 */
static int route_admit(struct aggregator *a, const char *server,
		       const char *protocol, const char *op)
{
	struct route_set *r = route_set_get(a, server, protocol);
	uint64_t h = fnv_str(1469598103934665603ull, op), *slot;

	if (!r)
		return -ENOMEM;
	h += !h;		/* 0 marks an empty slot */
	slot = route_slot(r, h);
	if (*slot)
		return 1;
	if (r->n >= a->max_routes)
		return 0;
	if (2 * (r->n + 1) > r->nslots) {
		if (route_grow(r))
			return -ENOMEM;
		slot = route_slot(r, h);
	}
	*slot = h;
	r->n++;
	return 1;
}

void agg_set_metrics(struct aggregator *a, struct metrics *mx)
{
	a->mx = mx;
}

/* The Prometheus series of @e, looked up once and then cached on it. */
static struct mx_series *edge_mx(struct aggregator *a, struct agg_edge *e)
{
	if (!e->mx)
		e->mx = metrics_series(a->mx, e->client, e->server,
				       kind_names[e->server_kind], e->protocol,
				       e->operation, e->tls);
	return e->mx;
}

void agg_set_max_routes(struct aggregator *a, unsigned max_routes)
{
	a->max_routes = max_routes;
}

uint64_t agg_routes_overflowed(const struct aggregator *a)
{
	return a->routes_overflowed;
}

int agg_seed_routes(struct aggregator *a, sqlite3 *db, char *errbuf,
		    size_t errlen)
{
	/* oldest first: the routes that were named first keep their names */
	static const char sql[] =
		"SELECT s.name, e.protocol, e.operation FROM edges e "
		"JOIN services s ON s.id = e.server_id "
		"ORDER BY e.first_seen_ns, e.id";
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	errbuf[0] = 0;
	if (!a->max_routes)
		return 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		goto out_sqlite;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *server = (const char *)sqlite3_column_text(st, 0);
		const char *proto = (const char *)sqlite3_column_text(st, 1);
		const char *op = (const char *)sqlite3_column_text(st, 2);

		if (!server || !proto || !op || !route_capped(proto) ||
		    agg_route_is_overflow(op))
			continue;
		err = route_admit(a, server, proto, op);
		if (err < 0)
			goto out_finalize;
	}
	err = 0;
	if (rc == SQLITE_DONE)
		goto out_finalize;
out_sqlite:
	err = -EIO;
	snprintf(errbuf, errlen, "cannot read routes from the store: %s",
		 sqlite3_errmsg(db));
out_finalize:
	sqlite3_finalize(st);
	return err;
}

/*
 * The edge of a record or a call-path parent, its operation through the
 * route cap: past --max-routes on its server, "METHOD {overflow}" (then
 * *@overflowed, if given, is set). NULL on ENOMEM.
 */
static struct agg_edge *capped_edge(struct aggregator *a, const char *client,
				    const char *server, enum svc_kind kind,
				    enum fl_proto proto, const char *op,
				    bool tls, bool *overflowed)
{
	const char *p = fl_proto_name(proto);
	char overflow[32];

	if (a->max_routes && route_capped(p)) {
		int r = route_admit(a, server, p, op);
		if (r < 0)
			return NULL;
		if (!r) {
			route_overflow_op(op, overflow, sizeof(overflow));
			op = overflow;
			if (overflowed)
				*overflowed = true;
		}
	}
	return edge_get(a, client, server, p, op, tls, kind);
}

struct agg_edge *agg_edge(struct aggregator *a, const char *client,
			  const char *server, enum svc_kind server_kind,
			  enum fl_proto proto, const char *operation, bool tls)
{
	return capped_edge(a, client, server, server_kind, proto, operation,
			   tls, NULL);
}

const char *agg_edge_server(const struct agg_edge *e)
{
	return e->server;
}

/* ---- statuses ------------------------------------------------------------ */

_Static_assert(AGG_STATUS_MAX == FL_SW_STATUS_MAX, "one cap, memory and store");

void agg_status(const struct fl_record *rec, char out[AGG_STATUS_LEN])
{
	const char *t = rec->status_text;

	switch (rec->proto) {
	case FL_PROTO_HTTP:
		snprintf(out, AGG_STATUS_LEN, "%d", rec->status);
		return;
	case FL_PROTO_GRPC:
		snprintf(out, AGG_STATUS_LEN, "grpc:%d", rec->status);
		return;
	case FL_PROTO_POSTGRES:
	case FL_PROTO_MYSQL:
		/* an error response without a SQLSTATE (MySQL before 4.1) */
		snprintf(out, AGG_STATUS_LEN, "%s",
			 t[0] ? t : rec->error ? "error" : "ok");
		return;
	case FL_PROTO_REDIS:
		/* a blob error whose first word was not seen: ERR */
		snprintf(out, AGG_STATUS_LEN, "%s",
			 t[0] ? t : rec->error ? "ERR" : "ok");
		return;
	default:
		snprintf(out, AGG_STATUS_LEN, "%s", rec->error ? "error" : "ok");
	}
}

const char *agg_conn_status(int err)
{
	return err == -111 ? "conn_refused" :	/* ECONNREFUSED */
	       err == -104 ? "conn_reset" :	/* ECONNRESET */
	       "conn_failed";
}

/*
 * Count one request of @status (@error) in @w: its own slot, a new one,
 * or "_other" once AGG_STATUS_MAX are taken. Returns 0 or -ENOMEM.
 */
static int window_status(struct window *w, const char *status, bool error)
{
	struct win_status *s = NULL;

	for (int i = 0; i < w->nst && !s; i++)
		if (!strcmp(w->st[i].status, status))
			s = &w->st[i];
	if (!s && w->nst >= w->stcap) {
		uint8_t cap = w->stcap ? (uint8_t)(w->stcap * 2) : 2;
		if (cap > AGG_STATUS_MAX + 1)
			cap = AGG_STATUS_MAX + 1;
		struct win_status *n = realloc(w->st, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		w->st = n;
		w->stcap = cap;
	}
	if (!s && w->nst < AGG_STATUS_MAX && !w->st_other) {
		s = &w->st[w->nst++];
		snprintf(s->status, sizeof(s->status), "%s", status);
		s->requests = s->errors = 0;
	} else if (!s) {
		s = &w->st[w->nst];
		if (!w->st_other) {
			w->st_other = true;
			snprintf(s->status, sizeof(s->status), AGG_STATUS_OTHER);
			s->requests = s->errors = 0;
		}
	}
	s->requests++;
	s->errors += error;
	return 0;
}

void agg_set_footprint(struct aggregator *a, struct footprint *fp)
{
	a->fp = fp;
}

int agg_record(struct aggregator *a, const char *client, const char *server,
	       enum svc_kind server_kind, const struct fl_record *rec,
	       bool tls, uint64_t wall_start_ns, struct agg_edge **edge)
{
	char status[AGG_STATUS_LEN];
	bool overflowed = false, enomem = false;
	struct window *w;
	struct agg_edge *e;
	uint64_t lat;

	e = capped_edge(a, client, server, server_kind, rec->proto,
			rec->operation, tls, &overflowed);
	a->routes_overflowed += overflowed;
	if (edge)
		*edge = e;
	if (!e)
		return -ENOMEM;
	lat = rec->end_ns > rec->start_ns ? rec->end_ns - rec->start_ns : 0;
	/* /metrics and a test's footprint count it even when the store's
	 * backlog cannot */
	if (a->mx)
		metrics_observe(a->mx, edge_mx(a, e), rec, lat);
	agg_status(rec, status);
	if (a->fp && footprint_add(a->fp, e->client, e->server, e->protocol,
				   e->operation, status, rec->error, true, lat,
				   wall_start_ns) < 0)
		return -ENOMEM;
	w = window_get(a, e, wall_start_ns, &enomem);
	if (!w)	/* the backlog is full: dropped and counted */
		return enomem ? -ENOMEM : 0;
	w->requests++;
	w->errors += rec->error;
	w->client_errors += rec->client_error;
	w->req_bytes += rec->req_bytes;
	w->resp_bytes += rec->resp_bytes;
	w->latency_sum_ns += lat;
	edge_seen(e, wall_start_ns);
	if (window_status(w, status, rec->error))
		return -ENOMEM;
	return fl_hist_add(&w->hist, lat, 1);
}

int agg_link(struct aggregator *a, struct agg_edge *parent,
	     struct agg_edge *child, enum agg_link_method method,
	     uint64_t wall_ns)
{
	uintptr_t h = ((uintptr_t)parent * 31 + (uintptr_t)child) * 7 + method;
	struct link **head = &a->links[(h >> 4) % LINK_BUCKETS], *l;
	int64_t start = (int64_t)(wall_ns / 1000000000ull);

	start -= start % (int64_t)agg_window_s;
	for (l = *head; l; l = l->next)
		if (l->parent == parent && l->child == child && l->method == method)
			break;
	if (!l) {
		if (!(l = calloc(1, sizeof(*l))))
			return -ENOMEM;
		l->parent = parent;
		l->child = child;
		l->method = method;
		l->next = *head;
		*head = l;
	}
	for (int i = 0; i < l->nwin; i++)
		if (l->win[i].start_s == start) {
			l->win[i].count++;
			return 0;
		}
	if (l->nwin < WINDOWS_MAX)
		l->win[l->nwin++] = (struct link_window){ start, 0 };
	l->win[l->nwin - 1].count++;	/* else folded into the last */
	return 0;
}

int agg_conn_error(struct aggregator *a, const char *client, const char *server,
		   enum svc_kind server_kind, int err, uint64_t wall_ns)
{
	const char *status = agg_conn_status(err);
	struct agg_edge *e = edge_get(a, client, server, "tcp", "connect", false,
				  server_kind);
	bool enomem = false;
	struct window *w;

	if (!e)
		return -ENOMEM;
	if (a->mx)
		metrics_conn_error(a->mx, edge_mx(a, e));
	if (a->fp && footprint_add(a->fp, e->client, e->server, e->protocol,
				   e->operation, status, true, false, 0, wall_ns) < 0)
		return -ENOMEM;
	w = window_get(a, e, wall_ns, &enomem);
	if (!w)
		return enomem ? -ENOMEM : 0;
	w->conn_errors++;
	edge_seen(e, wall_ns);
	if (window_status(w, status, true))
		return -ENOMEM;
	return 0;
}

/* Upsert service @name: services.id, or -1 on error. */
static int64_t put_service(struct fl_sw *w, const char *name,
			   enum svc_kind kind, uint64_t first_ns, uint64_t last_ns)
{
	int64_t id = -1;

	if (fl_sw_service(w, name, kind_names[kind], (int64_t)first_ns,
			  (int64_t)last_ns, &id))
		return -1;
	return id;
}

static int put_window(struct fl_sw *sw, int64_t edge_id,
		      const struct window *w, const char *source)
{
	struct fl_sw_window row = {
		.source = source, .start_s = w->start_s, .width_s = agg_window_s,
		.requests = w->requests, .errors = w->errors,
		.client_errors = w->client_errors, .conn_errors = w->conn_errors,
		.req_bytes = w->req_bytes, .resp_bytes = w->resp_bytes,
		.latency_sum_ns = w->latency_sum_ns,
	};
	uint8_t *blob = NULL;
	size_t len = 0;
	int err;

	if (w->hist.count && fl_hist_encode(&w->hist, &blob, &len))
		return -ENOMEM;
	row.hist = blob;
	row.hist_len = len;
	err = fl_sw_window(sw, edge_id, &row);
	free(blob);
	for (int i = 0; !err && i < w->nst + w->st_other; i++)
		err = fl_sw_status(sw, edge_id, source, w->start_s,
				   agg_window_s, w->st[i].status,
				   w->st[i].requests, w->st[i].errors);
	return err;
}

/* Add this flush's samples of @e to its edge_sources row. */
static int put_source(struct fl_sw *w, int64_t edge_id,
		      const struct agg_edge *e, const char *source)
{
	uint64_t samples = 0;

	for (int i = 0; i < e->nwin; i++)
		samples += e->win[i].requests + e->win[i].conn_errors;
	return fl_sw_source(w, edge_id, source, samples, (int64_t)e->first_ns,
			    (int64_t)e->last_ns);
}

/* Upsert @e's services and edge row, seen in [first, last]: edges.id or -1. */
static int64_t put_edge_row(struct fl_sw *w, const struct agg_edge *e,
			    uint64_t first_ns, uint64_t last_ns)
{
	enum svc_kind ckind = SVC_SERVICE;
	struct fl_sw_edge row = {
		.protocol = e->protocol, .operation = e->operation,
		.first_ns = (int64_t)first_ns, .last_ns = (int64_t)last_ns,
		.tls = e->tls,
	};
	int64_t id = -1;

	/* a client named by its address was not resolved to a process */
	if (strchr(e->client, ':') || strspn(e->client, "0123456789.") ==
					      strlen(e->client))
		ckind = SVC_EXTERNAL;
	row.client_id = put_service(w, e->client, ckind, first_ns, last_ns);
	row.server_id = put_service(w, e->server, e->server_kind, first_ns, last_ns);
	if (row.client_id < 0 || row.server_id < 0 || fl_sw_edge(w, &row, &id))
		return -1;
	return id;
}

static int put_edge(struct fl_sw *w, struct agg_edge *e,
		    const char *source, uint64_t flush_no)
{
	int64_t eid = put_edge_row(w, e, e->first_ns, e->last_ns);

	if (eid < 0)
		return -EIO;
	e->db_id = eid;
	e->db_flush = flush_no;
	for (int i = 0; i < e->nwin; i++) {
		int err = put_window(w, eid, &e->win[i], source);
		if (err)
			return err;
	}
	return put_source(w, eid, e, source);
}

/* edges.id of @e, written in this flush if its records were not. */
static int64_t link_edge_id(struct fl_sw *w, struct agg_edge *e,
			    uint64_t flush_no, uint64_t seen_ns)
{
	if (e->db_flush != flush_no) {
		e->db_id = put_edge_row(w, e, seen_ns, seen_ns);
		e->db_flush = flush_no;
	}
	return e->db_id;
}

static const char *const link_methods[] = {
	[AGG_LINK_THREAD] = "thread", [AGG_LINK_TRACEPARENT] = "traceparent",
};

static int put_link(struct fl_sw *w, const struct link *l, uint64_t flush_no)
{
	uint64_t seen = (uint64_t)l->win[0].start_s * 1000000000ull;
	int64_t pid = link_edge_id(w, l->parent, flush_no, seen);
	int64_t cid = link_edge_id(w, l->child, flush_no, seen);

	if (pid < 0 || cid < 0)
		return -EIO;
	for (int i = 0; i < l->nwin; i++) {
		int err = fl_sw_link(w, pid, cid, link_methods[l->method],
				     l->win[i].start_s, agg_window_s,
				     l->win[i].count);
		if (err)
			return err;
	}
	return 0;
}

static int put_counters(struct fl_sw *w, const struct agent_stats *st)
{
	static const char *const bpf_names[FL_CNT_MAX] = {
		[FL_CNT_RINGBUF_DROPS] = "ringbuf_drops",
		[FL_CNT_CONN_MAP_FULL] = "conn_map_full",
		[FL_CNT_ARGS_MAP_FULL] = "inflight_map_full",
		[FL_CNT_READ_FAILED] = "payload_read_failed",
		[FL_CNT_TLS_UNMAPPED] = "tls_unmapped",
	};
	struct { const char *name; uint64_t v; } rows[] = {
#define X(n) { #n, st->n },
		AGENT_STATS(X)
#undef X
	};
	struct timespec now;
	int64_t now_ns;

	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) + FL_CNT_MAX; i++) {
		size_t n = sizeof(rows) / sizeof(rows[0]);
		const char *name = i < n ? rows[i].name : bpf_names[i - n];
		if (!name)
			continue;
		if (fl_sw_counter(w, name, (int64_t)(i < n ? rows[i].v : st->bpf[i - n]),
				  now_ns))
			return -EIO;
	}
	return 0;
}

int agg_flush(struct aggregator *a, sqlite3 *db, const struct agent_stats *stats,
	      char *errbuf, size_t errlen)
{
	struct fl_sw s;
	int err = -EIO;

	errbuf[0] = 0;
	fl_sw_init(&s, db, NULL);	/* the agent's rules: promote, merge, set */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
		goto out_finalize;
	a->flush_no++;
	for (int b = 0; b < EDGE_BUCKETS; b++)
		for (struct agg_edge *e = a->buckets[b]; e; e = e->next)
			if (e->nwin && (err = put_edge(&s, e, a->source, a->flush_no)))
				goto out_rollback;
	for (int b = 0; b < LINK_BUCKETS; b++)
		for (struct link *l = a->links[b]; l; l = l->next)
			if (l->nwin && (err = put_link(&s, l, a->flush_no)))
				goto out_rollback;
	if ((err = put_counters(&s, stats)) ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) {
		err = -EIO;
		goto out_rollback;
	}
	/* committed: the deltas are in the store now */
	for (int b = 0; b < EDGE_BUCKETS; b++)
		for (struct agg_edge *e = a->buckets[b]; e; e = e->next) {
			e->nwin = 0;
			e->first_ns = e->last_ns = 0;
			windows_trim(e);
		}
	a->backlog.windows = 0;
	for (int b = 0; b < LINK_BUCKETS; b++)
		for (struct link *l = a->links[b]; l; l = l->next)
			l->nwin = 0;
	err = 0;
	goto out_finalize;
out_rollback:
	snprintf(errbuf, errlen, "cannot write store: %s", sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out_finalize:
	if (err && !errbuf[0])
		snprintf(errbuf, errlen, "cannot write store: %s",
			 sqlite3_errmsg(db));
	fl_sw_release(&s);
	return err;
}
