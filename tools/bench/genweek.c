// SPDX-License-Identifier: BSD-2-Clause
/*
 * genweek: how big does a store get under continuous traffic? Writes DAYS
 * of per-minute windows for EDGES edges between SERVICES services, every
 * edge active every minute, into a new store through lib/store.c, and runs
 * lib/compact.c every simulated hour as the agent does. After every day it
 * checkpoints the WAL and prints the rows and the file's size.
 *
 *   usage: genweek [-s SERVICES] [-e EDGES] [-d DAYS] [--rollup-after AGE]
 *                  [--retention AGE] [--no-compact] [--vacuum] [--seed N] STORE
 *
 * Traffic, deterministic for a seed: each edge has a base rate, log-uniform
 * in 5..500 requests a minute, and a base latency, log-uniform in
 * 0.2..50 ms. Its minutes are drawn from a pool of 16 minutes sampled in
 * full beforehand: each a Poisson-like request count around the base rate
 * and one log-normal latency (sigma 0.6) per request into a real histogram,
 * 0.5 % errors. So blobs have the spread of real ones (tens to a hundred
 * buckets) without sampling billions of values. One upsert per edge and
 * minute (the agent's statement; the agent itself writes every few seconds
 * into the same row), edges' and edge_sources' last seen once an hour.
 * The clock starts at 2026-11-02T00:00:00Z; compaction runs at every hour
 * boundary with that simulated time.
 *
 * Output, one line per day:
 *   day D: minute_rows N hourly_rows N file_bytes N pages N free_pages N
 *          page_size N compact_ms_max N
 * and with --vacuum a last line after VACUUM. Exit 0, 1 error, 2 usage.
 */
#include "compact.h"
#include "hist.h"
#include "store_write.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define T0 1793577600LL		/* 2026-11-02T00:00:00Z */
#define POOL 16			/* sampled minutes per edge */

struct minute {
	uint8_t *blob;		/* encoded histogram; owned */
	size_t len;
	uint64_t requests;
	uint64_t errors;
	uint64_t latency_sum_ns;
};

struct edge {
	int64_t id;
	struct minute pool[POOL];
};

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)	/* xorshift64* */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static double unit(void)	/* (0, 1) */
{
	return ((double)(rng() >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)	/* Box-Muller */
{
	return sqrt(-2 * log(unit())) * cos(2 * M_PI * unit());
}

static double log_uniform(double lo, double hi)
{
	return exp(log(lo) + unit() * (log(hi) - log(lo)));
}

static void die(const char *what, sqlite3 *db)
{
	fprintf(stderr, "genweek: %s%s%s\n", what, db ? ": " : "",
		db ? sqlite3_errmsg(db) : "");
	exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL))
		die(sql, db);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		die(sql, db);
	return st;
}

static void done(sqlite3 *db, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		die("step", db);
	sqlite3_reset(st);
}

static void pool_fill(struct edge *e)
{
	double rate = log_uniform(5, 500), median_ns = log_uniform(2e5, 5e7);

	for (int k = 0; k < POOL; k++) {
		struct minute *m = &e->pool[k];
		struct fl_hist h = FL_HIST_INIT;
		uint64_t n = (uint64_t)fmax(1, rate + sqrt(rate) * normal() + 0.5);

		m->requests = n;
		m->errors = 0;
		m->latency_sum_ns = 0;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t v = (uint64_t)(median_ns * exp(0.6 * normal()));
			if (fl_hist_add(&h, v, 1))
				die("out of memory", NULL);
			m->latency_sum_ns += v;
			m->errors += rng() % 1000 < 5;
		}
		if (fl_hist_encode(&h, &m->blob, &m->len))
			die("out of memory", NULL);
		fl_hist_release(&h);
	}
}

