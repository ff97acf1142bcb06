// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl compact: roll up and expire a store no agent writes (a merged
 * one, a copy), with lib/compact.c, the code the agent runs every hour.
 * Also the writable open shared by the commands that write (merge).
 */
#include "cmd/cmd.h"
#include "output/output.h"
#include "query/open.h"
#include "query/time.h"
#include "compact.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct compact_opts {
	const char *rollup_arg;
	const char *retention_arg;
	const char *test_retention_arg;
	int64_t rollup_after_s;
	int64_t retention_s;
	int64_t test_retention_s;
	int64_t now_ns;
};

static void compact_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl compact [--rollup-after AGE] [--retention AGE]\n"
		"                       [--test-retention AGE] [--now T]\n"
		"                       [--db FILE] [-o table|json]\n"
		"\n"
		"Roll up and expire a store, as the agent does every hour with its own\n"
		"store: for stores no agent writes (merged ones, copies). In one\n"
		"transaction:\n"
		"  - minute windows of whole hours older than AGE are merged into one\n"
		"    hourly window per edge and source (counters summed, latency\n"
		"    histograms merged exactly), path links likewise;\n"
		"  - windows and path links that ended more than --retention ago are\n"
		"    deleted, then the edges and services left without windows and not\n"
		"    seen since; edges known from a schema import are kept;\n"
		"  - test runs that started more than --test-retention ago are deleted\n"
		"    with their results and footprints, but the newest learn run of\n"
		"    each stack (in a second transaction).\n"
		"Opens the store writable (an older schema is migrated first).\n"
		"\n"
		"options:\n"
		"  --rollup-after AGE  roll up minutes older than AGE (default 24h)\n"
		"  --retention AGE     delete what is older than AGE (default 7d)\n"
		"  --test-retention AGE  delete test runs older than AGE (default 30d)\n"
		"                      AGE: 90m, 24h, 7d, 1d12h, or never\n"
		"  --now T             ages count back from T instead of the clock\n"
		"                      (RFC 3339 or @unix-seconds; replays and tests)\n"
		"  --db FILE           the store (default " GATE_DEFAULT_DB ")\n"
		"  -o, --output FMT    table or json\n"
		"\n"
		"exit status: 0 compacted, 2 usage, input or store error (the store is\n"
		"unchanged)\n"
		"\n"
		"examples:\n"
		"  gatectl compact --db merged.db\n"
		"  gatectl compact --db merged.db --rollup-after 1h --retention 30d -o json\n");
}

static int age_arg(struct gate_ctx *ctx, const char *opt, const char *s,
		   int64_t *out)
{
	if (fl_compact_duration_parse(s, out))
		return gate_fail(ctx, -EINVAL,
				 "invalid age '%s' for '%s' (want a duration like 24h, 7d, or never)",
				 s, opt);
	return 0;
}

static int compact_parse(struct gate_ctx *ctx, int argc, char **argv,
			 struct compact_opts *o)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "rollup-after", required_argument, NULL, 'R' },
		{ "retention", required_argument, NULL, 'K' },
		{ "test-retention", required_argument, NULL, 'T' },
		{ "now", required_argument, NULL, 'N' },
		{ 0 }
	};
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, compact_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		if (c == 'R')
			err = age_arg(ctx, "--rollup-after", o->rollup_arg = optarg,
				      &o->rollup_after_s);
		else if (c == 'K')
			err = age_arg(ctx, "--retention", o->retention_arg = optarg,
				      &o->retention_s);
		else if (c == 'T')
			err = age_arg(ctx, "--test-retention",
				      o->test_retention_arg = optarg,
				      &o->test_retention_s);
		else if (c == 'N')
			err = gate_time_arg(ctx, "--now", optarg, &o->now_ns);
		if (err)
			return err;
	}
	if ((err = gate_no_args(ctx, argc, argv)))
		return err;
	return 0;
}

static json_t *json_age(int64_t s)
{
	return s == FL_COMPACT_NEVER ? json_null() : json_integer(s);
}

