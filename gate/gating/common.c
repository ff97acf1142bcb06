// SPDX-License-Identifier: BSD-2-Clause
/* The gate commands' shared options and sandbox handling (gate/gaterun.h). */
#include "gating/gating.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gate_stack_opt(struct gate_ctx *ctx, struct gate_stack_opts *so, int c)
{
	(void)ctx;
	if (c == 1001)
		so->stack = optarg;
	else if (c == 1002)
		so->name = optarg;
	else if (c == 1003)
		so->state_dir = optarg;
	return 0;
}

int gate_stack_load(struct gate_ctx *ctx, const struct gate_stack_opts *so,
		    struct fl_stack *stack)
{
	int err;

	if (!so->stack)
		return gate_fail(ctx, -EINVAL, "'--stack FILE' is required");
	err = fl_stack_load(so->stack, stack, ctx->err, sizeof(ctx->err));
	if (err)
		return err == -ENOMEM ? err : -EINVAL;
	/* a hook driver's agent writes the store the stack names */
	if (stack->driver.set && !ctx->db_given)
		ctx->db_path = stack->driver.store;
	return 0;
}

int gate_sandbox_open(struct gate_ctx *ctx, const struct gate_stack_opts *so,
		      const struct fl_stack *stack, struct sandbox *sb)
{
	int err;

	err = sb_open(sb, stack, so->name, so->state_dir, ctx->db_path);

	if (err)
		return gate_fail(ctx, err, "%s", sb->err);
	return 0;
}

int gate_interrupted(struct gate_ctx *ctx, struct sandbox *sb)
{
	int sig = sb_interrupted ? sb_interrupted : SIGINT;

	sb_interrupted = 0;	/* let the teardown's own waits run */
	sb_down(sb);
	fprintf(stderr, "gatectl: interrupted (%s): sandbox '%s' torn down\n",
		sig == SIGTERM ? "SIGTERM" : "SIGINT", sb->name);
	(void)ctx;
	return 128 + sig;
}

int gate_sandbox_up(struct gate_ctx *ctx, struct sandbox *sb, bool *cold)
{
	int err = sb_up(sb, cold);

	if (!err)
		return 0;
	if (err == -EINTR || sb_interrupted)
		return gate_interrupted(ctx, sb);
	if (err == -EINVAL || err == -EPERM || err == -ENOMEM)
		return gate_fail(ctx, err, "%s", sb->err);
	fprintf(stderr, "gatectl: sandbox '%s' did not start: %s\n", sb->name, sb->err);
	return GATE_EXIT_INCONCLUSIVE;
}

int gate_sandbox_down(struct gate_ctx *ctx, struct sandbox *sb)
{
	int err = sb_down(sb);

	return err ? gate_fail(ctx, err, "%s", sb->err) : 0;
}

