// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl tests: the tests the gate knows, from the results of every
 * learn, gate and rerun run: runs, pass rate, mean duration, last failure,
 * footprint size; flaky ones (passed and failed on the same versions) with
 * the edges whose statuses differ between their passing and failing runs
 * (the kernel's evidence of why). `tests quarantine NAME` keeps a test
 * running but never failing a gate; `tests release NAME` undoes it.
 */
#include "cmd/cmd.h"
#include "judge/judge.h"
#include "output/output.h"
#include "query/after.h"
#include "query/open.h"
#include "query/time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void tests_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl tests [--flaky] [--db FILE] [-o table|json]\n"
		"       gatectl tests quarantine NAME [--reason TEXT]\n"
		"       gatectl tests release NAME\n"
		"\n"
		"List the tests of learn, gate and rerun runs: runs, passes, fails,\n"
		"pass rate, mean duration, last failure, footprint size (edges), and\n"
		"whether each is flaky (it passed and failed on the same versions)\n"
		"or quarantined. --flaky lists the flaky ones only, each with the\n"
		"edges whose statuses differ between its passing and failing runs.\n"
		"A quarantined test still runs, but never fails a gate.\n"
		"\n"
		"examples:\n"
		"  gatectl tests --flaky\n"
		"  gatectl tests quarantine checkout-smoke --reason 'timeout on redis'\n");
}

#define TESTS_SQL                                                             \
	"WITH r AS (SELECT tr.test, tr.result, tr.duration_ns, t.started_ns, "    \
	"  coalesce(t.versions, '') AS v FROM test_results tr JOIN test_runs t "  \
	"  ON t.id = tr.run_id WHERE t.kind IN ('learn', 'gate', 'rerun') AND "   \
	"  tr.result IN ('pass', 'fail')) "                                       \
	"SELECT test, count(*), sum(result = 'pass'), sum(result = 'fail'), "     \
	"  avg(duration_ns), max(CASE WHEN result = 'fail' THEN started_ns END), " \
	"  (SELECT count(*) FROM (SELECT DISTINCT client, server, protocol, "     \
	"   operation FROM footprints f WHERE f.test = r.test)), "                 \
	"  EXISTS (SELECT 1 FROM r a JOIN r b ON a.test = b.test AND a.v = b.v "   \
	"   WHERE a.test = r.test AND a.result = 'pass' AND b.result = 'fail'), "  \
	"  EXISTS (SELECT 1 FROM test_quarantine q WHERE q.test = r.test) "        \
	"FROM r GROUP BY test ORDER BY test"

/* statuses seen only in the failing or only in the passing runs */
#define DIFF_SQL                                                               \
	"SELECT f.client, f.server, f.protocol, f.operation, f.status, "          \
	"  sum(CASE WHEN tr.result = 'fail' THEN f.requests END), "               \
	"  sum(CASE WHEN tr.result = 'pass' THEN f.requests END) "                \
	"FROM footprints f JOIN test_results tr ON tr.run_id = f.run_id AND "     \
	"  tr.test = f.test JOIN test_runs t ON t.id = f.run_id "                 \
	"WHERE f.test = ?1 AND tr.result IN ('pass', 'fail') AND "                \
	"  t.kind IN ('learn', 'gate', 'rerun') "                                 \
	"GROUP BY 1, 2, 3, 4, 5 HAVING (sum(tr.result = 'fail') > 0) != "         \
	"  (sum(tr.result = 'pass') > 0) ORDER BY 1, 2, 3, 4, 5"

