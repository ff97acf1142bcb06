/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The gate's sandbox (docs/gate.md "Sandbox"): the services of a stack file
 * in a network namespace of their own, each in a cgroup v2 under
 * faultline/<sandbox>/, with the sandbox agent (footprints through its
 * control socket), kept warm between gatectl invocations.
 *
 * State lives in a directory per sandbox (default
 * /run/faultline/sandbox/<name>): sandbox.json (what runs, pids, restarts,
 * what is swapped), the agent's control socket, logs/, and data/ (the
 * STACK_STATE_DIR every command is given). An flock on its `lock` file
 * serialises gatectl invocations on one sandbox; a gatectl killed with
 * SIGKILL releases it, and the next one finds what it left (phase
 * "starting", a swapped service, dead processes) and repairs or removes it.
 *
 * Errors: int functions return 0 or a negative errno with a one-line
 * message in sb->err; -EINVAL means bad input (a command that does not
 * start, an unknown service), -EIO a sandbox that failed (infra), -EINTR
 * a SIGINT/SIGTERM (sb_interrupted).
 */
#ifndef FAULTLINE_SANDBOX_H
#define FAULTLINE_SANDBOX_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "stack.h"

#define SB_STATE_ROOT "/run/faultline/sandbox"
#define SB_TEST_CLIENT "tests"	/* the name the agent gives test processes */

/* The last SIGINT/SIGTERM seen by sb_signals_install()'s handler, or 0. */
extern volatile sig_atomic_t sb_interrupted;

struct sb_service {
	pid_t pid;		/* the service's main process, 0: not running */
	uint64_t starttime;	/* of pid, /proc/PID/stat field 22 (reuse guard) */
	int restarts;		/* times gatectl found it dead and started it again */
	bool swapped;		/* runs a changed command, not the stack's */
	struct fl_argv cmd;	/* the argv it runs now; owned */
	int64_t started_ns;
};

struct sandbox {
	const struct fl_stack *stack;	/* borrowed */
	char name[FL_STACK_NAME_MAX];
	char netns[FL_STACK_NAME_MAX + 4];	/* "fl-<name>" (ip netns) */
	char state_dir[4096];
	char cgroup[4096];	/* absolute: <cgroup2 mount>/faultline/<name> */
	char cgroup_rel[512];	/* as in /proc/PID/cgroup: /faultline/<name> */
	char control[4200];	/* the agent's control socket */
	char db[4096];		/* absolute path of the store the agent writes */
	char stack_path[4096];	/* realpath of the stack file */
	bool local;		/* local driver (else the stack's hook driver) */
	bool up;		/* services and agent running (phase "up") */
	pid_t agent_pid;
	uint64_t agent_starttime;
	struct sb_service *svcs;	/* parallel to stack->svcs; owned */
	double up_s;		/* wall time of the last cold `up`, s */
	int lock_fd;
	int host_ns_fd;		/* gatectl's own network namespace */
	int ns_fd;		/* the sandbox's, once it exists */
	bool in_ns;		/* gatectl's main thread has entered ns_fd */
	char err[1024];
};

/* sb_signals_install() - SIGINT/SIGTERM set sb_interrupted (no SA_RESTART). */
void sb_signals_install(void);

/*
 * sb_open() - take the lock of sandbox @name (NULL: the stack's name) of
 * @stack, whose state is under @state_dir (NULL: SB_STATE_ROOT/<name>),
 * and read its state. @db is the store its agent writes (made absolute).
 * Waits for the lock of another gatectl on it. Returns 0 or -errno (-EPERM
 * when not root).
 */
int sb_open(struct sandbox *sb, const struct fl_stack *stack, const char *name,
	    const char *state_dir, const char *db);

/* sb_close() - release the lock and what @sb owns. */
void sb_close(struct sandbox *sb);

/*
 * sb_up() - make the sandbox warm: if it runs as it should, check every
 * service (a dead one is started again, restarts + 1; a swapped one left by
 * a killed gatectl is restored); otherwise remove whatever an earlier one
 * left and start it cold: namespace, cgroups, services in stack order
 * (each ready before the next), setup steps, the agent. A failed cold
 * start removes everything again. OUT: *@cold (started from nothing).
 * Enters the namespace (sb->in_ns). Returns 0, -EINVAL (a command that
 * does not start), -EIO, -ETIMEDOUT (a ready check), -EINTR.
 */
int sb_up(struct sandbox *sb, bool *cold);

/*
 * sb_down() - stop everything of the sandbox, found by name even with no
 * or stale state: the agent (SIGINT, its final flush), every process of its
 * cgroups (SIGTERM, then cgroup.kill), the cgroups, the namespace, the
 * socket and state file. Idempotent. Returns 0 or -EIO.
 */
int sb_down(struct sandbox *sb);

/*
 * sb_swap() - replace service @svc's command by @argv (the stack's port,
 * env and ready check stay) and wait until it is ready. On failure the
 * baseline is started again and the error returned (-EINVAL: the command
 * does not start or exits before ready; -ETIMEDOUT; -EIO).
 */
int sb_swap(struct sandbox *sb, size_t svc, const struct fl_argv *argv);

/* sb_restore() - start the stack's own command of @svc again if swapped. */
int sb_restore(struct sandbox *sb, size_t svc);

/*
 * sb_restart() - stop service @svc (its whole cgroup) and start the command
 * it runs now (swapped or not) again, waiting until it is ready: its
 * connections are all new afterwards (gatectl deep, after a fault). Local
 * driver only. Returns 0, -EINVAL (hook driver), -EIO, -ETIMEDOUT, -EINTR.
 */
int sb_restart(struct sandbox *sb, size_t svc);

/* sb_alive() - whether service @svc's recorded process runs. */
bool sb_alive(struct sandbox *sb, size_t svc);

/* The outcome of one command run in the sandbox (a test). */
struct sb_result {
	int exit_code;		/* exit status, 128 + signal, -1: not started */
	bool timed_out;
	double duration_s;
};

/*
 * sb_run() - run @argv in the namespace and cgroup <sandbox>/_test, in the
 * stack's directory, with STACK_STATE_DIR and @extra_env (NULL-terminated
 * NAME=VALUE), stdout and stderr to @log; killed (the whole cgroup) after
 * @timeout_s. OUT: *@res. Returns 0 (whatever the exit), -EINVAL (the
 * program does not start: res->exit_code -1), -EINTR, -EIO.
 */
int sb_run(struct sandbox *sb, const struct fl_argv *argv, char *const *extra_env,
	   const char *log, double timeout_s, struct sb_result *res);

/*
 * sb_control() - send @line (no newline) on the agent's control socket,
 * OUT: its reply line in @reply. Returns 0 when it starts with "ok",
 * -EPROTO for "err ..." (the reply in sb->err), -EIO when unreachable.
 */
int sb_control(struct sandbox *sb, const char *line, char *reply, size_t len);

/* sb_log_path() - OUT: @buf = <state_dir>/logs/<what>.log ('/' as '_'). */
void sb_log_path(const struct sandbox *sb, const char *what, char *buf, size_t len);

/*
 * sb_status_json() - the state as `gatectl sandbox status -o json` prints
 * it (docs/gate.md). A new reference or NULL.
 */
struct json_t;
struct json_t *sb_status_json(struct sandbox *sb);

#endif /* FAULTLINE_SANDBOX_H */
