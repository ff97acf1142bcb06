/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * deep: the nightly fault walk over the sandbox's graph (docs/deep.md).
 *
 * The pieces that do not need a sandbox, kept apart so they can be tested
 * on constructed footprints: what the tests of a stack touch (from the
 * footprints of its learn runs), which (edge, fault) pairs a budget reaches,
 * and how one fault's footprints compare with the learned ones (cascade,
 * retries, outcome).
 */
#ifndef FAULTLINE_GATE_DEEP_H
#define FAULTLINE_GATE_DEEP_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

/* One footprint row summed over tests: an operation of an edge. */
struct deep_op {
	char *client, *server, *protocol, *operation;	/* owned */
	double requests;	/* per run of the tests (learned: mean over learn runs) */
	double errors;
	struct fl_hist hist;	/* latency, ns; owned */
};

struct deep_ops {
	struct deep_op *v;
	size_t n, cap;
};

/* A test as learned: mean duration and mean footprint per run. */
struct deep_test {
	char *name;		/* owned */
	double duration_s;	/* mean over the learn runs it passed in */
	unsigned runs;		/* learn runs it ran in */
	struct deep_ops ops;	/* its mean footprint */
};

struct deep_base {
	struct deep_test *tests;
	size_t ntests;
	unsigned learn_runs;
};

/*
 * deep_base_load() - the footprints of every `learn` run of stack @stack in
 * @db, per test, averaged over the runs the test ran in. OUT: *@b.
 * Returns 0, -ENOENT (no learn run of that stack) or -EIO/-ENOMEM.
 */
int deep_base_load(sqlite3 *db, const char *stack, struct deep_base *b);

void deep_base_release(struct deep_base *b);

/* deep_test_find() - the learned test named @name, or NULL. */
struct deep_test *deep_test_find(const struct deep_base *b, const char *name);

/* deep_test_touches() - whether @t's footprint has an op on client → server. */
bool deep_test_touches(const struct deep_test *t, const char *client, const char *server);

/*
 * deep_ops_add() - add @requests, @errors and the histogram blob @hist
 * (may be NULL) to the op (client, server, protocol, operation) of @ops,
 * creating it. Returns 0 or -ENOMEM.
 */
int deep_ops_add(struct deep_ops *ops, const char *client, const char *server,
		 const char *protocol, const char *operation, double requests,
		 double errors, const void *hist, size_t hist_len);

void deep_ops_release(struct deep_ops *ops);

/* What one fault did, compared with the learned footprints. */
struct deep_cascade {
	const struct deep_op *after;	/* borrowed from the fault run's ops */
	double base_requests, base_errors;
	double p99_ms, base_p99_ms;
	bool errors_rose, latency_rose;
};

struct deep_effect {
	struct deep_cascade *cascade;	/* edges other than the faulted one; owned */
	size_t ncascade;
	double faulted_requests;	/* on client → server during the fault */
	double faulted_errors;
	double base_requests;		/* what the same tests made when learned */
	uint64_t retries;		/* extra requests on the faulted edge */
	struct fl_hist faulted_hist, base_hist;	/* latency on it, ns; owned */
	double faulted_p99_ms, base_p99_ms;
};

/*
 * deep_effect_judge() - compare @after (the footprints of the tests run
 * under a fault on @client → @server) with @base (the same tests' learned
 * footprints, summed), op by op, by the judge (JUDGE_POLICY_DEEP,
 * judge/judge.h); an op the learned footprints do not have counts when it
 * failed. The faulted edge's own ops are summed into @e, not judged. Ops
 * whose client or server is @ignore (the relay) are left out.
 * OUT: *@e. Returns 0 or -ENOMEM.
 */
int deep_effect_judge(const struct deep_ops *after, const struct deep_ops *base,
		      const char *client, const char *server, const char *ignore,
		      struct deep_effect *e);

void deep_effect_release(struct deep_effect *e);

#endif