/* Services and edges: client i % S calls a server a little further on. */
static void graph_make(sqlite3 *db, struct fl_sw *sw, int nsvc, struct edge *edges,
		       int nedges)
{
	int64_t *svc_id = calloc((size_t)nsvc, sizeof(*svc_id));
	char name[64];

	if (!svc_id)
		die("out of memory", NULL);
	exec(db, "BEGIN");
	for (int i = 0; i < nsvc; i++) {
		snprintf(name, sizeof(name), "svc-%03d", i);
		if (fl_sw_service(sw, name, i % 10 == 9 ? "database" : "service",
				  T0 * 1000000000LL, T0 * 1000000000LL, &svc_id[i]))
			die("insert service", db);
	}
	for (int i = 0; i < nedges; i++) {
		int c = i % nsvc, s = (c + 1 + (i / nsvc) % (nsvc - 1)) % nsvc;
		struct fl_sw_edge e = {
			.client_id = svc_id[c], .server_id = svc_id[s], .protocol = "http",
			.operation = name, .first_ns = T0 * 1000000000LL,
			.last_ns = T0 * 1000000000LL,
		};
		snprintf(name, sizeof(name), "GET /v1/r%d/{id}", i);
		if (fl_sw_edge(sw, &e, &edges[i].id))
			die("insert edge", db);
		pool_fill(&edges[i]);
	}
	exec(db, "COMMIT");
	free(svc_id);
}

static int64_t one(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = prep(db, sql);
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;

	sqlite3_finalize(st);
	return v;
}

