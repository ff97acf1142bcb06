// SPDX-License-Identifier: BSD-2-Clause
/*
 * The Prometheus endpoint: live series on the consumer thread, immutable
 * snapshots for libmicrohttpd's thread (metrics.h, docs/metrics.md).
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MX_BUCKETS 1024		/* hash buckets of the live series */
#define MX_STATUS_SLOTS (MX_STATUS_NAMED + 12) /* named + one "_other" per class */

/* One status of a series; name and class are short ASCII. */
struct mx_status {
	char name[16];		/* "200", "grpc:14", "42P01", "ok", "_other" */
	char klass[12];		/* "2xx", "5xx", "ok", "error", "unknown" */
	uint64_t count;
};

struct mx_series {
	struct mx_series *next;	/* hash chain */
	struct mx_series *all;	/* every series, newest first */
	uint64_t hash;
	char *client, *server, *protocol, *operation; /* one allocation */
	const char *conn_type;	/* "database", "messaging_system" or NULL */
	const char *kind;	/* the server's kind: "service", "database", ... */
	bool tls;
	uint64_t requests, failed, conn_errors;
	uint64_t bucket[MX_BOUNDS + 1]; /* per bucket (not cumulative); last: +Inf */
	uint64_t sum_ns;
	unsigned nst, nnamed;	/* statuses in use, of which named */
	struct mx_status st[MX_STATUS_SLOTS];
};

/* A series as it was at a snapshot; strings borrowed from the live series. */
struct mx_snap_series {
	const struct mx_series *id;
	uint64_t requests, failed, conn_errors, sum_ns;
	uint64_t bucket[MX_BOUNDS + 1];
	uint32_t st_off, nst;	/* its statuses in mx_snapshot.st */
};

struct mx_snapshot {
	atomic_int refs;
	size_t n;
	struct mx_snap_series *v;
	struct mx_status *st;
	struct agent_stats stats;
	struct mx_health health;
	uint64_t overflow;	/* records on series past MX_SERIES_MAX */
};

struct metrics {
	struct mx_series *buckets[MX_BUCKETS];
	struct mx_series *all;
	size_t nseries;
	uint64_t overflow;
	const char *version;
	double start_s;		/* Unix s */
	pthread_mutex_t lock;	/* guards snap, for the pointer swap only */
	struct mx_snapshot *snap;
	struct MHD_Daemon *mhd;
	int listen_fd;
	atomic_ullong scrapes;
};

uint64_t metrics_bound_ns(unsigned i)
{
	return 16384ull << (2 * i);	/* 16.384 us, x4 ... 17.18 s */
}

struct metrics *metrics_new(const char *version)
{
	struct metrics *m = calloc(1, sizeof(*m));
	struct timespec ts;

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->version = version;
	m->listen_fd = -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->start_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	return m;
}

static void snap_unref(struct mx_snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	free(s->v);
	free(s->st);
	free(s);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->mhd)
		MHD_stop_daemon(m->mhd);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	snap_unref(m->snap);
	for (struct mx_series *s = m->all, *next; s; s = next) {
		next = s->all;
		free(s->client);
		free(s);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static uint64_t series_hash(const char *const k[4], bool tls)
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

/* Tempo's connection_type: databases (SQL, and Redis, which OpenTelemetry
 * names a db.system too) and queues; NULL for a plain service. */
static const char *conn_type_of(const char *kind)
{
	if (!strcmp(kind, "database") || !strcmp(kind, "cache"))
		return "database";
	if (!strcmp(kind, "queue"))
		return "messaging_system";
	return NULL;
}

/* @kind as a static string: labels must outlive the caller's buffers. */
static const char *kind_name(const char *kind)
{
	static const char *const kinds[] = { "service", "database", "cache",
					     "queue", "external" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kind, kinds[i]))
			return kinds[i];
	return "service";
}

