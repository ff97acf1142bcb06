/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the gate's commands (sandbox, learn, select, gate) share: the
 * --stack/--name/--state-dir options, loading the stack file, opening and
 * starting the sandbox with errors mapped to exit codes, and the learned
 * knowledge read from the store (docs/gate.md).
 */
#ifndef FAULTLINE_GATERUN_H
#define FAULTLINE_GATERUN_H

#include <jansson.h>

#include "judge/judge.h"
#include "output/output.h"
#include "query/ctx.h"
#include "query/edges.h"
#include "query/open.h"
#include "query/scope.h"
#include "query/time.h"
#include "sandbox/sandbox.h"
#include "stack.h"

#define GATE_STACK_LONGOPTS                                   \
	{ "stack", required_argument, NULL, 1001 },           \
	{ "name", required_argument, NULL, 1002 },            \
	{ "state-dir", required_argument, NULL, 1003 }

#define GATE_EXIT_INTERRUPTED 130	/* 128 + SIGINT; 143 for SIGTERM */

struct gate_stack_opts {
	const char *stack;	/* --stack */
	const char *name;	/* --name */
	const char *state_dir;	/* --state-dir */
};

/* gate_stack_opt() - take getopt's @c if it is one of GATE_STACK_LONGOPTS. 0. */
int gate_stack_opt(struct gate_ctx *ctx, struct gate_stack_opts *so, int c);

/*
 * gate_stack_load() - load --stack (required). Returns 0 or -EINVAL with
 * "FILE:LINE:COL: reason" in ctx->err.
 */
int gate_stack_load(struct gate_ctx *ctx, const struct gate_stack_opts *so,
		    struct fl_stack *stack);

/* gate_sandbox_open() - sb_open() for the options; errors into ctx->err. */
int gate_sandbox_open(struct gate_ctx *ctx, const struct gate_stack_opts *so,
		      const struct fl_stack *stack, struct sandbox *sb);

/*
 * gate_sandbox_up() - sb_up(), with its failures as the gate reports them:
 * a command that does not start -> negative (exit 2); a sandbox that fails
 * to start -> GATE_EXIT_INCONCLUSIVE after printing why (infra); SIGINT or
 * SIGTERM -> everything torn down, 128 + signal.
 */
int gate_sandbox_up(struct gate_ctx *ctx, struct sandbox *sb, bool *cold);

/* gate_sandbox_down() - sb_down(); 0 or -EIO. */
int gate_sandbox_down(struct gate_ctx *ctx, struct sandbox *sb);

/* gate_interrupted() - tear @sb down after a signal; returns 128 + signal. */
int gate_interrupted(struct gate_ctx *ctx, struct sandbox *sb);

#endif /* FAULTLINE_GATERUN_H */

/* ---- footprints and what learn recorded (learned.c) ---- */

/* One status of an edge in a footprint. */
struct fp_status {
	char *status;		/* "200", "WRONGTYPE", "conn_refused"; owned */
	uint64_t req, err;	/* one run: its counts; a baseline: the most in one run */
	uint64_t bad;		/* errors, or requests of an HTTP 4xx (likewise) */
};

/* One edge of a footprint (or of a baseline: the passing learn runs). */
struct fp_edge {
	char *client, *server, *protocol, *operation;	/* owned */
	struct fp_status *st;
	size_t nst, capst;
	int runs;		/* baseline: runs whose footprint had it */
	uint64_t req;		/* one run: all statuses; baseline: most in one run */
	uint64_t min_req;	/* baseline: fewest in a run that had it */
	struct fl_hist hist;	/* latency, ns, merged */
	int tag;		/* per-use */
};

struct fp_set {
	struct fp_edge *v;
	size_t n, cap;
	int runs;		/* runs merged in (baseline) */
};

/* What learn knows about one test of a stack. */
struct learned_test {
	char *name;		/* owned */
	int runs, passes, fails;	/* learn runs of it, by result */
	double mean_s;		/* mean duration of those runs */
	int app_failures;	/* recent gate runs where it failed as 'app' */
	bool quarantined;	/* `gatectl tests quarantine`: runs, never fails a gate */
	struct fp_set base;	/* footprint over its passing learn runs */
};

struct learned {
	struct learned_test *v;
	size_t n;
	struct fp_set all;	/* every edge any learn footprint had */
	int nruns;		/* learn runs of the stack */
};

/*
 * learned_load() - what the store knows of stack @stack from its learn
 * runs (test_runs.kind = 'learn'). OUT: *@out. Returns 0, -EIO, -ENOMEM.
 */
int learned_load(struct gate_ctx *ctx, const char *stack, struct learned *out);

/* learned_release() - free @l. */
void learned_release(struct learned *l);

/* learned_find() - the entry of test @name, or NULL (never learned). */
struct learned_test *learned_find(const struct learned *l, const char *name);

/* learned_flaky() - passed and failed on the same versions. */
bool learned_flaky(const struct learned_test *t);

/*
 * fp_load() - the footprint of @test in run @run_id. OUT: *@out
 * (fp_set_release()). Returns 0, -EIO, -ENOMEM.
 */
