// SPDX-License-Identifier: BSD-2-Clause
/*
 * faultline-agent: loads the collector, turns its events into the
 * interaction graph, and writes the graph to the store.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "agent.h"
#include "aggregate.h"
#include "collector.skel.h"
#include "conn.h"
#include "control.h"
#include "footprint.h"
#include "netns.h"
#include "adopt.h"
#include "caps.h"
#include "identity.h"
#include "metrics.h"
#include "record.h"
#include "store.h"
#include "compact.h"
#include "deploy.h"
#include "tls.h"

static struct env {
	const char *db;
	unsigned capture;	/* bytes of payload per syscall */
	unsigned flush_s;	/* seconds between store flushes */
	unsigned window_s;	/* width of the windows written, s (divides 60) */
	unsigned ringbuf_mb;	/* ring buffer size, MiB (power of two) */
	unsigned max_conns;	/* entries of the BPF connection map */
	unsigned duration_s;	/* stop after this many seconds; 0: never */
	unsigned max_routes;	/* distinct HTTP operations per server; 0: no cap */
	unsigned backlog;	/* pending windows kept while the store fails */
	const char *record;	/* also write raw events here */
	const char *replay;	/* replay this recording instead of the kernel */
	const char *services;	/* the operator's mapping file */
	const char *source;	/* provenance of what is recorded: ebpf|test */
	const char *metrics_addr; /* --metrics-addr: serve /metrics there */
	bool stats;		/* print the counters at every flush */
	bool no_tls;		/* no SSL_* uprobes */
	bool no_paths;		/* no call-path links */
	bool verbose;
	const char *collector;	/* auto|socket|syscall */
	int64_t rollup_after_s;	/* roll minute windows up into hours after this */
	int64_t retention_s;	/* delete what is older than this */
	int64_t test_retention_s; /* delete test runs older than this */
	const char *control;	/* the control socket's path, or NULL */
	char *netns[NETNS_NAMES_MAX]; /* --netns or --exclude-netns names */
	int nnetns;
	enum fl_netns_mode netns_mode;
} env = {
	.rollup_after_s = FL_COMPACT_ROLLUP_DEFAULT_S,
	.retention_s = FL_COMPACT_RETENTION_DEFAULT_S,
	.test_retention_s = FL_COMPACT_TEST_RETENTION_DEFAULT_S,
	.db = "faultline.db",
	.source = "ebpf",
	.collector = "syscall",	/* until the socket path is green here: then "auto" */
	.capture = FL_CAPTURE_DEFAULT,
	.flush_s = 5,
	.window_s = FL_STORE_WINDOW_S,
	.ringbuf_mb = FL_RINGBUF_DEFAULT >> 20,
	.max_conns = 131072,	/* ~16 MiB of kernel memory; loopback uses 2 per connection */
	.max_routes = AGG_MAX_ROUTES_DEFAULT,
	.backlog = AGG_BACKLOG_DEFAULT,
};

const char *argp_program_version = "faultline-agent 0.1";
static const char doc[] =
	"faultline-agent: observe TCP conversations with eBPF and record the "
	"interaction graph of this node.\n"
	"\n"
	"USAGE: faultline-agent [--db FILE] [--services FILE] [--capture BYTES] [-v]\n"
	"\n"
	"EXAMPLES:\n"
	"    faultline-agent                      # record into ./faultline.db\n"
	"    faultline-agent --db /var/lib/faultline/graph.db --capture 4096\n"
	"    faultline-agent --duration 60        # record for one minute\n"
	"    faultline-agent --record ev.rec      # also keep the raw event stream\n"
	"    faultline-agent --replay ev.rec --db replay.db   # no kernel needed\n"
	"    faultline-agent --netns sandbox --source test --control /run/fl.sock\n"
	"                                         # the gate's sandbox agent\n"
	"    faultline-agent --exclude-netns sandbox   # production, sandbox left out\n"
	"\n"
	"Runs until SIGINT or SIGTERM, flushing to the store every few seconds "
	"and on exit. Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN for "
	"mounting tracefs).";

#define OPT_MAX_ROUTES 0x200	/* long-only options: keys past any char */
#define OPT_METRICS_ADDR 0x201
#define OPT_CONTROL 0x202
#define OPT_NETNS 0x203
#define OPT_EXCLUDE_NETNS 0x204
#define OPT_BACKLOG 0x205
#define OPT_COLLECTOR 0x210

