// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl blindspots: what the collector could not see (DESIGN §3:
 * "everything the collector could not see is counted, per reason"), joined
 * with the graph. Six parts:
 *   - counters: the agent's non-zero counters of what it lost, saw only in
 *     part, did not understand or could not name, by severity, with the
 *     totals (events, bytes seen, ...) that give them a scale;
 *   - unresolved peers: services of kind external (named ADDR:PORT), with
 *     the traffic of the edges to them;
 *   - uncovered channels: what the collector does not trace at all;
 *   - unknown protocols: edges no parser named, and the agent's counts of
 *     connections it could not parse (blindspots_extra.c);
 *   - TLS not decrypted: connections seen only encrypted;
 *   - never observed: edges and operations known only from imported traces
 *     or API descriptions, which the agent has not seen.
 * Informational: exits 0 whatever it finds.
 */
#include "chars.h"
#include "grow.h"
#include "cmd/cmd.h"
#include "cmd/blindspots.h"
#include "output/output.h"
#include "output/render.h"
#include "query/open.h"
#include "query/time.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Severity groups of a counter, most severe first: the sort order. */
enum bs_group {
	BS_LOSS = 0,		/* events or connections never seen */
	BS_PARTIAL,		/* seen in part: bytes cut, gaps, lost opens */
	BS_NOT_UNDERSTOOD,	/* seen but not parsed */
	BS_IDENTITY,		/* seen but not named */
	BS_OTHER,		/* a counter this build does not know */
	BS_TOTAL,		/* not a blind spot: a total for scale */
};

static const char *const group_names[] = {
	[BS_LOSS] = "loss",
	[BS_PARTIAL] = "partial",
	[BS_NOT_UNDERSTOOD] = "not_understood",
	[BS_IDENTITY] = "identity",
	[BS_OTHER] = "other",
};

/*
 * Every agent_counters name this build knows (agent/agent.h AGENT_STATS and
 * the BPF counters of agent/aggregate.c put_counters). A row whose name is
 * not here is listed as BS_OTHER, "unknown counter", never dropped.
 */
struct bs_def {
	const char *name;
	enum bs_group group;
	const char *of;		/* the total it is a share of, or NULL */
	const char *reason;	/* one line; NULL for BS_TOTAL */
};

