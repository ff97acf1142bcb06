/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Call-path links: tie a request a service makes (child edge B -> D) to the
 * request it was serving at the time (parent edge A -> B), without touching
 * the application. Two methods (docs/agent.md, "Call paths"):
 *
 *  - traceparent: the incoming request carried a W3C traceparent and the
 *    outgoing one carries the same trace-id, from the same service (any
 *    thread, any process of that service). Exact.
 *  - thread: the outgoing request was written by the thread that had read
 *    an incoming request and not yet written its response. Right for
 *    thread-per-request servers; never applied to a thread that waits on
 *    epoll (an event loop, FL_EV_THREAD_EVLOOP) or that is seen reading a
 *    second connection's request before answering the first.
 *
 * A child gets at most one link: traceparent when it applies, else thread.
 */
#ifndef FAULTLINE_CALLPATH_H
#define FAULTLINE_CALLPATH_H

#include <stdbool.h>
#include <stdint.h>
#include "agent.h"
#include "aggregate.h"
#include "proto.h"

struct callpath;

/*
 * callpath_new() - link state counting into @agg and @stats (both borrowed).
 * NULL with errno = ENOMEM.
 */
struct callpath *callpath_new(struct aggregator *agg, struct agent_stats *stats);

/* callpath_free() - release @cp; NULL is fine. */
void callpath_free(struct callpath *cp);

/*
 * callpath_serve() - thread @tid of process @tgid read request @ri of
 * @parent on server connection @conn (an opaque identity) at @ts_ns
 * (monotonic ns). Returns 0 or -ENOMEM.
 */
int callpath_serve(struct callpath *cp, uint32_t tgid, uint32_t tid,
		   const void *conn, struct agg_edge *parent,
		   const struct fl_request_info *ri, uint64_t ts_ns);

/*
 * callpath_respond() - @tid wrote response bytes on @conn, or @conn (last
 * served by @tid) is closed: serving is over.
 */
void callpath_respond(struct callpath *cp, uint32_t tid, const void *conn);

/*
 * callpath_current() - the parent edge thread @tid of @tgid is serving at
 * @ts_ns, or NULL (not serving, an event loop, or unknown): taken when a
 * client connection writes a request, kept with that connection.
 */
struct agg_edge *callpath_current(struct callpath *cp, uint32_t tgid,
				  uint32_t tid, uint64_t ts_ns);

/*
 * callpath_child() - a record @rec of edge @child completed; the client
 * service is @client; @thread_parent is what callpath_current() gave when
 * its request was written. Counts one link (traceparent first) at
 * @wall_ns (Unix ns). Returns 0 or -ENOMEM.
 */
int callpath_child(struct callpath *cp, struct agg_edge *child,
		   const char *client, struct agg_edge *thread_parent,
		   const struct fl_record *rec, uint64_t wall_ns);

/*
 * callpath_evloop() - thread @tid waits on epoll (@on) or, marked so,
 * exited (!@on). Returns 0 or -ENOMEM.
 */
int callpath_evloop(struct callpath *cp, uint32_t tgid, uint32_t tid, bool on);

#endif /* FAULTLINE_CALLPATH_H */
