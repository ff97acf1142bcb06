// SPDX-License-Identifier: BSD-2-Clause
/*
 * gengraph: a synthetic faultline store of N services and E edges, each
 * edge with W per-minute windows carrying real latency histograms, written
 * through lib/store.c (schema, 0600, WAL) and lib/hist.c (blob encoding).
 * Used by `make bench` to time gatectl on large graphs.
 *
 *   usage: gengraph -s SERVICES -e EDGES [-w WINDOWS] [--seed N] STORE
 *
 * The shape, deterministic for a given seed:
 *  - platform services (SERVICES / 50, at least 2) shared by everyone:
 *    platform-0 ("auth") is called by every gateway, platform-k calls
 *    platform-(k-1)/2 (a tree: the hubs), each calls a platform database;
 *  - the rest in domains of 20: one gateway (d<i>-gw) calling the five
 *    tier-1 services of its domain and auth; each tier-1 service (d<i>-api<j>)
 *    calls three tier-2 services of its domain (d<i>-svc<j>) and one random
 *    platform service; each tier-2 service calls one or two of the domain's
 *    four data stores (d<i>-pg<j>: PostgreSQL, d<i>-redis: Redis).
 * These client/server pairs carry the E edges round-robin, one operation
 * each (HTTP "GET /v1/r<k>/{id}", SQL "SELECT ... FROM t<k> WHERE id = ?",
 * Redis commands), so a pair carries about E / pairs operations.
 *
 * Windows: the W minutes before now, each with 1..1000 requests, a few
 * errors, and a histogram of 1..8 latency buckets around the edge's base
 * latency.
 *
 * Call paths (path_links): every edge whose server calls anything links to
 * one or two of the server's outbound edges (the operations it calls while
 * serving that request), so the links form fan-out trees down the domains:
 * gateway -> API -> service -> data store, and up the platform tree. Each
 * link has a row per window (1..200 linked requests), method traceparent
 * (3 in 5) or thread. Prints one line per chosen probe service:
 *   gengraph: typical NAME fan_in N      (median distinct callers)
 *   gengraph: hub NAME fan_in N          (most distinct callers)
 * and a summary line. STORE must not exist. Exit 0, 1 on error, 2 usage.
 */
#include "hist.h"
#include "store.h"
#include "store_write.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DOMAIN_SIZE 20
#define TIER1 5			/* d<i>-api0..4 */
#define TIER2 10		/* d<i>-svc0..9 */
#define DATA 4			/* d<i>-pg0..2, d<i>-redis */

enum proto { P_HTTP, P_PG, P_REDIS };

static const char *const redis_cmds[] = {
	"GET", "SET", "DEL", "EXPIRE", "HGET", "HSET", "HGETALL", "HINCRBY",
	"INCR", "INCRBY", "MGET", "MSET", "LPUSH", "RPOP", "LRANGE", "SADD",
	"SMEMBERS", "ZADD", "ZRANGE", "ZSCORE", "EXISTS", "TTL", "PING", "EVALSHA",
};
#define N_REDIS_CMDS (sizeof(redis_cmds) / sizeof(redis_cmds[0]))

struct svc {
	char name[32];
	const char *kind;
};

struct pair {
	uint32_t client, server;
	enum proto proto;
	uint32_t nops;		/* operations (edges) assigned so far */
};

struct gen {
	struct svc *svcs;
	uint32_t nsvcs;
	struct pair *pairs;
	uint32_t npairs, cappairs;
	uint32_t *edge_pair;	/* edge id - 1 -> its pair */
	uint64_t rng;
};

/* xorshift64*: deterministic, good enough for shapes and counts */
static uint64_t rnd(struct gen *g)
{
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545F4914F6CDD1Dull;
}

static uint32_t rnd_below(struct gen *g, uint32_t n)
{
	return (uint32_t)(rnd(g) % n);
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "gengraph: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	exit(1);
}

static void pair_add(struct gen *g, uint32_t client, uint32_t server)
{
	const char *kind = g->svcs[server].kind;

	/* a client's pairs are added one after the other: look back at them */
	for (uint32_t i = g->npairs; i-- > 0 && g->pairs[i].client == client;)
		if (g->pairs[i].server == server)
			return;
	if (g->npairs == g->cappairs) {
		g->cappairs = g->cappairs ? 2 * g->cappairs : 1024;
		g->pairs = realloc(g->pairs, g->cappairs * sizeof(*g->pairs));
		if (!g->pairs)
			die("out of memory", NULL);
	}
	g->pairs[g->npairs++] = (struct pair){
		.client = client, .server = server,
		.proto = !strcmp(kind, "cache") ? P_REDIS :
			 !strcmp(kind, "database") ? P_PG : P_HTTP,
	};
}

