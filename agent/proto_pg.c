/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * PostgreSQL frontend/backend protocol v3 parser.
 *
 * Framing: the client's first message is untyped (Int32 length, Int32
 * code: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest); an
 * SSLRequest or GSSENCRequest is answered by one untyped byte ('S'/'G':
 * encryption follows, we give up; 'N': plain text goes on). Every other
 * message is a type byte and an Int32 length that counts itself. Only the
 * first bytes of the bodies we need are kept (Query, Parse, Bind,
 * ErrorResponse); every other body — DataRow, CopyData, and the password
 * and SASL messages, which are never even looked at — is skipped by
 * length, and a gap inside one only shortens the skip. A gap or garbage in
 * the framing itself cannot be recovered (any byte may look like a type):
 * the connection is given up.
 *
 * Requests: a Query is one request, answered by the ReadyForQuery that
 * follows it (all its statements' results in between). In the extended
 * protocol each Execute is one request, named after the statement of the
 * Bind before it (remembered from its Parse in a small per-connection map,
 * the unnamed statement included), else "EXECUTE"; its bytes are the
 * messages since the previous Execute or Sync. It is answered by its
 * CommandComplete, EmptyQueryResponse or PortalSuspended (protocol §55.2.3),
 * or by an ErrorResponse — after which the server skips the batch's other
 * Executes up to the Sync: those are dropped, not recorded. A Sync waits
 * for its ReadyForQuery and makes no record, so a pipeline of N Executes
 * (pgbench \startpipeline, JDBC batches) gives N records. An ErrorResponse
 * makes a request an error with the SQLSTATE as status_text. The startup
 * phase, up to the first ReadyForQuery, makes no record; nor does Terminate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

#define PG_LEN_MAX (1u << 30)		/* larger lengths are garbage */
#define PG_STARTUP_MAX 10000		/* MAX_STARTUP_PACKET_LENGTH */
#define PG_QUERY_KEEP 16384		/* Query/Parse bytes kept for the operation */
#define PG_BIND_KEEP 132		/* Bind bytes kept: portal + statement names */
#define PG_ERROR_KEEP 1024		/* ErrorResponse bytes kept: field 'C' */
#define PG_NAME_MAX 64			/* NAMEDATALEN */
#define PG_STMTS 16			/* prepared statements remembered */

#define PG_CODE_CANCEL 80877102
#define PG_CODE_SSL 80877103
#define PG_CODE_GSSENC 80877104

#define PG_F_EXEC 0x1u		/* fl_pending.flags: an Execute, answered by
				   CommandComplete (not by ReadyForQuery) */

enum pg_frame {
	PG_HEADER = 0,		/* type byte (typed) and length, maybe a code */
	PG_BODY,		/* body: a prefix kept, the rest skipped */
};

/* Framing of one direction. */
struct pg_msg {
	enum pg_frame state;
	uint8_t hdr[8];		/* header bytes so far */
	size_t hdr_len;
	uint8_t type;		/* type byte, 0 for an untyped message */
	uint32_t len;		/* length field */
	uint32_t code;		/* untyped: protocol version or request code */
	uint64_t remaining;	/* body bytes left */
	size_t keep;		/* body bytes to keep */
	struct fl_buf body;	/* kept prefix of the body */
	bool damaged;		/* a gap hid part of the prefix we wanted */
	uint64_t start_ns;	/* ts of the feed holding the first byte */
};

/* A named prepared statement and the operation of its query. */
struct pg_stmt {
	char name[PG_NAME_MAX];
	char op[FL_OP_MAX];
};

struct pg_parser {
	struct pg_msg fe;	/* frontend (request side) */
	struct pg_msg be;	/* backend (response side) */
	bool fe_typed;		/* the startup message went by */
	bool be_answer;		/* next backend byte answers SSL/GSSENC */
	bool ready;		/* first ReadyForQuery seen: startup over */
	/* extended-protocol messages since the last Execute or Sync */
	bool batch;		/* some were seen */
	uint64_t batch_start;	/* ts of the first one's first byte */
	uint64_t batch_bytes;	/* their wire bytes */
	char bound_op[FL_OP_MAX]; /* operation of the last Bind's statement */
	uint64_t open_seq;	/* request still receiving CopyData */
	/* response being assembled, up to its ReadyForQuery */
	uint64_t resp_start;	/* ts of its first byte */
	uint64_t resp_bytes;
	bool resp_error;
	char sqlstate[8];
	struct pg_stmt *stmts;	/* PG_STMTS entries, allocated on first Parse */
	unsigned stmt_next;	/* next slot to reuse */
};

static struct pg_parser *pgp(struct fl_parser *p)
{
	return p->priv;
}

static uint32_t be32(const uint8_t *d)
{
	return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
	       (uint32_t)d[2] << 8 | d[3];
}

/* A NUL-terminated string at @off of the kept body; false if cut. */
static bool body_str(const struct pg_msg *m, size_t off, const char **s,
		     size_t *n)
{
	const uint8_t *nul;

	*s = "";
	*n = 0;
	if (off >= m->body.len)
		return false;
	nul = memchr(m->body.data + off, 0, m->body.len - off);
	*s = (const char *)m->body.data + off;
	*n = nul ? (size_t)(nul - m->body.data) - off : m->body.len - off;
	return nul != NULL;
}

/* ---- statements -------------------------------------------------------- */

static struct pg_stmt *stmt_find(struct pg_parser *g, const char *name)
{
	if (!g->stmts)
		return NULL;
	for (unsigned i = 0; i < PG_STMTS; i++)
		if (g->stmts[i].op[0] && !strcmp(g->stmts[i].name, name))
			return &g->stmts[i];
	return NULL;
}

static int stmt_remember(struct pg_parser *g, const char *name, size_t n,
			 const char *op)
{
	struct pg_stmt *st;

	if (n >= PG_NAME_MAX || !op[0])
		return 0;
	if (!g->stmts) {
		g->stmts = calloc(PG_STMTS, sizeof(*g->stmts));
		if (!g->stmts)
			return -ENOMEM;
	}
	st = stmt_find(g, name);
	if (!st) {
		st = &g->stmts[g->stmt_next];
		g->stmt_next = (g->stmt_next + 1) % PG_STMTS;
		memcpy(st->name, name, n);
		st->name[n] = '\0';
	}
	fl_copy_op(st->op, op);
	return 0;
}

/* ---- requests ---------------------------------------------------------- */

static void batch_add(struct pg_parser *g, const struct pg_msg *m, uint64_t size)
{
	if (!g->batch) {
		g->batch = true;
		g->batch_start = m->start_ns;
		g->batch_bytes = 0;
	}
	g->batch_bytes += size;
}

static int push_request(struct fl_parser *p, enum fl_pend_kind kind,
			const char *op, uint64_t start, uint64_t bytes,
			uint32_t flags)
{
	struct fl_pending *e = fl_pending_push(p, kind);

	if (!e)
		return -ENOMEM;
	fl_copy_op(e->operation, op);
	e->start_ns = start;
	e->req_bytes = bytes;
	e->flags = flags;
	pgp(p)->open_seq = e->seq;
	return 0;
}

/* Query: one request. An unsynced batch before it is folded in. */
static int on_query(struct fl_parser *p, struct pg_parser *g,
		    const struct pg_msg *m, uint64_t size)
{
	char op[FL_OP_MAX];
	const char *q;
	size_t n;
	uint64_t start = m->start_ns;

	body_str(m, 0, &q, &n);
	fl_sql_normalize(q, n, op, sizeof(op));
	if (g->batch) {
		start = g->batch_start;
		size += g->batch_bytes;
		g->batch = false;
	}
	return push_request(p, FL_PEND_REQUEST, op, start, size, 0);
}

/* Parse: statement name, query; remembered for the Binds that name it. */
static int on_parse(struct pg_parser *g, const struct pg_msg *m)
{
	char op[FL_OP_MAX];
	const char *name, *q;
	size_t nn, qn;

	if (!body_str(m, 0, &name, &nn))
		return 0;
	body_str(m, nn + 1, &q, &qn);
	fl_sql_normalize(q, qn, op, sizeof(op));
	return stmt_remember(g, name, nn, op);
}

/* Bind: portal, statement. Its statement names the next Execute. */
static void on_bind(struct pg_parser *g, const struct pg_msg *m)
{
	const char *portal, *name;
	size_t pn, nn;
	const struct pg_stmt *st = NULL;

	if (body_str(m, 0, &portal, &pn) && body_str(m, pn + 1, &name, &nn))
		st = stmt_find(g, name);
	fl_copy_op(g->bound_op, st ? st->op : "EXECUTE");
}

/* Execute: one request, of the messages since the last Execute or Sync. */
static int on_execute(struct fl_parser *p, struct pg_parser *g)
{
	int err = push_request(p, FL_PEND_REQUEST,
			       g->bound_op[0] ? g->bound_op : "EXECUTE",
			       g->batch_start, g->batch_bytes, PG_F_EXEC);

	g->batch = false;
	return err;
}

/* Sync: waits for its ReadyForQuery, makes no record. */
static int on_sync(struct fl_parser *p, struct pg_parser *g)
{
	int err = push_request(p, FL_PEND_SILENT, "", g->batch_start,
			       g->batch_bytes, 0);

	g->batch = false;
	return err;
}

/* CopyData/CopyDone/CopyFail belong to the request that started the COPY. */
static void on_copy(struct fl_parser *p, struct pg_parser *g, uint64_t size)
{
	struct fl_pending *e = g->open_seq ? fl_pending_find(p, g->open_seq) : NULL;

	if (e)
		e->req_bytes += size;
}

static int on_untyped(struct pg_parser *g, const struct pg_msg *m)
{
	if (m->code == PG_CODE_SSL || m->code == PG_CODE_GSSENC)
		g->be_answer = true;	/* the next message is untyped again */
	else
		g->fe_typed = true;	/* StartupMessage, CancelRequest */
	return 0;
}

static int fe_done(struct fl_parser *p, struct pg_parser *g,
		   const struct pg_msg *m)
{
	uint64_t size = (uint64_t)m->len + 1;

	if (!m->type)
		return on_untyped(g, m);
	switch (m->type) {
	case 'Q':
		return on_query(p, g, m, size);
	case 'P':
		batch_add(g, m, size);
		return on_parse(g, m);
	case 'B':
		batch_add(g, m, size);
		on_bind(g, m);
		return 0;
	case 'E':
		batch_add(g, m, size);
		return on_execute(p, g);
	case 'D':
	case 'C':
		batch_add(g, m, size);
		return 0;
	case 'H':
		batch_add(g, m, size);
		return 0;
	case 'S':
		batch_add(g, m, size);
		return on_sync(p, g);
	case 'F':
		return push_request(p, FL_PEND_REQUEST, "FUNCTION CALL", m->start_ns,
				    size, 0);
	case 'd':
	case 'c':
	case 'f':
		on_copy(p, g, size);
		return 0;
	default:	/* 'p' password/SASL: never read; 'X' Terminate */
		return 0;
	}
}

/* ---- responses --------------------------------------------------------- */

/* SQLSTATE from ErrorResponse fields: (Byte1 code, String value)*, 0. */
static void error_sqlstate(struct pg_parser *g, const struct pg_msg *m)
{
	size_t off = 0, n;
	const char *v;

	while (off < m->body.len && m->body.data[off]) {
		uint8_t code = m->body.data[off];

		if (!body_str(m, off + 1, &v, &n))
			return;
		if (code == 'C') {
			for (size_t i = 0; i < n && i < sizeof(g->sqlstate) - 1; i++)
				g->sqlstate[i] = fl_is_alpha(v[i]) || fl_is_digit(v[i]) ? v[i] : '?';
			g->sqlstate[n < sizeof(g->sqlstate) - 1 ? n : sizeof(g->sqlstate) - 1] = '\0';
			return;
		}
		off += n + 2;
	}
}

/* Is the request a response begun at @start answers an Execute? */
static bool next_is_execute(struct fl_parser *p, uint64_t start)
{
	const struct fl_pending *e = fl_pending_next(p, start);

	return e && e->kind == FL_PEND_REQUEST && (e->flags & PG_F_EXEC);
}

/*
 * Drop the Executes at the head of the queue without a record: after an
 * ErrorResponse the server skips them up to the Sync (protocol §55.2.3).
 */
static void drop_executes(struct fl_parser *p, uint64_t start)
{
	struct fl_resp none = { .start_ns = start, .end_ns = start };

	while (next_is_execute(p, start)) {
		struct fl_pending *e = fl_pending_find(p, fl_pending_next(p, start)->seq);
		e->kind = FL_PEND_SILENT;	/* completes without a record */
		fl_pending_complete(p, &none);
	}
}

static void be_done(struct fl_parser *p, struct pg_parser *g,
		    const struct pg_msg *m, uint64_t ts)
{
	struct fl_resp r = { 0 };
	bool exec_done;

	if (!g->ready) {
		g->ready = m->type == 'Z';	/* startup and authentication: no record */
		return;
	}
	if (!g->resp_bytes)
		g->resp_start = m->start_ns;
	g->resp_bytes += (uint64_t)m->len + 1;
	if (m->type == 'E' && !g->resp_error) {
		g->resp_error = true;
		error_sqlstate(g, m);
	}
	exec_done = strchr("CIsE", m->type) && next_is_execute(p, g->resp_start);
	if (m->type != 'Z' && !exec_done)
		return;
	if (m->type == 'Z')
		drop_executes(p, g->resp_start);
	r.error = g->resp_error;
	memcpy(r.status_text, g->sqlstate, sizeof(r.status_text));
	r.start_ns = g->resp_start;
	r.end_ns = ts;
	r.bytes = g->resp_bytes;
	fl_pending_complete(p, &r);
	if (exec_done && m->type == 'E')
		drop_executes(p, g->resp_start);
	g->resp_bytes = 0;
	g->resp_error = false;
	g->sqlstate[0] = '\0';
}

/* ---- framing ----------------------------------------------------------- */

static bool fe_type_ok(uint8_t t, uint32_t len)
{
	if (t == 'S' || t == 'H' || t == 'c' || t == 'X')
		return len == 4;
	return t && strchr("QPBDECFpdf", t);
}

static bool be_type_ok(uint8_t t, uint32_t len)
{
	if (t == 'Z')
		return len == 5;
	if (t && strchr("123cIns", t))
		return len == 4;
	return t && strchr("RKSZENATDCGHWdtvV123cIns", t);
}

static size_t keep_of(uint8_t type, enum fl_side sd)
{
	if (sd == FL_SIDE_RESPONSE)
		return type == 'E' ? PG_ERROR_KEEP : 0;
	switch (type) {
	case 'Q':
	case 'P':
		return PG_QUERY_KEEP;
	case 'B':
		return PG_BIND_KEEP;
	default:
		return 0;	/* untyped bodies (startup parameters), 'p' and the rest */
	}
}

static int header_parse(struct pg_parser *g, struct pg_msg *m, enum fl_side sd)
{
	bool untyped = sd == FL_SIDE_REQUEST && !g->fe_typed;

	if (untyped) {
		m->type = 0;
		m->len = be32(m->hdr);
		m->code = be32(m->hdr + 4);
		if (m->code == PG_CODE_SSL || m->code == PG_CODE_GSSENC) {
			if (m->len != 8)
				return -EPROTO;
		} else if ((m->code >> 16) != 3 && m->code != PG_CODE_CANCEL) {
			return -EPROTO;
		} else if (m->len < 12 || m->len > PG_STARTUP_MAX) {
			return -EPROTO;
		}
		m->remaining = m->len - 8;
	} else {
		m->type = m->hdr[0];
		m->len = be32(m->hdr + 1);
		if (m->len < 4 || m->len > PG_LEN_MAX)
			return -EPROTO;
		if (sd == FL_SIDE_REQUEST ? !fe_type_ok(m->type, m->len)
					  : !be_type_ok(m->type, m->len))
			return -EPROTO;
		m->remaining = m->len - 4;
	}
	m->keep = keep_of(m->type, sd);
	if (m->keep > m->remaining)
		m->keep = (size_t)m->remaining;
	m->damaged = false;
	m->state = PG_BODY;
	return 0;
}

static int msg_done(struct fl_parser *p, struct pg_parser *g, struct pg_msg *m,
		    enum fl_side sd, uint64_t ts)
{
	int err = 0;

	if (sd == FL_SIDE_REQUEST)
		err = fe_done(p, g, m);
	else
		be_done(p, g, m, ts);
	m->state = PG_HEADER;
	m->hdr_len = 0;
	fl_buf_reset(&m->body);
	return err;
}

static ssize_t step_header(struct fl_parser *p, struct pg_parser *g,
			   struct pg_msg *m, enum fl_side sd, uint64_t ts,
			   const uint8_t *d, size_t n)
{
	size_t need = sd == FL_SIDE_REQUEST && !g->fe_typed ? 8 : 5;
	size_t take = need - m->hdr_len < n ? need - m->hdr_len : n;
	int err;

	if (m->hdr_len == 0)
		m->start_ns = ts;
	memcpy(m->hdr + m->hdr_len, d, take);
	m->hdr_len += take;
	if (m->hdr_len < need)
		return (ssize_t)take;
	err = header_parse(g, m, sd);
	if (!err && m->remaining == 0)
		err = msg_done(p, g, m, sd, ts);
	return err ? err : (ssize_t)take;
}

/* Body bytes, seen (@d) or not (@d NULL, a gap). */
static int body_bytes(struct fl_parser *p, struct pg_parser *g,
		      struct pg_msg *m, enum fl_side sd, uint64_t ts,
		      const uint8_t *d, size_t take)
{
	size_t want = m->body.len < m->keep ? m->keep - m->body.len : 0;
	int err;

	if (want && d) {
		err = fl_buf_append(&m->body, d, take < want ? take : want, FL_BUF_CAP);
		if (err)
			return err;
	} else if (want) {
		m->damaged = true;
	}
	m->remaining -= take;
	return m->remaining ? 0 : msg_done(p, g, m, sd, ts);
}

/* The one byte answering SSLRequest/GSSENCRequest. */
static ssize_t step_answer(struct fl_parser *p, struct pg_parser *g, uint8_t b)
{
	g->be_answer = false;
	if (b == 'N')
		return 1;
	if (b != 'S' && b != 'G')
		return -EPROTO;
	fl_parser_give_up(p);	/* TLS or GSSAPI encryption follows */
	return 1;
}

static ssize_t step(struct fl_parser *p, enum fl_side sd, uint64_t ts,
		    const uint8_t *d, size_t n)
{
	struct pg_parser *g = pgp(p);
	struct pg_msg *m = sd == FL_SIDE_REQUEST ? &g->fe : &g->be;
	size_t take;
	int err;

	if (sd == FL_SIDE_RESPONSE && g->be_answer && m->hdr_len == 0)
		return step_answer(p, g, d[0]);
	if (m->state == PG_HEADER)
		return step_header(p, g, m, sd, ts, d, n);
	take = n < m->remaining ? n : (size_t)m->remaining;
	err = body_bytes(p, g, m, sd, ts, d, take);
	return err ? err : (ssize_t)take;
}

static int pg_feed(struct fl_parser *p, enum fl_side sd, uint64_t ts,
		   const uint8_t *d, size_t n)
{
	size_t off = 0;
	ssize_t r;

	while (off < n && !p->stats.given_up) {
		r = step(p, sd, ts, d + off, n - off);
		if (r < 0) {
			fl_parser_unparsed(p, n - off, r != -ENOMEM);
			fl_parser_give_up(p);
			return r == -ENOMEM ? -ENOMEM : 0;
		}
		off += (size_t)r;
	}
	if (p->stats.given_up)
		p->stats.unparsed_bytes += n - off;	/* after SSL/GSSENC accepted */
	return 0;
}

static void pg_gap(struct fl_parser *p, enum fl_side sd, uint64_t ts, size_t n)
{
	struct pg_parser *g = pgp(p);
	struct pg_msg *m = sd == FL_SIDE_REQUEST ? &g->fe : &g->be;
	size_t take;

	if (m->state == PG_BODY && !(sd == FL_SIDE_RESPONSE && g->be_answer)) {
		take = n < m->remaining ? n : (size_t)m->remaining;
		n -= take;
		if (body_bytes(p, g, m, sd, ts, NULL, take))
			n = n ? n : 1;	/* ENOMEM: give up below */
	}
	if (n)
		fl_parser_give_up(p);	/* framing cannot be found again */
}

static void pg_close(struct fl_parser *p, uint64_t ts)
{
}

static void pg_release(struct fl_parser *p)
{
	struct pg_parser *g = pgp(p);

	fl_buf_release(&g->fe.body);
	fl_buf_release(&g->be.body);
	free(g->stmts);
}

/* The PostgreSQL v3 parser, for the core in proto_detect.c. */
void fl_pg_join(struct fl_parser *p)
{
	struct pg_parser *g = pgp(p);

	g->fe_typed = true;
	g->ready = true;
}

int fl_pg_detect_typed(const uint8_t *d, size_t n)
{
	uint32_t len;

	if (n < 5)
		return -1;
	len = be32(d + 1);
	/* only messages that open a request: not 'p' (auth) or copy data */
	if (!d[0] || !strchr("QPBDECFSHX", d[0]) || !fe_type_ok(d[0], len) ||
	    len < 4 || len > PG_LEN_MAX)
		return 0;
	if (d[0] == 'Q' && n == 5)
		return -1; /* the verdict needs the query's first byte */
	if (d[0] == 'Q' && (d[5] < 0x20 || d[5] > 0x7e) &&
	    d[5] != '\n' && d[5] != '\t' && d[5] != '\r')
		return 0; /* a query starts with text */
	return 1;
}

const struct fl_proto_ops fl_pg_ops = {
	.priv_size = sizeof(struct pg_parser),
	.feed = pg_feed,
	.gap = pg_gap,
	.close = pg_close,
	.release = pg_release,
};
