// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl accuracy: how right the gate's predictions were, from the
 * outcomes `verify` stored: predictions made, hit / miss / unverifiable,
 * the false-negative rate (predicted healthy, regressed in production) and
 * the false-positive rate (red gates whose change deployed later, after an
 * override, and verified with no regression), per changed service and per
 * day.
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

static void accuracy_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl accuracy [--since 30d] [--service S] [--db FILE]\n"
		"                        [-o table|json]\n"
		"\n"
		"Score the gate: for the gate runs since T (by the services they\n"
		"changed, and per day), the predictions made and how `verify` found\n"
		"them in production (the latest verification of each):\n"
		"  hit / miss / unverifiable / unscored (not verified yet)\n"
		"  fn_rate   misses of predicted-healthy edges / predictions scored\n"
		"  red       gates that failed; red_deployed: of which the change was\n"
		"            deployed anyway and verified\n"
		"  fp_rate   red gates deployed that verified pass / red_deployed\n"
		"\n"
		"examples:\n"
		"  gatectl accuracy\n"
		"  gatectl accuracy --since 7d --service checkout -o json\n");
}

struct acc_row {
	char key[128];		/* service or day */
	uint64_t preds, hit, miss, unverifiable, unscored, fn;
	uint64_t red, red_deployed, fp;
};

static json_t *rate(uint64_t n, uint64_t d)
{
	return d ? gate_json_rate((double)n / (double)d) : json_null();
}

static json_t *row_json(const struct acc_row *r, const char *keyname)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:o}",
			 keyname, r->key, "predictions", (json_int_t)r->preds,
			 "hit", (json_int_t)r->hit, "miss", (json_int_t)r->miss,
			 "unverifiable", (json_int_t)r->unverifiable,
			 "unscored", (json_int_t)r->unscored,
			 "fn_rate", rate(r->fn, r->hit + r->miss),
			 "red", (json_int_t)r->red, "red_deployed", (json_int_t)r->red_deployed,
			 "fp", (json_int_t)r->fp, "fp_rate", rate(r->fp, r->red_deployed));
}

static void row_cells(const struct acc_row *r, char cells[11][32])
{
	uint64_t v[] = { r->preds, r->hit, r->miss, r->unverifiable, r->unscored };

	for (int i = 0; i < 5; i++)
		snprintf(cells[i + 1], 32, "%llu", (unsigned long long)v[i]);
	if (r->hit + r->miss)
		snprintf(cells[6], 32, "%.3f", (double)r->fn / (double)(r->hit + r->miss));
	else
		snprintf(cells[6], 32, "-");
	snprintf(cells[7], 32, "%llu", (unsigned long long)r->red);
	snprintf(cells[8], 32, "%llu", (unsigned long long)r->red_deployed);
	snprintf(cells[9], 32, "%llu", (unsigned long long)r->fp);
	if (r->red_deployed)
		snprintf(cells[10], 32, "%.3f", (double)r->fp / (double)r->red_deployed);
	else
		snprintf(cells[10], 32, "-");
	snprintf(cells[0], 32, "%.31s", r->key);
}

#define SVC_OF "coalesce(json_extract(j.value, '$.service'), j.value)"

/*
 * The rows per service (@by_day false: a run counts for each service it
 * changed) or per UTC day of the run, for gate runs started since @since
 * and, with @service, changing it.
 */