struct mx_series *metrics_series(struct metrics *m, const char *client,
				 const char *server, const char *server_kind,
				 const char *protocol, const char *operation,
				 bool tls)
{
	const char *k[4] = { client, server, protocol, operation };
	uint64_t h = series_hash(k, tls);
	struct mx_series **head = &m->buckets[h % MX_BUCKETS], *s;
	size_t len[4], total = 0;
	char *p;

	for (s = *head; s; s = s->next)
		if (s->hash == h && s->tls == tls && !strcmp(s->client, client) &&
		    !strcmp(s->server, server) && !strcmp(s->protocol, protocol) &&
		    !strcmp(s->operation, operation))
			return s;
	if (m->nseries >= MX_SERIES_MAX)
		return NULL;
	for (int i = 0; i < 4; i++)
		total += (len[i] = strlen(k[i]) + 1);
	s = calloc(1, sizeof(*s));
	p = s ? malloc(total) : NULL;
	if (!p) {
		free(s);
		return NULL;
	}
	s->client = p;
	s->server = (p += len[0]);
	s->protocol = (p += len[1]);
	s->operation = p + len[2];
	memcpy(s->client, client, len[0]);
	memcpy(s->server, server, len[1]);
	memcpy(s->protocol, protocol, len[2]);
	memcpy(s->operation, operation, len[3]);
	s->hash = h;
	s->tls = tls;
	s->conn_type = conn_type_of(server_kind);
	s->kind = kind_name(server_kind);
	s->next = *head;
	*head = s;
	s->all = m->all;
	m->all = s;
	m->nseries++;
	return s;
}

/* The status string and class of @r (docs/metrics.md "status"). */
static void record_status(const struct fl_record *r, char *name, size_t nlen,
			  char *klass, size_t klen)
{
	switch (r->proto) {
	case FL_PROTO_HTTP:
		if (r->status >= 100 && r->status <= 999) {
			snprintf(name, nlen, "%d", r->status);
			snprintf(klass, klen, "%dxx", r->status / 100);
		} else {
			snprintf(name, nlen, "unknown");
			snprintf(klass, klen, "unknown");
		}
		return;
	case FL_PROTO_GRPC:
		snprintf(name, nlen, "grpc:%d", r->status);
		snprintf(klass, klen, "%s", r->status ? "error" : "ok");
		return;
	default:
		break;
	}
	/* SQLSTATE or a Redis error prefix: short codes, never a message */
	if (r->status_text[0]) {
		size_t i = 0;
		for (; i + 1 < nlen && i < sizeof(r->status_text) && r->status_text[i]; i++) {
			char c = r->status_text[i];
			name[i] = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
				  (c >= 'a' && c <= 'z') || c == '_' ? c : '_';
		}
		name[i] = 0;
	} else {
		snprintf(name, nlen, "%s", r->error ? "error" : "ok");
	}
	snprintf(klass, klen, "%s", r->error ? "error" : "ok");
}

/* The status slot of (@name, @klass) in @s: "_other" past the named cap. */
static struct mx_status *status_slot(struct mx_series *s, const char *name,
				     const char *klass)
{
	bool named = s->nnamed < MX_STATUS_NAMED;

	for (unsigned i = 0; i < s->nst; i++)
		if (!strcmp(s->st[i].name, name) && !strcmp(s->st[i].klass, klass))
			return &s->st[i];
	if (!named) {
		name = "_other";
		for (unsigned i = 0; i < s->nst; i++)
			if (!strcmp(s->st[i].name, name) &&
			    !strcmp(s->st[i].klass, klass))
				return &s->st[i];
	}
	if (s->nst == MX_STATUS_SLOTS)
		return &s->st[s->nst - 1];	/* more classes than exist */
	struct mx_status *st = &s->st[s->nst++];
	snprintf(st->name, sizeof(st->name), "%s", name);
	snprintf(st->klass, sizeof(st->klass), "%s", klass);
	s->nnamed += named;
	return st;
}

