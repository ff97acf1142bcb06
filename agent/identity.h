/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Service identity: who is at each end of a connection (DESIGN.md §5).
 *
 * A process is named, in this order: the operator's mapping file
 * (identity_load_rules), OTEL_SERVICE_NAME (or service.name in
 * OTEL_RESOURCE_ATTRIBUTES) from /proc/PID/environ; a systemd unit
 * (".service") or a container id from /proc/PID/cgroup; the program name
 * (argv[0] as the process shows it, so "postgres: ..." and "nginx: worker"
 * name postgres and nginx); for an interpreter (python, node, ruby, perl,
 * php, sh) the script or module it runs.
 *
 * The server end of a client connection is the process listening on the
 * peer port on this node: the listening sockets of every network namespace
 * come from sock_diag (/proc/net/tcp{,6} where it is missing), their owners
 * from /proc/PID/fd; a peer that cannot be resolved is named "ADDR:PORT"
 * and has kind external.
 */
#ifndef FAULTLINE_IDENTITY_H
#define FAULTLINE_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define FL_NAME_MAX 128

struct identity;

/* identity_new() - a resolver with empty caches; NULL with errno on failure. */
struct identity *identity_new(void);

/*
 * identity_load_rules() - load the operator's mapping file @path (JSON):
 *   {"services": [{"name": "checkout", "kind": "service",
 *                  "match": {"exe": "GLOB", "cmdline": "GLOB",
 *                            "cgroup": "GLOB", "port": 8080}}, ...]}
 * Every key given in "match" must match (globs as fnmatch(3); cmdline is
 * argv joined by spaces; cgroup any path in /proc/PID/cgroup; port a
 * listening port, which also names unresolved peers at that port); the
 * first matching rule wins over every default. "kind" is one of service,
 * database, cache, queue, external (default service).
 * Returns 0, or -EINVAL with "FILE:LINE:COL: reason" in @err (@errlen
 * bytes); the resolver keeps no rule from a rejected file.
 */
int identity_load_rules(struct identity *id, const char *path, char *err,
			size_t errlen);

/*
 * identity_match() - the operator's rule for process @tgid (0: none known)
 * at listening port @port (0: none): its name into @out (FL_NAME_MAX) and
 * OUT: *@kind (a static "service", "database", ...). Returns true if a rule
 * matched.
 */
bool identity_match(struct identity *id, uint32_t tgid, uint16_t port,
		    char *out, const char **kind);

/* Called with a live process's tgid and the name it was just given. */
typedef void (*identity_observer_fn)(void *ctx, uint32_t tgid, const char *name);

/*
 * identity_set_observer() - call @fn(@ctx, tgid, name) whenever
 * identity_process() names a live process from /proc (at most once per
 * cache period per tgid, and at once after identity_exec()). deploy.c
 * fingerprints the program there.
 */
void identity_set_observer(struct identity *id, identity_observer_fn fn,
			   void *ctx);

/* identity_free() - release @id; NULL is fine. */
void identity_free(struct identity *id);

/*
 * identity_process() - the service name of process @tgid into @out
 * (FL_NAME_MAX bytes). @comm (may be NULL) names a process that has already
 * exited. Cached per tgid for a few seconds. Returns 0, or -ESRCH when the
 * process is gone and no @comm was given (out holds "pid-N" then).
 */
int identity_process(struct identity *id, uint32_t tgid, const char *comm,
		     char *out);

/*
 * identity_exec() - process @tgid just called execve(): it is a new program
 * now, so its cached name is dropped and resolved again at once, while it
 * surely lives (@comm as for identity_process). Short-lived clients are
 * then named before they connect, exit and leave only their comm.
 */
void identity_exec(struct identity *id, uint32_t tgid, const char *comm);

/*
 * identity_exec_env() - the environment block of @tgid's new image at its
 * exec (@len bytes of "K=V\0" strings, from FL_EV_PROC_ENV): its
 * OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) names
 * the process, and its forks that run the same image, ahead of
 * /proc/PID/environ, which servers overwrite with their process title.
 * Kept until identity_exit() or the next exec of @tgid.
 */
void identity_exec_env(struct identity *id, uint32_t tgid, const char *env,
		       size_t len);

/*
 * identity_env_filter() - the OTEL_* entries of environment block @env
 * (@len bytes) into @out (@outlen bytes), NUL-terminated each; returns the
 * bytes written. What a recording keeps of an environment: the rest may
 * hold credentials.
 */
size_t identity_env_filter(const char *env, size_t len, char *out, size_t outlen);

/* identity_exit() - @tgid exited: forget its exec-time name. */
void identity_exit(struct identity *id, uint32_t tgid);

/*
 * identity_listener() - the tgid of the process listening on TCP @port on
 * this node for connections to @addr (16 bytes, IPv4-mapped for IPv4).
 * Returns the tgid, or 0 when none is known. On a miss the listener table
 * is re-read, at most every 100 ms for an address of this node (loopback
 * or a namespace's own: a listener surely exists, e.g. one that started
 * since) and once a second for others: a sock_diag LISTEN dump per network
 * namespace (O(listeners), not O(sockets)); the walk of every process's
 * fds that finds owners runs only for listeners new since the last read
 * (an owner not found is looked for again after 10 s).
 */
uint32_t identity_listener(struct identity *id, const uint8_t addr[16],
			   uint16_t port);

/* identity_is_local() - true if @addr (16 bytes) is a loopback address. */
bool identity_is_local(const uint8_t addr[16]);

/* identity_addr_str() - "ADDR:PORT" ("[v6]:PORT" for IPv6) into @out. */
void identity_addr_str(const uint8_t addr[16], uint16_t port, char *out,
		       size_t len);

#endif /* FAULTLINE_IDENTITY_H */
