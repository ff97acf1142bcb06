/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS plaintext: attaching the collector's SSL_* uprobes (bpf/collector.bpf.c)
 * to every OpenSSL 1.1/3.x on the node, without application changes.
 *
 * A uprobe is attached per file (pid -1: every process that maps it), so
 * each distinct file — keyed by the device and inode /proc/PID/maps shows —
 * is attached once: each libssl.so* a process maps, and each executable that
 * carries OpenSSL or BoringSSL statically and exports SSL_write (node). At
 * start every process is looked at; later, each process that calls execve()
 * (the collector's FL_EV_PROC_EXEC event) is looked at a few times shortly
 * after (its libraries are mapped after exec, or later by dlopen), and every
 * process again once a minute. Failures are counted, never fatal.
 */
#ifndef FAULTLINE_TLS_H
#define FAULTLINE_TLS_H

#include <stdint.h>
#include "agent.h"

struct collector_bpf;
struct tls;

/*
 * tls_new() - attachment state for the uprobe programs of @skel (loaded;
 * borrowed, must outlive it), counting into @stats (tls_libraries,
 * tls_attach_failures). Returns NULL with errno = ENOMEM.
 */
struct tls *tls_new(struct collector_bpf *skel, struct agent_stats *stats);

/*
 * tls_scan_all() - look at every process in /proc (but the agent) and
 * attach to each TLS library or executable not attached yet, logging each
 * file attached ("faultline-agent: tls: attached to PATH"). @now_ns:
 * CLOCK_MONOTONIC; the next periodic rescan is a minute after it.
 */
void tls_scan_all(struct tls *t, uint64_t now_ns);

/*
 * tls_on_exec() - process @pid called execve() at @now_ns (CLOCK_MONOTONIC):
 * look at it a few times in the next seconds. At most TLS_PENDING_MAX
 * processes wait; beyond that the periodic rescan finds them.
 */
void tls_on_exec(struct tls *t, uint32_t pid, uint64_t now_ns);

/* tls_poll() - do the looks due at @now_ns, and the periodic rescan; NULL is fine. */
void tls_poll(struct tls *t, uint64_t now_ns);

/* tls_timeout_ms() - ms from @now_ns to the next look due, at most @max_ms
 * (@max_ms for NULL). */
int tls_timeout_ms(const struct tls *t, uint64_t now_ns, int max_ms);

/* tls_free() - detach every uprobe and free @t; NULL is fine. */
void tls_free(struct tls *t);

#endif /* FAULTLINE_TLS_H */