static void svc_set(struct gen *g, uint32_t i, const char *kind,
		    const char *fmt, uint32_t a, uint32_t b)
{
	snprintf(g->svcs[i].name, sizeof(g->svcs[i].name), fmt, a, b);
	g->svcs[i].kind = kind;
}

/* Services and the client/server pairs between them (see the header). */
static void shape_build(struct gen *g, uint32_t n)
{
	uint32_t nplat = n / 50 < 2 ? 2 : n / 50;
	uint32_t ndom = (n - nplat) / DOMAIN_SIZE;

	g->nsvcs = nplat + ndom * DOMAIN_SIZE;
	g->svcs = calloc(n, sizeof(*g->svcs));
	if (!g->svcs || ndom == 0)
		die(ndom ? "out of memory" : "too few services (at least 60)", NULL);
	/* platform services first; the last platform index is the database */
	for (uint32_t k = 0; k < nplat - 1; k++)
		svc_set(g, k, "service", "platform-%u", k, 0);
	svc_set(g, nplat - 1, "database", "platform-db", 0, 0);
	for (uint32_t d = 0; d < ndom; d++) {
		uint32_t base = nplat + d * DOMAIN_SIZE;
		svc_set(g, base, "service", "d%u-gw", d, 0);
		for (uint32_t j = 0; j < TIER1; j++)
			svc_set(g, base + 1 + j, "service", "d%u-api%u", d, j);
		for (uint32_t j = 0; j < TIER2; j++)
			svc_set(g, base + 1 + TIER1 + j, "service", "d%u-svc%u", d, j);
		for (uint32_t j = 0; j < DATA - 1; j++)
			svc_set(g, base + 1 + TIER1 + TIER2 + j, "database", "d%u-pg%u", d, j);
		svc_set(g, base + DOMAIN_SIZE - 1, "cache", "d%u-redis", d, 0);
	}
	for (uint32_t k = 1; k < nplat - 1; k++)
		pair_add(g, k, (k - 1) / 2);
	for (uint32_t k = 0; k < nplat - 1; k++)
		pair_add(g, k, nplat - 1);
	for (uint32_t d = 0; d < ndom; d++) {
		uint32_t base = nplat + d * DOMAIN_SIZE;
		uint32_t t1 = base + 1, t2 = t1 + TIER1, data = t2 + TIER2;
		pair_add(g, base, 0);
		for (uint32_t j = 0; j < TIER1; j++)
			pair_add(g, base, t1 + j);
		for (uint32_t j = 0; j < TIER1; j++) {
			for (int c = 0; c < 3; c++)
				pair_add(g, t1 + j, t2 + rnd_below(g, TIER2));
			pair_add(g, t1 + j, rnd_below(g, nplat - 1));
		}
		for (uint32_t j = 0; j < TIER2; j++) {
			int calls = 1 + (int)rnd_below(g, 2);
			for (int c = 0; c < calls; c++)
				pair_add(g, t2 + j, data + rnd_below(g, DATA));
		}
	}
}

static void operation(char *buf, size_t len, enum proto p, uint32_t k)
{
	static const char *const methods[] = { "GET", "GET", "POST", "PUT", "DELETE" };

	if (p == P_HTTP)
		snprintf(buf, len, "%s /v1/r%u/{id}", methods[k % 5], k);
	else if (p == P_PG)
		snprintf(buf, len, "SELECT id, name, value FROM t%u WHERE id = ?", k);
	else
		snprintf(buf, len, "%s", redis_cmds[k]);
}

/* One window of @edge at @start: counts and a histogram around @base_ns. */
static void window_insert(struct gen *g, struct fl_sw *sw, int64_t edge,
			  int64_t start, uint64_t base_ns)
{
	struct fl_hist h = FL_HIST_INIT;
	uint32_t req = 1 + rnd_below(g, 1000), left = req;
	uint32_t buckets = 1 + rnd_below(g, 8);
	uint64_t sum = 0;
	uint8_t *blob;
	size_t len;

	for (uint32_t b = 0; b < buckets && left; b++) {
		uint32_t n = b + 1 == buckets ? left : 1 + rnd_below(g, left);
		uint64_t v = base_ns + base_ns * b / 2 + rnd_below(g, 1000);
		if (fl_hist_add(&h, v, n))
			die("out of memory", NULL);
		sum += v * n;
		left -= n;
	}
	if (fl_hist_encode(&h, &blob, &len))
		die("out of memory", NULL);
	struct fl_sw_window row = {
		.source = "ebpf", .start_s = start, .width_s = FL_STORE_WINDOW_S,
		.requests = req,
		.errors = rnd_below(g, 20) ? 0 : rnd_below(g, 5),
	};
	row.client_errors = rnd_below(g, 10) ? 0 : rnd_below(g, 10);
	row.req_bytes = (uint64_t)req * 200;
	row.resp_bytes = (uint64_t)req * 1500;
	row.latency_sum_ns = sum;
	row.hist = blob;
	row.hist_len = len;
	if (fl_sw_window(sw, edge, &row))
		die("cannot insert", sw->err);
	free(blob);
	fl_hist_release(&h);
}

