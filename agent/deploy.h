/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Deploys seen by the agent, and what the agent saw of each flush.
 *
 * Each time the identity resolver names a live process, deploy_process()
 * takes the fingerprint of the program it runs: OTEL_RESOURCE_ATTRIBUTES
 * service.version when set; otherwise a hash of the executable's path,
 * size and mtime, the interpreter's script (path and content up to 1 MiB,
 * size and mtime above) and the command line. A service whose process runs
 * a version no other live process of that service runs, and that differs
 * from the service's current version, was deployed: one deployments row
 * (old -> new version, time, node), written at the next flush. The first
 * version seen of a service is its baseline, not a deploy.
 *
 * deploy_flush() also writes one agent_flushes row per flush (node, time,
 * agent start, flush interval, window width, events lost so far), so
 * `gatectl verify` can tell a quiet edge from an agent that did not look.
 * docs/store.md "Schema v6".
 */
#ifndef FAULTLINE_DEPLOY_H
#define FAULTLINE_DEPLOY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define DEPLOY_VERSION_LEN 64	/* version ids, with the NUL */

struct deploy_tracker;

/*
 * deploy_new() - a tracker for the agent writing windows as @source
 * (borrowed, "ebpf" or "test"), flushing every @flush_s seconds into
 * windows @window_s wide. The node is the hostname. NULL with errno set.
 */
struct deploy_tracker *deploy_new(const char *source, unsigned flush_s,
				  unsigned window_s);

/*
 * deploy_process() - process @tgid, alive, is named @service: compare the
 * program it runs with what @service ran so far (see above). Cheap when
 * @tgid was fingerprinted already. Suitable as an identity observer.
 */
void deploy_process(void *tracker, uint32_t tgid, const char *service);

/*
 * deploy_fingerprint() - the version id of what process @tgid runs into
 * @out (DEPLOY_VERSION_LEN) and, if @detail is not NULL, a new JSON text
 * of what it is made of (caller frees). Returns 0 or -ESRCH (gone).
 */
int deploy_fingerprint(uint32_t tgid, char *out, char **detail);

/*
 * deploy_flush() - write the deployments seen since the last call and one
 * agent_flushes row (@lost: events lost since the agent started) to @db,
 * in one transaction. A store older than schema 6 is left alone.
 * Returns 0 or -EIO with a message in @errbuf (@errlen); the deployments
 * are kept for the next call then.
 */
int deploy_flush(struct deploy_tracker *t, sqlite3 *db, uint64_t lost,
		 char *errbuf, size_t errlen);

/* deploy_count() - deployments recorded so far (written or pending). */
uint64_t deploy_count(const struct deploy_tracker *t);

/* deploy_free() - release @t; NULL is fine. */
void deploy_free(struct deploy_tracker *t);

#endif /* FAULTLINE_DEPLOY_H */