static const struct bs_def bs_defs[] = {
	{ "ringbuf_drops", BS_LOSS, "events",
	  "events lost: ring buffer full" },
	{ "conn_map_full", BS_LOSS, NULL,
	  "connections not tracked: connection map full" },
	{ "inflight_map_full", BS_LOSS, NULL,
	  "syscalls not seen: in-flight map full" },
	{ "payload_read_failed", BS_LOSS, NULL,
	  "payload copies that faulted: bytes not captured" },
	{ "conns_join_map_full", BS_LOSS, NULL,
	  "connections open before the agent started, not adopted: map full" },
	{ "store_errors", BS_LOSS, NULL,
	  "flushes to the store that failed (kept in memory and retried)" },
	{ "backlog_windows_dropped", BS_LOSS, NULL,
	  "minute windows not kept while the store could not be written: "
	  "the agent's --backlog-windows cap was reached" },
	{ "alloc_failures", BS_LOSS, "events",
	  "events whose handling failed to allocate memory: what they carried "
	  "was not counted" },
	{ "backlog_records_dropped", BS_LOSS, "records",
	  "records not counted while the store could not be written "
	  "(backlog cap reached)" },
	{ "bytes_truncated", BS_PARTIAL, "bytes_seen",
	  "payload bytes beyond the per-syscall capture limit (bodies skipped by length)" },
	{ "bytes_spliced", BS_PARTIAL, "bytes_seen",
	  "payload bytes moved by sendfile/splice: counted, never captured (bodies skipped by length)" },
	{ "gap_bytes", BS_PARTIAL, "bytes_seen",
	  "stream bytes never received (lost events): parsers skipped a gap" },
	{ "reordered_events", BS_PARTIAL, "data_events",
	  "data events behind the stream offset: dropped" },
	{ "conns_without_open", BS_PARTIAL, NULL,
	  "connections first seen mid-stream: their open was lost" },
	{ "routes_overflowed", BS_PARTIAL, "records",
	  "requests of HTTP routes over the agent's --max-routes per server: "
	  "counted as METHOD {overflow}" },
	{ "unknown_proto_conns", BS_NOT_UNDERSTOOD, NULL,
	  "connections no parser recognised" },
	{ "unknown_proto_bytes", BS_NOT_UNDERSTOOD, "bytes_seen",
	  "bytes on connections no parser recognised" },
	{ "parser_resyncs", BS_NOT_UNDERSTOOD, NULL,
	  "times a parser lost framing and resynchronised" },
	{ "parser_unparsed_bytes", BS_NOT_UNDERSTOOD, "bytes_seen",
	  "bytes parsers skipped unparsed" },
	{ "parser_unpaired", BS_NOT_UNDERSTOOD, "records",
	  "responses without a request, or requests without a response" },
	{ "requests_lost", BS_PARTIAL, "records",
	  "requests that made no record: they or their responses fell in a gap, "
	  "a truncated capture or garbage (e.g. inside a pipelined write)" },
	{ "parser_given_up", BS_NOT_UNDERSTOOD, NULL,
	  "connections a parser gave up on: the rest not parsed" },
	{ "http2_unnamed_streams", BS_NOT_UNDERSTOOD, "records",
	  "HTTP/2 and gRPC streams not recorded: a header block could not be "
	  "decoded (HPACK state lost to a gap, or a connection joined mid-life)" },
	{ "tls_attach_failures", BS_NOT_UNDERSTOOD, NULL,
	  "SSL_* uprobes that could not be attached: that TLS traffic stays encrypted" },
	{ "tls_opaque_conns", BS_NOT_UNDERSTOOD, NULL,
	  "TLS connections seen only encrypted: not parsed" },
	{ "tls_unmapped", BS_NOT_UNDERSTOOD, NULL,
	  "SSL calls with no nested socket syscall (memory BIOs, e.g. node): "
	  "that end's plaintext not seen" },
	{ "threads_evloop", BS_PARTIAL, NULL,
	  "threads that wait on epoll (event loops): the calls they make are "
	  "linked to a caller only by traceparent (call paths)" },
	{ "threads_multiplexed", BS_PARTIAL, NULL,
	  "threads seen serving two requests at once: their calls are not "
	  "linked by thread (call paths)" },
	{ "unresolved_peers", BS_IDENTITY, NULL,
	  "peers named ADDR:PORT: no local process found (see unresolved peers)" },
	/* totals, in the order they are shown */
	{ "events", BS_TOTAL, NULL, NULL },
	{ "records", BS_TOTAL, NULL, NULL },
	{ "data_events", BS_TOTAL, NULL, NULL },
	{ "bytes_seen", BS_TOTAL, NULL, NULL },
	{ "bytes_captured", BS_TOTAL, NULL, NULL },
	{ "conn_opens", BS_TOTAL, NULL, NULL },
	{ "conns_joined", BS_TOTAL, NULL, NULL },
	{ "conn_closes", BS_TOTAL, NULL, NULL },
	{ "conn_failures", BS_TOTAL, NULL, NULL },
	{ "conns_mirrored", BS_TOTAL, NULL, NULL },
	{ "conns_inherited", BS_TOTAL, NULL, NULL },
	{ "tls_libraries", BS_TOTAL, NULL, NULL },
	{ "tls_conns", BS_TOTAL, NULL, NULL },
	{ "links_thread", BS_TOTAL, NULL, NULL },
	{ "links_traceparent", BS_TOTAL, NULL, NULL },
	{ "backlog_windows", BS_TOTAL, NULL, NULL },
	{ "backlog_windows_peak", BS_TOTAL, NULL, NULL },
	/* not copied because the client end of the same connection was */
	{ "bytes_mirrored", BS_TOTAL, NULL, NULL },
};
#define N_DEFS (sizeof(bs_defs) / sizeof(bs_defs[0]))
#define TOTALS_TABLE_LINE 5	/* totals per line in the table */

/*
 * What the collector does not cover on this node today. One entry per
 * channel; remove an entry when the collector learns to see it.
 */
static const struct {
	const char *channel;
	const char *description;
} bs_channels[] = {
	{ "unix", "Unix domain sockets: local IPC over socket files is not traced" },
	{ "udp", "UDP, incl. DNS: only TCP connections are traced" },
	{ "io_uring", "I/O submitted through io_uring bypasses the syscall tracepoints" },
	{ "sendfile", "sendfile/splice bodies: bytes counted (bytes_spliced) "
		      "and skipped by length, payload never captured" },
	{ "tls-static", "TLS in binaries without exported SSL_* symbols "
			"(statically linked, Go): stays encrypted" },
	{ "quic/http3", "QUIC and HTTP/3 (UDP, encrypted in the transport)" },
};
#define N_CHANNELS (sizeof(bs_channels) / sizeof(bs_channels[0]))