static void report(sqlite3 *db, const char *path, const char *what,
		   double compact_ms_max)
{
	struct stat sb;

	exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	if (stat(path, &sb))
		die("stat", NULL);
	printf("%s: minute_rows %lld hourly_rows %lld file_bytes %lld pages %lld "
	       "free_pages %lld page_size %lld compact_ms_max %.1f\n", what,
	       (long long)one(db, "SELECT count(*) FROM edge_windows WHERE width_s = 60"),
	       (long long)one(db, "SELECT count(*) FROM edge_windows WHERE width_s = 3600"),
	       (long long)sb.st_size, (long long)one(db, "PRAGMA page_count"),
	       (long long)one(db, "PRAGMA freelist_count"),
	       (long long)one(db, "PRAGMA page_size"), compact_ms_max);
	fflush(stdout);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One simulated minute @m: one window per edge, in one transaction. */
static void write_minute(sqlite3 *db, struct fl_sw *sw, struct edge *edges,
			 int nedges, int64_t m)
{
	exec(db, "BEGIN IMMEDIATE");
	for (int i = 0; i < nedges; i++) {
		const struct minute *p = &edges[i].pool[rng() % POOL];
		struct fl_sw_window w = {
			.source = "ebpf", .start_s = T0 + 60 * m,
			.width_s = FL_STORE_WINDOW_S, .requests = p->requests,
			.errors = p->errors, .req_bytes = (uint64_t)p->requests * 300,
			.resp_bytes = (uint64_t)p->requests * 2000,
			.latency_sum_ns = p->latency_sum_ns, .hist = p->blob,
			.hist_len = p->len,
		};
		if (fl_sw_window(sw, edges[i].id, &w))
			die("insert window", db);
	}
	exec(db, "COMMIT");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: genweek [-s SERVICES] [-e EDGES] [-d DAYS] [--rollup-after AGE]\n"
		   "               [--retention AGE] [--no-compact] [--vacuum] [--seed N] STORE\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "services", required_argument, NULL, 's' },
		{ "edges", required_argument, NULL, 'e' },
		{ "days", required_argument, NULL, 'd' },
		{ "rollup-after", required_argument, NULL, 'R' },
		{ "retention", required_argument, NULL, 'K' },
		{ "no-compact", no_argument, NULL, 'N' },
		{ "vacuum", no_argument, NULL, 'V' },
		{ "seed", required_argument, NULL, 'S' },
		{ 0 }
	};
	int nsvc = 200, nedges = 2000, days = 7, c;
	int64_t rollup = FL_COMPACT_ROLLUP_DEFAULT_S;
	int64_t retention = FL_COMPACT_RETENTION_DEFAULT_S;
	bool compact = true, vacuum = false;
	char errbuf[256], what[32];
	struct fl_sw sw;
	double cmax = 0;
	sqlite3 *db;

	while ((c = getopt_long(argc, argv, "s:e:d:", opts, NULL)) != -1) {
		switch (c) {
		case 's': nsvc = atoi(optarg); break;
		case 'e': nedges = atoi(optarg); break;
		case 'd': days = atoi(optarg); break;
		case 'R':
			if (fl_compact_duration_parse(optarg, &rollup))
				goto bad;
			break;
		case 'K':
			if (fl_compact_duration_parse(optarg, &retention))
				goto bad;
			break;
		case 'N': compact = false; break;
		case 'V': vacuum = true; break;
		case 'S': rng_state = strtoull(optarg, NULL, 10) | 1; break;
		default: goto bad;
		}
	}
	if (optind + 1 != argc || nsvc < 2 || nedges < 1 || days < 1)
		goto bad;
	if (!access(argv[optind], F_OK)) {
		fprintf(stderr, "genweek: '%s' exists\n", argv[optind]);
		return 2;
	}
	if (fl_store_open(argv[optind], true, &db, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "genweek: %s\n", errbuf);
		return 1;
	}
	struct edge *edges = calloc((size_t)nedges, sizeof(*edges));
	if (!edges)
		die("out of memory", NULL);
	exec(db, "PRAGMA cache_size = -65536");	/* speed only: sizes are the same */
	fl_sw_init(&sw, db, NULL);	/* the agent's rules */
	graph_make(db, &sw, nsvc, edges, nedges);
	/* the clock of what is seen moves on every hour: a bulk update of
	 * last_seen, not a write of new rows */
	sqlite3_stmt *seen = prep(db, "UPDATE edges SET last_seen_ns = ?1");
	sqlite3_stmt *sseen = prep(db, "UPDATE services SET last_seen_ns = ?1");
	/* the edges compaction left */
	sqlite3_stmt *alive = prep(db, "SELECT id, first_seen_ns FROM edges");
	for (int64_t m = 0; m < (int64_t)days * 1440; m++) {
		int64_t now = T0 + 60 * (m + 1);
		write_minute(db, &sw, edges, nedges, m);
		if (now % 3600)
			continue;
		sqlite3_bind_int64(seen, 1, now * 1000000000LL);
		sqlite3_bind_int64(sseen, 1, now * 1000000000LL);
		exec(db, "BEGIN IMMEDIATE");
		done(db, seen);
		done(db, sseen);
		while (sqlite3_step(alive) == SQLITE_ROW)
			if (fl_sw_source(&sw, sqlite3_column_int64(alive, 0), "ebpf", 0,
					 sqlite3_column_int64(alive, 1), now * 1000000000LL))
				die("insert edge source", db);
		sqlite3_reset(alive);
		exec(db, "COMMIT");
		if (compact) {
			struct fl_compact_stats st;
			double t = now_ms();
			if (fl_store_compact(db, now, rollup, retention, &st, errbuf,
					     sizeof(errbuf)))
				die(errbuf, NULL);
			t = now_ms() - t;
			cmax = t > cmax ? t : cmax;
		}
		if (now % 86400 == 0) {
			snprintf(what, sizeof(what), "day %lld", (long long)((now - T0) / 86400));
			report(db, argv[optind], what, cmax);
		}
	}
	if (vacuum) {
		exec(db, "VACUUM");
		report(db, argv[optind], "vacuumed", cmax);
	}
	fl_sw_release(&sw);
	sqlite3_finalize(seen);
	sqlite3_finalize(sseen);
	sqlite3_finalize(alive);
	sqlite3_close(db);
	for (int i = 0; i < nedges; i++)
		for (int k = 0; k < POOL; k++)
			free(edges[i].pool[k].blob);
	free(edges);
	return 0;
bad:
	usage(stderr);
	return 2;
}