static int acc_query(struct gate_ctx *ctx, bool by_day, int64_t since,
		     const char *service, struct acc_row **out, size_t *n)
{
	char sql[4096];
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	snprintf(sql, sizeof(sql),
		 "WITH runs AS (SELECT g.id, g.verdict, g.started_ns FROM gate_runs g "
		 "  WHERE g.started_ns >= ?1 AND (?2 IS NULL OR EXISTS (SELECT 1 FROM "
		 "  json_each(g.changed) j WHERE " SVC_OF " = ?2))), "
		 "po AS (SELECT p.gate_run_id AS gid, p.expected, (SELECT o.outcome FROM "
		 "  prediction_outcomes o WHERE o.prediction_id = p.id ORDER BY "
		 "  o.verification_id DESC LIMIT 1) AS outcome FROM predictions p), "
		 "ver AS (SELECT d.gate_run_id AS gid, (SELECT v.verdict FROM verifications v "
		 "  WHERE v.deployment_id = d.id ORDER BY v.id DESC LIMIT 1) AS verdict "
		 "  FROM deployments d WHERE d.gate_run_id IS NOT NULL), "
		 "rs AS (SELECT r.id, r.started_ns, "
		 "  (SELECT count(*) FROM po WHERE gid = r.id) AS np, "
		 "  (SELECT count(*) FROM po WHERE gid = r.id AND outcome = 'hit') AS hit, "
		 "  (SELECT count(*) FROM po WHERE gid = r.id AND outcome = 'miss') AS miss, "
		 "  (SELECT count(*) FROM po WHERE gid = r.id AND outcome = 'unverifiable') AS unv, "
		 "  (SELECT count(*) FROM po WHERE gid = r.id AND outcome IS NULL) AS uns, "
		 "  (SELECT count(*) FROM po WHERE gid = r.id AND outcome = 'miss' AND "
		 "   expected = 'healthy') AS fn, "
		 "  coalesce(r.verdict = 'fail', 0) AS red, "
		 "  coalesce(r.verdict = 'fail', 0) AND EXISTS (SELECT 1 FROM ver WHERE "
		 "   ver.gid = r.id AND ver.verdict IN ('pass', 'fail')) AS rd, "
		 "  coalesce(r.verdict = 'fail', 0) AND EXISTS (SELECT 1 FROM ver WHERE "
		 "   ver.gid = r.id AND ver.verdict = 'pass') AS fp FROM runs r), "
		 "keyed AS (%s) "
		 "SELECT k, sum(np), sum(hit), sum(miss), sum(unv), sum(uns), sum(fn), "
		 "sum(red), sum(rd), sum(fp) FROM keyed GROUP BY k ORDER BY k",
		 by_day ? "SELECT strftime('%Y-%m-%d', rs.started_ns / 1000000000, "
			  "'unixepoch') AS k, rs.* FROM rs"
			: "SELECT " SVC_OF " AS k, rs.* FROM rs JOIN gate_runs g ON "
			  "g.id = rs.id, json_each(g.changed) j WHERE ?2 IS NULL OR "
			  SVC_OF " = ?2");
	if (sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL))
		return gate_fail(ctx, -EIO, "cannot read '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	sqlite3_bind_int64(st, 1, since);
	if (service)
		sqlite3_bind_text(st, 2, service, -1, SQLITE_STATIC);
	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct acc_row *r;

		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			r = realloc(*out, cap * sizeof(*r));
			if (!r) {
				sqlite3_finalize(st);
				return gate_fail(ctx, -ENOMEM, "out of memory");
			}
			*out = r;
		}
		r = &(*out)[(*n)++];
		memset(r, 0, sizeof(*r));
		snprintf(r->key, sizeof(r->key), "%s",
			 sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
		uint64_t *f[] = { &r->preds, &r->hit, &r->miss, &r->unverifiable,
				  &r->unscored, &r->fn, &r->red, &r->red_deployed, &r->fp };
		for (int i = 0; i < 9; i++)
			*f[i] = (uint64_t)sqlite3_column_int64(st, i + 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return gate_fail(ctx, -EIO, "cannot read '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	return 0;
}

static int accuracy_print(struct gate_ctx *ctx, const struct acc_row *svc, size_t ns,
			  const struct acc_row *day, size_t nd, int64_t since)
{
	static const char *const heads[] = { "SERVICE", "PREDICTIONS", "HIT", "MISS",
					     "UNVERIFIABLE", "UNSCORED", "FN_RATE", "RED",
					     "RED_DEPLOYED", "FP", "FP_RATE" };
	static const char *const dheads[] = { "DAY", "PREDICTIONS", "HIT", "MISS",
					      "UNVERIFIABLE", "UNSCORED", "FN_RATE", "RED",
					      "RED_DEPLOYED", "FP", "FP_RATE" };
	struct acc_row total = { .key = "all" };
	char cells[11][32];
	struct gate_table t;
	int err = 0;

	for (size_t i = 0; i < nd; i++) {	/* days partition the runs */
		const struct acc_row *r = &day[i];
		total.preds += r->preds; total.hit += r->hit; total.miss += r->miss;
		total.unverifiable += r->unverifiable; total.unscored += r->unscored;
		total.fn += r->fn; total.red += r->red; total.red_deployed += r->red_deployed;
		total.fp += r->fp;
	}
	if (ctx->fmt == GATE_FMT_JSON) {
		json_t *root = json_pack("{s:o, s:o, s:[], s:[]}", "since",
					 since == INT64_MIN ? json_null() : gate_json_time(since),
					 "total", row_json(&total, "service"), "services", "days");

		if (!root)
			return gate_fail(ctx, -ENOMEM, "out of memory");
		json_object_del(json_object_get(root, "total"), "service");
		for (size_t i = 0; i < ns; i++)
			json_array_append_new(json_object_get(root, "services"),
					      row_json(&svc[i], "service"));
		for (size_t i = 0; i < nd; i++)
			json_array_append_new(json_object_get(root, "days"),
					      row_json(&day[i], "day"));
		err = gate_json_print(ctx, root);
		json_decref(root);
		return err;
	}
	gate_table_init(&t, heads, "lrrrrrrrrrr", 11);
	for (size_t i = 0; i <= ns && !err; i++) {
		const char *row[11];

		row_cells(i < ns ? &svc[i] : &total, cells);
		for (int c = 0; c < 11; c++)
			row[c] = cells[c];
		err = gate_table_row(&t, row);
	}
	if (!err)
		gate_table_print(&t, stdout);
	gate_table_release(&t);
	gate_table_init(&t, dheads, "lrrrrrrrrrr", 11);
	for (size_t i = 0; i < nd && !err; i++) {
		const char *row[11];

		row_cells(&day[i], cells);
		for (int c = 0; c < 11; c++)
			row[c] = cells[c];
		err = gate_table_row(&t, row);
	}
	if (!err && nd) {
		printf("\n");
		gate_table_print(&t, stdout);
	}
	gate_table_release(&t);
	return err;
}

static int accuracy_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "since", required_argument, NULL, 's' },
		{ "service", required_argument, NULL, 'S' },
		{ 0 }
	};
	struct acc_row *svc = NULL, *day = NULL;
	size_t ns = 0, nd = 0;
	const char *service = NULL, *since_arg = "30d";
	int64_t since;
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, accuracy_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		if (c == 's')
			since_arg = optarg;
		else if (c == 'S')
			service = optarg;
	}
	if ((err = gate_no_args(ctx, argc, argv)) ||
	    (err = gate_time_arg(ctx, "--since", since_arg, &since)) ||
	    (err = gate_open(ctx)) || (err = gate_after_schema(ctx, "accuracy")))
		return err;
	err = acc_query(ctx, false, since, service, &svc, &ns);
	if (!err)
		err = acc_query(ctx, true, since, service, &day, &nd);
	if (!err)
		err = accuracy_print(ctx, svc, ns, day, nd, since);
	free(svc);
	free(day);
	return err;
}

const struct gate_cmd gate_cmd_accuracy = {
	.name = "accuracy",
	.summary = "how right the gate's predictions were in production",
	.run = accuracy_run,
	.store = GATE_CMD_READS,
};