static const struct argp_option opts[] = {
	{ "db", 'd', "FILE", 0, "Store to write (default ./faultline.db)", 0 },
	{ "capture", 'c', "BYTES", 0,
	  "Payload bytes captured per syscall (default 1024, max 8192)", 0 },
	{ "window", 'W', "SECONDS", 0,
	  "Width of the windows written: 5 to 60 s, a divisor of 60 (default 60); "
	  "short windows let `gatectl verify` judge a canary in minutes", 0 },
	{ "flush-interval", 'f', "SECONDS", 0,
	  "Seconds between writes to the store (default 5)", 0 },
	{ "ringbuf-mb", 'r', "MIB", 0,
	  "Ring buffer size in MiB, a power of two (default 8)", 0 },
	{ "services", 's', "FILE", 0,
	  "Operator's service mapping (JSON rules on exe, cmdline, cgroup, port)", 0 },
	{ "max-conns", 'm', "N", 0,
	  "TCP sockets tracked at once (default 131072, ~120 bytes of kernel memory each; a loopback connection is 2)", 0 },
	{ "duration", 'D', "SECONDS", 0, "Stop after SECONDS", 0 },
	{ "backlog-windows", OPT_BACKLOG, "N", 0,
	  "Minute windows kept in memory while the store cannot be written "
	  "(default 65536, ~100-700 bytes each; 0: no cap); past that, records "
	  "are dropped and counted", 0 },
	{ "max-routes", OPT_MAX_ROUTES, "N", 0,
	  "Distinct HTTP operations kept per server service (default 500, 0: "
	  "no cap); later ones are counted as \"METHOD {overflow}\"", 0 },
	{ "metrics-addr", OPT_METRICS_ADDR, "ADDR:PORT", 0,
	  "Serve Prometheus metrics at http://ADDR:PORT/metrics (off by "
	  "default; bind to 127.0.0.1 or the pod IP, docs/metrics.md)", 0 },
	{ "record", 'R', "FILE", 0,
	  "Also write the raw event stream to FILE (0600; holds plaintext payloads)", 0 },
	{ "replay", 'P', "FILE", 0,
	  "Replay a recording through the pipeline instead of tracing", 0 },
	{ "no-tls", 'T', NULL, 0,
	  "Do not attach the SSL_* uprobes (TLS connections stay unparsed)", 0 },
	{ "no-paths", 'N', NULL, 0,
	  "Do not link the requests a service makes to the request it serves "
	  "(saves parsing the server ends of local HTTP connections)", 0 },
	{ "stats", 'S', NULL, 0,
	  "Print the counters (what was seen and not seen) at every flush", 0 },
	{ "source", 'o', "SOURCE", 0,
	  "Provenance of the edges recorded: ebpf (default, a production node) "
	  "or test (the gate's sandbox)", 0 },
	{ "rollup-after", 0x101, "AGE", 0,
	  "Merge minute windows older than AGE into hourly ones (default 24h; "
	  "90m, 2d, never)", 0 },
	{ "retention", 0x102, "AGE", 0,
	  "Delete windows older than AGE, and edges left without any "
	  "(default 7d; never)", 0 },
	{ "test-retention", 0x103, "AGE", 0,
	  "Delete test runs (results, footprints) that started more than AGE "
	  "ago, but the newest learn run of each stack (default 30d; never)", 0 },
	{ "control", OPT_CONTROL, "PATH", 0,
	  "Serve the control socket at PATH (unix, mode 0600): the gate's "
	  "begin/end test marks, flush, status (docs/agent.md)", 0 },
	{ "netns", OPT_NETNS, "NAME", 0,
	  "Trace only network namespace NAME (/run/netns/NAME, or a path such "
	  "as /proc/PID/ns/net); repeat for more. One that does not exist yet "
	  "is traced once it appears", 0 },
	{ "exclude-netns", OPT_EXCLUDE_NETNS, "NAME", 0,
	  "Trace every network namespace but NAME (repeatable): keeps a "
	  "sandbox out of a production agent's graph", 0 },
	{ "collector", OPT_COLLECTOR, "PATH", 0,
	  "Where the collector hooks: socket (sock tracepoints, no syscall "
	  "tracepoint: the default where the kernel has them), syscall (the "
	  "fallback), or auto (default: socket, else syscall)", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf output (verifier log)", 0 },
	{},
};

static int parse_uint(const char *arg, unsigned min, unsigned max,
		      unsigned *out, struct argp_state *state)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < (long)min || v > (long)max)
		argp_error(state, "invalid value '%s' (expected %u..%u)", arg,
			   min, max);
	*out = (unsigned)v;
	return 0;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'd':
		env.db = arg;
		break;
	case 'c':
		return parse_uint(arg, 0, FL_CAPTURE_MAX, &env.capture, state);
	case 'W':
		parse_uint(arg, 5, 60, &env.window_s, state);
		if (60 % env.window_s)
			argp_error(state, "--window must divide 60 (5, 6, 10, 12, 15, 20, 30, 60)");
		return 0;
	case 'f':
		return parse_uint(arg, 1, 3600, &env.flush_s, state);
	case 'r':
		parse_uint(arg, 1, 1024, &env.ringbuf_mb, state);
		if (env.ringbuf_mb & (env.ringbuf_mb - 1))
			argp_error(state, "--ringbuf-mb must be a power of two");
		break;
	case 'D':
		return parse_uint(arg, 1, INT_MAX, &env.duration_s, state);
	case 'm':
		return parse_uint(arg, 1024, 1u << 24, &env.max_conns, state);
	case OPT_MAX_ROUTES:
		return parse_uint(arg, 0, 1000000, &env.max_routes, state);
	case OPT_BACKLOG:
		return parse_uint(arg, 0, 1u << 30, &env.backlog, state);
	case OPT_METRICS_ADDR:
		env.metrics_addr = arg;
		break;
	case OPT_COLLECTOR:
		if (strcmp(arg, "auto") && strcmp(arg, "socket") &&
		    strcmp(arg, "syscall"))
			argp_error(state, "invalid collector '%s' (expected socket, "
				   "syscall or auto)", arg);
		env.collector = arg;
		break;
	case 's':
		env.services = arg;
		break;
	case 'o':
		if (strcmp(arg, "ebpf") && strcmp(arg, "test"))
			argp_error(state, "invalid source '%s' (expected ebpf or test)",
				   arg);
		env.source = arg;
		break;
	case 'R':
		env.record = arg;
		break;
	case 'P':
		env.replay = arg;
		break;
	case 'T':
		env.no_tls = true;
		break;
	case 'N':
		env.no_paths = true;
		break;
	case 'S':
		env.stats = true;
		break;
	case 'v':
		env.verbose = true;
		break;
	case 0x101:
	case 0x102:
	case 0x103:
		if (fl_compact_duration_parse(arg, key == 0x101 ? &env.rollup_after_s :
						   key == 0x102 ? &env.retention_s :
						   &env.test_retention_s))
			argp_error(state, "invalid age '%s' (expected e.g. 24h, 7d or never)",
				   arg);
		break;
	case OPT_CONTROL:
		env.control = arg;
		break;
	case OPT_NETNS:
	case OPT_EXCLUDE_NETNS: {
		enum fl_netns_mode m = key == OPT_NETNS ? FL_NETNS_ONLY
							: FL_NETNS_EXCLUDE;
		if (env.netns_mode && env.netns_mode != m)
			argp_error(state, "--netns and --exclude-netns exclude each other");
		if (env.nnetns == NETNS_NAMES_MAX)
			argp_error(state, "at most %d network namespaces", NETNS_NAMES_MAX);
		if (!*arg || !strcmp(arg, ".") || !strcmp(arg, "..") ||
		    (arg[0] != '/' && strchr(arg, '/')))
			argp_error(state, "invalid network namespace '%s' (a name "
				   "under /run/netns or an absolute path)", arg);
		env.netns_mode = m;
		env.netns[env.nnetns++] = arg;
		break;
	}
	case ARGP_KEY_END:
		if (env.replay && (env.control || env.nnetns))
			argp_error(state, "--control and --netns need live tracing, "
				   "not --replay");
		break;
	case ARGP_KEY_ARG:
		argp_usage(state);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	/* our own message says what failed; libbpf's detail is for -v */
	if (!env.verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool tracefs_mounted(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " /sys/kernel/tracing tracefs ") ||
			strstr(line, " /sys/kernel/debug/tracing tracefs ");
	fclose(f);
	return found;
}

