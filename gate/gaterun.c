// SPDX-License-Identifier: BSD-2-Clause
/* The gate commands' shared options and sandbox handling (gate/gaterun.h). */
#include "gaterun.h"

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
	return err ? (err == -ENOMEM ? err : -EINVAL) : 0;
}

int gate_sandbox_open(struct gate_ctx *ctx, const struct gate_stack_opts *so,
		      const struct fl_stack *stack, struct sandbox *sb)
{
	int err = sb_open(sb, stack, so->name, so->state_dir, ctx->db_path);

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