/* A non-zero blind-spot counter. */
struct bs_counter {
	char *name;		/* owned */
	uint64_t value;
	const struct bs_def *def;	/* NULL: unknown counter */
};

/* An external service and the traffic of the edges to it, all windows. */
struct bs_peer {
	char *name;		/* owned */
	uint64_t requests, errors, conn_errors;
	uint64_t requests_from;	/* on edges where it is the client */
};

/* One invocation's findings. */
struct bs {
	struct gate_ctx *ctx;		/* borrowed */
	struct bs_extra extra;		/* the parts of blindspots_extra.c */
	bool have_rows;			/* agent_counters has any row */
	int64_t updated_ns;		/* max updated_ns of those rows */
	bool have_total[N_DEFS];	/* a row for bs_defs[i] (a total) */
	uint64_t total[N_DEFS];		/* its value */
	struct bs_counter *counters;	/* owned, sorted by group, name */
	size_t ncounters, capcounters;
	struct bs_peer *peers;		/* owned, by requests desc, name */
	size_t npeers, cappeers;
};

static void bs_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl blindspots [--db FILE] [-o table|json]\n"
		"\n"
		"What the collector could not see, in six parts:\n"
		"  counters            the agent's non-zero counters of what it lost\n"
		"                      (loss), saw in part (partial), could not parse\n"
		"                      (not_understood) or could not name (identity),\n"
		"                      most severe first, with the totals they are a\n"
		"                      share of (events, records, bytes_seen, ...)\n"
		"  unresolved peers    services of kind external (named ADDR:PORT) with\n"
		"                      the requests and errors of the edges to them, all\n"
		"                      windows, most requests first\n"
		"  unknown protocols   connections no parser recognised, edges of\n"
		"                      protocol unknown with their bytes\n"
		"  TLS not decrypted   connections seen only encrypted\n"
		"  never observed      edges and operations known only from imported\n"
		"                      traces or API descriptions\n"
		"  uncovered channels  what the collector does not trace on this node\n"
		"\n"
		"Informational: exits 0 whatever it finds, 2 on a usage or store error.\n"
		"\n"
		"options:\n"
		"  --db FILE           the store (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT    table or json\n"
		"\n"
		"examples:\n"
		"  gatectl blindspots\n"
		"  gatectl blindspots --db /var/lib/faultline/faultline.db -o json\n");
}

static const struct bs_def *def_find(const char *name)
{
	for (size_t i = 0; i < N_DEFS; i++)
		if (!strcmp(bs_defs[i].name, name))
			return &bs_defs[i];
	return NULL;
}

static int db_fail(struct bs *b, const char *what)
{
	return gate_fail(b->ctx, -EIO, "cannot %s in '%s': %s", what,
			 b->ctx->db_path, sqlite3_errmsg(b->ctx->db));
}

static int oom(struct bs *b)
{
	return gate_fail(b->ctx, -ENOMEM, "out of memory");
}

/* One agent_counters row: a total, a blind spot, or nothing (zero). */
static int bs_add_counter(struct bs *b, sqlite3_stmt *st)
{
	const char *name = (const char *)sqlite3_column_text(st, 0);
	uint64_t value = (uint64_t)sqlite3_column_int64(st, 1);
	int64_t updated = sqlite3_column_int64(st, 2);
	const struct bs_def *d = def_find(name ? name : "");
	struct bs_counter *c;

	if (!b->have_rows || updated > b->updated_ns)
		b->updated_ns = updated;
	b->have_rows = true;
	if (d && d->group == BS_TOTAL) {
		b->have_total[d - bs_defs] = true;
		b->total[d - bs_defs] = value;
		return 0;
	}
	if (!value)
		return 0;
	c = fl_grow(b->counters, &b->capcounters, b->ncounters, sizeof(*c), 16);
	if (!c)
		return oom(b);
	b->counters = c;
	c += b->ncounters;
	c->name = gate_col_text(st, 0);
	if (!c->name)
		return oom(b);
	c->value = value;
	c->def = d;
	b->ncounters++;
	return 0;
}

static enum bs_group counter_group(const struct bs_counter *c)
{
	return c->def ? c->def->group : BS_OTHER;
}