/* Tracepoint attach needs tracefs for event ids: mount it if absent. */
static int ensure_tracefs(void)
{
	if (tracefs_mounted())
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL)) {
		int err = errno;
		if (err == EPERM)
			fprintf(stderr, "faultline-agent: BPF is not permitted here "
					"(cannot mount tracefs): run as root\n");
		else
			fprintf(stderr, "faultline-agent: cannot mount tracefs at "
					"'/sys/kernel/tracing': %s\n", strerror(err));
		return -err;
	}
	fprintf(stderr, "faultline-agent: mounted tracefs at /sys/kernel/tracing\n");
	return 0;
}

static void read_bpf_counters(struct collector_bpf *skel,
			      struct agent_stats *st)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(skel->maps.counters);
	uint64_t vals[ncpu > 0 ? ncpu : 1];

	for (uint32_t i = 0; i < FL_CNT_MAX && ncpu > 0; i++) {
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		st->bpf[i] = 0;
		for (int c = 0; c < ncpu; c++)
			st->bpf[i] += vals[c];
	}
}

struct agent {
	struct collector_bpf *skel;
	struct ring_buffer *rb;
	struct conn_table *ct;
	struct aggregator *agg;
	struct identity *id;
	sqlite3 *db;
	FILE *record;		/* --record stream, or NULL */
	struct tls *tls;	/* SSL_* uprobes, or NULL (replay, --no-tls) */
	struct deploy_tracker *deploys;	/* deploys seen, flush records */
	struct agent_stats stats;
	bool sock_path;		/* the socket path is loaded (else syscalls) */
	struct metrics *mx;	/* --metrics-addr, or NULL */
	struct mx_health health; /* published with the metrics */
	bool usage_error;	/* exit 2: the operator's input was wrong */
	int64_t wall_off;	/* wall - monotonic, ns (the aggregator's clock) */
	struct footprint *fp;	/* test marks of the control socket */
	struct control *control; /* --control, or NULL */
	struct netns_filter *netns; /* --netns/--exclude-netns, or NULL */
};

/*
 * What a recording keeps of an event: an exec's environment only as its
 * OTEL_* entries (the rest may hold credentials, and names nothing). Points
 * at @data, or at @buf holding the filtered copy. OUT: *@out_len.
 */
static const void *record_view(const void *data, size_t len, void *buf,
			       size_t buflen, size_t *out_len)
{
	const struct fl_data_event *e = data;
	struct fl_data_event *f = buf;

	*out_len = len;
	if (len < sizeof(*e) || e->hdr.type != FL_EV_PROC_ENV ||
	    e->cap_len > len - sizeof(*e) || buflen < sizeof(*e))
		return data;
	*f = *e;
	f->cap_len = (uint32_t)identity_env_filter((const char *)(e + 1),
						   e->cap_len, (char *)(f + 1),
						   buflen - sizeof(*f));
	f->orig_len = f->cap_len;
	*out_len = sizeof(*f) + f->cap_len;
	return f;
}

static int handle_event(void *ctx, void *data, size_t len)
{
	struct agent *a = ctx;
	static uint64_t envbuf[(sizeof(struct fl_data_event) + FL_CAPTURE_MAX) / 8 + 1];
	size_t rlen;
	const void *rec = a->record ? record_view(data, len, envbuf, sizeof(envbuf),
						  &rlen) : NULL;

	if (a->record && record_write(a->record, rec, rlen)) {
		fprintf(stderr, "faultline-agent: cannot write '%s': %s "
				"(recording stopped)\n", env.record, strerror(errno));
		fclose(a->record);
		a->record = NULL;
	}
	const struct fl_event_hdr *h = data;
	if (a->tls && len >= sizeof(*h) && h->type == FL_EV_PROC_EXEC)
		tls_on_exec(a->tls, h->cid.tgid, h->ts_ns);
	/*
	 * An allocation that failed while this event was handled (a parser's
	 * state, an edge, a window) lost what it would have counted; the
	 * parsers and tables stay consistent (tests/alloc/run.sh), so the agent
	 * counts it and goes on: a node under memory pressure must not lose its
	 * observer to one failed malloc.
	 */
	if (conn_table_event(a->ct, data, len) == -ENOMEM)
		a->stats.alloc_failures++;
	return 0;
}