static int tests_diff(struct gate_ctx *ctx, const char *test, json_t *arr)
{
	sqlite3_stmt *st;
	int rc, err = 0;

	if (sqlite3_prepare_v2(ctx->db, DIFF_SQL, -1, &st, NULL))
		return gate_fail(ctx, -EIO, "cannot read '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	sqlite3_bind_text(st, 1, test, -1, SQLITE_STATIC);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *c[5];

		for (int i = 0; i < 5; i++)
			c[i] = (const char *)sqlite3_column_text(st, i);
		if (arr) {
			json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
					      "client", c[0], "server", c[1], "protocol", c[2],
					      "operation", c[3], "status", c[4],
					      "failing_requests", (json_int_t)sqlite3_column_int64(st, 5),
					      "passing_requests", (json_int_t)sqlite3_column_int64(st, 6));
			if (json_array_append_new(arr, o))
				err = gate_fail(ctx, -ENOMEM, "out of memory");
		} else {
			bool failing = sqlite3_column_type(st, 5) != SQLITE_NULL;

			printf("    %s -> %s %s %s: status %s only in %s runs (%lld requests)\n",
			       c[0], c[1], c[2], c[3], c[4], failing ? "failing" : "passing",
			       (long long)sqlite3_column_int64(st, failing ? 5 : 6));
		}
	}
	sqlite3_finalize(st);
	return err;
}

static int tests_list(struct gate_ctx *ctx, bool flaky_only)
{
	static const char *const heads[] = { "TEST", "RUNS", "PASS", "FAIL", "PASS%",
					     "MEAN_S", "LAST_FAILURE", "EDGES", "FLAKY",
					     "QUARANTINED" };
	struct gate_table t;
	json_t *root = NULL, *arr = NULL;
	sqlite3_stmt *st;
	int err = 0, rc;
	char **flaky = NULL;
	size_t nflaky = 0;

	if (sqlite3_prepare_v2(ctx->db, TESTS_SQL, -1, &st, NULL))
		return gate_fail(ctx, -EIO, "cannot read '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	gate_table_init(&t, heads, "lrrrrrlrll", 10);
	if (ctx->fmt == GATE_FMT_JSON) {
		root = json_pack("{s:[]}", "tests");
		arr = root ? json_object_get(root, "tests") : NULL;
		if (!arr)
			err = gate_fail(ctx, -ENOMEM, "out of memory");
	}
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int64_t runs = sqlite3_column_int64(st, 1), pass = sqlite3_column_int64(st, 2);
		int64_t fail = sqlite3_column_int64(st, 3), edges = sqlite3_column_int64(st, 6);
		double mean_s = sqlite3_column_double(st, 4) / 1e9;
		bool has_fail = sqlite3_column_type(st, 5) != SQLITE_NULL;
		int64_t last = sqlite3_column_int64(st, 5);
		bool flaky_t = sqlite3_column_int(st, 7), quar = sqlite3_column_int(st, 8);

		if (flaky_only && !flaky_t)
			continue;
		if (arr) {
			json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:o, s:f, s:o, s:I, s:b, s:b}",
					      "name", name, "runs", (json_int_t)runs,
					      "passes", (json_int_t)pass, "fails", (json_int_t)fail,
					      "pass_rate", gate_json_rate(runs ? (double)pass / (double)runs : 0),
					      "mean_duration_s", mean_s,
					      "last_failure", has_fail ? gate_json_time(last) : json_null(),
					      "footprint_edges", (json_int_t)edges,
					      "flaky", flaky_t, "quarantined", quar);
			if (o && flaky_t) {
				json_t *d = json_array();
				json_object_set_new(o, "differing", d);
				err = tests_diff(ctx, name, d);
			}
			if (!err && json_array_append_new(arr, o))
				err = gate_fail(ctx, -ENOMEM, "out of memory");
			continue;
		}
		char c[9][40];
		snprintf(c[0], 40, "%lld", (long long)runs);
		snprintf(c[1], 40, "%lld", (long long)pass);
		snprintf(c[2], 40, "%lld", (long long)fail);
		snprintf(c[3], 40, "%.1f", runs ? 100.0 * (double)pass / (double)runs : 0);
		snprintf(c[4], 40, "%.3f", mean_s);
		if (has_fail)
			gate_time_format(last, c[5], 40);
		else
			snprintf(c[5], 40, "-");
		snprintf(c[6], 40, "%lld", (long long)edges);
		const char *row[] = { name, c[0], c[1], c[2], c[3], c[4], c[5], c[6],
				      flaky_t ? "yes" : "no", quar ? "yes" : "no" };
		err = gate_table_row(&t, row);
		if (!err && flaky_t) {
			char **nf = realloc(flaky, (nflaky + 1) * sizeof(*nf));
			if (!nf || !(nf[nflaky] = strdup(name))) {
				free(nf ? nf : flaky);
				flaky = NULL;
				nflaky = 0;
				err = gate_fail(ctx, -ENOMEM, "out of memory");
			} else {
				flaky = nf;
				nflaky++;
			}
		}
	}
	sqlite3_finalize(st);
	if (!err && root) {
		err = gate_json_print(ctx, root);
	} else if (!err) {
		if (t.nrows)
			gate_table_print(&t, stdout);
		else
			printf(flaky_only ? "no flaky tests\n" : "no test results\n");
		for (size_t i = 0; i < nflaky && !err && flaky_only; i++) {
			printf("%s: edges whose statuses differ between passing and "
			       "failing runs:\n", flaky[i]);
			err = tests_diff(ctx, flaky[i], NULL);
		}
	}
	for (size_t i = 0; i < nflaky; i++)
		free(flaky[i]);
	free(flaky);
	json_decref(root);
	gate_table_release(&t);
	return err;
}