int fp_load(struct gate_ctx *ctx, int64_t run_id, const char *test, struct fp_set *out);

/*
 * gate_db_refresh() - reset every statement of ctx->db so the next read
 * sees what other connections (the agent) committed since.
 */
void gate_db_refresh(struct gate_ctx *ctx);

/* fp_find() - the edge of @s named so, or NULL. */
struct fp_edge *fp_find(const struct fp_set *s, const char *client, const char *server,
			const char *protocol, const char *operation);

/* fp_status_find() - the status row @status of @e, or NULL. */
struct fp_status *fp_status_find(const struct fp_edge *e, const char *status);

/* fp_set_release() - free @s. */
void fp_set_release(struct fp_set *s);

/* fp_status_bad() - whether @status of @protocol is a failure (or a 4xx). */
bool fp_status_bad(const char *protocol, const char *status, uint64_t errors);

/*
 * gate_has_table() - whether the store has table @name. Returns 1, 0, or
 * -EIO.
 */
int gate_has_table(struct gate_ctx *ctx, const char *name);

/* ---- running tests under the sandbox agent (gaterun.c) ---- */

struct gate_test_run {
	const struct fl_stack_test *t;	/* borrowed */
	struct sb_result res;
	bool pass;
	char message[256];	/* JUnit message: why it failed, "" when passed */
	long rows;		/* footprint rows the agent wrote */
};

/*
 * gate_run_begin() - a test_runs row of @kind (learn|gate|rerun) for the
 * sandbox's stack. OUT: *@run_id. Returns 0 or -EIO.
 */
int gate_run_begin(struct gate_ctx *ctx, struct sandbox *sb, const char *kind,
		   const char *versions, int64_t *run_id);

/* gate_run_end() - ended_ns and the agent's counters of run @run_id. */
int gate_run_end(struct gate_ctx *ctx, struct sandbox *sb, int64_t run_id);

/*
 * gate_run_test() - run test @t in the sandbox between `begin RUN TEST` and
 * `end RUN TEST` on the agent's control socket, and record its result
 * (test_results; class NULL). OUT: *@out. Returns 0 (whatever the test
 * did), -EINVAL (its program does not start), -EIO (the agent), -EINTR.
 */
int gate_run_test(struct gate_ctx *ctx, struct sandbox *sb, int64_t run_id,
		  const struct fl_stack_test *t, struct gate_test_run *out);

/* gate_exec() - run @sql (no rows) or fail with -EIO naming @what. */
int gate_exec(struct gate_ctx *ctx, const char *sql, const char *what);

/* gate_parse_duration() - "60s", "2m", "1m30s", "90" (s). OUT: *@s. */
int gate_parse_duration(struct gate_ctx *ctx, const char *opt, const char *v, double *s);

/* ---- selection (select.c) ---- */

#define GATE_BUDGET_S 60.0	/* default --budget */

/* An affected edge: in scope of the change. */
struct sel_edge {
	char *client, *server, *protocol, *operation;	/* owned */
	int reason;		/* enum gate_scope_reason */
	int dist;		/* hops from a change */
	uint64_t prod_requests;	/* production (source ebpf) requests seen */
	double weight;		/* risk weight of the edge (docs/gate.md) */
	double risk_factor;	/* edge_risk.weight (verify's misses), 1 without */
	bool blind_spot;	/* failed in production before, no footprint had it */
	int covered;		/* selected tests that touch it */
	bool touched;		/* some learned footprint touches it */
	json_t *caught_by;	/* tests that detected a fault on client → server
				   in the latest deep run (docs/deep.md); owned, may be NULL */
};

enum sel_why {
	SEL_RISK = 0,		/* chosen by risk per second */
	SEL_MUST_RUN,		/* carries a must-run tag */
	SEL_NEVER_LEARNED,	/* no footprint yet: always run */
	SEL_OUT_BUDGET,		/* left out: does not fit the budget */
	SEL_OUT_COVERED,	/* left out: its edges are covered by selected tests */
	SEL_OUT_UNAFFECTED,	/* left out: touches no edge of a changed service */
	SEL_FORCED,		/* named by --tests */
	SEL_OUT_FORCED,		/* left out: not named by --tests */
};

struct sel_test {
	const struct fl_stack_test *t;	/* borrowed */
	struct learned_test *lt;	/* NULL: never learned */
	double est_s;		/* estimated duration */
	double risk;		/* marginal risk when chosen */
	double risk_per_s;
	enum sel_why why;
	bool selected;
	int rank;		/* 1.. in the order chosen; 0 when left out */
	size_t *edges;		/* indexes into sel.edges it touches */
	size_t nedges;
	unsigned faults_caught;	/* faults on affected edges it detected in the latest deep run */
};

struct selection {
	const char **changed;	/* service names (borrowed), deduplicated */
	size_t nchanged;
	struct sel_edge *edges;
	size_t nedges;
	struct sel_test *tests;	/* stack order */
	size_t ntests;
	double budget_s, selected_s, suite_s;
	uint64_t prod_total;	/* production requests over the affected edges */
	char **unmapped;	/* --diff: files no service's paths match */
	size_t nunmapped;
};