/*
 * Roll-up and retention (lib/compact.c), at most once an hour: after the
 * first flush, then every hour of flushes. It runs on a thread of its own
 * with its own connection, because it can take seconds (1.7 s for 2,000
 * edges on this machine, idle) and the main thread must keep reading the
 * ring buffer meanwhile; flushes wait for it (the deltas stay in memory).
 * A failure is counted as a store error and retried an hour later; the
 * windows themselves are safe.
 */
static struct compactor {
	pthread_t thread;
	bool running;		/* started and not joined yet */
	atomic_bool done;	/* the thread finished: join it */
	uint64_t next_ns;	/* monotonic: when the next one is due */
	int64_t now_s;		/* wall clock it judges ages by */
	int err;
	char errbuf[512];
	struct fl_compact_stats st;
} compactor;

static void *compact_main(void *arg)
{
	struct compactor *c = arg;
	sqlite3 *db = NULL;

	c->err = fl_store_open(env.db, true, &db, c->errbuf, sizeof(c->errbuf));
	if (!c->err)
		c->err = fl_store_compact(db, c->now_s, env.rollup_after_s,
					  env.retention_s, &c->st, c->errbuf,
					  sizeof(c->errbuf));
	if (!c->err)
		c->err = fl_store_expire_tests(db, c->now_s, env.test_retention_s,
					       &c->st, c->errbuf, sizeof(c->errbuf));
	sqlite3_close(db);
	atomic_store(&c->done, true);
	return NULL;
}

/* Join a finished (or, with @wait, a running) compaction and report it. */
static void compact_reap(struct agent *a, bool wait)
{
	struct compactor *c = &compactor;

	if (!c->running || (!wait && !atomic_load(&c->done)))
		return;
	pthread_join(c->thread, NULL);
	c->running = false;
	if (c->err) {
		a->stats.store_errors++;
		fprintf(stderr, "faultline-agent: %s (retrying in an hour)\n",
			c->errbuf);
	} else if (env.stats) {
		fprintf(stderr, "faultline-agent: compacted: %llu minute windows into "
			"%llu hourly, %llu windows expired, %llu edges expired, "
			"%llu test runs expired\n",
			(unsigned long long)c->st.windows_rolled,
			(unsigned long long)c->st.hours_written,
			(unsigned long long)c->st.windows_expired,
			(unsigned long long)c->st.edges_expired,
			(unsigned long long)c->st.test_runs_expired);
	}
}

static void compact_start(struct agent *a)
{
	struct compactor *c = &compactor;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);

	if (c->running || (c->next_ns && now < c->next_ns))
		return;
	c->next_ns = now + FL_COMPACT_HOUR_S * 1000000000ull;
	c->now_s = (int64_t)(clock_ns(CLOCK_REALTIME) / 1000000000ull);
	memset(&c->st, 0, sizeof(c->st));
	atomic_store(&c->done, false);
	if (pthread_create(&c->thread, NULL, compact_main, c)) {
		a->stats.store_errors++;
		fprintf(stderr, "faultline-agent: cannot start the compaction: %s "
			"(retrying in an hour)\n", strerror(errno));
		return;
	}
	c->running = true;
}

/*
 * A failing store (disk full, locked, removed) is said once, when it starts
 * failing or its reason changes, and once when the backlog is written: not
 * at every flush interval.
 */
static struct {
	uint64_t failures;	/* consecutive failed flushes */
	char last[512];		/* the message said last */
} store_state;

static void backlog_stats(struct agent *a)
{
	const struct agg_backlog *b = agg_backlog(a->agg);

	a->stats.backlog_windows = b->windows;
	a->stats.backlog_windows_peak = b->peak;
	a->stats.backlog_windows_dropped = b->windows_dropped;
	a->stats.backlog_records_dropped = b->records_dropped;
}

/* Events the agent lost: ring buffer, full maps, framing lost. */
static uint64_t agent_lost(const struct agent_stats *st)
{
	return st->bpf[FL_CNT_RINGBUF_DROPS] + st->bpf[FL_CNT_CONN_MAP_FULL] +
	       st->bpf[FL_CNT_ARGS_MAP_FULL] + st->requests_lost;
}

static int flush(struct agent *a)
{
	char err[512];

	compact_reap(a, false);
	if (compactor.running)
		return 0;	/* the store is busy compacting: next time */
	if (a->skel)
		read_bpf_counters(a->skel, &a->stats);
	conn_table_parser_stats(a->ct, &a->stats);
	a->stats.routes_overflowed = agg_routes_overflowed(a->agg);
	backlog_stats(a);
	a->health.last_flush_ns = clock_ns(CLOCK_REALTIME);
	if (agg_flush(a->agg, a->db, &a->stats, err, sizeof(err))) {
		a->stats.store_errors++;
		a->health.last_flush_ok = false;
		if (!store_state.failures++ || strcmp(err, store_state.last))
			fprintf(stderr, "faultline-agent: %s (kept in memory, "
				"retrying every flush; %llu windows pending, "
				"cap %u)\n", err,
				(unsigned long long)a->stats.backlog_windows,
				env.backlog);
		snprintf(store_state.last, sizeof(store_state.last), "%s", err);
		return -EIO;
	}
	a->health.last_flush_ok = true;
	if (store_state.failures) {
		fprintf(stderr, "faultline-agent: store written again after %llu "
			"failed flushes: %llu windows of backlog written, %llu "
			"windows (%llu records) dropped at the cap so far\n",
			(unsigned long long)store_state.failures,
			(unsigned long long)a->stats.backlog_windows,
			(unsigned long long)a->stats.backlog_windows_dropped,
			(unsigned long long)a->stats.backlog_records_dropped);
		store_state.failures = 0;
		store_state.last[0] = 0;
	}
	backlog_stats(a);
	if (!env.replay && !strcmp(env.source, "ebpf") &&
	    deploy_flush(a->deploys, a->db, agent_lost(&a->stats),
					err, sizeof(err))) {
		a->stats.store_errors++;
		fprintf(stderr, "faultline-agent: %s (retrying)\n", err);
	}
	compact_start(a);
	return 0;
}