static int compact_print(struct gate_ctx *ctx, const struct compact_opts *o,
			 const struct fl_compact_stats *st)
{
	char now[40];
	json_t *root;
	int err;

	if (ctx->fmt == GATE_FMT_JSON) {
		root = json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				 "db", ctx->db_path, "now", gate_json_time(o->now_ns),
				 "rollup_after_s", json_age(o->rollup_after_s),
				 "retention_s", json_age(o->retention_s),
				 "windows_rolled", (json_int_t)st->windows_rolled,
				 "hours_written", (json_int_t)st->hours_written,
				 "links_rolled", (json_int_t)st->links_rolled,
				 "link_hours_written", (json_int_t)st->link_hours_written,
				 "windows_expired", (json_int_t)st->windows_expired,
				 "links_expired", (json_int_t)st->links_expired,
				 "sources_expired", (json_int_t)st->sources_expired,
				 "edges_expired", (json_int_t)st->edges_expired,
				 "services_expired", (json_int_t)st->services_expired);
		/* schema 5 additions (extend, never break) */
		if (root && json_object_update_new(root, json_pack(
				"{s:o, s:I, s:I, s:I, s:I}",
				"test_retention_s", json_age(o->test_retention_s),
				"statuses_rolled", (json_int_t)st->statuses_rolled,
				"statuses_expired", (json_int_t)st->statuses_expired,
				"test_runs_expired", (json_int_t)st->test_runs_expired,
				"footprints_expired", (json_int_t)st->footprints_expired))) {
			json_decref(root);
			root = NULL;
		}
		if (!root)
			return gate_fail(ctx, -ENOMEM, "out of memory");
		err = gate_json_print(ctx, root);
		json_decref(root);
		return err;
	}
	gate_time_format(o->now_ns, now, sizeof(now));
	printf("compacted '%s' at %s (roll-up after %s, retention %s)\n"
	       "rolled up:  %llu minute windows into %llu hourly, %llu minute path links into %llu hourly\n"
	       "expired:    %llu windows, %llu path links, %llu edge sources, %llu edges, %llu services\n"
	       "tests:      %llu test runs expired (test retention %s), %llu footprint rows\n",
	       ctx->db_path, now, o->rollup_arg, o->retention_arg,
	       (unsigned long long)st->windows_rolled,
	       (unsigned long long)st->hours_written,
	       (unsigned long long)st->links_rolled,
	       (unsigned long long)st->link_hours_written,
	       (unsigned long long)st->windows_expired,
	       (unsigned long long)st->links_expired,
	       (unsigned long long)st->sources_expired,
	       (unsigned long long)st->edges_expired,
	       (unsigned long long)st->services_expired,
	       (unsigned long long)st->test_runs_expired, o->test_retention_arg,
	       (unsigned long long)st->footprints_expired);
	return 0;
}

static int compact_run(struct gate_ctx *ctx, int argc, char **argv)
{
	struct compact_opts o = {
		.rollup_arg = "24h", .retention_arg = "7d", .test_retention_arg = "30d",
		.test_retention_s = FL_COMPACT_TEST_RETENTION_DEFAULT_S,
		.rollup_after_s = FL_COMPACT_ROLLUP_DEFAULT_S,
		.retention_s = FL_COMPACT_RETENTION_DEFAULT_S,
		.now_ns = ctx->now_ns,
	};
	struct fl_compact_stats st;
	char why[400] = "";
	sqlite3 *db = NULL;
	int err;

	err = compact_parse(ctx, argc, argv, &o);
	if (err)
		return err;
	if ((err = gate_store_check(ctx, ctx->db_path)) ||
	    (err = gate_open_write(ctx, ctx->db_path, &db)))
		return err;
	err = fl_store_compact(db, o.now_ns / GATE_NS_PER_S, o.rollup_after_s,
			       o.retention_s, &st, why, sizeof(why));
	if (!err)
		err = fl_store_expire_tests(db, o.now_ns / GATE_NS_PER_S,
					    o.test_retention_s, &st, why, sizeof(why));
	if (err)
		err = gate_fail(ctx, err, "%s in '%s'", why, ctx->db_path);
	sqlite3_close(db);
	return err ? err : compact_print(ctx, &o, &st);
}

const struct gate_cmd gate_cmd_compact = {
	.name = "compact",
	.summary = "roll up old minute windows into hours, expire old data (writes)",
	.run = compact_run,
	.store = GATE_CMD_WRITES,
	.formats = GATE_FMTS_TABLE_JSON,
};
