// SPDX-License-Identifier: BSD-2-Clause
#include "callpath.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define THREAD_BUCKETS 4096
#define TRACE_SLOTS (1u << 14)	/* recent incoming trace-ids kept */
#define SERVE_MAX_NS (60ull * 1000000000)  /* a request served longer: stale */
#define TRACE_MAX_NS (300ull * 1000000000) /* a trace-id's children after this: stale */

/*
 * One thread that is serving a request or is an event loop. Entries exist
 * only while either holds, so the table is as big as the threads busy at
 * once plus the event loops.
 */
struct thread {
	struct thread *next;	/* hash chain */
	uint32_t tid, tgid;
	bool evloop;		/* waits on epoll or read two requests at once */
	const void *conn;	/* the server connection it is serving, or NULL */
	struct agg_edge *parent; /* ... the edge of that request */
	uint64_t ts;		/* when the request was read, ns */
};

/* An incoming request that carried a trace-id: its children may follow. */
struct trace_slot {
	uint8_t trace_id[16];
	struct agg_edge *parent; /* NULL: empty slot */
	uint64_t ts;		/* when the request was read, ns */
};

struct callpath {
	struct aggregator *agg;
	struct agent_stats *stats;
	struct thread *threads[THREAD_BUCKETS];
	struct trace_slot traces[TRACE_SLOTS]; /* direct-mapped by trace-id */
};

struct callpath *callpath_new(struct aggregator *agg, struct agent_stats *stats)
{
	struct callpath *cp = calloc(1, sizeof(*cp));

	if (!cp)
		return NULL;
	cp->agg = agg;
	cp->stats = stats;
	return cp;
}

void callpath_free(struct callpath *cp)
{
	if (!cp)
		return;
	for (int b = 0; b < THREAD_BUCKETS; b++) {
		struct thread *t = cp->threads[b], *next;
		for (; t; t = next) {
			next = t->next;
			free(t);
		}
	}
	free(cp);
}

static struct thread **thread_slot(struct callpath *cp, uint32_t tid)
{
	struct thread **pp = &cp->threads[(tid * 2654435761u) % THREAD_BUCKETS];

	while (*pp && (*pp)->tid != tid)
		pp = &(*pp)->next;
	return pp;
}

static struct thread *thread_get(struct callpath *cp, uint32_t tgid,
				 uint32_t tid)
{
	struct thread **pp = thread_slot(cp, tid), *t = *pp;

	if (t && t->tgid != tgid) { /* the tid went to another process */
		memset(&t->evloop, 0, sizeof(*t) - offsetof(struct thread, evloop));
		t->tgid = tgid;
	}
	if (t)
		return t;
	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	t->tid = tid;
	t->tgid = tgid;
	*pp = t;
	return t;
}

/* Forget @tid unless it is an event loop (that mark must stay). */
static void thread_idle(struct callpath *cp, uint32_t tid)
{
	struct thread **pp = thread_slot(cp, tid), *t = *pp;

	if (!t)
		return;
	t->conn = NULL;
	t->parent = NULL;
	if (!t->evloop) {
		*pp = t->next;
		free(t);
	}
}

/*
 * The slot of trace @id coming into @service: one trace crosses several
 * services, each keeps its own entry. Trace-ids are random (W3C Trace
 * Context §3.2.2.3), so their last bytes hash well enough.
 */
static struct trace_slot *trace_slot(struct callpath *cp, const uint8_t id[16],
				     const char *service)
{
	uint32_t h;

	memcpy(&h, id + 12, sizeof(h));
	for (const char *p = service; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &cp->traces[h % TRACE_SLOTS];
}

int callpath_serve(struct callpath *cp, uint32_t tgid, uint32_t tid,
		   const void *conn, struct agg_edge *parent,
		   const struct fl_request_info *ri, uint64_t ts_ns)
{
	struct thread *t = thread_get(cp, tgid, tid);

	if (!t)
		return -ENOMEM;
	if (ri->has_trace_id) {
		struct trace_slot *s = trace_slot(cp, ri->trace_id,
						  agg_edge_server(parent));
		memcpy(s->trace_id, ri->trace_id, sizeof(s->trace_id));
		s->parent = parent;
		s->ts = ts_ns;
	}
	if (t->evloop)
		return 0;
	if (t->conn && t->conn != conn && ts_ns - t->ts < SERVE_MAX_NS) {
		/* a second request before the first's response: multiplexing */
		t->evloop = true;
		t->conn = NULL;
		t->parent = NULL;
		cp->stats->threads_multiplexed++;
		return 0;
	}
	t->conn = conn;
	t->parent = parent;
	t->ts = ts_ns;
	return 0;
}

void callpath_respond(struct callpath *cp, uint32_t tid, const void *conn)
{
	struct thread *t = *thread_slot(cp, tid);

	if (t && t->conn == conn)
		thread_idle(cp, tid);
}

struct agg_edge *callpath_current(struct callpath *cp, uint32_t tgid,
				  uint32_t tid, uint64_t ts_ns)
{
	struct thread *t = *thread_slot(cp, tid);

	if (!t || t->evloop || t->tgid != tgid || !t->parent ||
	    ts_ns - t->ts >= SERVE_MAX_NS)
		return NULL;
	return t->parent;
}

int callpath_child(struct callpath *cp, struct agg_edge *child,
		   const char *client, struct agg_edge *thread_parent,
		   const struct fl_record *rec, uint64_t wall_ns)
{
	if (rec->has_trace_id) {
		struct trace_slot *s = trace_slot(cp, rec->trace_id, client);

		/* the same trace came into this very service: its caller */
		if (s->parent && s->parent != child &&
		    !memcmp(s->trace_id, rec->trace_id, sizeof(s->trace_id)) &&
		    rec->start_ns >= s->ts && rec->start_ns - s->ts < TRACE_MAX_NS &&
		    !strcmp(agg_edge_server(s->parent), client)) {
			cp->stats->links_traceparent++;
			return agg_link(cp->agg, s->parent, child,
					AGG_LINK_TRACEPARENT, wall_ns);
		}
	}
	if (!thread_parent || thread_parent == child)
		return 0;
	cp->stats->links_thread++;
	return agg_link(cp->agg, thread_parent, child, AGG_LINK_THREAD, wall_ns);
}

int callpath_evloop(struct callpath *cp, uint32_t tgid, uint32_t tid, bool on)
{
	struct thread *t;

	if (!on) {
		t = *thread_slot(cp, tid);
		if (t)
			t->evloop = false;
		thread_idle(cp, tid);
		return 0;
	}
	if (!(t = thread_get(cp, tgid, tid)))
		return -ENOMEM;
	t->evloop = true;
	t->conn = NULL;
	t->parent = NULL;
	cp->stats->threads_evloop++;
	return 0;
}
