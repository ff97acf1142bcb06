// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl merge OUT IN...: join node-local stores into one.
 *
 * Every input is opened read-only (its own snapshot) and checked before OUT
 * is touched. OUT is created (0600) or opened writable, and every input is
 * added to it in one transaction: services and edges are matched by name
 * and by (client, server, protocol, operation) and get OUT's ids; windows,
 * edge sources, path links and agent counters with the same key add up
 * (histograms merge exactly), imports are appended. Merge is a sum, not a
 * union: merging a store twice counts its traffic twice. Any error rolls
 * the transaction back, and an OUT this command created is removed.
 */
#include "cmd/cmd.h"
#include "output/output.h"
#include "query/idmap.h"
#include "query/open.h"
#include "store.h"
#include "store_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* OUT's rules: the agent's kind rule (a protocol's kind is never lost),
 * histograms where one side has none kept as they are, node-local counters
 * of what was not seen summed into the nodes' total. */
static const struct fl_sw_rules merge_rules = {
	.kind = FL_SW_KIND_PROMOTE, .hist = FL_SW_HIST_KEEP_NULL,
	.counter = FL_SW_COUNTER_ADD,
};

/* Rows read from one input, per table (the summary). */
enum { T_SERVICES, T_EDGES, T_WINDOWS, T_SOURCES, T_LINKS, T_COUNTERS,
       T_IMPORTS, T_OPERATIONS, T_STATUSES, T_COUNT };
static const char *const table_names[T_COUNT] = {
	"services", "edges", "windows", "edge_sources", "path_links",
	"agent_counters", "imports", "operations", "edge_window_statuses",
};

/* One input store. */
struct merge_in {
	struct gate_ctx ctx;		/* read-only, its own snapshot */
	int version;			/* schema version */
	uint64_t rows[T_COUNT];		/* rows read */
	struct gate_idmap svc;		/* its service id -> OUT's */
	struct gate_idmap edge;		/* its edge id -> OUT's */
};

struct merge {
	struct gate_ctx *ctx;
	const char *out_path;
	sqlite3 *out;
	struct fl_sw sw;		/* the writer on OUT */
	struct merge_in *in;
	size_t nin;
	struct fl_hist scratch;		/* to check a blob before it is copied */
};

static void merge_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl merge [-o table|json] OUT IN...\n"
		"\n"
		"Join node-local stores IN... into OUT (created with mode 0600 if it\n"
		"does not exist; an existing OUT is added to). Services and edges are\n"
		"matched by name and by (client, server, protocol, operation). Windows\n"
		"with the same edge, source and start add up, their latency histograms\n"
		"merge exactly; edge sources add their samples (first seen min, last\n"
		"seen max); path links add their counts; agent counters add up per\n"
		"name (the total over the nodes); imports are appended.\n"
		"\n"
		"Merge is a sum, not a union: merging a store twice counts its traffic\n"
		"twice. Inputs of schema 1, 2 and 3 are read as they are, read-only.\n"
		"Everything is one transaction: on any error (an unreadable input, not a\n"
		"faultline store, a newer schema, a malformed histogram) OUT is left as\n"
		"it was, and an OUT this command created is removed.\n"
		"\n"
		"options:\n"
		"  -o, --output FMT    table or json (the rows read from each input)\n"
		"\n"
		"exit status: 0 merged, 2 usage, input or store error\n"
		"\n"
		"examples:\n"
		"  gatectl merge cluster.db node-a.db node-b.db node-c.db\n"
		"  gatectl --db cluster.db graph --since 1h\n");
}

static int out_fail(struct merge *m, const char *what)
{
	const char *why = m->sw.err[0] ? m->sw.err : sqlite3_errmsg(m->out);

	if (strstr(why, "malformed latency histogram"))
		return gate_fail(m->ctx, -EPROTO, "cannot merge %s into '%s': %s",
				 what, m->out_path, why);
	return gate_fail(m->ctx, -EIO, "cannot merge %s into '%s': %s", what,
			 m->out_path, why);
}