int gate_exec(struct gate_ctx *ctx, const char *sql, const char *what)
{
	if (sqlite3_exec(ctx->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return gate_fail(ctx, -EIO, "cannot %s in '%s': %s", what, ctx->db_path,
				 sqlite3_errmsg(ctx->db));
	return 0;
}

int gate_parse_duration(struct gate_ctx *ctx, const char *opt, const char *v, double *s)
{
	int64_t ns;
	char *end;
	double d;

	d = strtod(v, &end);
	if (end != v && !*end && d > 0) {
		*s = d;
		return 0;
	}
	/* "60s", "2m", "1m30s": time.c's durations, taken as a length */
	if (v[0] && v[0] != '@' && !strchr(v, 'T') &&
	    !gate_time_parse(v, 1000000LL * GATE_NS_PER_S, &ns) &&
	    ns < 1000000LL * GATE_NS_PER_S) {
		*s = (double)(1000000LL * GATE_NS_PER_S - ns) / 1e9;
		if (*s > 0)
			return 0;
	}
	return gate_fail(ctx, -EINVAL, "invalid value '%s' for '%s' (want a duration: "
			 "60s, 2m, 1m30s)", v, opt);
}

int gate_run_begin(struct gate_ctx *ctx, struct sandbox *sb, const char *kind,
		   const char *versions, int64_t *run_id)
{
	sqlite3_stmt *st;
	int err = 0;

	if (sqlite3_prepare_v2(ctx->db, "INSERT INTO test_runs(kind, stack, versions, "
			       "sandbox, started_ns) VALUES (?, ?, ?, ?, ?)", -1, &st,
			       NULL) != SQLITE_OK)
		return gate_fail(ctx, -EIO, "cannot record a test run in '%s': %s",
				 ctx->db_path, sqlite3_errmsg(ctx->db));
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sb->stack->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, versions, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, sb->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, gate_now_ns());
	if (sqlite3_step(st) != SQLITE_DONE)
		err = gate_fail(ctx, -EIO, "cannot record a test run in '%s': %s",
				ctx->db_path, sqlite3_errmsg(ctx->db));
	else
		*run_id = sqlite3_last_insert_rowid(ctx->db);
	sqlite3_finalize(st);
	return err;
}

/* "ok a=1 b=2" -> {"a":1,"b":2} (numbers where they are numbers). */
static char *counters_json(const char *reply)
{
	json_t *o = json_object();
	char *copy = strdup(reply), *save = NULL, *out;

	if (!o || !copy) {
		json_decref(o);
		free(copy);
		return NULL;
	}
	for (char *w = strtok_r(copy + 2, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '='), *end;
		if (!eq)
			continue;
		*eq = 0;
		long long v = strtoll(eq + 1, &end, 10);
		json_object_set_new(o, w, *end || end == eq + 1 ? json_string(eq + 1)
							   : json_integer(v));
	}
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(copy);
	return out;
}

int gate_run_end(struct gate_ctx *ctx, struct sandbox *sb, int64_t run_id)
{
	char reply[4096], *counters = NULL;
	sqlite3_stmt *st;
	int err = 0;

	if (!sb_control(sb, "status", reply, sizeof(reply)))
		counters = counters_json(reply);
	if (sqlite3_prepare_v2(ctx->db, "UPDATE test_runs SET ended_ns = ?, "
			       "agent_counters = ? WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		err = -EIO;
	else {
		sqlite3_bind_int64(st, 1, gate_now_ns());
		sqlite3_bind_text(st, 2, counters, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, run_id);
		if (sqlite3_step(st) != SQLITE_DONE)
			err = -EIO;
		sqlite3_finalize(st);
	}
	free(counters);
	return err ? gate_fail(ctx, err, "cannot record the end of run %lld: %s",
			       (long long)run_id, sqlite3_errmsg(ctx->db)) : 0;
}

/* The last non-empty line of @path, at most @len - 1 bytes, valid UTF-8. */
static void last_line(const char *path, char *buf, size_t len)
{
	char tail[4096];
	FILE *f = fopen(path, "re");
	size_t n;

	buf[0] = 0;
	if (!f)
		return;
	if (fseek(f, -(long)(sizeof(tail) - 1), SEEK_END))
		rewind(f);
	n = fread(tail, 1, sizeof(tail) - 1, f);
	fclose(f);
	tail[n] = 0;
	while (n && (tail[n - 1] == '\n' || tail[n - 1] == '\r' || tail[n - 1] == ' '))
		tail[--n] = 0;
	char *l = strrchr(tail, '\n');
	l = l ? l + 1 : tail;
	size_t k = strlen(l);
	if (k >= len)
		k = len - 1;
	memcpy(buf, l, k);
	buf[k] = 0;
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	gate_utf8_fix(buf);
}

int gate_run_test(struct gate_ctx *ctx, struct sandbox *sb, int64_t run_id,
		  const struct fl_stack_test *t, struct gate_test_run *out)
{
	char line[256], reply[256], log[4400], what[128], env_run[64], env_test[128];
	char *env[] = { env_run, env_test, NULL };
	sqlite3_stmt *st;
	int err;

	memset(out, 0, sizeof(*out));
	out->t = t;
	snprintf(env_run, sizeof(env_run), "FAULTLINE_RUN=%lld", (long long)run_id);
	snprintf(env_test, sizeof(env_test), "FAULTLINE_TEST=%s", t->name);
	snprintf(what, sizeof(what), "test-%lld-%s", (long long)run_id, t->name);
	sb_log_path(sb, what, log, sizeof(log));
	snprintf(line, sizeof(line), "begin %lld %s", (long long)run_id, t->name);
	err = sb_control(sb, line, reply, sizeof(reply));
	if (err == -EPROTO && !strncmp(reply, "err busy: ", 10)) {
		/* a test a killed gatectl left open: end it, then begin ours */
		char stale[200], open_test[128];
		long long open_run;
		if (sscanf(reply + 10, "%lld %127s", &open_run, open_test) == 2) {
			snprintf(stale, sizeof(stale), "end %lld %s", open_run, open_test);
			sb_control(sb, stale, reply, sizeof(reply));
		}
		err = sb_control(sb, line, reply, sizeof(reply));
	}
	if (err)
		return gate_fail(ctx, err == -EINVAL ? -EINVAL : -EIO, "%s", sb->err);
	err = sb_run(sb, &t->cmd, env, log, t->timeout_s, &out->res);
	snprintf(line, sizeof(line), "end %lld %s", (long long)run_id, t->name);
	if (err != -EINTR && sb_control(sb, line, reply, sizeof(reply)) && !err)
		return gate_fail(ctx, -EIO, "%s", sb->err);
	if (err)
		return gate_fail(ctx, err, "test '%s': %s", t->name, sb->err);
	out->rows = strtol(reply + 2, NULL, 10);
	out->pass = !out->res.timed_out && out->res.exit_code == 0;
	if (out->res.timed_out)
		snprintf(out->message, sizeof(out->message), "timed out after %g s",
			 t->timeout_s);
	else if (!out->pass) {
		char tail[200];
		last_line(log, tail, sizeof(tail));
		snprintf(out->message, sizeof(out->message), "exit status %d%s%s",
			 out->res.exit_code, tail[0] ? ": " : "", tail);
	}
	if (sqlite3_prepare_v2(ctx->db, "INSERT OR REPLACE INTO test_results(run_id, test, "
			       "result, class, duration_ns, exit_code, message) VALUES "
			       "(?, ?, ?, NULL, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		return gate_fail(ctx, -EIO, "cannot record a test result: %s",
				 sqlite3_errmsg(ctx->db));
	sqlite3_bind_int64(st, 1, run_id);
	sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, out->pass ? "pass" : "fail", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)(out->res.duration_s * 1e9));
	sqlite3_bind_int(st, 5, out->res.exit_code);
	if (out->message[0])
		sqlite3_bind_text(st, 6, out->message, -1, SQLITE_STATIC);
	err = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return err ? gate_fail(ctx, err, "cannot record a test result: %s",
			       sqlite3_errmsg(ctx->db)) : 0;
}
