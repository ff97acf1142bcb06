/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The stack file (docs/stack.md): a JSON description of the services of a
 * system and its integration tests, read by the gate (sandbox, learn,
 * select, gate) and written by hand or by the estate's tools.
 *
 * Parsed with jansson (duplicate keys and trailing garbage refused); every
 * error, syntax or meaning, is reported as "FILE:LINE:COL: reason" where
 * FILE is the path as given. Unknown keys are refused, so a typo never
 * silently turns off a setting (keys starting "x-" are extensions, ignored).
 * Relative paths (the `paths` globs, a
 * driver's store) are made absolute against the file's directory; commands
 * run there (fl_stack.dir).
 */
#ifndef FAULTLINE_STACK_H
#define FAULTLINE_STACK_H

#include <stdbool.h>
#include <stddef.h>

#define FL_STACK_NAME_MAX 64	/* service / test / stack name, bytes incl. NUL */
#define FL_STACK_READY_TIMEOUT_S 30.0	/* default ready deadline per service */
#define FL_STACK_TEST_TIMEOUT_S 60.0	/* default test timeout */

/* A NULL-terminated argv; owns its strings. */
struct fl_argv {
	char **v;		/* v[n] == NULL */
	size_t n;
};

enum fl_ready_kind {
	FL_READY_TCP = 0,	/* a socket listens on the port (no connection made) */
	FL_READY_HTTP,		/* GET path on the port answers 2xx */
	FL_READY_GRPC,		/* listening, as TCP (no HTTP/2 health call yet) */
};

struct fl_stack_service {
	char *name;		/* unique, [A-Za-z0-9._-], < FL_STACK_NAME_MAX */
	struct fl_argv cmd;	/* argv, no shell */
	char **env;		/* "KEY=VALUE" strings, NULL-terminated; owned */
	size_t nenv;
	char *kind;		/* service|database|cache|queue */
	int port;		/* the port it listens on, 1..65535 */
	enum fl_ready_kind ready;
	int ready_port;		/* the port the ready check uses (default: port) */
	char *ready_path;	/* FL_READY_HTTP: "/health"; owned */
	double ready_timeout_s;	/* deadline of the ready check */
	char **paths;		/* absolute globs, NULL-terminated; owned */
	size_t npaths;
	struct fl_argv *setup;	/* argvs run once after ready, in order */
	size_t nsetup;
};

struct fl_stack_test {
	char *name;		/* unique, no blanks, < FL_STACK_NAME_MAX */
	struct fl_argv cmd;	/* argv; exit 0 = pass */
	double timeout_s;	/* killed after this many seconds */
	char **tags;		/* NULL-terminated; owned */
	size_t ntags;
};

/* Hook driver: a sandbox that is not local processes (kubectl, compose). */
struct fl_stack_driver {
	bool set;		/* the stack has a "driver" object */
	struct fl_argv up, swap, restore, down;	/* empty: not given */
	char *store;		/* absolute path of the store the remote agent writes */
	char *control;		/* its control socket (a forwarded unix socket), or NULL */
};

struct fl_stack {
	char *path;		/* as given */
	char *dir;		/* absolute directory of the file; commands run here */
	char *name;
	struct fl_stack_service *svcs;
	size_t nsvcs;
	struct fl_stack_test *tests;
	size_t ntests;
	char **must_run;	/* tags whose tests select always runs; NULL-terminated */
	size_t nmust_run;
	struct fl_stack_driver driver;
};

/*
 * fl_stack_load() - read and check the stack file at @path.
 * OUT: *@out (released with fl_stack_release() on success only).
 * Returns 0, -EINVAL (malformed: "FILE:LINE:COL: reason" in @err, or
 * "FILE: reason" when no position applies), -ENOENT/-EACCES/... (cannot
 * read: "cannot open 'FILE': why"), or -ENOMEM.
 */
int fl_stack_load(const char *path, struct fl_stack *out, char *err,
		  size_t errlen);

/* fl_stack_release() - free what @s owns; @s may be zeroed. */
void fl_stack_release(struct fl_stack *s);

/* fl_stack_service() - the service named @name, or NULL. */
struct fl_stack_service *fl_stack_service(const struct fl_stack *s,
					  const char *name);

/* fl_stack_test() - the test named @name, or NULL. */
struct fl_stack_test *fl_stack_test(const struct fl_stack *s, const char *name);

/* fl_stack_has_tag() - whether test @t carries @tag. */
bool fl_stack_has_tag(const struct fl_stack_test *t, const char *tag);

/*
 * fl_argv_split() - split @cmd into words as a POSIX shell would, without
 * any expansion: blanks separate words, '...' is literal, "..." keeps
 * blanks and takes \" \\ \$ \` as escapes, a backslash outside quotes
 * escapes the next character. OUT: *@out. Returns 0, -EINVAL (unmatched
 * quote, trailing backslash or no word at all; message in @err) or -ENOMEM.
 */
int fl_argv_split(const char *cmd, struct fl_argv *out, char *err, size_t errlen);

/* fl_argv_release() - free @a and its strings; @a may be zeroed. */
void fl_argv_release(struct fl_argv *a);

/*
 * fl_argv_copy() - a deep copy of @src into @dst with every occurrence of
 * "${NAME}" for each NAME=VALUE of @vars (NULL-terminated) replaced by
 * VALUE: the stack file's only expansion (docs/stack.md). 0 or -ENOMEM.
 */
int fl_argv_copy(const struct fl_argv *src, char *const *vars, struct fl_argv *dst);

#endif /* FAULTLINE_STACK_H */
