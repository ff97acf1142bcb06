// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl deploy: record a deployment told by CI, linked to the gate run
 * whose predictions `verify` judges it against. gatectl deploys: list the
 * deployments (seen by the agent or told by CI).
 */
#include "store_write.h"
#include "cmd/cmd.h"
#include "judge/judge.h"
#include "output/output.h"
#include "query/after.h"
#include "query/open.h"
#include "query/time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void deploy_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl deploy --service S [--version V] [--gate RUN] [--at T]\n"
		"                      [--node NAME] [--db FILE] [-o table|json]\n"
		"\n"
		"Record that SERVICE was deployed (what CI tells; the agent records the\n"
		"deployments it sees by itself). The deployment is linked to gate run\n"
		"RUN, whose predictions `gatectl verify` scores against production;\n"
		"by default the latest gate run that changed SERVICE before T.\n"
		"\n"
		"options:\n"
		"  --service S     the deployed service (required)\n"
		"  --version V     its new version id (default: unknown)\n"
		"  --gate RUN      the gate run (gate_runs.id) to judge it against;\n"
		"                  0 for none\n"
		"  --at T          when the new version started (default: now)\n"
		"  --node NAME     where (default: this host's name)\n"
		"\n"
		"exit status: 0 recorded, 2 usage or store error\n"
		"\n"
		"examples:\n"
		"  gatectl deploy --service checkout --version 1f3c2e9\n"
		"  gatectl deploy --service checkout --version v42 --gate 17 --at 5m\n");
}

static void deploys_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl deploys [--service S] [--since T] [--db FILE]\n"
		"                       [-o table|json]\n"
		"\n"
		"List the deployments, newest first: service, old -> new version,\n"
		"when, where, who saw it (agent or ci), the linked gate run and the\n"
		"verdict of its latest verification.\n"
		"\n"
		"examples:\n"
		"  gatectl deploys --service checkout --since 1d -o json\n");
}

struct deploy_opts {
	const char *service, *version, *node;
	int64_t at_ns;
	int64_t gate;		/* -1: the latest gate run */
};

static int deploy_insert(struct gate_ctx *ctx, const struct deploy_opts *o,
			 const char *old, int64_t gate, int64_t *id)
{
	struct fl_sw_deployment d = {
		.service = o->service, .old_version = old, .new_version = o->version,
		.at_ns = o->at_ns, .node = o->node, .source = "ci", .gate_run_id = gate,
	};
	struct fl_sw w;
	int err;

	fl_sw_init(&w, ctx->db, NULL);
	err = fl_sw_deployment(&w, &d, id);
	if (err)
		err = gate_fail(ctx, -EIO, "cannot write '%s': %s", ctx->db_path, w.err);
	fl_sw_release(&w);
	return err;
}

static int gate_run_exists(struct gate_ctx *ctx, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(ctx->db, "SELECT 1 FROM gate_runs WHERE id = ?1", -1,
			       &st, NULL))
		return gate_fail(ctx, -EIO, "cannot read '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return gate_fail(ctx, -EINVAL, "no gate run %lld in '%s'", (long long)id,
				 ctx->db_path);
	return 0;
}

static int deploy_record(struct gate_ctx *ctx, struct deploy_opts *o)
{
	struct gate_deploy prev, d;
	int64_t gate = o->gate, id = 0;
	char at[40];
	int err;

	err = gate_open_writable(ctx);
	if (err)
		return err;
	if (gate > 0)
		err = gate_run_exists(ctx, gate);
	else if (gate < 0)
		err = gate_latest_gate_run(ctx, o->service, o->at_ns, &gate);
	if (err)
		return err;
	err = gate_deploy_get(ctx, 0, o->service, &prev);
	if (err && err != -ENOENT)
		return err;
	err = deploy_insert(ctx, o, err ? NULL : prev.new_version, gate, &id);
	gate_deploy_release(&prev);
	if (err)
		return err;
	err = gate_deploy_get(ctx, id, NULL, &d);
	if (err)
		return err;
	if (ctx->fmt == GATE_FMT_JSON) {
		json_t *j = json_pack("{s:I, s:s, s:s?, s:s, s:o, s:s, s:s, s:o}",
				      "id", (json_int_t)d.id, "service", d.service,
				      "old_version", d.old_version, "new_version",
				      d.new_version, "at", gate_json_time(d.at_ns),
				      "node", d.node, "source", d.source, "gate_run",
				      d.gate_run_id ? json_integer(d.gate_run_id) : json_null());
		err = j ? gate_json_print(ctx, j) : gate_fail(ctx, -ENOMEM, "out of memory");
		json_decref(j);
	} else {
		gate_time_format(d.at_ns, at, sizeof(at));
		printf("deployment %lld: %s %s -> %s at %s on %s", (long long)d.id,
		       d.service, d.old_version ? d.old_version : "?", d.new_version,
		       at, d.node);
		if (d.gate_run_id)
			printf(", judged against gate run %lld\n", (long long)d.gate_run_id);
		else
			printf(", no gate run to judge it against\n");
	}
	gate_deploy_release(&d);
	return err;
}