/*
 * The Prometheus snapshot (agent/metrics.h), once a second from the
 * consumer's loop: the BPF counters read fresh, the parsers' as of the
 * last flush.
 */
static void metrics_tick(struct agent *a, uint64_t now, uint64_t *next)
{
	if (!a->mx || now < *next)
		return;
	*next = now + 1000000000ull;
	if (a->skel)
		read_bpf_counters(a->skel, &a->stats);
	a->stats.routes_overflowed = agg_routes_overflowed(a->agg);
	metrics_publish(a->mx, &a->stats, &a->health);
}

/* The last flush: after any compaction, and the one it may start, ended. */
static int flush_final(struct agent *a)
{
	int err;

	compact_reap(a, true);
	err = flush(a);
	compact_reap(a, true);
	return err;
}

static void print_stats(const struct agent_stats *st)
{
	fprintf(stderr, "faultline-agent: counters:");
#define X(n) fprintf(stderr, " %s=%llu", #n, (unsigned long long)st->n);
	AGENT_STATS(X)
#undef X
	fprintf(stderr, " ringbuf_drops=%llu conn_map_full=%llu "
			"inflight_map_full=%llu payload_read_failed=%llu "
			"tls_unmapped=%llu\n",
		(unsigned long long)st->bpf[FL_CNT_RINGBUF_DROPS],
		(unsigned long long)st->bpf[FL_CNT_CONN_MAP_FULL],
		(unsigned long long)st->bpf[FL_CNT_ARGS_MAP_FULL],
		(unsigned long long)st->bpf[FL_CNT_READ_FAILED],
		(unsigned long long)st->bpf[FL_CNT_TLS_UNMAPPED]);
}

/* The namespaces of --netns/--exclude-netns into the collector's map. */
static int netns_attach(struct agent *a)
{
	int missing = 0, err;

	err = netns_filter_attach(a->netns, bpf_map__fd(a->skel->maps.netns_inums),
				  &missing);
	if (err) {
		fprintf(stderr, "faultline-agent: cannot set the network namespace "
				"filter: %s\n", strerror(-err));
		return err;
	}
	if (missing)
		fprintf(stderr, "faultline-agent: %d of the network namespaces "
				"named do not exist yet: traced once they appear\n",
			missing);
	return 0;
}

/* Whether the running kernel has kfunc @name (its BTF names it). */
static bool kfunc_exists(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok = btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;

	btf__free(btf);
	return ok;
}

/*
 * Programs by path: sk_* are the socket path's, tp_* the syscall path's,
 * the others (exec, the SSL uprobes) both paths'.
 */
static void select_path(struct collector_bpf *skel, bool sock)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);
		if (!strncmp(name, "sk_", 3))
			bpf_program__set_autoload(prog, sock);
		else if (!strncmp(name, "tp_", 3))
			bpf_program__set_autoload(prog, !sock);
	}
	/* what the other path alone uses: not created, or minimal */
	bpf_map__set_autocreate(skel->maps.sk_states, sock);
	bpf_map__set_max_entries(skel->maps.clients, sock ? env.max_conns : 1);
	bpf_map__set_max_entries(skel->maps.procs_out, sock ? 65536 : 1);
	bpf_map__set_max_entries(skel->maps.conns, sock ? 1 : env.max_conns);
	bpf_map__set_max_entries(skel->maps.mirrors, sock ? 1 : env.max_conns);
	bpf_map__set_max_entries(skel->maps.procs, sock ? 1 : env.max_conns);
	bpf_map__set_max_entries(skel->maps.inflight, sock ? 1 : 16384);
	bpf_map__set_max_entries(skel->maps.evloop_tids, sock ? 1 : 65536);
	skel->rodata->sock_path = sock;
	skel->rodata->use_dynptr = sock && kfunc_exists("bpf_probe_read_user_dynptr");
}

/*
 * The socket path needs tp_btf on the sock tracepoints (Linux 6.3+ for
 * sock_send_length/sock_recv_length) and socket/task storage: the BTF of
 * the running kernel says whether the tracepoints exist; loading says the
 * rest.
 */
static bool sock_path_available(void)
{
	static const char *const tps[] = {
		"btf_trace_sock_send_length", "btf_trace_sock_recv_length",
		"btf_trace_inet_sock_set_state",
	};
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok = btf != NULL;

	for (size_t i = 0; ok && i < sizeof(tps) / sizeof(tps[0]); i++)
		ok = btf__find_by_name_kind(btf, tps[i], BTF_KIND_TYPEDEF) > 0;
	btf__free(btf);
	return ok && libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL) > 0 &&
	       libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) > 0;
}