static int in_fail(struct merge *m, struct merge_in *in, const char *what)
{
	return gate_fail(m->ctx, -EIO, "cannot read %s in '%s': %s", what,
			 in->ctx.db_path, sqlite3_errmsg(in->ctx.db));
}

/* A write on OUT returned @err: the message about @what. */
static int out_check(struct merge *m, int err, const char *what)
{
	return err ? out_fail(m, what) : 0;
}

static const char *col_str(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

/* OUT's id of @in's service / edge @id. */
static int map_id(struct merge *m, struct merge_in *in, bool edge, int64_t id,
		  int64_t *out)
{
	size_t v;

	if (gate_idmap_get(edge ? &in->edge : &in->svc, id, &v)) {
		*out = (int64_t)v;
		return 0;
	}
	return gate_fail(m->ctx, -EPROTO, "%s %lld is missing in '%s'",
			 edge ? "edge" : "service", (long long)id, in->ctx.db_path);
}

static int put_map(struct merge *m, struct gate_idmap *map, int64_t from,
		   int64_t to)
{
	if (gate_idmap_put(map, from, (size_t)to))
		return gate_fail(m->ctx, -ENOMEM, "out of memory");
	return 0;
}

/* A malformed histogram must not be copied where nothing merges it. */
static int check_blob(struct merge *m, struct merge_in *in, sqlite3_stmt *st,
		      int col, int64_t edge_id)
{
	int err;

	if (sqlite3_column_type(st, col) != SQLITE_BLOB)
		return 0;
	fl_hist_reset(&m->scratch);
	err = fl_hist_decode_merge(&m->scratch, sqlite3_column_blob(st, col),
				   (size_t)sqlite3_column_bytes(st, col));
	if (err == -EINVAL)
		return gate_fail(m->ctx, -EPROTO,
				 "malformed latency histogram for edge %lld in '%s'",
				 (long long)edge_id, in->ctx.db_path);
	return err ? gate_fail(m->ctx, err, "out of memory") : 0;
}

/* Per-table row copiers: @st is the input row of the table's SELECT. */

static int row_service(struct merge *m, struct merge_in *in, sqlite3_stmt *st)
{
	int64_t id = 0;
	int err;

	err = fl_sw_service(&m->sw, col_str(st, 1), col_str(st, 2),
			    sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), &id);
	if ((err = out_check(m, err, "services")))
		return err;
	return put_map(m, &in->svc, sqlite3_column_int64(st, 0), id);
}

static int row_edge(struct merge *m, struct merge_in *in, sqlite3_stmt *st)
{
	struct fl_sw_edge e = {
		.protocol = col_str(st, 3), .operation = col_str(st, 4),
		.first_ns = sqlite3_column_int64(st, 5),
		.last_ns = sqlite3_column_int64(st, 6),
		.tls = sqlite3_column_int(st, 7) != 0,
	};
	int64_t id = 0;
	int err;

	if ((err = map_id(m, in, false, sqlite3_column_int64(st, 1), &e.client_id)) ||
	    (err = map_id(m, in, false, sqlite3_column_int64(st, 2), &e.server_id)))
		return err;
	if ((err = out_check(m, fl_sw_edge(&m->sw, &e, &id), "edges")))
		return err;
	return put_map(m, &in->edge, sqlite3_column_int64(st, 0), id);
}

static int row_window(struct merge *m, struct merge_in *in, sqlite3_stmt *st)
{
	struct fl_sw_window w = {
		.source = col_str(st, 1), .start_s = sqlite3_column_int64(st, 2),
		.width_s = sqlite3_column_int64(st, 3),
		.requests = (uint64_t)sqlite3_column_int64(st, 4),
		.errors = (uint64_t)sqlite3_column_int64(st, 5),
		.client_errors = (uint64_t)sqlite3_column_int64(st, 6),
		.conn_errors = (uint64_t)sqlite3_column_int64(st, 7),
		.req_bytes = (uint64_t)sqlite3_column_int64(st, 8),
		.resp_bytes = (uint64_t)sqlite3_column_int64(st, 9),
		.latency_sum_ns = (uint64_t)sqlite3_column_int64(st, 10),
	};
	int64_t eid = 0;
	int err;

	if ((err = map_id(m, in, true, sqlite3_column_int64(st, 0), &eid)) ||
	    (err = check_blob(m, in, st, 11, sqlite3_column_int64(st, 0))))
		return err;
	if (sqlite3_column_type(st, 11) == SQLITE_BLOB) {
		w.hist = sqlite3_column_blob(st, 11);
		w.hist_len = (size_t)sqlite3_column_bytes(st, 11);
	}
	return out_check(m, fl_sw_window(&m->sw, eid, &w), "edge_windows");
}