/* Services 1..N: written to an empty store, so their ids are their order. */
static void services_insert(struct gen *g, struct fl_sw *sw, int64_t now_ns)
{
	for (uint32_t i = 0; i < g->nsvcs; i++) {
		int64_t id = 0;
		if (fl_sw_service(sw, g->svcs[i].name, g->svcs[i].kind, now_ns, now_ns, &id))
			die("cannot insert", sw->err);
		if (id != (int64_t)i + 1)
			die("the store is not empty", NULL);
	}
}

/* @nedges edges round-robin over the pairs, @nwin windows each. */
static void edges_insert(struct gen *g, struct fl_sw *sw, uint32_t nedges,
			 uint32_t nwin, int64_t now_s)
{
	static const char *const proto_names[] = { "http", "postgresql", "redis" };
	int64_t last_win = now_s / 60 * 60;
	uint32_t made = 0;
	char op[96];

	for (uint64_t i = 0; made < nedges; i++) {
		struct pair *p = &g->pairs[i % g->npairs];
		if (i >= (uint64_t)nedges * 2 + g->npairs * N_REDIS_CMDS)
			die("cannot place the edges on this shape", NULL);
		if (p->proto == P_REDIS && p->nops >= N_REDIS_CMDS)
			continue;
		operation(op, sizeof(op), p->proto, p->nops++);
		g->edge_pair[made] = (uint32_t)(i % g->npairs);
		made++;
		struct fl_sw_edge row = {
			.client_id = p->client + 1, .server_id = p->server + 1,
			.protocol = proto_names[p->proto], .operation = op,
			.first_ns = (last_win - 60 * (int64_t)nwin) * 1000000000ll,
			.last_ns = (last_win + 59) * 1000000000ll,
		};
		int64_t id = 0;
		if (fl_sw_edge(sw, &row, &id))
			die("cannot insert", sw->err);
		if (id != (int64_t)made)	/* edges 1..N, in order */
			die("the store is not empty", NULL);
		uint64_t base_ns = p->proto == P_HTTP ? 500000 + rnd_below(g, 5000000) :
						       50000 + rnd_below(g, 500000);
		for (uint32_t w = 0; w < nwin; w++)
			window_insert(g, sw, made,
				      last_win - 60 * (int64_t)(nwin - 1 - w), base_ns);
	}
}

/*
 * Path links: each edge links to 1 or 2 outbound edges of its server, one
 * row per window. Returns the number of (parent, child) pairs.
 */