/* Open, configure for path @sock and load; the skeleton stays in @a. */
static int load_path(struct agent *a, bool sock)
{
	a->skel = collector_bpf__open();
	if (!a->skel) {
		fprintf(stderr, "faultline-agent: cannot open BPF object: %s\n",
			strerror(errno));
		return -errno;
	}
	a->skel->rodata->capture_len = env.capture;
	a->skel->rodata->self_tgid = (uint32_t)getpid();
	a->skel->rodata->no_paths = env.no_paths;
	a->skel->rodata->netns_mode = env.netns_mode;
	bpf_map__set_max_entries(a->skel->maps.events, env.ringbuf_mb << 20);
	bpf_map__set_max_entries(a->skel->maps.ssl_conns, env.max_conns);
	select_path(a->skel, sock);
	caps_prepare(a->skel->obj);
	return collector_bpf__load(a->skel);
}

static int load_collector(struct agent *a)
{
	bool want_sock = strcmp(env.collector, "syscall") != 0;
	bool avail = want_sock && sock_path_available();
	int err;

	if (want_sock && !avail && !strcmp(env.collector, "socket")) {
		fprintf(stderr, "faultline-agent: the socket collector needs tp_btf "
				"on sock:sock_send_length, sock:sock_recv_length and "
				"sock:inet_sock_set_state, and socket/task storage: "
				"not in this kernel (use --collector syscall)\n");
		return -EOPNOTSUPP;
	}
	a->sock_path = avail;
	err = load_path(a, a->sock_path);
	if (err && a->sock_path && !strcmp(env.collector, "auto") &&
	    err != -EPERM) {
		fprintf(stderr, "faultline-agent: cannot load the socket collector: "
				"%s (falling back to the syscall collector)\n",
			strerror(-err));
		collector_bpf__destroy(a->skel);
		a->sock_path = false;
		err = load_path(a, false);
	}
	if (err == -EPERM) {
		fprintf(stderr, "faultline-agent: BPF is not permitted here (%s): "
				"run as root, or with CAP_BPF and CAP_PERFMON\n",
			strerror(-err));
		return err;
	}
	if (err) {
		fprintf(stderr, "faultline-agent: cannot load BPF programs: %s "
				"(run with -v for the verifier log)\n",
			strerror(-err));
		return err;
	}
	if (a->netns && (err = netns_attach(a)))
		return err;
	err = collector_bpf__attach(a->skel);
	if (err) {
		fprintf(stderr, "faultline-agent: cannot attach tracepoints: %s\n",
			strerror(-err));
		return err;
	}
	fprintf(stderr, "faultline-agent: collector: %s\n",
		a->sock_path ? "socket (sock tracepoints, no syscall tracepoint)"
			     : "syscall (syscall tracepoints: the fallback)");
	caps_report(a->skel->obj);
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, a->skel->obj) {	/* as caps_report() */
		a->health.hooks_total++;
		a->health.hooks_loaded += bpf_program__autoload(prog);
	}
	return 0;
}

/* ---- the control socket's view of the agent ---------------------------- */

/*
 * Drain the ring buffer; while a compaction holds the store, keep draining
 * (every 10 ms) rather than block on SQLite's busy wait: a footprint or a
 * flush written next then finds the store free, and no event is dropped
 * meanwhile.
 */
static void ctl_drain(void *ctx)
{
	struct agent *a = ctx;

	ring_buffer__consume(a->rb);
	while (compactor.running && !atomic_load(&compactor.done)) {
		poll(NULL, 0, 10);
		ring_buffer__consume(a->rb);
	}
	compact_reap(a, false);
}

static int ctl_flush(void *ctx, char *errbuf, size_t errlen)
{
	struct agent *a = ctx;

	if (flush(a)) {
		snprintf(errbuf, errlen, "cannot write the store (kept in memory, "
			 "retried at the next flush)");
		return -EIO;
	}
	return 0;
}

static void ctl_status(void *ctx, char *buf, size_t len)
{
	struct agent *a = ctx;
	size_t n = strlen(buf);

	if (a->skel)
		read_bpf_counters(a->skel, &a->stats);
	snprintf(buf + n, len - n, " events=%llu records=%llu conn_failures=%llu "
		 "ringbuf_drops=%llu conn_map_full=%llu store_errors=%llu",
		 (unsigned long long)a->stats.events,
		 (unsigned long long)a->stats.records,
		 (unsigned long long)a->stats.conn_failures,
		 (unsigned long long)a->stats.bpf[FL_CNT_RINGBUF_DROPS],
		 (unsigned long long)a->stats.bpf[FL_CNT_CONN_MAP_FULL],
		 (unsigned long long)a->stats.store_errors);
	netns_describe(a->netns, buf, len);
}

static uint64_t ctl_now(void *ctx)
{
	struct agent *a = ctx;

	return clock_ns(CLOCK_MONOTONIC) + (uint64_t)a->wall_off;
}

static int control_start(struct agent *a)
{
	const struct control_hooks h = { a, ctl_drain, ctl_flush, ctl_status,
					 ctl_now };
	char errbuf[512];

	if (!env.control)
		return 0;
	a->control = control_open(env.control, a->fp, a->db, &h, errbuf,
				  sizeof(errbuf));
	if (!a->control) {
		fprintf(stderr, "faultline-agent: %s\n", errbuf);
		a->usage_error = errno == EADDRINUSE || errno == EEXIST ||
				 errno == ENAMETOOLONG;
		return -errno;
	}
	return 0;
}

/*
 * Wait up to @timeout_ms for the ring buffer or the control socket; serve
 * the control socket. Returns 0 or -errno of poll(2).
 */
