/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Which network namespaces the agent traces (--netns NAME..., or
 * --exclude-netns NAME...; docs/agent.md "Network namespaces"). A NAME is
 * an `ip netns` name (/run/netns/NAME) or an absolute path to a namespace
 * file (/proc/PID/ns/net). The filter itself is in the collector (one hash
 * lookup of the socket's ns inode at registration, bpf/collector.bpf.c
 * netns_tracked()); this side resolves names to inode numbers and keeps the
 * collector's netns_inums map current: a namespace that does not exist yet
 * is added when it appears, one deleted and made again under the same name
 * is followed to its new inode (netns_refresh(), called from the main loop).
 */
#ifndef FAULTLINE_NETNS_H
#define FAULTLINE_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <faultline/events.h>

#define NETNS_NAMES_MAX 16	/* names given on the command line */

struct netns_filter;

/*
 * netns_filter_new() - a filter of @mode (FL_NETNS_ONLY or
 * FL_NETNS_EXCLUDE) over @names (@n of them, borrowed for the filter's
 * life). Returns NULL with errno EINVAL (a name with a '/' that is not an
 * absolute path, or "." / ".."; more than NETNS_NAMES_MAX) or ENOMEM.
 */
struct netns_filter *netns_filter_new(enum fl_netns_mode mode,
				      char *const *names, int n);

/* netns_filter_free() - release @f; NULL is fine. */
void netns_filter_free(struct netns_filter *f);

/*
 * netns_filter_attach() - resolve every name and put its inode into the
 * collector's netns_inums map @map_fd. OUT: *@missing, the names that do
 * not exist yet (added when they appear). Returns 0 or -errno of a map
 * update.
 */
int netns_filter_attach(struct netns_filter *f, int map_fd, int *missing);

/*
 * netns_refresh() - resolve the names again at most every @period_ns of
 * @now_ns (monotonic): a namespace that appeared is added, one whose
 * inode changed is replaced. Cost: a stat(2) and statfs(2) per name.
 */
void netns_refresh(struct netns_filter *f, uint64_t now_ns, uint64_t period_ns);

/*
 * netns_pid_tracked() - whether process @tgid's sockets are traced: its
 * /proc/PID/ns/net inode checked against the filter (for sockets adopted
 * from /proc, which the collector never registered). A process gone is not.
 */
bool netns_pid_tracked(const struct netns_filter *f, uint32_t tgid);

/*
 * netns_describe() - append " netns=only:NAME=INUM,NAME=-" (or exclude:)
 * to @buf (@len bytes, NUL-terminated): "-" for a name not resolved yet.
 */
void netns_describe(const struct netns_filter *f, char *buf, size_t len);

#endif /* FAULTLINE_NETNS_H */