/*
 * gate_select() - affected edges of @changed (gatectl scope over the store,
 * plus the footprint edges that touch a changed service), tests ranked by
 * risk per second and filled greedily into @budget_s (docs/gate.md
 * "Select"). OUT: *@sel (gate_selection_release()). Returns 0 or -errno.
 */
int gate_select(struct gate_ctx *ctx, const struct fl_stack *stack,
		struct learned *l, const char *const *changed, size_t nchanged,
		double budget_s, struct selection *sel);

void gate_selection_release(struct selection *sel);

/*
 * gate_select_force() - replace the choice of @sel by the tests named in
 * @names (comma-separated), in that order: what a comparison (run-all,
 * naive, random) or a CI job that names its tests runs. Returns 0 or
 * -EINVAL (an unknown test, message in ctx->err).
 */
int gate_select_force(struct gate_ctx *ctx, struct selection *sel, const char *names);

/* gate_sel_why_str() - the reason as output shows it (static). */
const char *gate_sel_why_str(enum sel_why w);

/*
 * gate_diff_services() - the services a `git diff --name-only BASE...HEAD`
 * (run in the stack's directory) touches through their `paths` globs.
 * OUT: @names (borrowed from @stack, deduplicated), *@n; files that map
 * to no service into sel->unmapped. Returns 0, -EINVAL (git failed) or
 * -ENOMEM.
 */
int gate_diff_services(struct gate_ctx *ctx, const struct fl_stack *stack,
		       const char *base, const char **names, size_t *n,
		       struct selection *sel);

/* gate_json_selection() - the `select -o json` object. NULL on ENOMEM. */
json_t *gate_json_selection(const struct selection *sel);

/* ---- the verdict (verdict.c) ---- */

enum gate_class { GC_NONE = 0, GC_APP, GC_INFRA, GC_FLAKY, GC_PRE };

/* One selected test as the gate ran it. */
struct gate_tres {
	struct gate_test_run run;
	struct fp_set fp;		/* its footprint with the change */
	struct learned_test *lt;	/* its baseline, or NULL */
	bool ran;
	bool reran, rerun_pass;		/* on the baseline, after a failure */
	enum gate_class cls;		/* failed tests only */
	char why[160];			/* why that class */
};

enum gate_fkind { GF_RISE = 0, GF_NEW, GF_MISSING, GF_LATENCY, GF_CALLS };
enum gate_role { GR_NONE = 0, GR_CAUSE, GR_SYMPTOM };

/* Something the change did that the baseline did not. */
struct gate_finding {
	char *client, *server, *protocol, *operation;	/* owned */
	enum gate_fkind kind;
	char status[40];		/* GF_RISE: the status that rose */
	uint64_t requests, errors;	/* with the change, over its tests */
	uint64_t base_requests, base_errors;	/* baseline (most per run), same tests */
	double p50_ms, base_p50_ms, p99_ms, base_p99_ms;	/* GF_LATENCY */
	enum gate_role role;
	bool inferred;			/* cause named from the call chain, no error */
	bool counts;			/* seen by a test whose result counts */
	bool flaky_only;		/* only flaky tests saw it */
	const char *change;		/* the changed service it belongs to, or NULL */
	size_t *tests;			/* indexes into the results */
	size_t ntests;
};

struct gate_verdict {
	const char *verdict;		/* "pass" | "fail" | "inconclusive" */
	char reason[256];
	struct gate_finding *f;
	size_t nf;
};

/*
 * gate_judge() - compare what the selected tests did with the change (@res,
 * @nres) against their learned footprints; name the cause and symptoms,
 * classify failed tests (reruns done), and decide. Returns 0 or -ENOMEM.
 */
int gate_judge(const struct selection *sel, const struct learned *l,
	       struct gate_tres *res, size_t nres, struct gate_verdict *v);

void gate_verdict_release(struct gate_verdict *v);

const char *gate_class_str(enum gate_class c);	/* NULL for GC_NONE */
const char *gate_fkind_str(enum gate_fkind k);

/* gate_sample() - the redacted sample of @f: status and normalised operation. */
void gate_sample(const struct gate_finding *f, char *buf, size_t len);

/* ---- outputs (report.c) ---- */

struct gate_report {
	const struct fl_stack *stack;
	const struct selection *sel;
	struct gate_tres *res;
	size_t nres;
	const struct gate_verdict *v;
	int64_t gate_run_id, test_run_id;
	double duration_s;
	const char *const *change_svc;	/* per --change: the service */
	const char *const *change_cmd;	/* and its command as given */
	size_t nchanges;
};

json_t *gate_report_json(const struct gate_report *r);
int gate_report_table(struct gate_ctx *ctx, const struct gate_report *r);
int gate_report_markdown(struct gate_ctx *ctx, const struct gate_report *r);
int gate_report_junit(struct gate_ctx *ctx, const struct gate_report *r);