static int wait_events(struct agent *a, int timeout_ms)
{
	struct pollfd pfd[CONTROL_CLIENTS_MAX + 2];
	int n = 1, r;

	pfd[0] = (struct pollfd){ .fd = ring_buffer__epoll_fd(a->rb), .events = POLLIN };
	if (a->control)
		n += control_pollfds(a->control, pfd + 1, CONTROL_CLIENTS_MAX + 1);
	r = poll(pfd, (nfds_t)n, timeout_ms);
	if (r < 0)
		return -errno;
	if (r > 0 && a->control) {
		/* what is in the ring buffer now precedes the commands read now */
		ring_buffer__consume(a->rb);
		control_handle(a->control, pfd + 1, n - 1);
	}
	return 0;
}

static int run(struct agent *a)
{
	uint64_t next_flush = clock_ns(CLOCK_MONOTONIC) + env.flush_s * 1000000000ull;
	uint64_t end = env.duration_s ?
		clock_ns(CLOCK_MONOTONIC) + env.duration_s * 1000000000ull : 0;
	uint64_t next_publish = 0;
	int err = 0;

	while (!stop) {
		err = wait_events(a, tls_timeout_ms(a->tls, clock_ns(CLOCK_MONOTONIC),
						    100));
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0) {
			fprintf(stderr, "faultline-agent: poll: %s\n", strerror(-err));
			break;
		}
		/* data events do not wake us one by one (rb_flags in the
		 * collector): drain whatever a timeout left pending */
		err = ring_buffer__consume(a->rb);
		if (err < 0)
			break;
		err = 0;
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		tls_poll(a->tls, now);
		netns_refresh(a->netns, now, 100000000ull);	/* 100 ms */
		if (now >= next_flush) {
			flush(a);
			if (env.stats)
				print_stats(&a->stats);
			next_flush = now + env.flush_s * 1000000000ull;
			next_publish = 0;	/* the parsers' counters are fresh */
		}
		metrics_tick(a, now, &next_publish);
		if (end && now >= end)
			break;
	}
	ring_buffer__consume(a->rb);
	return err;
}

/* Feed a recording through the pipeline as fast as it goes; print rates. */
static int replay(struct agent *a, struct record_reader *rr)
{
	const void *ev;
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	uint64_t c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	size_t len;
	int r, err = 0;

	while (!stop && (r = record_next(rr, &ev, &len)) > 0) {
		if ((err = conn_table_event(a->ct, ev, len)))
			break;
	}
	if (!err && r < 0) {
		fprintf(stderr, "faultline-agent: '%s': truncated or corrupt "
				"record after %llu events (those were replayed)\n",
			env.replay, (unsigned long long)a->stats.events);
		err = r;
	}
	double wall = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	double cpu = (double)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
	if (cpu <= 0)
		cpu = 1e-9;
	fprintf(stderr, "faultline-agent: replay: %llu events, %llu records in "
			"%.3f s wall, %.3f s CPU: %.0f events/s, %.0f records/s "
			"per CPU second\n",
		(unsigned long long)a->stats.events,
		(unsigned long long)a->stats.records, wall, cpu,
		(double)a->stats.events / cpu, (double)a->stats.records / cpu);
	return err;
}

/* Operator inputs first (their errors are the operator's), then the store. */
static int agent_open(struct agent *a)
{
	char errbuf[512];
	int err;

	a->id = identity_new();
	a->agg = agg_new(env.source);
	a->fp = footprint_new();
	a->deploys = deploy_new(env.source, env.flush_s, env.window_s);
	agg_set_window(env.window_s);
	if (!a->id || !a->agg || !a->fp || !a->deploys) {
		fprintf(stderr, "faultline-agent: out of memory\n");
		return -ENOMEM;
	}
	agg_set_footprint(a->agg, a->fp);
	/* deploys are production's: not a recording's, not a sandbox agent's */
	if (!env.replay && !strcmp(env.source, "ebpf"))
		identity_set_observer(a->id, deploy_process, a->deploys);
	if (env.nnetns &&
	    !(a->netns = netns_filter_new(env.netns_mode, env.netns, env.nnetns))) {
		fprintf(stderr, "faultline-agent: out of memory\n");
		return -ENOMEM;
	}
	adopt_set_netns(a->netns);
	if (env.services && identity_load_rules(a->id, env.services, errbuf,
						sizeof(errbuf))) {
		fprintf(stderr, "faultline-agent: invalid service mapping: %s\n",
			errbuf);
		a->usage_error = true;
		return -EINVAL;
	}
	if (fl_store_open(env.db, true, &a->db, errbuf, sizeof(errbuf))) {
		/* one line that names the file, whatever SQLite said */
		if (!strncmp(errbuf, "cannot open '", 13))
			fprintf(stderr, "faultline-agent: %s\n", errbuf);
		else
			fprintf(stderr, "faultline-agent: cannot open '%s': %s\n",
				env.db, errbuf);
		return -EIO;
	}
	if (env.metrics_addr) {
		a->mx = metrics_new(argp_program_version + strlen("faultline-agent "));
		if (!a->mx) {
			fprintf(stderr, "faultline-agent: out of memory\n");
			return -ENOMEM;
		}
		err = metrics_listen(a->mx, env.metrics_addr, errbuf, sizeof(errbuf));
		if (err) {
			fprintf(stderr, "faultline-agent: %s\n", errbuf);
			a->usage_error = err == -EINVAL;
			return err;
		}
		agg_set_metrics(a->agg, a->mx);
	}
	/* commands sent before the collector is attached wait for the main
	 * loop: a `begin` takes effect when it is answered */
	if ((err = control_start(a)))
		return err;
	/* a restart names the routes the store already has, up to the cap */
	agg_set_max_routes(a->agg, env.max_routes);
	agg_set_backlog(a->agg, env.backlog);
	err = agg_seed_routes(a->agg, a->db, errbuf, sizeof(errbuf));
	if (err) {
		fprintf(stderr, "faultline-agent: %s\n",
			err == -ENOMEM ? "out of memory" : errbuf);
		return err;
	}
	return 0;
}

