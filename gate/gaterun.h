/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the gate's commands (sandbox, learn, select, gate) share: the
 * --stack/--name/--state-dir options, loading the stack file, opening and
 * starting the sandbox with errors mapped to exit codes, and the learned
 * knowledge read from the store (docs/gate.md).
 */
#ifndef FAULTLINE_GATERUN_H
#define FAULTLINE_GATERUN_H

#include "gatectl.h"
#include "sandbox.h"
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