/* A status row (schema 5): added under OUT's cap of 16 per edge-window. */
static int row_status(struct merge *m, struct merge_in *in, sqlite3_stmt *st)
{
	int64_t eid = 0;
	int err;

	if ((err = map_id(m, in, true, sqlite3_column_int64(st, 0), &eid)))
		return err;
	return out_check(m, fl_sw_status(&m->sw, eid, col_str(st, 1),
					 sqlite3_column_int64(st, 2),
					 sqlite3_column_int64(st, 3), col_str(st, 4),
					 (uint64_t)sqlite3_column_int64(st, 5),
					 (uint64_t)sqlite3_column_int64(st, 6)),
			 "edge_window_statuses");
}

static int row_source(struct merge *m, struct merge_in *in, sqlite3_stmt *st)
{
	int64_t eid = 0;
	int err;

	if ((err = map_id(m, in, true, sqlite3_column_int64(st, 0), &eid)))
		return err;
	err = fl_sw_source(&m->sw, eid, col_str(st, 1),
			   (uint64_t)sqlite3_column_int64(st, 2),
			   sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4));
	return out_check(m, err, "edge_sources");
}

static int row_link(struct merge *m, struct merge_in *in, sqlite3_stmt *st)
{
	int64_t pid = 0, cid = 0;
	int err;

	if ((err = map_id(m, in, true, sqlite3_column_int64(st, 0), &pid)) ||
	    (err = map_id(m, in, true, sqlite3_column_int64(st, 1), &cid)))
		return err;
	err = fl_sw_link(&m->sw, pid, cid, col_str(st, 2), sqlite3_column_int64(st, 3),
			 sqlite3_column_int64(st, 4), (uint64_t)sqlite3_column_int64(st, 5));
	return out_check(m, err, "path_links");
}

static int row_counter(struct merge *m, struct merge_in *in, sqlite3_stmt *st)
{
	int err = fl_sw_counter(&m->sw, col_str(st, 0), sqlite3_column_int64(st, 1),
				sqlite3_column_int64(st, 2));

	return out_check(m, err, "agent_counters");
}

static int row_import(struct merge *m, struct merge_in *in, sqlite3_stmt *st)
{
	int err = fl_sw_import(&m->sw, col_str(st, 0), col_str(st, 1), col_str(st, 2),
			       sqlite3_column_int64(st, 3),
			       (uint64_t)sqlite3_column_int64(st, 4), NULL);

	return out_check(m, err, "imports");
}

/* schema operations: import ids are not carried over (imports append) */
static int row_operation(struct merge *m, struct merge_in *in, sqlite3_stmt *st)
{
	int64_t sid = 0;
	int err = map_id(m, in, false, sqlite3_column_int64(st, 0), &sid);

	if (err)
		return err;
	err = fl_sw_operation(&m->sw, sid, col_str(st, 1), col_str(st, 2),
			      col_str(st, 3), 0, sqlite3_column_int64(st, 4),
			      sqlite3_column_int64(st, 5));
	return out_check(m, err, "operations");
}

/*
 * What is read from an input, per table and schema version: the columns
 * the copier expects, a schema 1/2 store read as the 2 -> 3 migration
 * would have left it (windows of source 'ebpf', 60 s wide; one 'ebpf'
 * edge source per edge). NULL: the table does not exist in that version.
 */
struct copy {
	const char *what;
	int (*row)(struct merge *m, struct merge_in *in, sqlite3_stmt *st);
	const char *sql[FL_STORE_SCHEMA_VERSION + 1]; /* by schema version 1.. */
};