static int agent_table(struct agent *a, int64_t wall_off)
{
	a->ct = conn_table_new(a->id, a->agg, &a->stats, wall_off,
			       a->skel && !a->sock_path ?
			       bpf_map__fd(a->skel->maps.conns) : -1,
			       !env.no_paths);
	if (!a->ct) {
		fprintf(stderr, "faultline-agent: out of memory\n");
		return -ENOMEM;
	}
	if (a->skel && !a->sock_path)
		conn_table_set_mirrors(a->ct, bpf_map__fd(a->skel->maps.mirrors),
				       &a->skel->bss->mirrors_on);
	return 0;
}

/* --replay: the whole userspace pipeline over a recording, no kernel. */
static int agent_replay(struct agent *a)
{
	int64_t wall_off;
	struct record_reader *rf = record_open(env.replay, &wall_off);
	int err;

	if (!rf) {
		fprintf(stderr, "faultline-agent: cannot replay '%s': %s\n",
			env.replay, errno == EPROTO ? "not a faultline recording"
						    : strerror(errno));
		return -EINVAL;
	}
	err = agent_table(a, wall_off);
	if (!err)
		err = replay(a, rf);
	record_close(rf);
	if (a->ct) {
		if (flush_final(a) && !err)
			err = -EIO;
		print_stats(&a->stats);
	}
	return err;
}

/* Load and attach, adopt what already exists, then run until stopped. */
static int agent_live(struct agent *a)
{
	int64_t wall_off = (int64_t)(clock_ns(CLOCK_REALTIME) -
				     clock_ns(CLOCK_MONOTONIC));
	uint64_t adopted = 0;
	int err;

	a->wall_off = wall_off;
	if ((err = ensure_tracefs()) || (err = load_collector(a)) ||
	    (err = agent_table(a, wall_off)))
		return err;
	if (env.record && !(a->record = record_create(env.record, wall_off))) {
		fprintf(stderr, "faultline-agent: cannot create '%s': %s\n",
			env.record, strerror(errno));
		return -EIO;
	}
	a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.events),
				 handle_event, a, NULL);
	if (!a->rb) {
		fprintf(stderr, "faultline-agent: cannot open ring buffer: %s\n",
			strerror(errno));
		return -EIO;
	}
	/* attached first: a socket opened meanwhile is the collector's own.
	 * The socket path joins older sockets at their first bytes instead */
	if ((!a->sock_path &&
	     adopt_existing(handle_event, a, bpf_map__fd(a->skel->maps.conns),
			    bpf_map__fd(a->skel->maps.procs), (uint32_t)getpid(),
			    &adopted, &a->stats.conns_join_map_full)) ||
	    (!env.no_tls && !(a->tls = tls_new(a->skel, &a->stats)))) {
		fprintf(stderr, "faultline-agent: out of memory\n");
		return -ENOMEM;
	}
	if (a->tls)
		tls_scan_all(a->tls, clock_ns(CLOCK_MONOTONIC));
	if (a->sock_path)
		fprintf(stderr, "faultline-agent: ready: collector socket, capture "
				"%u bytes/call, ring buffer %u MiB, store '%s', "
				"existing connections joined at their first bytes\n",
			env.capture, env.ringbuf_mb, env.db);
	else
		fprintf(stderr, "faultline-agent: ready: collector syscall, capture "
				"%u bytes/syscall, ring buffer %u MiB, store '%s', "
				"%llu existing connections adopted\n",
			env.capture, env.ringbuf_mb, env.db,
			(unsigned long long)adopted);
	if (a->control)
		fprintf(stderr, "faultline-agent: control socket '%s'\n", env.control);
	err = run(a);
	/* the last events and windows are kept: flush before exit */
	collector_bpf__detach(a->skel);
	tls_free(a->tls);
	a->tls = NULL;
	ring_buffer__consume(a->rb);
	if (flush_final(a) && !err)
		err = -EIO;
	print_stats(&a->stats);
	return err;
}

static void agent_close(struct agent *a)
{
	if (a->record && fclose(a->record))
		fprintf(stderr, "faultline-agent: cannot write '%s': %s\n",
			env.record, strerror(errno));
	control_close(a->control);
	ring_buffer__free(a->rb);
	tls_free(a->tls);
	collector_bpf__destroy(a->skel);
	conn_table_free(a->ct);
	agg_free(a->agg);
	deploy_free(a->deploys);
	footprint_free(a->fp);
	netns_filter_free(a->netns);
	metrics_free(a->mx);
	identity_free(a->id);
	sqlite3_close(a->db);
}

int main(int argc, char **argv)
{
	static const struct argp argp = { opts, parse_arg, NULL, doc, NULL, NULL, NULL };
	struct agent a = { 0 };
	int err;

	argp_err_exit_status = 2;	/* usage errors: exit 2, like gatectl */
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	libbpf_set_print(libbpf_print);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	err = agent_open(&a);
	if (!err)
		err = env.replay ? agent_replay(&a) : agent_live(&a);
	agent_close(&a);
	return a.usage_error ? 2 : err ? 1 : 0;
}
