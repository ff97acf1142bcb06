// SPDX-License-Identifier: BSD-2-Clause
#include "conn.h"
#include "callpath.h"
#include "proto.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CONN_BUCKETS (1u << 16)
#define PROC_BUCKETS 4096
#define DETECT_MAX 64		/* request bytes kept while detection needs more */
#define JOINED_TRIES 8		/* a joined stream may start mid-message */
#define TLS_SNIFF_MAX 4096	/* stream prefix checked for TLS records once a
				   parser runs (after PostgreSQL's SSLRequest) */

struct conn {
	struct conn *next;	/* chain by (tgid, fd) */
	struct conn *tnext;	/* chain by local endpoint (client conns) */
	struct conn *pnext;	/* the process's connections (struct proc_conns) */
	struct conn **pprev;	/* what points at this one in that list */
	struct fl_conn_id cid;
	uint8_t role;		/* enum fl_role */
	bool has_tuple;
	bool in_tindex;
	bool mirror_checked;
	bool ignored;		/* mirrored, or no parser for its protocol */
	bool named;		/* client/server below are resolved */
	bool joined;		/* existed before the agent: joined mid-life */
	bool mirrored;		/* a server end whose client end records */
	bool kmirror;		/* socket path: the collector found it a mirror
				   at its open: what it did not send is mirrored */
	bool tls;		/* TLS plaintext seen: from now on only that */
	bool tls_opaque;	/* TLS records seen through the syscalls */
	uint8_t detect_tries;	/* detections failed on a joined connection */
	bool detect_resp;	/* detect[] holds response bytes (server-first) */
	bool server_first_done;	/* server-first detection is over */
	uint8_t mirror_want;	/* 1 << fl_direction not needed (a mirror) */
	uint8_t mirror_dirs;	/* of which the collector was told to skip */
	uint8_t mirror_events;	/* data events since (saturates) */
	bool mirror_failed;	/* telling the collector failed: not retried */
	struct fl_tuple tuple;
	char comm[16];
	uint64_t next_off[2];	/* next expected stream offset per direction */
	enum fl_proto proto;
	struct fl_parser *parser;
	uint8_t detect[DETECT_MAX];
	size_t ndetect;
	uint64_t detect_ts;
	char client[FL_NAME_MAX], server[FL_NAME_MAX];
	enum svc_kind server_kind;
	const char *rule_kind;	/* the operator's kind for this server end */
	struct conn_table *ct;
	uint64_t req_seen;	/* server end: newest request handed to callpath */
	uint32_t serving_tid;	/* server end: thread that read that request */
	struct agg_edge *link_parent; /* client end: what the writer was serving */
};

/*
 * The live connections of one process: its exit touches only those, and an
 * exit without any costs one lookup.
 */
struct proc_conns {
	struct proc_conns *next;	/* hash chain */
	uint32_t tgid;
	struct conn *conns;		/* via conn.pnext/pprev; never empty */
};

struct conn_table {
	struct conn *by_fd[CONN_BUCKETS];
	struct proc_conns *procs[PROC_BUCKETS];
	struct conn *by_local[CONN_BUCKETS];
	struct identity *id;
	struct aggregator *agg;
	struct agent_stats *stats;
	int64_t wall_off;
	int conns_map_fd;	/* collector's conns map, or -1 */
	int mirrors_map_fd;	/* collector's mirrors map, or -1 */
	volatile uint32_t *mirrors_on; /* its flag: an entry exists */
	struct callpath *cp;	/* call-path links; NULL when off */
	struct fl_parser_stats closed; /* parser counters of freed conns */
	uint64_t opaque_closed;	/* freed conns that were TLS seen only encrypted */
	int err;		/* first -ENOMEM while handling an event */
};

/* The socket path names a connection by its id alone (FL_CID_SOCK). */
static bool cid_sock(const struct fl_conn_id *cid)
{
	return cid->fd == FL_CID_SOCK;
}

static uint32_t cid_hash(const struct fl_conn_id *cid)
{
	if (cid_sock(cid))
		return (uint32_t)((cid->gen * 0x9e3779b97f4a7c15ull) >> 48) &
		       (CONN_BUCKETS - 1);
	return (cid->tgid * 2654435761u ^ (uint32_t)cid->fd * 40503u) &
	       (CONN_BUCKETS - 1);
}

static uint32_t local_hash(const uint8_t addr[16], uint16_t port)
{
	uint32_t h = port * 2654435761u;

	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h & (CONN_BUCKETS - 1);
}

struct conn_table *conn_table_new(struct identity *id, struct aggregator *agg,
				  struct agent_stats *stats,
				  int64_t mono_to_wall_ns, int conns_map_fd,
				  bool paths)
{
	struct conn_table *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return NULL;
	if (paths && !(ct->cp = callpath_new(agg, stats))) {
		free(ct);
		return NULL;
	}
	ct->id = id;
	ct->agg = agg;
	ct->stats = stats;
	ct->wall_off = mono_to_wall_ns;
	ct->conns_map_fd = conns_map_fd;
	ct->mirrors_map_fd = -1;
	return ct;
}

void conn_table_set_mirrors(struct conn_table *ct, int map_fd,
			    volatile uint32_t *on)
{
	ct->mirrors_map_fd = map_fd;
	ct->mirrors_on = on;
}

/*
 * Data events a mirror shows before the collector is told to stop copying
 * it: one map update (a syscall) per connection is worth it on a busy
 * keep-alive connection, not on a burst of short ones (100,000 connections
 * of one exchange each dropped events while the agent made them).
 */
#define MIRROR_QUIET_AFTER 16

/* Tell the collector what mirror @c does not need, once it has been busy. */
static void conn_mirror_apply(struct conn_table *ct, struct conn *c)
{
	struct fl_conn_key key = { .tgid = c->cid.tgid, .fd = c->cid.fd };
	struct fl_mirror m = { .gen = c->cid.gen, .dirs = c->mirror_want };

	if (ct->mirrors_map_fd < 0 || c->mirror_failed ||
	    c->mirror_dirs == c->mirror_want ||
	    c->mirror_events < MIRROR_QUIET_AFTER)
		return;
	if (bpf_map_update_elem(ct->mirrors_map_fd, &key, &m, BPF_ANY)) {
		c->mirror_failed = true;	/* map full: copies stay on */
		return;
	}
	c->mirror_dirs = c->mirror_want;
	*ct->mirrors_on = 1;
}

/*
 * Mirrored server end @c does not need its @dirs (1 << fl_direction): the
 * client end of the same connection has every byte; this end is parsed for
 * call paths at most, from its requests. The collector stops copying them
 * once the connection has been busy (conn_mirror_apply()).
 */
static void conn_mirror_quiet(struct conn_table *ct, struct conn *c,
			      uint8_t dirs)
{
	c->mirror_want |= dirs;
	conn_mirror_apply(ct, c);
}

/* The connection @cid names: (tgid, fd) on the syscall path, the id alone
 * on the socket path (its events come from any process using it). */
static struct conn *conn_find(struct conn_table *ct, const struct fl_conn_id *cid)
{
	bool sock = cid_sock(cid);

	for (struct conn *c = ct->by_fd[cid_hash(cid)]; c; c = c->next)
		if (sock ? cid_sock(&c->cid) && c->cid.gen == cid->gen
			 : c->cid.tgid == cid->tgid && c->cid.fd == cid->fd)
			return c;
	return NULL;
}

/* The traced client connection whose local end is @addr:@port, if any. */
static struct conn *conn_find_local(struct conn_table *ct,
				    const uint8_t addr[16], uint16_t port)
{
	for (struct conn *c = ct->by_local[local_hash(addr, port)]; c;
	     c = c->tnext)
		if (c->tuple.sport == port && !memcmp(c->tuple.saddr, addr, 16))
			return c;
	return NULL;
}

static void add_parser_stats(struct fl_parser_stats *dst,
			     const struct fl_parser_stats *s)
{
	dst->resyncs += s->resyncs;
	dst->unparsed_bytes += s->unparsed_bytes;
	dst->unpaired += s->unpaired;
	dst->requests_lost += s->requests_lost;
	dst->given_up += s->given_up;
	dst->unnamed += s->unnamed;
}

static struct proc_conns **proc_slot(struct conn_table *ct, uint32_t tgid)
{
	struct proc_conns **pp = &ct->procs[(tgid * 2654435761u) % PROC_BUCKETS];

	while (*pp && (*pp)->tgid != tgid)
		pp = &(*pp)->next;
	return pp;
}

/* Put @c on its process's list. Returns 0 or -ENOMEM. */
static int proc_link(struct conn_table *ct, struct conn *c)
{
	struct proc_conns **pp = proc_slot(ct, c->cid.tgid), *p = *pp;

	if (!p) {
		if (!(p = calloc(1, sizeof(*p))))
			return -ENOMEM;
		p->tgid = c->cid.tgid;
		*pp = p;
	}
	c->pnext = p->conns;
	if (c->pnext)
		c->pnext->pprev = &c->pnext;
	c->pprev = &p->conns;
	p->conns = c;
	return 0;
}

/* Take @c off its process's list; the process goes with its last one. */
static void proc_unlink(struct conn_table *ct, struct conn *c)
{
	struct proc_conns **pp, *p;

	*c->pprev = c->pnext;
	if (c->pnext)
		c->pnext->pprev = c->pprev;
	pp = proc_slot(ct, c->cid.tgid);
	if ((p = *pp) && !p->conns) {
		*pp = p->next;
		free(p);
	}
}

static void conn_unlink(struct conn_table *ct, struct conn *c)
{
	if (!cid_sock(&c->cid))
		proc_unlink(ct, c);
	struct conn **pp = &ct->by_fd[cid_hash(&c->cid)];

	for (; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (!c->in_tindex)
		return;
	pp = &ct->by_local[local_hash(c->tuple.saddr, c->tuple.sport)];
	for (; *pp; pp = &(*pp)->tnext)
		if (*pp == c) {
			*pp = c->tnext;
			break;
		}
}

static void conn_free(struct conn_table *ct, struct conn *c)
{
	if (c->mirror_dirs && ct->mirrors_map_fd >= 0) {
		/* a newer connection at this (tgid, fd) is added only after
		 * this one is freed: the entry is still this one's */
		struct fl_conn_key key = { .tgid = c->cid.tgid, .fd = c->cid.fd };

		bpf_map_delete_elem(ct->mirrors_map_fd, &key);
	}
	if (ct->cp && c->serving_tid)
		callpath_respond(ct->cp, c->serving_tid, c);
	ct->opaque_closed += c->tls_opaque && !c->tls;
	/*
	 * A mirror is parsed for call paths only: what it missed the client
	 * end saw (a recv cut at the capture limit mid-pipeline, say), so its
	 * trouble costs links at most, never a record: not a counter.
	 */
	if (c->parser && !c->mirrored)
		add_parser_stats(&ct->closed, fl_parser_stats(c->parser));
	fl_parser_free(c->parser);
	free(c);
}

static struct conn *conn_add(struct conn_table *ct, const struct fl_event_hdr *h)
{
	struct conn *c = calloc(1, sizeof(*c));
	uint32_t b;

	if (!c)
		goto err;
	c->cid = h->cid;
	/* a socket outlives its processes: not on their lists */
	if (!cid_sock(&c->cid) && proc_link(ct, c)) {
		free(c);
		goto err;
	}
	c->role = h->role;
	c->ct = ct;
	b = cid_hash(&h->cid);
	c->next = ct->by_fd[b];
	ct->by_fd[b] = c;
	return c;
err:
	ct->err = -ENOMEM;
	return NULL;
}

static enum svc_kind kind_of(enum fl_proto p)
{
	switch (p) {
	case FL_PROTO_POSTGRES:
	case FL_PROTO_MYSQL:
		return SVC_DATABASE;
	case FL_PROTO_REDIS:
		return SVC_CACHE;
	default:
		return SVC_SERVICE;
	}
}

/*
 * Name the server at @addr:@port: the operator's rule, else the local
 * listener's process, else ADDR:PORT.
 */
static enum svc_kind name_peer_server(struct conn_table *ct, const uint8_t *addr,
				      uint16_t port, enum svc_kind kind,
				      char *out)
{
	uint32_t tgid = identity_listener(ct->id, addr, port);
	const char *rule_kind;

	if (identity_match(ct->id, tgid, port, out, &rule_kind))
		return svc_kind_from(rule_kind);
	if (tgid && !identity_process(ct->id, tgid, NULL, out))
		return kind;
	identity_addr_str(addr, port, out, FL_NAME_MAX);
	ct->stats->unresolved_peers++;
	return SVC_EXTERNAL;
}

/* The process that owns @c, named while it is surely alive: at its open. */
static void conn_name_owner(struct conn_table *ct, struct conn *c)
{
	if (c->role == FL_ROLE_SERVER && c->has_tuple &&
	    identity_match(ct->id, c->cid.tgid, c->tuple.sport, c->server,
			   &c->rule_kind))
		return;
	identity_process(ct->id, c->cid.tgid, c->comm,
			 c->role == FL_ROLE_SERVER ? c->server : c->client);
}

/* The peer, at the first record, when the protocol gives its kind. */
static void conn_name(struct conn_table *ct, struct conn *c)
{
	enum svc_kind kind = kind_of(c->proto);

	c->named = true;
	if (c->role == FL_ROLE_SERVER) {
		struct conn *peer = c->has_tuple ? conn_find_local(ct,
				c->tuple.daddr, c->tuple.dport) : NULL;
		if (!c->server[0])
			conn_name_owner(ct, c);
		c->server_kind = c->rule_kind ? svc_kind_from(c->rule_kind) : kind;
		if (peer && peer->client[0]) {
			/* a client traced here whose TLS we cannot read */
			memcpy(c->client, peer->client, sizeof(c->client));
			return;
		}
		if (c->has_tuple) {
			/* an untraced client: its address (its port is ephemeral) */
			identity_addr_str(c->tuple.daddr, 0, c->client, FL_NAME_MAX);
			*strrchr(c->client, ':') = 0;
		} else {
			strcpy(c->client, "unknown");
		}
		ct->stats->unresolved_peers++;
		return;
	}
	if (!c->client[0])
		conn_name_owner(ct, c);
	if (c->has_tuple) {
		c->server_kind = name_peer_server(ct, c->tuple.daddr,
						  c->tuple.dport, kind, c->server);
	} else {
		strcpy(c->server, "unknown");
		c->server_kind = SVC_EXTERNAL;
		ct->stats->unresolved_peers++;
	}
}

static void on_record(const struct fl_record *rec, void *ctx)
{
	struct conn *c = ctx;
	struct conn_table *ct = c->ct;
	uint64_t wall = rec->start_ns + (uint64_t)ct->wall_off;
	struct agg_edge *e;

	if (c->mirrored)
		return; /* parsed for call paths only: the client end counts */
	if (!c->named)
		conn_name(ct, c);
	ct->stats->records++;
	if (agg_record(ct->agg, c->client, c->server, c->server_kind, rec,
		       c->tls, wall, &e))
		ct->err = -ENOMEM;
	else if (ct->cp && c->role == FL_ROLE_CLIENT &&
		 callpath_child(ct->cp, e, c->client, c->link_parent, rec, wall))
		ct->err = -ENOMEM;
}

/*
 * Call paths: a server end read a new request (tell callpath which thread
 * serves what) or wrote a response (serving is over); a client end wrote a
 * request (remember what its thread was serving).
 */
static void conn_callpath(struct conn_table *ct, struct conn *c,
			  const struct fl_data_event *e, enum fl_side side)
{
	struct fl_request_info ri;
	uint32_t tid = e->hdr.tid;

	if (c->role == FL_ROLE_CLIENT) {
		/* HTTP/2 multiplexes the streams of many threads on one
		 * connection: its records cannot be tied to a writer */
		if (side == FL_SIDE_REQUEST)
			c->link_parent = c->proto == FL_PROTO_HTTP2 ? NULL :
				callpath_current(ct->cp, e->hdr.cid.tgid, tid,
						 e->hdr.ts_ns);
		return;
	}
	if (side == FL_SIDE_RESPONSE) {
		callpath_respond(ct->cp, tid, c);
		return;
	}
	if (!c->parser || !fl_parser_last_request(c->parser, &c->req_seen, &ri))
		return;
	if (!c->named)
		conn_name(ct, c);
	struct agg_edge *parent = agg_edge(ct->agg, c->client, c->server,
					   c->server_kind, c->proto,
					   ri.operation, c->tls);
	if (!parent || callpath_serve(ct->cp, e->hdr.cid.tgid, tid, c, parent,
				      &ri, e->hdr.ts_ns)) {
		ct->err = -ENOMEM;
		return;
	}
	c->serving_tid = tid;
}

/*
 * What an opened or inherited connection takes from its event: the
 * 4-tuple, the command, and its owner's name now (short-lived clients may
 * be gone by their first record); a client end is indexed by its local
 * address, where a late connect failure finds it.
 */
static void conn_setup(struct conn_table *ct, struct conn *c,
		       const struct fl_conn_event *e)
{
	c->tuple = e->tuple;
	c->has_tuple = true;
	memcpy(c->comm, e->comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = 0;
	conn_name_owner(ct, c);
	if (c->role == FL_ROLE_CLIENT) {
		uint32_t b = local_hash(c->tuple.saddr, c->tuple.sport);
		c->tnext = ct->by_local[b];
		ct->by_local[b] = c;
		c->in_tindex = true;
	}
}

static void on_open(struct conn_table *ct, const struct fl_conn_event *e)
{
	struct conn *c = conn_find(ct, &e->hdr.cid);

	ct->stats->conn_opens++;
	if (c) { /* its close was not seen: the fd was reused */
		if (c->parser)
			fl_parser_close(c->parser, e->hdr.ts_ns, on_record, c);
		conn_unlink(ct, c);
		conn_free(ct, c);
	}
	c = conn_add(ct, &e->hdr);
	if (!c)
		return;
	c->joined = e->flags & FL_CONN_F_JOINED;
	c->kmirror = e->flags & FL_CONN_F_MIRROR;
	ct->stats->conns_joined += c->joined;
	if (c->role == FL_ROLE_UNKNOWN)	/* joined on the socket path */
		c->role = identity_listener(ct->id, e->tuple.saddr,
					    e->tuple.sport) ? FL_ROLE_SERVER
							    : FL_ROLE_CLIENT;
	conn_setup(ct, c, e);
}

static void on_close(struct conn_table *ct, const struct fl_conn_event *e)
{
	struct conn *c = conn_find(ct, &e->hdr.cid);

	if (!c || c->cid.gen != e->hdr.cid.gen)
		return;
	ct->stats->conn_closes++;
	if (cid_sock(&c->cid) && (e->flags & FL_CONN_F_MIRROR)) {
		/* a quiet mirror's bytes came in its close only */
		for (int d = 0; d < 2; d++) {
			uint64_t seen = c->next_off[d] == UINT64_MAX ? 0 : c->next_off[d];
			uint64_t unseen = e->bytes[d] > seen ? e->bytes[d] - seen : 0;
			ct->stats->bytes_seen += unseen;
			ct->stats->bytes_mirrored += unseen;
		}
	}
	if (c->parser && !c->ignored)
		fl_parser_close(c->parser, e->hdr.ts_ns, on_record, c);
	conn_unlink(ct, c);
	conn_free(ct, c);
}

static void on_fail(struct conn_table *ct, const struct fl_conn_event *e)
{
	char client[FL_NAME_MAX], server[FL_NAME_MAX];
	uint32_t tgid = e->hdr.cid.tgid;
	const char *comm = e->comm;
	enum svc_kind kind;

	if (!tgid) {
		/* a non-blocking connect failed: find it by its local end */
		struct conn *c = conn_find_local(ct, e->tuple.saddr,
						 e->tuple.sport);
		if (!c)
			return; /* a blocking connect(): counted at its exit */
		/* a reset of an established connection matters when requests
		 * were waiting on it; after the last answer it is a way to close */
		if (e->err == -104 /* ECONNRESET */ &&
		    (c->ignored || !fl_parser_pending(c->parser)))
			return;
		tgid = c->cid.tgid;
		comm = c->comm;
		c->ignored = true;
	}
	ct->stats->conn_failures++;
	identity_process(ct->id, tgid, comm, client);
	kind = name_peer_server(ct, e->tuple.daddr, e->tuple.dport, SVC_SERVICE,
				server);
	if (agg_conn_error(ct->agg, client, server, kind, e->err,
			   e->hdr.ts_ns + (uint64_t)ct->wall_off))
		ct->err = -ENOMEM;
}

/*
 * A forked child's copy of its parent's connection: the same socket under
 * the child's (tgid, fd), its stream offsets where the parent's were. A
 * copy made before any byte moved is parsed from its start, like an open;
 * otherwise it is joined mid-life (the next message may be cut).
 */
static void on_inherit(struct conn_table *ct, const struct fl_conn_event *e)
{
	struct conn *c = conn_find(ct, &e->hdr.cid);

	ct->stats->conns_inherited++;
	if (c) { /* a pid reused before its exit was seen */
		if (c->parser && !c->ignored)
			fl_parser_close(c->parser, e->hdr.ts_ns, on_record, c);
		conn_unlink(ct, c);
		conn_free(ct, c);
	}
	if (!(c = conn_add(ct, &e->hdr)))
		return;
	c->joined = e->bytes[0] || e->bytes[1];
	c->next_off[0] = e->bytes[0];
	c->next_off[1] = e->bytes[1];
	conn_setup(ct, c, e);
}

/* The process exited: the kernel closed its sockets without close(). */
static void on_exit_proc(struct conn_table *ct, const struct fl_conn_event *e)
{
	uint32_t tgid = e->hdr.cid.tgid;
	struct proc_conns *p;

	/* the last unlink frees p: look it up again each time */
	while ((p = *proc_slot(ct, tgid))) {
		struct conn *c = p->conns;
		struct fl_conn_key key = { tgid, c->cid.fd };

		if (ct->conns_map_fd >= 0)
			bpf_map_delete_elem(ct->conns_map_fd, &key);
		ct->stats->conn_closes++;
		if (c->parser && !c->ignored)
			fl_parser_close(c->parser, e->hdr.ts_ns, on_record, c);
		conn_unlink(ct, c);
		conn_free(ct, c);
	}
}

/*
 * A server end whose client end is traced here produces no records; unless
 * the client end is TLS we see only encrypted (a TLS library not hooked).
 */
static bool conn_is_mirror(struct conn_table *ct, struct conn *c)
{
	struct conn *peer;

	c->mirror_checked = true;
	if (c->role != FL_ROLE_SERVER || !c->has_tuple)
		return false;
	peer = conn_find_local(ct, c->tuple.daddr, c->tuple.dport);
	if (!peer || (peer->tls_opaque && !peer->tls))
		return false;
	ct->stats->conns_mirrored++;
	c->mirrored = true;
	return true;
}

/* A TLS record header: handshake, alert, change cipher spec or data. */
static bool tls_record(const uint8_t *p, size_t n)
{
	return n >= 5 && p[0] >= 0x14 && p[0] <= 0x17 && p[1] == 3 &&
	       p[2] <= 4 && ((unsigned)p[3] << 8 | p[4]) <= (1u << 14) + 2048;
}

/* Forget what @c's parser saw: it preceded TLS (an SSLRequest) or was it. */
static void conn_reset_parser(struct conn *c)
{
	fl_parser_free(c->parser);
	c->parser = NULL;
	c->proto = FL_PROTO_UNKNOWN;
	c->ndetect = 0;
	c->detect_tries = 0;
	c->detect_resp = false;
	c->server_first_done = false;
}

/*
 * The first TLS plaintext of @c: its syscall bytes were ciphertext, or a
 * negotiation before it. Parse the plaintext stream from its start; it has
 * its own offsets, counted from 0 by the collector.
 */
static void conn_tls_start(struct conn_table *ct, struct conn *c)
{
	c->tls = true;
	ct->stats->tls_conns++;
	conn_reset_parser(c);
	if (cid_sock(&c->cid)) {
		/* the collector says again whether its plaintext is mirrored */
		ct->stats->conns_mirrored -= c->mirrored;
		c->mirrored = false;
		c->mirror_checked = false;
	}
	c->ignored = c->mirrored && !ct->cp;
	c->next_off[0] = c->next_off[1] = 0;
}

/*
 * Detect the protocol from the first request bytes, kept in c->detect.
 * OUT: *@took, the bytes of @p appended there. False: no parser (yet).
 */
static bool conn_detect(struct conn_table *ct, struct conn *c, uint64_t ts,
			const uint8_t *p, size_t n, size_t *took)
{
	bool need_more = false;
	size_t take = n < DETECT_MAX - c->ndetect ? n : DETECT_MAX - c->ndetect;

	if (!c->ndetect)
		c->detect_ts = ts;
	memcpy(c->detect + c->ndetect, p, take);
	c->ndetect += take;
	*took = take;
	c->proto = c->joined ? fl_detect_joined(c->detect, c->ndetect, &need_more)
			     : fl_detect(c->detect, c->ndetect, &need_more);
	if (c->proto == FL_PROTO_UNKNOWN) {
		if (need_more && c->ndetect < DETECT_MAX)
			return false;
		if (c->joined && ++c->detect_tries < JOINED_TRIES) {
			c->ndetect = 0; /* mid-message: try the next write */
			return false;
		}
		c->ignored = true;
		ct->stats->unknown_proto_conns++;
		ct->stats->unknown_proto_bytes += c->ndetect;
		return false;
	}
	c->parser = fl_parser_new(c->proto);
	if (!c->parser) {
		ct->err = -ENOMEM;
		c->ignored = true;
		return false;
	}
	if (c->joined)
		fl_parser_join(c->parser);
	if (c->mirrored && c->proto != FL_PROTO_HTTP) {
		/* kept for call paths, which only HTTP servers make here */
		fl_parser_free(c->parser);
		c->parser = NULL;
		c->ignored = true;
		conn_mirror_quiet(ct, c, 1u << FL_DIR_INGRESS | 1u << FL_DIR_EGRESS);
		return false;
	}
	/* an HTTP mirror: its requests are parsed, its responses never */
	if (c->mirrored)
		conn_mirror_quiet(ct, c, 1u << FL_DIR_EGRESS);
	/* the detection bytes are the start of the request stream */
	if (fl_parser_feed(c->parser, FL_SIDE_REQUEST, c->detect_ts, c->detect,
			   c->ndetect, on_record, c))
		ct->err = -ENOMEM;
	return true;
}

/*
 * Server-first protocols (MySQL's greeting): detect from the first response
 * bytes, sent before any request, kept in c->detect. A "no" hands detection
 * back to the request side, as for any other connection.
 * OUT: *@took, the bytes of @p appended there. False: no parser (yet).
 */
static bool conn_detect_server(struct conn_table *ct, struct conn *c,
			       uint64_t ts, const uint8_t *p, size_t n,
			       size_t *took)
{
	bool need_more = false;
	size_t take = n < DETECT_MAX - c->ndetect ? n : DETECT_MAX - c->ndetect;

	if (!c->ndetect)
		c->detect_ts = ts;
	memcpy(c->detect + c->ndetect, p, take);
	c->ndetect += take;
	*took = take;
	c->detect_resp = true;
	c->proto = fl_detect_server(c->detect, c->ndetect, &need_more);
	if (c->proto == FL_PROTO_UNKNOWN) {
		if (!need_more || c->ndetect == DETECT_MAX) {
			c->server_first_done = true;
			c->detect_resp = false;
			c->ndetect = 0;
		}
		return false;
	}
	c->server_first_done = true;
	c->detect_resp = false;
	c->parser = fl_parser_new(c->proto);
	if (!c->parser) {
		ct->err = -ENOMEM;
		c->ignored = true;
		return false;
	}
	if (fl_parser_feed(c->parser, FL_SIDE_RESPONSE, c->detect_ts, c->detect,
			   c->ndetect, on_record, c))
		ct->err = -ENOMEM;
	return true;
}

/* Detection from the first bytes of either side. OUT: *@took. */
static bool conn_detect_any(struct conn_table *ct, struct conn *c,
			    enum fl_side side, uint64_t gap, uint64_t ts,
			    const uint8_t *p, size_t n, size_t *took)
{
	if (side == FL_SIDE_RESPONSE) {
		if (c->detect_resp && gap) {	/* a greeting cut short */
			c->server_first_done = true;
			c->detect_resp = false;
			c->ndetect = 0;
		}
		if (gap || c->joined || c->server_first_done ||
		    (c->ndetect && !c->detect_resp))
			return false;
		return conn_detect_server(ct, c, ts, p, n, took);
	}
	if (c->detect_resp) {	/* the client spoke first after all */
		c->server_first_done = true;
		c->detect_resp = false;
		c->ndetect = 0;
	}
	return !gap && conn_detect(ct, c, ts, p, n, took);
}

static void on_data(struct conn_table *ct, const struct fl_data_event *e,
		    const uint8_t *payload)
{
	struct conn *c = conn_find(ct, &e->hdr.cid);
	int dir = e->hdr.dir & FL_DIR_MASK;
	uint32_t cap = e->cap_len;
	enum fl_side side;

	ct->stats->data_events++;
	ct->stats->bytes_seen += e->orig_len;
	ct->stats->bytes_captured += e->cap_len;
	/* spliced bytes could never be copied, mirror or not */
	if (e->hdr.source == FL_SRC_SPLICE)
		ct->stats->bytes_spliced += e->orig_len;
	else if (e->hdr.dir & FL_DIR_F_MIRROR)
		ct->stats->bytes_mirrored += e->orig_len - e->cap_len;
	else
		ct->stats->bytes_truncated += e->orig_len - e->cap_len;
	if (c && c->cid.gen != e->hdr.cid.gen) {
		conn_unlink(ct, c);
		conn_free(ct, c);
		c = NULL;
	}
	if (!c) {
		ct->stats->conns_without_open++;
		if (!(c = conn_add(ct, &e->hdr)))
			return;
		c->next_off[0] = c->next_off[1] = UINT64_MAX;
	}
	if (e->hdr.source == FL_SRC_TLS) {
		if (!c->tls)
			conn_tls_start(ct, c);
	} else if (c->tls || c->tls_opaque) {
		return; /* ciphertext: never parsed */
	}
	if (c->next_off[dir] == UINT64_MAX) /* joined mid-stream */
		c->next_off[dir] = e->offset;
	if (e->offset < c->next_off[dir]) {
		ct->stats->reordered_events++;
		return;
	}
	uint64_t gap = e->offset - c->next_off[dir];
	c->next_off[dir] = e->offset + e->orig_len;
	if (c->kmirror) {
		/* a quiet mirror sends only what it must (splices): the rest
		 * of its bytes the client end has */
		ct->stats->bytes_seen += gap;
		ct->stats->bytes_mirrored += gap;
	} else {
		ct->stats->gap_bytes += gap;
	}
	if (c->mirror_want) {
		if (c->mirror_events < UINT8_MAX)
			c->mirror_events++;
		conn_mirror_apply(ct, c);
	}
	if (c->ignored) {
		if (c->proto == FL_PROTO_UNKNOWN && c->ndetect) /* not a mirror */
			ct->stats->unknown_proto_bytes += e->orig_len;
		return;
	}
	if (!c->mirror_checked && cid_sock(&c->cid) &&
	    (e->hdr.dir & FL_DIR_F_MIRROR)) {
		/* the collector found its client end traced here */
		c->mirror_checked = true;
		c->mirrored = true;
		ct->stats->conns_mirrored++;
		if (!ct->cp) {
			c->ignored = true;
			return;
		}
	}
	if (!c->mirror_checked && conn_is_mirror(ct, c) && !ct->cp) {
		c->ignored = true;
		conn_mirror_quiet(ct, c, 1u << FL_DIR_INGRESS | 1u << FL_DIR_EGRESS);
		return;
	}
	side = (c->role == FL_ROLE_SERVER) == (dir == FL_DIR_INGRESS)
		       ? FL_SIDE_REQUEST : FL_SIDE_RESPONSE;
	if (c->mirrored && c->parser && side == FL_SIDE_RESPONSE) {
		/* a mirror's responses only end its serving (call paths); the
		 * client end parses them, and the collector may not copy them */
		conn_callpath(ct, c, e, side);
		return;
	}
	if (!c->tls && (!c->parser || e->offset < TLS_SNIFF_MAX) &&
	    /* MySQL packets can look like TLS records: only after SSLRequest */
	    (c->proto != FL_PROTO_MYSQL || !c->parser ||
	     fl_parser_stats(c->parser)->given_up) &&
	    tls_record(payload, cap)) {
		/* TLS that no uprobe of ours decrypts (yet) */
		c->tls_opaque = true;
		conn_reset_parser(c);
		return;
	}
	if (!c->parser) {
		size_t took;

		if (!conn_detect_any(ct, c, side, gap, e->hdr.ts_ns, payload,
				     e->cap_len, &took))
			return;
		payload += took;
		cap -= (uint32_t)took;
		gap = 0;
	}
	if (gap)
		fl_parser_gap(c->parser, side, e->hdr.ts_ns, gap, on_record, c);
	if (cap && fl_parser_feed(c->parser, side, e->hdr.ts_ns, payload, cap,
				  on_record, c))
		ct->err = -ENOMEM;
	if (e->orig_len > e->cap_len)
		fl_parser_gap(c->parser, side, e->hdr.ts_ns,
			      e->orig_len - e->cap_len, on_record, c);
	if (ct->cp)
		conn_callpath(ct, c, e, side);
	/* a mirror's responses are never fed: nothing will pair its requests */
	if (c->mirrored)
		fl_parser_drop_pending(c->parser);
	/* idle keep-alive connections are most of them: keep them small */
	fl_parser_trim(c->parser);
}

int conn_table_event(struct conn_table *ct, const void *data, size_t len)
{
	const struct fl_event_hdr *h = data;

	ct->err = 0;
	ct->stats->events++;
	if (len < sizeof(*h))
		return 0;
	switch (h->type) {
	case FL_EV_DATA: {
		const struct fl_data_event *e = data;
		if (len < sizeof(*e) || e->cap_len > len - sizeof(*e) ||
		    e->cap_len > e->orig_len)
			return 0;
		on_data(ct, e, (const uint8_t *)(e + 1));
		break;
	}
	case FL_EV_THREAD_EVLOOP:
	case FL_EV_THREAD_EXIT:
		if (ct->cp && callpath_evloop(ct->cp, h->cid.tgid, h->tid,
					      h->type == FL_EV_THREAD_EVLOOP))
			ct->err = -ENOMEM;
		break;
	case FL_EV_PROC_ENV: {
		const struct fl_data_event *e = data;
		if (len >= sizeof(*e) && e->cap_len <= len - sizeof(*e))
			identity_exec_env(ct->id, h->cid.tgid,
					  (const char *)(e + 1), e->cap_len);
		break;
	}
	case FL_EV_PROC_EXEC:
		if (len >= sizeof(struct fl_conn_event))
			identity_exec(ct->id, h->cid.tgid,
				      ((const struct fl_conn_event *)data)->comm);
		break;
	case FL_EV_CONN_INHERIT:
		if (len >= sizeof(struct fl_conn_event))
			on_inherit(ct, data);
		break;
	case FL_EV_CONN_OPEN:
	case FL_EV_CONN_CLOSE:
	case FL_EV_CONN_FAIL:
	case FL_EV_PROC_EXIT:
		if (len < sizeof(struct fl_conn_event))
			return 0;
		if (h->type == FL_EV_CONN_OPEN)
			on_open(ct, data);
		else if (h->type == FL_EV_CONN_CLOSE)
			on_close(ct, data);
		else if (h->type == FL_EV_CONN_FAIL)
			on_fail(ct, data);
		else {
			on_exit_proc(ct, data);
			identity_exit(ct->id, h->cid.tgid);
		}
		break;
	default:
		break;
	}
	return ct->err;
}

void conn_table_parser_stats(struct conn_table *ct, struct agent_stats *stats)
{
	struct fl_parser_stats sum = ct->closed;

	stats->tls_opaque_conns = ct->opaque_closed;
	for (uint32_t b = 0; b < CONN_BUCKETS; b++)
		for (struct conn *c = ct->by_fd[b]; c; c = c->next) {
			if (c->parser && !c->mirrored)
				add_parser_stats(&sum, fl_parser_stats(c->parser));
			stats->tls_opaque_conns += c->tls_opaque && !c->tls;
		}
	stats->parser_resyncs = sum.resyncs;
	stats->parser_unparsed_bytes = sum.unparsed_bytes;
	stats->parser_unpaired = sum.unpaired;
	stats->requests_lost = sum.requests_lost;
	stats->parser_given_up = sum.given_up;
	stats->http2_unnamed_streams = sum.unnamed;
}

void conn_table_free(struct conn_table *ct)
{
	if (!ct)
		return;
	callpath_free(ct->cp);
	ct->cp = NULL;	/* conn_free() below must not call into it */
	for (uint32_t b = 0; b < PROC_BUCKETS; b++) {
		struct proc_conns *p = ct->procs[b], *next;
		for (; p; p = next) {
			next = p->next;
			free(p);
		}
	}
	for (uint32_t b = 0; b < CONN_BUCKETS; b++) {
		struct conn *c = ct->by_fd[b], *next;
		for (; c; c = next) {
			next = c->next;
			conn_free(ct, c);
		}
	}
	free(ct);
}