#define W_COLS "requests, errors, client_errors, conn_errors, req_bytes, " \
	       "resp_bytes, latency_sum_ns, latency_hist"
#define E_COLS "id, client_id, server_id, protocol, operation, first_seen_ns, last_seen_ns"
#define SRC_V2 "SELECT e.id, 'ebpf', coalesce((SELECT sum(w.requests + " \
	       "w.conn_errors) FROM edge_windows w WHERE w.edge_id = e.id), 0), " \
	       "e.first_seen_ns, e.last_seen_ns FROM edges e ORDER BY e.id"

static const struct copy copies[T_COUNT] = {
	[T_SERVICES] = { "services", row_service, { NULL,
		"SELECT id, name, kind, first_seen_ns, last_seen_ns FROM services ORDER BY id",
		"SELECT id, name, kind, first_seen_ns, last_seen_ns FROM services ORDER BY id",
		"SELECT id, name, kind, first_seen_ns, last_seen_ns FROM services ORDER BY id",
		"SELECT id, name, kind, first_seen_ns, last_seen_ns FROM services ORDER BY id",
		"SELECT id, name, kind, first_seen_ns, last_seen_ns FROM services ORDER BY id",
		"SELECT id, name, kind, first_seen_ns, last_seen_ns FROM services ORDER BY id",
		"SELECT id, name, kind, first_seen_ns, last_seen_ns FROM services ORDER BY id" } },
	[T_EDGES] = { "edges", row_edge, { NULL,
		"SELECT " E_COLS ", 0 FROM edges ORDER BY id",
		"SELECT " E_COLS ", tls FROM edges ORDER BY id",
		"SELECT " E_COLS ", tls FROM edges ORDER BY id",
		"SELECT " E_COLS ", tls FROM edges ORDER BY id",
		"SELECT " E_COLS ", tls FROM edges ORDER BY id",
		"SELECT " E_COLS ", tls FROM edges ORDER BY id",
		"SELECT " E_COLS ", tls FROM edges ORDER BY id" } },
	[T_WINDOWS] = { "edge_windows", row_window, { NULL,
		"SELECT edge_id, 'ebpf', window_start, 60, " W_COLS " FROM edge_windows",
		"SELECT edge_id, 'ebpf', window_start, 60, " W_COLS " FROM edge_windows",
		"SELECT edge_id, source, window_start, width_s, " W_COLS " FROM edge_windows",
		"SELECT edge_id, source, window_start, width_s, " W_COLS " FROM edge_windows",
		"SELECT edge_id, source, window_start, width_s, " W_COLS " FROM edge_windows",
		"SELECT edge_id, source, window_start, width_s, " W_COLS " FROM edge_windows",
		"SELECT edge_id, source, window_start, width_s, " W_COLS " FROM edge_windows" } },
	[T_SOURCES] = { "edge_sources", row_source, { NULL, SRC_V2, SRC_V2,
		"SELECT edge_id, source, samples, first_seen_ns, last_seen_ns FROM edge_sources",
		"SELECT edge_id, source, samples, first_seen_ns, last_seen_ns FROM edge_sources",
		"SELECT edge_id, source, samples, first_seen_ns, last_seen_ns FROM edge_sources",
		"SELECT edge_id, source, samples, first_seen_ns, last_seen_ns FROM edge_sources",
		"SELECT edge_id, source, samples, first_seen_ns, last_seen_ns FROM edge_sources" } },
	[T_LINKS] = { "path_links", row_link, { NULL, NULL, NULL,
		"SELECT parent_edge_id, child_edge_id, method, window_start, width_s, count FROM path_links",
		"SELECT parent_edge_id, child_edge_id, method, window_start, width_s, count FROM path_links",
		"SELECT parent_edge_id, child_edge_id, method, window_start, width_s, count FROM path_links",
		"SELECT parent_edge_id, child_edge_id, method, window_start, width_s, count FROM path_links",
		"SELECT parent_edge_id, child_edge_id, method, window_start, width_s, count FROM path_links" } },
	[T_COUNTERS] = { "agent_counters", row_counter, { NULL,
		"SELECT name, value, updated_ns FROM agent_counters",
		"SELECT name, value, updated_ns FROM agent_counters",
		"SELECT name, value, updated_ns FROM agent_counters",
		"SELECT name, value, updated_ns FROM agent_counters",
		"SELECT name, value, updated_ns FROM agent_counters",
		"SELECT name, value, updated_ns FROM agent_counters",
		"SELECT name, value, updated_ns FROM agent_counters" } },
	[T_IMPORTS] = { "imports", row_import, { NULL, NULL, NULL,
		"SELECT kind, path, service, imported_ns, items FROM imports ORDER BY id",
		"SELECT kind, path, service, imported_ns, items FROM imports ORDER BY id",
		"SELECT kind, path, service, imported_ns, items FROM imports ORDER BY id",
		"SELECT kind, path, service, imported_ns, items FROM imports ORDER BY id",
		"SELECT kind, path, service, imported_ns, items FROM imports ORDER BY id" } },
	[T_OPERATIONS] = { "operations", row_operation, { NULL, NULL, NULL, NULL,
		"SELECT service_id, protocol, operation, source, first_seen_ns, "
		"last_seen_ns FROM operations",
		"SELECT service_id, protocol, operation, source, first_seen_ns, "
		"last_seen_ns FROM operations",
		"SELECT service_id, protocol, operation, source, first_seen_ns, "
		"last_seen_ns FROM operations",
		"SELECT service_id, protocol, operation, source, first_seen_ns, "
		"last_seen_ns FROM operations" } },
	[T_STATUSES] = { "edge_window_statuses", row_status, { NULL, NULL, NULL, NULL, NULL,
		"SELECT edge_id, source, window_start, width_s, status, requests, "
		"errors FROM edge_window_statuses",
		"SELECT edge_id, source, window_start, width_s, status, requests, "
		"errors FROM edge_window_statuses",
		"SELECT edge_id, source, window_start, width_s, status, requests, "
		"errors FROM edge_window_statuses" } },
};