void metrics_observe(struct metrics *m, struct mx_series *s,
		     const struct fl_record *rec, uint64_t lat_ns)
{
	char name[16], klass[12];
	unsigned b = 0;

	if (!s) {
		m->overflow++;
		return;
	}
	record_status(rec, name, sizeof(name), klass, sizeof(klass));
	status_slot(s, name, klass)->count++;
	s->requests++;
	s->failed += rec->error;
	while (b < MX_BOUNDS && lat_ns >= metrics_bound_ns(b))
		b++;
	s->bucket[b]++;
	s->sum_ns += lat_ns;
}

void metrics_conn_error(struct metrics *m, struct mx_series *s)
{
	if (s)
		s->conn_errors++;
	else
		m->overflow++;
}

int metrics_publish(struct metrics *m, const struct agent_stats *stats,
		    const struct mx_health *health)
{
	struct mx_snapshot *snap = calloc(1, sizeof(*snap)), *old;
	size_t nst = 0, i = 0;
	uint32_t off = 0;

	for (const struct mx_series *s = m->all; s; s = s->all)
		nst += s->nst;
	if (!snap || !(snap->v = calloc(m->nseries + 1, sizeof(*snap->v))) ||
	    !(snap->st = calloc(nst + 1, sizeof(*snap->st)))) {
		if (snap)
			free(snap->v);
		free(snap);
		return -ENOMEM;
	}
	/* oldest first: a scrape lists series in a stable order */
	for (const struct mx_series *s = m->all; s; s = s->all) {
		struct mx_snap_series *v = &snap->v[m->nseries - 1 - i++];
		v->id = s;
		v->requests = s->requests;
		v->failed = s->failed;
		v->conn_errors = s->conn_errors;
		v->sum_ns = s->sum_ns;
		memcpy(v->bucket, s->bucket, sizeof(v->bucket));
		v->st_off = off;
		v->nst = s->nst;
		memcpy(&snap->st[off], s->st, s->nst * sizeof(s->st[0]));
		off += s->nst;
	}
	snap->n = m->nseries;
	snap->stats = *stats;
	snap->health = *health;
	snap->overflow = m->overflow;
	atomic_init(&snap->refs, 1);
	pthread_mutex_lock(&m->lock);
	old = m->snap;
	m->snap = snap;
	pthread_mutex_unlock(&m->lock);
	snap_unref(old);
	return 0;
}

/* ---- rendering (any thread) ------------------------------------------- */

/* A label value: UTF-8 kept, invalid bytes '?', controls ' ', escapes. */
static void put_value(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned char c = *p;
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
			   (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t k = 1;

		for (; n > 1 && k < n && (p[k] & 0xc0) == 0x80; k++)
			;
		if (n == 0 || k < n || (n == 2 && c < 0xc2)) {
			fputc('?', f);
			p++;
			continue;
		}
		if (c == '\\' || c == '"')
			fputc('\\', f), fputc(c, f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c == 0x7f)
			fputc(' ', f);
		else
			fwrite(p, 1, n, f);
		p += n;
	}
}

static void put_label(FILE *f, bool *first, const char *name, const char *value)
{
	fputs(*first ? "{" : ",", f);
	*first = false;
	fprintf(f, "%s=\"", name);
	put_value(f, value);
	fputc('"', f);
}

static void put_edge_labels(FILE *f, bool *first, const struct mx_series *s)
{
	put_label(f, first, "client", s->client);
	put_label(f, first, "server", s->server);
	put_label(f, first, "protocol", s->protocol);
	put_label(f, first, "operation", s->operation);
	put_label(f, first, "tls", s->tls ? "true" : "false");
	put_label(f, first, "server_kind", s->kind);
}