static int deploy_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "version", required_argument, NULL, 'V' },
		{ "gate", required_argument, NULL, 'g' },
		{ "at", required_argument, NULL, 'a' },
		{ "node", required_argument, NULL, 'n' },
		GATE_COMMON_LONGOPTS,
		{ 0 }
	};
	static char host[256];
	struct deploy_opts o = { .version = "unknown", .gate = -1, .at_ns = ctx->now_ns };
	uint64_t u;
	int c, err;

	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "localhost");
	o.node = host;
	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, deploy_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		switch (c) {
		case 's': o.service = optarg; break;
		case 'V': o.version = optarg; break;
		case 'n': o.node = optarg; break;
		case 'a':
			err = gate_time_arg(ctx, "--at", optarg, &o.at_ns);
			if (err)
				return err;
			break;
		case 'g':
			err = gate_parse_u64(ctx, "--gate", optarg, &u);
			if (err)
				return err;
			o.gate = (int64_t)u;
			break;
		}
	}
	err = gate_no_args(ctx, argc, argv);
	if (err)
		return err;
	if (!o.service || !o.service[0])
		return gate_fail(ctx, -EINVAL, "deploy needs --service");
	if (!o.version[0])
		return gate_fail(ctx, -EINVAL, "--version must not be empty");
	return deploy_record(ctx, &o);
}

/* The deploys list: rows of the query, table or JSON. */
static int deploys_list(struct gate_ctx *ctx, const char *service, int64_t since)
{
	static const char *const heads[] = { "ID", "SERVICE", "OLD", "NEW", "AT",
					     "NODE", "SOURCE", "GATE", "VERIFY" };
	struct gate_table t;
	sqlite3_stmt *st;
	json_t *root = NULL, *arr = NULL;
	int err = 0, rc;

	if (sqlite3_prepare_v2(ctx->db,
			       "SELECT d.id, d.service, d.old_version, d.new_version, "
			       "d.at_ns, d.node, d.source, d.gate_run_id, (SELECT v.verdict "
			       "FROM verifications v WHERE v.deployment_id = d.id ORDER BY "
			       "v.id DESC LIMIT 1) FROM deployments d WHERE (?1 IS NULL OR "
			       "d.service = ?1) AND d.at_ns >= ?2 ORDER BY d.at_ns DESC, "
			       "d.id DESC", -1, &st, NULL))
		return gate_fail(ctx, -EIO, "cannot read '%s': %s", ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	if (service)
		sqlite3_bind_text(st, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since);
	gate_table_init(&t, heads, "rllllllrl", 9);
	if (ctx->fmt == GATE_FMT_JSON) {
		root = json_pack("{s:[]}", "deploys");
		arr = root ? json_object_get(root, "deploys") : NULL;
		if (!arr)
			err = gate_fail(ctx, -ENOMEM, "out of memory");
	}
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *c[9];
		char id[24], at[40], gate[24];

		for (int i = 1; i < 9; i++)
			c[i] = (const char *)sqlite3_column_text(st, i);
		if (arr) {
			json_t *o = json_pack("{s:I, s:s, s:s?, s:s, s:o, s:s, s:s, s:o, s:s?}",
					      "id", (json_int_t)sqlite3_column_int64(st, 0),
					      "service", c[1], "old_version", c[2],
					      "new_version", c[3],
					      "at", gate_json_time(sqlite3_column_int64(st, 4)),
					      "node", c[5], "source", c[6], "gate_run",
					      c[7] ? json_integer(sqlite3_column_int64(st, 7))
						   : json_null(),
					      "verdict", c[8]);
			if (json_array_append_new(arr, o))
				err = gate_fail(ctx, -ENOMEM, "out of memory");
			continue;
		}
		snprintf(id, sizeof(id), "%lld", (long long)sqlite3_column_int64(st, 0));
		gate_time_format(sqlite3_column_int64(st, 4), at, sizeof(at));
		snprintf(gate, sizeof(gate), "%s", c[7] ? c[7] : "-");
		const char *row[] = { id, c[1], c[2] ? c[2] : "-", c[3], at, c[5], c[6],
				      gate, c[8] ? c[8] : "-" };
		err = gate_table_row(&t, row);
	}
	sqlite3_finalize(st);
	if (!err && root)
		err = gate_json_print(ctx, root);
	else if (!err) {
		if (t.nrows)
			gate_table_print(&t, stdout);
		else
			printf("no deployments\n");
	}
	json_decref(root);
	gate_table_release(&t);
	return err;
}

static int deploys_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		GATE_COMMON_LONGOPTS,
		{ 0 }
	};
	const char *service = NULL;
	int64_t since = INT64_MIN;
	int c, err;

	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, deploys_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		switch (c) {
		case 's': service = optarg; break;
		case 'S':
			err = gate_time_arg(ctx, "--since", optarg, &since);
			if (err)
				return err;
			break;
		}
	}
	err = gate_no_args(ctx, argc, argv);
	if (!err)
		err = gate_open(ctx);
	if (!err)
		err = gate_after_schema(ctx, "deploys");
	if (!err)
		err = deploys_list(ctx, service, since);
	return err;
}

const struct gate_cmd gate_cmd_deploy = {
	.name = "deploy",
	.summary = "record a deployment (CI), linked to its gate run",
	.run = deploy_run,
	.store = GATE_CMD_WRITES,
};

const struct gate_cmd gate_cmd_deploys = {
	.name = "deploys",
	.summary = "list deployments seen by the agent or told by CI",
	.run = deploys_run,
	.store = GATE_CMD_READS,
};