static int tests_quarantine(struct gate_ctx *ctx, const char *name,
			    const char *reason, bool on)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(ctx->db, on ? "INSERT INTO test_quarantine(test, since_ns, "
				   "reason) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET "
				   "reason = excluded.reason"
				 : "DELETE FROM test_quarantine WHERE test = ?1",
			       -1, &st, NULL))
		return gate_fail(ctx, -EIO, "cannot write '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (on) {
		sqlite3_bind_int64(st, 2, ctx->now_ns);
		if (reason)
			sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return gate_fail(ctx, -EIO, "cannot write '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	if (!on && !sqlite3_changes(ctx->db))
		return gate_fail(ctx, -ENOENT, "test '%s' is not quarantined", name);
	if (ctx->fmt == GATE_FMT_JSON) {
		json_t *j = json_pack("{s:s, s:b}", "test", name, "quarantined", on);
		int err = j ? gate_json_print(ctx, j) : gate_fail(ctx, -ENOMEM, "out of memory");
		json_decref(j);
		return err;
	}
	printf(on ? "test '%s' quarantined: it runs, but never fails a gate\n"
		  : "test '%s' released from quarantine\n", name);
	return 0;
}

static int tests_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "flaky", no_argument, NULL, 'F' },
		{ "reason", required_argument, NULL, 'r' },
		{ 0 }
	};
	const char *reason = NULL, *verb = NULL, *name = NULL;
	bool flaky = false;
	int c, err;

	while ((c = getopt_long(argc, argv, "-" GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, tests_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		if (c == 'F')
			flaky = true;
		else if (c == 'r')
			reason = optarg;
		else if (c == 1 && !verb)
			verb = optarg;
		else if (c == 1 && !name)
			name = optarg;
		else if (c == 1)
			return gate_fail(ctx, -EINVAL, "unexpected argument '%s'", optarg);
	}
	if ((err = gate_format_check(ctx)))
		return err;
	if (!verb) {
		if (reason)
			return gate_fail(ctx, -EINVAL, "'--reason' is for 'tests quarantine'");
		if ((err = gate_open(ctx)) || (err = gate_after_schema(ctx, "tests")))
			return err;
		return tests_list(ctx, flaky);
	}
	if (strcmp(verb, "quarantine") && strcmp(verb, "release"))
		return gate_fail(ctx, -EINVAL, "unknown tests command '%s' (want "
				 "quarantine or release)", verb);
	if (!name || !name[0])
		return gate_fail(ctx, -EINVAL, "tests %s needs a test NAME", verb);
	if (flaky)
		return gate_fail(ctx, -EINVAL, "'--flaky' is for listing tests");
	if ((err = gate_open_writable(ctx)) || (err = gate_after_schema(ctx, "tests")))
		return err;
	return tests_quarantine(ctx, name, reason, verb[0] == 'q');
}

const struct gate_cmd gate_cmd_tests = {
	.name = "tests",
	.summary = "tests with pass rates, flaky ones and why, quarantine",
	.run = tests_run,
	.store = GATE_CMD_READS,	/* quarantine and release open it writable */
};