static int counter_cmp(const void *x, const void *y)
{
	const struct bs_counter *a = x, *b = y;
	enum bs_group ga = counter_group(a), gb = counter_group(b);

	if (ga != gb)
		return ga < gb ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int bs_read_counters(struct bs *b)
{
	sqlite3_stmt *st;
	int err = 0, rc;

	if (sqlite3_prepare_v2(b->ctx->db,
			       "SELECT name, value, updated_ns FROM agent_counters",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(b, "read agent_counters");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = bs_add_counter(b, st);
		if (err)
			goto out_finalize;
	}
	if (rc != SQLITE_DONE)
		err = db_fail(b, "read agent_counters");
out_finalize:
	sqlite3_finalize(st);
	if (!err && b->ncounters)
		qsort(b->counters, b->ncounters, sizeof(*b->counters), counter_cmp);
	return err;
}

/*
 * External services with the sums of the windows of the edges to them
 * (edges_server, then the edge_windows primary key), and of the edges from
 * them (the edges UNIQUE index by client_id). services.kind has no index:
 * one scan of services.
 */
static const char peers_sql[] =
	"SELECT s.name, coalesce(sum(w.requests), 0), coalesce(sum(w.errors), 0), "
	"coalesce(sum(w.conn_errors), 0), "
	"(SELECT coalesce(sum(wf.requests), 0) FROM edges ef "
	" JOIN edge_windows wf ON wf.edge_id = ef.id WHERE ef.client_id = s.id) "
	"FROM services s "
	"LEFT JOIN edges e ON e.server_id = s.id "
	"LEFT JOIN edge_windows w ON w.edge_id = e.id "
	"WHERE s.kind = 'external' "
	"GROUP BY s.id ORDER BY 2 DESC, s.name";

/* The same from schema 3: windows from traces only where none observed. */
static const char peers_sql_v3[] =
	"SELECT s.name, coalesce(sum(w.requests), 0), coalesce(sum(w.errors), 0), "
	"coalesce(sum(w.conn_errors), 0), "
	"(SELECT coalesce(sum(wf.requests), 0) FROM edges ef "
	" JOIN edge_windows wf ON wf.edge_id = ef.id WHERE ef.client_id = s.id "
	" AND " BS_TRACE_OK("wf", "ef.id") ") "
	"FROM services s "
	"LEFT JOIN edges e ON e.server_id = s.id "
	"LEFT JOIN edge_windows w ON w.edge_id = e.id AND " BS_TRACE_OK("w", "e.id") " "
	"WHERE s.kind = 'external' "
	"GROUP BY s.id ORDER BY 2 DESC, s.name";

static int bs_read_peers(struct bs *b)
{
	int schema = gate_schema_version(b->ctx);
	sqlite3_stmt *st;
	struct bs_peer *p;
	int err = 0, rc;

	if (schema < 0)
		return schema;
	if (sqlite3_prepare_v2(b->ctx->db, schema >= 3 ? peers_sql_v3 : peers_sql,
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(b, "read services");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		p = fl_grow(b->peers, &b->cappeers, b->npeers, sizeof(*p), 16);
		if (!p) {
			err = oom(b);
			goto out_finalize;
		}
		b->peers = p;
		p += b->npeers;
		p->name = gate_col_text(st, 0);
		if (!p->name) {
			err = oom(b);
			goto out_finalize;
		}
		p->requests = (uint64_t)sqlite3_column_int64(st, 1);
		p->errors = (uint64_t)sqlite3_column_int64(st, 2);
		p->conn_errors = (uint64_t)sqlite3_column_int64(st, 3);
		p->requests_from = (uint64_t)sqlite3_column_int64(st, 4);
		b->npeers++;
	}
	if (rc != SQLITE_DONE)
		err = db_fail(b, "read services");
out_finalize:
	sqlite3_finalize(st);
	return err;
}

/* The total @name, OUT: *@v. False when the store has no such row. */
static bool total_of(const struct bs *b, const char *name, uint64_t *v)
{
	const struct bs_def *d = name ? def_find(name) : NULL;

	if (!d || !b->have_total[d - bs_defs])
		return false;
	*v = b->total[d - bs_defs];
	return true;
}

/* Share of @c in its total; false when it has none, or the total is 0. */
static bool counter_ratio(const struct bs *b, const struct bs_counter *c,
			  double *ratio)
{
	uint64_t t;

	if (!c->def || !total_of(b, c->def->of, &t) || !t)
		return false;
	*ratio = (double)c->value / (double)t;
	return true;
}

static json_t *json_counter(const struct bs *b, const struct bs_counter *c)
{
	double ratio = 0;
	bool have = counter_ratio(b, c, &ratio);
	const char *of = c->def ? c->def->of : NULL;

	return json_pack("{s:s, s:I, s:s, s:s, s:o, s:o}",
			 "name", c->name, "value", (json_int_t)c->value,
			 "group", group_names[counter_group(c)],
			 "reason", c->def ? c->def->reason : "unknown counter",
			 "of", of ? json_string(of) : json_null(),
			 "ratio", have ? gate_json_rate(ratio) : json_null());
}

static int bs_json(struct bs *b)
{
	json_t *root, *totals, *arr;
	int err = -ENOMEM;

	root = json_pack("{s:o, s:{}, s:[], s:[], s:[]}",
			 "updated", b->have_rows ? gate_json_time(b->updated_ns)
						 : json_null(),
			 "totals", "counters", "unresolved_peers",
			 "uncovered_channels");
	if (!root)
		goto out_nomem;
	totals = json_object_get(root, "totals");
	for (size_t i = 0; i < N_DEFS; i++)
		if (bs_defs[i].group == BS_TOTAL &&
		    json_object_set_new(totals, bs_defs[i].name, b->have_total[i]
				? json_integer((json_int_t)b->total[i]) : json_null()))
			goto out_nomem;
	arr = json_object_get(root, "counters");
	for (size_t i = 0; i < b->ncounters; i++)
		if (json_array_append_new(arr, json_counter(b, &b->counters[i])))
			goto out_nomem;
	arr = json_object_get(root, "unresolved_peers");
	for (size_t i = 0; i < b->npeers; i++) {
		const struct bs_peer *p = &b->peers[i];
		if (json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I, s:I}",
				"name", p->name, "requests", (json_int_t)p->requests,
				"errors", (json_int_t)p->errors,
				"conn_errors", (json_int_t)p->conn_errors,
				"requests_from", (json_int_t)p->requests_from)))
			goto out_nomem;
	}
	arr = json_object_get(root, "uncovered_channels");
	for (size_t i = 0; i < N_CHANNELS; i++)
		if (json_array_append_new(arr, json_pack("{s:s, s:s}",
				"channel", bs_channels[i].channel,
				"description", bs_channels[i].description)))
			goto out_nomem;
	if (bs_extra_json(&b->extra, root))
		goto out_nomem;
	err = gate_json_print(b->ctx, root);
	json_decref(root);
	return err;
out_nomem:
	json_decref(root);
	return oom(b);
}