static int merge_table(struct merge *m, struct merge_in *in, int t)
{
	const char *sql = copies[t].sql[in->version];
	sqlite3_stmt *st;
	int rc, err = 0;

	if (!sql)
		return 0;
	if (sqlite3_prepare_v2(in->ctx.db, sql, -1, &st, NULL))
		return in_fail(m, in, copies[t].what);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		in->rows[t]++;
		if ((err = copies[t].row(m, in, st)))
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = in_fail(m, in, copies[t].what);
	sqlite3_finalize(st);
	return err;
}

/* Open every input read-only, refuse OUT among them; nothing written yet. */
static int merge_open_inputs(struct merge *m, char **paths)
{
	struct stat out_sb, sb;
	bool have_out = !stat(m->out_path, &out_sb);
	sqlite3_stmt *st;

	for (size_t i = 0; i < m->nin; i++) {
		struct merge_in *in = &m->in[i];
		in->ctx.db_path = paths[i];
		in->ctx.now_ns = m->ctx->now_ns;
		if (have_out && !stat(paths[i], &sb) && sb.st_dev == out_sb.st_dev &&
		    sb.st_ino == out_sb.st_ino)
			return gate_fail(m->ctx, -EINVAL,
					 "'%s' is both the output and an input", paths[i]);
		if (gate_open(&in->ctx))
			return gate_fail(m->ctx, -EPROTO, "%s", in->ctx.err);
		if (sqlite3_prepare_v2(in->ctx.db, "PRAGMA user_version", -1, &st, NULL))
			return in_fail(m, in, "the schema version");
		in->version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
		sqlite3_finalize(st);
		if (in->version < 1 || in->version > FL_STORE_SCHEMA_VERSION)
			return gate_fail(m->ctx, -EPROTO,
					 "cannot open '%s': not a faultline store (schema version %d)",
					 paths[i], in->version);
	}
	return 0;
}