static void put_family(FILE *f, const char *name, const char *type,
		       const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * A histogram's _bucket, _sum and _count lines after @name with the labels
 * @lab (rendered, "{...," form without the closing brace, or "{").
 */
static void put_histogram(FILE *f, const char *name, const char *lab,
			  const uint64_t bucket[MX_BOUNDS + 1], uint64_t sum_ns)
{
	uint64_t cum = 0;
	bool empty = lab[1] == 0;

	for (unsigned b = 0; b <= MX_BOUNDS; b++) {
		cum += bucket[b];
		if (b < MX_BOUNDS)
			fprintf(f, "%s_bucket%s%sle=\"%.12g\"} %llu\n", name, lab,
				empty ? "" : ",", (double)metrics_bound_ns(b) / 1e9,
				(unsigned long long)cum);
		else
			fprintf(f, "%s_bucket%s%sle=\"+Inf\"} %llu\n", name, lab,
				empty ? "" : ",", (unsigned long long)cum);
	}
	fprintf(f, "%s_sum%s} %.9f\n", name, lab, (double)sum_ns / 1e9);
	fprintf(f, "%s_count%s} %llu\n", name, lab, (unsigned long long)cum);
}

static int by_pair(const void *a, const void *b)
{
	const struct mx_series *x = (*(const struct mx_snap_series *const *)a)->id;
	const struct mx_series *y = (*(const struct mx_snap_series *const *)b)->id;
	int c = strcmp(x->client, y->client);

	return c ? c : strcmp(x->server, y->server);
}

/* The labels of a (client, server) pair, "{client=..,server=..[,connection_type=..]". */
static char *pair_labels(const struct mx_series *s, const char *conn_type)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool first = true;

	if (!f)
		return NULL;
	put_label(f, &first, "client", s->client);
	put_label(f, &first, "server", s->server);
	if (conn_type)
		put_label(f, &first, "connection_type", conn_type);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Tempo's service-graph families: the edges summed per (client, server). */
static int render_service_graph(FILE *f, const struct mx_snapshot *sn)
{
	const struct mx_snap_series **ord = malloc((sn->n + 1) * sizeof(*ord));
	static const char *const fam[3] = {
		"traces_service_graph_request_total",
		"traces_service_graph_request_failed_total",
		"traces_service_graph_request_server_seconds",
	};

	if (!ord)
		return -ENOMEM;
	for (size_t i = 0; i < sn->n; i++)
		ord[i] = &sn->v[i];
	qsort(ord, sn->n, sizeof(*ord), by_pair);
	put_family(f, fam[0], "counter", "Requests from client to server (Tempo service graph)");
	put_family(f, fam[1], "counter", "Failed requests from client to server (Tempo service graph)");
	put_family(f, fam[2], "histogram", "Request duration seen by the agent, s (Tempo service graph)");
	for (size_t i = 0; i < sn->n;) {
		uint64_t req = 0, failed = 0, sum = 0, bucket[MX_BOUNDS + 1] = { 0 };
		const char *ct = NULL;
		size_t j = i;

		for (; j < sn->n && !by_pair(&ord[i], &ord[j]); j++) {
			req += ord[j]->requests;
			failed += ord[j]->failed;
			sum += ord[j]->sum_ns;
			for (unsigned b = 0; b <= MX_BOUNDS; b++)
				bucket[b] += ord[j]->bucket[b];
			if (ord[j]->requests && !ct)
				ct = ord[j]->id->conn_type;
		}
		if (req) {	/* only failed connects: no request series */
			char *lab = pair_labels(ord[i]->id, ct);
			if (!lab) {
				free(ord);
				return -ENOMEM;
			}
			fprintf(f, "%s%s} %llu\n", fam[0], lab, (unsigned long long)req);
			fprintf(f, "%s%s} %llu\n", fam[1], lab, (unsigned long long)failed);
			put_histogram(f, fam[2], lab, bucket, sum);
			free(lab);
		}
		i = j;
	}
	free(ord);
	return 0;
}

static char *edge_labels(const struct mx_series *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool first = true;

	if (!f)
		return NULL;
	put_edge_labels(f, &first, s);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* faultline's own families, one series per edge (and status). */
static int render_edges(FILE *f, const struct mx_snapshot *sn)
{
	put_family(f, "faultline_requests_total", "counter",
		   "Requests per edge, operation and status");
	for (size_t i = 0; i < sn->n; i++) {
		const struct mx_snap_series *v = &sn->v[i];
		char *lab = edge_labels(v->id);
		if (!lab)
			return -ENOMEM;
		for (uint32_t k = 0; k < v->nst; k++) {
			const struct mx_status *st = &sn->st[v->st_off + k];
			fprintf(f, "faultline_requests_total%s,status_class=\"%s\","
				   "status=\"%s\"} %llu\n", lab, st->klass, st->name,
				(unsigned long long)st->count);
		}
		free(lab);
	}
	put_family(f, "faultline_request_duration_seconds", "histogram",
		   "Request duration per edge and operation, s (first request "
		   "byte to last response byte)");
	for (size_t i = 0; i < sn->n; i++) {
		const struct mx_snap_series *v = &sn->v[i];
		if (!v->requests)
			continue;
		char *lab = edge_labels(v->id);
		if (!lab)
			return -ENOMEM;
		put_histogram(f, "faultline_request_duration_seconds", lab,
			      v->bucket, v->sum_ns);
		free(lab);
	}
	put_family(f, "faultline_connection_failures_total", "counter",
		   "Failed connection attempts (refused, unreachable, timed out)");
	for (size_t i = 0; i < sn->n; i++) {
		const struct mx_snap_series *v = &sn->v[i];
		bool first = true;
		if (!v->conn_errors)
			continue;
		fputs("faultline_connection_failures_total", f);
		put_label(f, &first, "client", v->id->client);
		put_label(f, &first, "server", v->id->server);
		put_label(f, &first, "server_kind", v->id->kind);
		fprintf(f, "} %llu\n", (unsigned long long)v->conn_errors);
	}
	return 0;
}

static uint64_t rss_bytes(void)
{
	unsigned long long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%llu %llu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void put_counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	char full[96];

	snprintf(full, sizeof(full), "faultline_agent_%s_total", name);
	put_family(f, full, "counter", help);
	fprintf(f, "%s %llu\n", full, (unsigned long long)v);
}

static void put_gauge(FILE *f, const char *name, const char *help, double v)
{
	put_family(f, name, "gauge", help);
	fprintf(f, "%s %.17g\n", name, v);
}

static void render_health(struct metrics *m, FILE *f, const struct mx_snapshot *sn)
{
	static const struct { const char *name, *help; } bpf[FL_CNT_MAX] = {
		[FL_CNT_RINGBUF_DROPS] = { "ringbuf_drops", "events lost: ring buffer full" },
		[FL_CNT_CONN_MAP_FULL] = { "conn_map_full", "connections not tracked: map full" },
		[FL_CNT_ARGS_MAP_FULL] = { "inflight_map_full", "syscalls not seen: in-flight map full" },
		[FL_CNT_READ_FAILED] = { "payload_read_failed", "payload copies that faulted" },
		[FL_CNT_TLS_UNMAPPED] = { "tls_unmapped", "TLS reads/writes dropped: no connection" },
	};
	const struct agent_stats *st = &sn->stats;

#define X(n) put_counter(f, #n, "agent counter " #n " (docs/store.md agent_counters)", st->n);
	AGENT_STATS(X)
#undef X
	for (int i = 0; i < FL_CNT_MAX; i++)
		if (bpf[i].name)
			put_counter(f, bpf[i].name, bpf[i].help, st->bpf[i]);
	put_counter(f, "metrics_series_overflow", "records not exported: "
		    "past the series cap", sn->overflow);
	put_counter(f, "scrapes", "scrapes of /metrics served", atomic_load(&m->scrapes));
	put_gauge(f, "faultline_agent_metrics_series", "edge series exported", (double)sn->n);
	put_gauge(f, "faultline_agent_hooks_loaded", "BPF programs attached",
		  sn->health.hooks_loaded);
	put_gauge(f, "faultline_agent_hooks_unavailable",
		  "BPF programs not attached on this kernel",
		  sn->health.hooks_total - sn->health.hooks_loaded);
	put_gauge(f, "faultline_agent_resident_memory_bytes", "resident set size, bytes",
		  (double)rss_bytes());
	put_gauge(f, "faultline_agent_last_flush_timestamp_seconds",
		  "Unix time of the last store flush (0: none yet)",
		  (double)sn->health.last_flush_ns / 1e9);
	put_gauge(f, "faultline_agent_last_flush_success",
		  "1 if the last store flush committed", sn->health.last_flush_ok);
	put_gauge(f, "faultline_agent_start_time_seconds", "Unix time the agent started",
		  m->start_s);
	put_family(f, "faultline_agent_build_info", "gauge", "the agent's version");
	fputs("faultline_agent_build_info{version=\"", f);
	put_value(f, m->version);
	fputs("\"} 1\n", f);
}

char *metrics_render(struct metrics *m, size_t *len)
{
	struct mx_snapshot *sn;
	char *buf = NULL;
	FILE *f;
	int err = 0;

	pthread_mutex_lock(&m->lock);
	sn = m->snap;
	if (sn)
		atomic_fetch_add(&sn->refs, 1);
	pthread_mutex_unlock(&m->lock);
	f = open_memstream(&buf, len);
	if (!f) {
		snap_unref(sn);
		return NULL;
	}
	atomic_fetch_add(&m->scrapes, 1);
	if (sn) {
		err = render_service_graph(f, sn);
		if (!err)
			err = render_edges(f, sn);
		if (!err)
			render_health(m, f, sn);
	}
	snap_unref(sn);
	if (fclose(f) || err) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	return buf;
}

/* ---- the HTTP server ---------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code,
			     const char *type, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_len, void **con_cls)
{
	struct metrics *m = cls;
	char *body;
	size_t len = 0;

	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		body = strdup("method not allowed\n");
		return body ? reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				    body, strlen(body)) : MHD_NO;
	}
	if (!strcmp(url, "/metrics")) {
		body = metrics_render(m, &len);
		if (!body) {
			body = strdup("out of memory\n");
			return body ? reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
					    "text/plain", body, strlen(body)) : MHD_NO;
		}
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			     body, len);
	}
	if (!strcmp(url, "/")) {
		body = strdup("faultline-agent: metrics at /metrics\n");
		return body ? reply(c, MHD_HTTP_OK, "text/plain", body,
				    strlen(body)) : MHD_NO;
	}
	body = strdup("not found\n");
	return body ? reply(c, MHD_HTTP_NOT_FOUND, "text/plain", body,
			    strlen(body)) : MHD_NO;
}

/* "ADDR:PORT" or "[ADDR6]:PORT" into a numeric address. */
static int parse_addr(const char *addr, struct addrinfo **out)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
		.ai_socktype = SOCK_STREAM,
	};
	char host[128];
	const char *port, *colon = strrchr(addr, ':');
	size_t hl;

	if (!colon || !colon[1])
		return -EINVAL;
	port = colon + 1;
	hl = (size_t)(colon - addr);
	if (addr[0] == '[') {
		if (hl < 2 || addr[hl - 1] != ']')
			return -EINVAL;
		addr++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hl);
	host[hl] = 0;
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	if (atoi(port) < 1 || atoi(port) > 65535)
		return -EINVAL;
	return getaddrinfo(host, port, &hints, out) ? -EINVAL : 0;
}

int metrics_listen(struct metrics *m, const char *addr, char *errbuf,
		   size_t errlen)
{
	struct addrinfo *ai = NULL;
	int one = 1, fd, err;

	err = parse_addr(addr, &ai);
	if (err) {
		snprintf(errbuf, errlen, "invalid metrics address '%s' (expected "
			 "ADDR:PORT or [ADDR6]:PORT)", addr);
		return err;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		err = -errno;
		snprintf(errbuf, errlen, "cannot listen on '%s': %s", addr,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out_free;
	}
	m->listen_fd = fd;
	m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
				  (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				  0, NULL, NULL, on_request, m,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, 32u,
				  MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				  MHD_OPTION_END);
	if (!m->mhd) {
		err = -EIO;
		snprintf(errbuf, errlen, "cannot serve metrics on '%s'", addr);
	} else {
		m->listen_fd = -1;	/* MHD closes it when it stops */
	}
out_free:
	freeaddrinfo(ai);
	return err;
}