/* "updated T" and the totals, TOTALS_TABLE_LINE a line; "-" when absent. */
static void print_totals(const struct bs *b)
{
	char when[40];
	int n = 0;

	gate_time_format(b->updated_ns, when, sizeof(when));
	printf("updated  %s\n", when);
	for (size_t i = 0; i < N_DEFS; i++) {
		if (bs_defs[i].group != BS_TOTAL)
			continue;
		printf("%s%s ", n % TOTALS_TABLE_LINE ? ", " : n ? "\n         " : "totals   ",
		       bs_defs[i].name);
		if (b->have_total[i])
			printf("%llu", (unsigned long long)b->total[i]);
		else
			printf("-");
		n++;
	}
	printf("\n\n");
}

static int counters_table(const struct bs *b)
{
	static const char *const h[] = { "NAME", "GROUP", "VALUE", "SHARE", "REASON" };
	struct gate_table t;
	int err = 0;

	printf("COUNTERS\n");
	if (!b->have_rows) {
		printf("no agent counters in this store (not written by an agent)\n");
		return 0;
	}
	print_totals(b);
	gate_table_init(&t, h, "llrll", 5);
	for (size_t i = 0; i < b->ncounters && !err; i++) {
		const struct bs_counter *c = &b->counters[i];
		char value[24], share[64] = "-";
		double ratio;

		snprintf(value, sizeof(value), "%llu", (unsigned long long)c->value);
		if (counter_ratio(b, c, &ratio))
			snprintf(share, sizeof(share), "%.2f%% of %s", 100.0 * ratio,
				 c->def->of);
		const char *row[] = { c->name, group_names[counter_group(c)], value,
				      share, c->def ? c->def->reason : "unknown counter" };
		err = gate_table_row(&t, row);
	}
	if (!err && b->ncounters)
		gate_table_print(&t, stdout);
	else if (!err)
		printf("none: every counter of what was not seen is 0\n");
	gate_table_release(&t);
	return err;
}