static int merge_all(struct merge *m)
{
	int err = 0;

	fl_sw_init(&m->sw, m->out, &merge_rules);
	if (sqlite3_exec(m->out, "BEGIN IMMEDIATE", NULL, NULL, NULL))
		return out_fail(m, "begin");
	for (size_t i = 0; i < m->nin && !err; i++)
		for (int t = 0; t < T_COUNT && !err; t++)
			err = merge_table(m, &m->in[i], t);
	if (!err && sqlite3_exec(m->out, "COMMIT", NULL, NULL, NULL))
		err = out_fail(m, "commit");
	if (err)
		sqlite3_exec(m->out, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

static int merge_print(struct merge *m)
{
	json_t *root, *arr;
	int err;

	if (m->ctx->fmt != GATE_FMT_JSON) {
		printf("merged %zu store%s into '%s'\n", m->nin, m->nin == 1 ? "" : "s",
		       m->out_path);
		for (size_t i = 0; i < m->nin; i++) {
			printf("  %s (schema %d):", m->in[i].ctx.db_path, m->in[i].version);
			for (int t = 0; t < T_COUNT; t++)
				printf("%s %llu %s", t ? "," : "",
				       (unsigned long long)m->in[i].rows[t], table_names[t]);
			printf("\n");
		}
		return 0;
	}
	root = json_pack("{s:s, s:[]}", "out", m->out_path, "inputs");
	arr = root ? json_object_get(root, "inputs") : NULL;
	for (size_t i = 0; arr && i < m->nin; i++) {
		json_t *o = json_pack("{s:s, s:i}", "path", m->in[i].ctx.db_path,
				      "schema", m->in[i].version);
		for (int t = 0; o && t < T_COUNT; t++)
			json_object_set_new(o, table_names[t],
					    json_integer((json_int_t)m->in[i].rows[t]));
		if (!o || json_array_append_new(arr, o))
			arr = NULL;
	}
	if (!arr) {
		json_decref(root);
		return gate_fail(m->ctx, -ENOMEM, "out of memory");
	}
	err = gate_json_print(m->ctx, root);
	json_decref(root);
	return err;
}

static int merge_parse(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { GATE_COMMON_LONGOPTS, { 0 } };
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, merge_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
	}
	if ((err = gate_format_check(ctx)))
		return err;
	if (argc - optind < 2)
		return gate_fail(ctx, -EINVAL, "merge needs 'OUT IN...' (an output and at least one input)");
	return 0;
}

static void merge_release(struct merge *m)
{
	fl_sw_release(&m->sw);
	sqlite3_close(m->out);
	for (size_t i = 0; i < m->nin; i++) {
		gate_close(&m->in[i].ctx);
		gate_idmap_release(&m->in[i].svc);
		gate_idmap_release(&m->in[i].edge);
	}
	free(m->in);
	fl_hist_release(&m->scratch);
}

/* Remove an OUT this command created and could not fill. */
static void merge_unlink(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char buf[4096];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", path, sfx[i]);
		unlink(buf);
	}
}

static int merge_run(struct gate_ctx *ctx, int argc, char **argv)
{
	struct merge m = { .ctx = ctx, .scratch = FL_HIST_INIT };
	bool created;
	int err;

	err = merge_parse(ctx, argc, argv);
	if (err)
		return err;
	m.out_path = argv[optind];
	m.nin = (size_t)(argc - optind - 1);
	m.in = calloc(m.nin, sizeof(*m.in));
	if (!m.in)
		return gate_fail(ctx, -ENOMEM, "out of memory");
	err = merge_open_inputs(&m, argv + optind + 1);
	if (err)
		goto out_release;
	created = access(m.out_path, F_OK) != 0;
	if (!created && (err = gate_store_check(ctx, m.out_path)))
		goto out_release;
	err = gate_open_write(ctx, m.out_path, &m.out);
	if (!err)
		err = merge_all(&m);
	if (err && created) {
		merge_release(&m);
		merge_unlink(argv[optind]);
		return err;
	}
	if (!err)
		err = merge_print(&m);
out_release:
	merge_release(&m);
	return err;
}

const struct gate_cmd gate_cmd_merge = {
	.name = "merge",
	.summary = "join node-local stores into one, summing the same edges (writes)",
	.run = merge_run,
	.store = GATE_CMD_WRITES,
	.formats = GATE_FMTS_TABLE_JSON,
};