static uint64_t links_insert(struct gen *g, struct fl_sw *sw, uint32_t nedges,
			     uint32_t nwin, int64_t now_s)
{
	uint32_t *first = calloc(g->nsvcs + 1, sizeof(*first));
	uint32_t *out = malloc(((size_t)nedges + 1) * sizeof(*out));
	int64_t last_win = now_s / 60 * 60;
	uint64_t pairs = 0;

	if (!first || !out)
		die("out of memory", NULL);
	/* the edges of each client, by counting sort: out[first[c] ..] */
	for (uint32_t e = 0; e < nedges; e++)
		first[g->pairs[g->edge_pair[e]].client + 1]++;
	for (uint32_t c = 0; c < g->nsvcs; c++)
		first[c + 1] += first[c];
	uint32_t *at = calloc(g->nsvcs, sizeof(*at));
	if (!at)
		die("out of memory", NULL);
	for (uint32_t e = 0; e < nedges; e++) {
		uint32_t c = g->pairs[g->edge_pair[e]].client;
		out[first[c] + at[c]++] = e;
	}
	free(at);
	for (uint32_t e = 0; e < nedges; e++) {
		uint32_t s = g->pairs[g->edge_pair[e]].server;
		uint32_t n = first[s + 1] - first[s], prev = UINT32_MAX;
		int k = 1 + (int)rnd_below(g, 2);
		for (int j = 0; j < k && n; j++) {
			uint32_t child = out[first[s] + rnd_below(g, n)];
			const char *method = rnd_below(g, 5) < 3 ? "traceparent" : "thread";
			if (child == prev)
				continue;
			prev = child;
			pairs++;
			for (uint32_t w = 0; w < nwin; w++) {
				if (fl_sw_link(sw, e + 1, child + 1, method,
					       last_win - 60 * (int64_t)(nwin - 1 - w),
					       FL_STORE_WINDOW_S, 1 + rnd_below(g, 200)))
					die("cannot insert", sw->err);
			}
		}
	}
	free(first);
	free(out);
	return pairs;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Distinct callers per service; print the median (of called) and the max. */
static void probes_print(struct gen *g)
{
	uint64_t *key = calloc(g->nsvcs, sizeof(*key));	/* fan_in << 32 | idx */
	uint32_t *fan = calloc(g->nsvcs, sizeof(*fan));
	uint32_t n = 0;

	if (!key || !fan)
		die("out of memory", NULL);
	for (uint32_t i = 0; i < g->npairs; i++)
		fan[g->pairs[i].server]++;	/* pairs are distinct */
	for (uint32_t i = 0; i < g->nsvcs; i++)
		if (fan[i] && !strcmp(g->svcs[i].kind, "service"))
			key[n++] = (uint64_t)fan[i] << 32 | i;
	qsort(key, n, sizeof(*key), cmp_u64);
	printf("gengraph: typical %s fan_in %u\n",
	       g->svcs[(uint32_t)key[n / 2]].name, (uint32_t)(key[n / 2] >> 32));
	printf("gengraph: hub %s fan_in %u\n",
	       g->svcs[(uint32_t)key[n - 1]].name, (uint32_t)(key[n - 1] >> 32));
	free(key);
	free(fan);
}

static long parse_long(const char *arg, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "gengraph: invalid %s '%s' (expected %ld..%ld)\n",
			what, arg, min, max);
		exit(2);
	}
	return v;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gengraph -s SERVICES -e EDGES [-w WINDOWS] [--seed N] STORE\n"
		"\n"
		"Write a synthetic faultline store (a new file) of SERVICES services and\n"
		"EDGES edges with WINDOWS per-minute windows each (default 3).\n"
		"\n"
		"example:\n"
		"  gengraph -s 10000 -e 100000 /tmp/g10k.db\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "seed", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct gen g = { .rng = 0x9E3779B97F4A7C15ull };
	long nsvc = 0, nedges = 0, nwin = 3;
	char errbuf[256];
	struct fl_sw sw;
	sqlite3 *db;
	int c;

	while ((c = getopt_long(argc, argv, "s:e:w:h", lopts, NULL)) != -1) {
		switch (c) {
		case 's': nsvc = parse_long(optarg, 60, 10000000, "services"); break;
		case 'e': nedges = parse_long(optarg, 1, 100000000, "edges"); break;
		case 'w': nwin = parse_long(optarg, 1, 10080, "windows"); break;
		case 'S': g.rng ^= (uint64_t)parse_long(optarg, 0, INT32_MAX, "seed"); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!nsvc || !nedges || optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (!access(argv[optind], F_OK)) {
		fprintf(stderr, "gengraph: '%s' exists; give a new file\n", argv[optind]);
		return 2;
	}
	if (fl_store_open(argv[optind], true, &db, errbuf, sizeof(errbuf)))
		die(errbuf, NULL);
	shape_build(&g, (uint32_t)nsvc);
	g.edge_pair = malloc((size_t)nedges * sizeof(*g.edge_pair));
	if (!g.edge_pair)
		die("out of memory", NULL);
	time_t now = time(NULL);
	sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN", NULL, NULL, NULL);
	fl_sw_init(&sw, db, NULL);	/* the agent's rules */
	services_insert(&g, &sw, (int64_t)now * 1000000000ll);
	edges_insert(&g, &sw, (uint32_t)nedges, (uint32_t)nwin, (int64_t)now);
	uint64_t nlinks = links_insert(&g, &sw, (uint32_t)nedges, (uint32_t)nwin,
				       (int64_t)now);
	fl_sw_release(&sw);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
		die("cannot commit", sqlite3_errmsg(db));
	probes_print(&g);
	printf("gengraph: %u services, %u client/server pairs, %ld edges, %ld windows each\n",
	       g.nsvcs, g.npairs, nedges, nwin);
	printf("gengraph: %llu path links (parent -> child edge), %ld windows each\n",
	       (unsigned long long)nlinks, nwin);
	sqlite3_close(db);
	free(g.svcs);
	free(g.pairs);
	free(g.edge_pair);
	return 0;
}