static int peers_table(const struct bs *b)
{
	static const char *const h[] = { "NAME", "REQS", "ERRS", "CONN_ERRS", "REQS_FROM" };
	struct gate_table t;
	int err = 0;

	gate_table_init(&t, h, "lrrrr", 5);
	for (size_t i = 0; i < b->npeers && !err; i++) {
		const struct bs_peer *p = &b->peers[i];
		char reqs[24], errs[24], cerrs[24], from[24];

		snprintf(reqs, sizeof(reqs), "%llu", (unsigned long long)p->requests);
		snprintf(errs, sizeof(errs), "%llu", (unsigned long long)p->errors);
		snprintf(cerrs, sizeof(cerrs), "%llu", (unsigned long long)p->conn_errors);
		snprintf(from, sizeof(from), "%llu", (unsigned long long)p->requests_from);
		const char *row[] = { p->name, reqs, errs, cerrs, from };
		err = gate_table_row(&t, row);
	}
	if (!err) {
		printf("\nUNRESOLVED PEERS\n");
		if (b->npeers)
			gate_table_print(&t, stdout);
		else
			printf("none: every peer was named\n");
	}
	gate_table_release(&t);
	return err;
}

static int bs_table(struct bs *b)
{
	static const char *const h[] = { "CHANNEL", "DESCRIPTION" };
	struct gate_table t;
	int err;

	err = counters_table(b);
	if (!err)
		err = peers_table(b);
	if (!err)
		err = bs_extra_table(&b->extra);
	if (err)
		return oom(b);
	gate_table_init(&t, h, "ll", 2);
	for (size_t i = 0; i < N_CHANNELS && !err; i++) {
		const char *row[] = { bs_channels[i].channel, bs_channels[i].description };
		err = gate_table_row(&t, row);
	}
	if (!err) {
		printf("\nUNCOVERED CHANNELS\n");
		gate_table_print(&t, stdout);
	}
	gate_table_release(&t);
	return err ? oom(b) : 0;
}

static void bs_release(struct bs *b)
{
	for (size_t i = 0; i < b->ncounters; i++)
		free(b->counters[i].name);
	free(b->counters);
	for (size_t i = 0; i < b->npeers; i++)
		free(b->peers[i].name);
	free(b->peers);
	bs_extra_release(&b->extra);
}

static int bs_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { GATE_COMMON_LONGOPTS, { 0 } };
	struct bs b = { .ctx = ctx };
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, bs_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
	}
	err = gate_no_args(ctx, argc, argv);
	if (err)
		return err;
	err = gate_open(ctx);
	if (err)
		return err;
	err = bs_read_counters(&b);
	if (!err)
		err = bs_read_peers(&b);
	if (!err)
		err = bs_extra_read(ctx, &b.extra);
	if (!err)
		err = ctx->fmt == GATE_FMT_JSON ? bs_json(&b) : bs_table(&b);
	bs_release(&b);
	return err;
}

const struct gate_cmd gate_cmd_blindspots = {
	.name = "blindspots",
	.summary = "what the collector could not see, joined with the graph",
	.run = bs_run,
	.store = GATE_CMD_READS,
	.formats = GATE_FMTS_TABLE_JSON,
};

const char *bs_reason(const char *name)
{
	const struct bs_def *d = def_find(name);

	return d && d->group != BS_TOTAL ? d->reason : NULL;
}

int bs_not_seen(struct gate_ctx *ctx, struct gate_render_blind **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct gate_render_blind *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc, err = 0;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(ctx->db, "SELECT name, value FROM agent_counters "
			       "WHERE value > 0 ORDER BY name", -1, &st, NULL))
		return gate_fail(ctx, -EIO, "cannot read agent counters in '%s': %s",
				 ctx->db_path, sqlite3_errmsg(ctx->db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *what = name ? bs_reason(name) : NULL;

		if (!what)
			continue;
		if (cnt == cap) {
			struct gate_render_blind *nv;
			cap = cap ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = gate_fail(ctx, -ENOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", name);
		v[cnt].value = (uint64_t)sqlite3_column_int64(st, 1);
		v[cnt++].what = what;
	}
	if (rc != SQLITE_DONE)
		err = gate_fail(ctx, -EIO, "cannot read agent counters in '%s': %s",
				ctx->db_path, sqlite3_errmsg(ctx->db));
out:
	sqlite3_finalize(st);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}
