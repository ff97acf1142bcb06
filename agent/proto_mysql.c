/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * MySQL/MariaDB client/server protocol parser (protocol 4.1; MySQL Source
 * Code Documentation, "Client/Server Protocol"; MariaDB uses the same wire
 * format).
 *
 * Framing: every packet is a 3-byte little-endian payload length and a
 * sequence id, then the payload; a payload of 0xffffff bytes continues in
 * the next packet. Only the first bytes of the payloads we need are kept
 * (the greeting's and the handshake response's fixed fields, COM_QUERY and
 * COM_STMT_PREPARE text, a statement id, the first bytes of a response
 * packet); every other byte — rows, column definitions, statement
 * parameters, and the user name and auth data of the handshake, auth
 * switch and auth-more-data packets, which are never even looked at — is
 * skipped by length, and a gap inside a packet only shortens the skip.
 *
 * Phases. The server speaks first (HandshakeV10 greeting, sequence 0); the
 * client answers with its handshake response (sequence 1, or an SSLRequest:
 * TLS follows, we give up on the syscall bytes), then authentication
 * packets go back and forth until the server's OK or ERR. Client packets
 * with a sequence id other than 0 are never commands: they are skipped
 * unread, except for the capability flags of the handshake response.
 * Compression (CLIENT_COMPRESS, CLIENT_ZSTD) and pre-4.1 clients are given
 * up.
 *
 * Requests: every client packet with sequence 0 starts a command. COM_QUERY
 * and COM_STMT_PREPARE are named by their normalised SQL; COM_STMT_EXECUTE
 * by the SQL of the statement its id names (learnt from the PREPARE_OK
 * response, in a small per-connection map), else "EXECUTE"; COM_INIT_DB is
 * "USE ?" (the database name stays out of the operation); the others by
 * their command name ("PING", "STATISTICS", ...). COM_QUIT,
 * COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA get no response and make no
 * record. COM_CHANGE_USER (auth data) and the binlog dumps (a stream) give
 * the connection up.
 *
 * Responses: a response starts with a packet of sequence 1 and ends at an
 * OK, ERR or EOF, or at the end of a result set (column count, column
 * definitions, an EOF unless CLIENT_DEPRECATE_EOF, rows, and an EOF or an
 * OK with the 0xfe header); SERVER_MORE_RESULTS_EXISTS in the closing
 * status makes the next result part of the same response. Whether an EOF
 * follows the definitions is read from the packet itself (an EOF is 5
 * bytes, an OK terminator at least 7), so a connection joined mid-life
 * needs no capability flags. An ERR makes the record an error with the
 * SQLSTATE of its '#' marker as status_text; MariaDB's progress reports
 * (error code 0xffff) are not errors. A LOCAL INFILE request gives up.
 *
 * Loss. A gap that ends inside the packet it started in is skipped. One
 * that reaches further loses framing: on the request side a MAYBE_LOST
 * marker is queued and the parser waits for a feed that starts with a
 * command header (the client writes each command at once); on the response
 * side the response in progress is completed as seen so far (a capture
 * truncated at the end of a large result set loses its tail, not the
 * record), other waiting requests are dropped, and the parser waits for a
 * feed that starts like a response (sequence 1, an OK, ERR, EOF or column
 * count), answering only requests sent after the loss.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

#define MY_HDR 4			/* payload length (3) and sequence id (1) */
#define MY_LEN_MAX 0xffffffu		/* a payload this long continues */
#define MY_QUERY_KEEP 16384		/* COM_QUERY/PREPARE bytes kept */
#define MY_GREETING_KEEP 256		/* greeting bytes kept: version to ext caps */
#define MY_HS_KEEP 32			/* handshake response: caps .. filler, no user */
#define MY_RESP_KEEP 16			/* response packet bytes kept: header fields */
#define MY_STMTS 32			/* prepared statements remembered */
#define MY_STMT_LAST 0xffffffffu	/* MariaDB: the statement prepared last */

/* Capability flags (protocol_41 "Capabilities Flags"). */
#define CLIENT_COMPRESS 0x20u
#define CLIENT_PROTOCOL_41 0x200u
#define CLIENT_SSL 0x800u
#define CLIENT_DEPRECATE_EOF (1u << 24)
#define CLIENT_ZSTD (1u << 26)
#define CLIENT_QUERY_ATTRIBUTES (1u << 27)
#define CLIENT_MYSQL 1u			/* MariaDB: clear = extended caps follow */

#define SERVER_MORE_RESULTS_EXISTS 0x0008u
#define SERVER_STATUS_CURSOR_EXISTS 0x0040u

enum my_cmd {
	COM_QUIT = 0x01, COM_INIT_DB = 0x02, COM_QUERY = 0x03,
	COM_FIELD_LIST = 0x04, COM_STATISTICS = 0x09, COM_CHANGE_USER = 0x11,
	COM_BINLOG_DUMP = 0x12, COM_STMT_PREPARE = 0x16, COM_STMT_EXECUTE = 0x17,
	COM_STMT_SEND_LONG_DATA = 0x18, COM_STMT_CLOSE = 0x19,
	COM_STMT_FETCH = 0x1c, COM_BINLOG_DUMP_GTID = 0x1e,
	COM_STMT_BULK_EXECUTE = 0xfa,	/* MariaDB */
};

/* What a request's response looks like (fl_pending.flags). */
enum my_rkind {
	RK_GENERIC = 0,	/* OK, ERR, EOF or result sets */
	RK_PREPARE,	/* PREPARE_OK and its definitions, or ERR */
	RK_ROWS,	/* COM_STMT_FETCH: rows up to an EOF/OK, or ERR */
	RK_FIELDS,	/* COM_FIELD_LIST: definitions up to an EOF, or ERR */
	RK_ONE,		/* COM_STATISTICS: one packet of text */
};

enum my_frame {
	MF_HEADER = 0,	/* the 4-byte header */
	MF_BODY,	/* payload: a prefix kept, the rest skipped */
	MF_LOST,	/* framing lost: wait for a feed that starts a packet */
};

/* Framing of one direction. */
struct my_pkt {
	enum my_frame state;
	uint8_t hdr[MY_HDR];
	size_t hdr_len;
	uint32_t len;		/* payload length */
	uint8_t seq;		/* sequence id */
	bool cont;		/* continues the payload of the previous packet */
	bool more;		/* this payload continues in the next packet */
	uint64_t remaining;	/* payload bytes left */
	size_t keep;		/* payload bytes to keep */
	struct fl_buf body;	/* kept prefix of the payload */
	bool damaged;		/* a gap hid part of the prefix we wanted */
	uint64_t gapped;	/* payload bytes lost in gaps */
	uint64_t start_ns;	/* ts of the feed holding the first byte */
};

/* Response states. */
enum my_rstate {
	RS_HANDSHAKE = 0,	/* greeting and authentication */
	RS_IDLE,		/* the next packet starts a response */
	RS_RESULT,		/* the next packet starts another result */
	RS_DEFS,		/* column or parameter definitions left */
	RS_DEFS_EOF,		/* maybe an EOF after the definitions */
	RS_ROWS,		/* rows up to an EOF/OK terminator */
	RS_FIELDS,		/* COM_FIELD_LIST definitions up to an EOF */
	RS_SKIP,		/* continuation packets of the response */
};

/* A prepared statement's id and the operation of its SQL. */
struct my_stmt {
	uint32_t id;
	bool used;
	char op[FL_OP_MAX];
};

struct my_parser {
	struct my_pkt fe;	/* client packets (request side) */
	struct my_pkt be;	/* server packets (response side) */
	uint32_t server_caps;	/* from the greeting; 0 if not seen */
	uint32_t client_caps;	/* from the handshake response; 0 if not seen */
	bool hs_seen;		/* the handshake response went by */
	/* command being received (more than one packet when >= 16 MiB) */
	uint64_t cmd_start;
	uint64_t cmd_bytes;	/* wire bytes */
	uint64_t cmd_seen;	/* of which captured */
	/* response being assembled */
	enum my_rstate rs;
	enum my_rkind rkind;
	bool resp_open;		/* its first packet went by */
	uint64_t resp_start;
	uint64_t resp_bytes;
	bool resp_error;
	char sqlstate[8];
	uint32_t defs_left;	/* definitions still to skip */
	uint32_t prep_cols;	/* PREPARE_OK: column definitions after the params */
	bool in_prepare;	/* RS_DEFS belongs to a PREPARE_OK */
	char prep_op[FL_OP_MAX]; /* op of the PREPARE being answered */
	char last_prep[FL_OP_MAX]; /* op of the last PREPARE sent */
	struct my_stmt *stmts;	/* MY_STMTS entries, allocated on first PREPARE_OK */
	unsigned stmt_next;	/* next slot to reuse */
};

static struct my_parser *myp(struct fl_parser *p)
{
	return p->priv;
}

static uint32_t le16(const uint8_t *d)
{
	return (uint32_t)d[0] | (uint32_t)d[1] << 8;
}

static uint32_t le24(const uint8_t *d)
{
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16;
}

static uint32_t le32(const uint8_t *d)
{
	return le24(d) | (uint32_t)d[3] << 24;
}

/*
 * A length-encoded integer at @d[*@off] of @n bytes; false when cut or
 * invalid (0xff, or 0xfb, the NULL marker).
 */
static bool lenenc(const uint8_t *d, size_t n, size_t *off, uint64_t *v)
{
	size_t w;

	if (*off >= n)
		return false;
	switch (d[*off]) {
	case 0xfc: w = 2; break;
	case 0xfd: w = 3; break;
	case 0xfe: w = 8; break;
	case 0xfb:
	case 0xff: return false;
	default:
		*v = d[(*off)++];
		return true;
	}
	if (*off + 1 + w > n)
		return false;
	*v = 0;
	for (size_t i = 0; i < w; i++)
		*v |= (uint64_t)d[*off + 1 + i] << (8 * i);
	*off += 1 + w;
	return true;
}

/* ---- statements -------------------------------------------------------- */

static struct my_stmt *stmt_find(struct my_parser *g, uint32_t id)
{
	if (!g->stmts)
		return NULL;
	for (unsigned i = 0; i < MY_STMTS; i++)
		if (g->stmts[i].used && g->stmts[i].id == id)
			return &g->stmts[i];
	return NULL;
}

static int stmt_remember(struct my_parser *g, uint32_t id, const char *op)
{
	struct my_stmt *st;

	if (!g->stmts) {
		g->stmts = calloc(MY_STMTS, sizeof(*g->stmts));
		if (!g->stmts)
			return -ENOMEM;
	}
	st = stmt_find(g, id);
	if (!st) {
		st = &g->stmts[g->stmt_next];
		g->stmt_next = (g->stmt_next + 1) % MY_STMTS;
		st->id = id;
		st->used = true;
	}
	fl_copy_op(st->op, op);
	return 0;
}

static void stmt_forget(struct my_parser *g, uint32_t id)
{
	struct my_stmt *st = stmt_find(g, id);

	if (st)
		st->used = false;
}

/* ---- requests ---------------------------------------------------------- */

/* Operation of a command without SQL; NULL for an unknown command. */
static const char *cmd_name(uint8_t cmd)
{
	static const char *const names[] = {
		[0x02] = "USE ?", [0x04] = "FIELD_LIST", [0x05] = "CREATE_DB",
		[0x06] = "DROP_DB", [0x07] = "REFRESH", [0x08] = "SHUTDOWN",
		[0x09] = "STATISTICS", [0x0a] = "PROCESS_INFO",
		[0x0c] = "PROCESS_KILL", [0x0d] = "DEBUG", [0x0e] = "PING",
		[0x15] = "REGISTER_SLAVE", [0x1a] = "STMT_RESET",
		[0x1b] = "SET_OPTION", [0x1c] = "STMT_FETCH",
		[0x1f] = "RESET_CONNECTION",
	};

	return cmd < sizeof(names) / sizeof(names[0]) ? names[cmd] : NULL;
}

static bool cmd_known(uint8_t cmd)
{
	return cmd_name(cmd) || cmd == COM_QUIT || cmd == COM_QUERY ||
	       cmd == COM_CHANGE_USER || cmd == COM_BINLOG_DUMP ||
	       cmd == COM_STMT_PREPARE || cmd == COM_STMT_EXECUTE ||
	       cmd == COM_STMT_SEND_LONG_DATA || cmd == COM_STMT_CLOSE ||
	       cmd == COM_BINLOG_DUMP_GTID || cmd == COM_STMT_BULK_EXECUTE;
}

static int push(struct fl_parser *p, enum fl_pend_kind kind, const char *op,
		enum my_rkind rk, uint64_t start, uint64_t bytes)
{
	struct fl_pending *e = fl_pending_push(p, kind);

	if (!e)
		return -ENOMEM;
	fl_copy_op(e->operation, op);
	e->flags = rk;
	e->start_ns = start;
	e->req_bytes = bytes;
	return 0;
}

/* COM_QUERY text: after the query attributes when they were negotiated. */
static void query_op(struct my_parser *g, const struct my_pkt *m, char *op)
{
	const uint8_t *d = m->body.data;
	size_t off = 1, n = m->body.len;
	uint64_t params = 0, sets;

	if (g->client_caps & g->server_caps & CLIENT_QUERY_ATTRIBUTES) {
		if (!lenenc(d, n, &off, &params) || !lenenc(d, n, &off, &sets) ||
		    params) {
			/* attribute values precede the text: not worth a decoder */
			fl_copy_op(op, "QUERY");
			return;
		}
	}
	fl_sql_normalize_mysql((const char *)d + off, n - off, op, FL_OP_MAX);
}

/* The statement an EXECUTE/FETCH/CLOSE names, from its id at payload[1]. */
static const char *stmt_op(struct my_parser *g, const struct my_pkt *m)
{
	const struct my_stmt *st;
	uint32_t id;

	if (m->body.len < 5)
		return "EXECUTE";
	id = le32(m->body.data + 1);
	if (id == MY_STMT_LAST && g->last_prep[0])
		return g->last_prep;
	st = stmt_find(g, id);
	return st ? st->op : "EXECUTE";
}

/* A whole command (all its packets) went by; the first one is @m's prefix. */
static int on_command(struct fl_parser *p, struct my_parser *g,
		      const struct my_pkt *m)
{
	char op[FL_OP_MAX];
	uint8_t cmd;

	if (!m->body.len)	/* the command byte was in a gap */
		return push(p, FL_PEND_MAYBE_LOST, "", RK_GENERIC, g->cmd_start, 0);
	cmd = m->body.data[0];
	switch (cmd) {
	case COM_QUERY:
		query_op(g, m, op);
		return push(p, FL_PEND_REQUEST, op, RK_GENERIC, g->cmd_start, g->cmd_bytes);
	case COM_STMT_PREPARE:
		fl_sql_normalize_mysql((const char *)m->body.data + 1, m->body.len - 1,
				       op, sizeof(op));
		fl_copy_op(g->last_prep, op);
		return push(p, FL_PEND_REQUEST, op, RK_PREPARE, g->cmd_start, g->cmd_bytes);
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		return push(p, FL_PEND_REQUEST, stmt_op(g, m), RK_GENERIC,
			    g->cmd_start, g->cmd_bytes);
	case COM_STMT_CLOSE:
		if (m->body.len >= 5)
			stmt_forget(g, le32(m->body.data + 1));
		return 0;
	case COM_QUIT:
	case COM_STMT_SEND_LONG_DATA:
		return 0;	/* no response */
	case COM_CHANGE_USER:	/* auth data, then an authentication exchange */
	case COM_BINLOG_DUMP:
	case COM_BINLOG_DUMP_GTID:
		fl_parser_give_up(p);
		return 0;
	default:
		break;
	}
	if (!cmd_name(cmd)) {	/* garbage, or a command we do not know */
		fl_parser_unparsed(p, g->cmd_seen, true);
		if (p->stats.given_up)
			return 0;
		return push(p, FL_PEND_LOST, "", RK_GENERIC, g->cmd_start, 0);
	}
	return push(p, FL_PEND_REQUEST, cmd_name(cmd),
		    cmd == COM_STMT_FETCH ? RK_ROWS : cmd == COM_FIELD_LIST ? RK_FIELDS :
		    cmd == COM_STATISTICS ? RK_ONE : RK_GENERIC,
		    g->cmd_start, g->cmd_bytes);
}

/* The handshake response's fixed fields: capabilities; SSLRequest. */
static void on_handshake_response(struct fl_parser *p, struct my_parser *g,
				  const struct my_pkt *m)
{
	uint32_t caps;

	g->hs_seen = true;
	if (m->body.len < 4)
		return;
	caps = le32(m->body.data);
	g->client_caps = caps;
	if (!(caps & CLIENT_PROTOCOL_41) || (caps & (CLIENT_COMPRESS | CLIENT_ZSTD)) ||
	    ((caps & CLIENT_SSL) && m->len == MY_HS_KEEP))
		fl_parser_give_up(p);	/* pre-4.1, compressed, or TLS follows */
}

static int fe_done(struct fl_parser *p, struct my_parser *g, const struct my_pkt *m)
{
	if (m->cont)		/* the tail of a long payload */
		return m->more ? 0 : on_command(p, g, m);
	if (m->seq != 0) {
		/* handshake response, auth switch/more data: never read */
		if (!g->hs_seen && (m->seq == 1 || m->seq == 2))
			on_handshake_response(p, g, m);
		return 0;
	}
	return m->more ? 0 : on_command(p, g, m);
}

/* ---- responses --------------------------------------------------------- */

static void lose_pending(struct fl_parser *p, struct my_parser *g,
			 enum fl_side sd, uint64_t ts, uint64_t gap);

static void resp_reset(struct my_parser *g)
{
	g->resp_open = false;
	g->resp_bytes = 0;
	g->resp_error = false;
	g->sqlstate[0] = '\0';
	g->defs_left = 0;
	g->in_prepare = false;
}

static void resp_done(struct fl_parser *p, struct my_parser *g, uint64_t ts)
{
	struct fl_resp r = { 0 };

	r.error = g->resp_error;
	memcpy(r.status_text, g->sqlstate, sizeof(r.status_text));
	r.start_ns = g->resp_start;
	r.end_ns = ts;
	r.bytes = g->resp_bytes;
	fl_pending_complete(p, &r);
	resp_reset(g);
	g->rs = RS_IDLE;
}

/* ERR: code, '#', SQLSTATE. False for a MariaDB progress report. */
static bool on_err(struct my_parser *g, const struct my_pkt *m)
{
	const uint8_t *d = m->body.data;

	if (m->body.len >= 3 && le16(d + 1) == 0xffff)
		return false;
	g->resp_error = true;
	if (m->body.len >= 9 && d[3] == '#') {
		for (int i = 0; i < 5; i++)
			g->sqlstate[i] = fl_is_alpha(d[4 + i]) || fl_is_digit(d[4 + i]) ?
					 (char)d[4 + i] : '?';
		g->sqlstate[5] = '\0';
	}
	return true;
}

/* Status flags of an OK (0x00 or 0xfe header) or EOF packet; 0 if cut. */
static uint32_t status_of(const struct my_pkt *m)
{
	const uint8_t *d = m->body.data;
	size_t n = m->body.len, off = 1;
	uint64_t v;

	if (d[0] == 0xfe && m->len < 7)		/* EOF: warnings, status */
		return n >= 5 ? le16(d + 3) : 0;
	if (!lenenc(d, n, &off, &v) || !lenenc(d, n, &off, &v) || off + 2 > n)
		return 0;
	return le16(d + off);
}

/* A result ended with @m (OK/EOF): another follows, or the response ends. */
static void result_end(struct fl_parser *p, struct my_parser *g,
		       const struct my_pkt *m, uint64_t ts)
{
	if (status_of(m) & SERVER_MORE_RESULTS_EXISTS)
		g->rs = RS_RESULT;
	else
		resp_done(p, g, ts);
}

static bool is_terminator(const struct my_pkt *m)
{
	return m->body.data[0] == 0xfe && m->len < MY_LEN_MAX;
}

/* An EOF packet (5 bytes), not an OK with the 0xfe header (7 or more). */
static bool is_eof(const struct my_pkt *m)
{
	return m->body.len && m->body.data[0] == 0xfe && m->len < 7;
}

/*
 * Whether EOF packets follow definitions: 1 yes, 0 no (CLIENT_DEPRECATE_EOF
 * negotiated), -1 unknown (joined: read from the next packet).
 */
static int eof_mode(const struct my_parser *g)
{
	uint32_t caps = g->client_caps & (g->server_caps ? g->server_caps : ~0u);

	if (!g->client_caps)
		return -1;
	return caps & CLIENT_DEPRECATE_EOF ? 0 : 1;
}

/* After the definitions of a block: the next block, rows, or the end. */
static void defs_end(struct fl_parser *p, struct my_parser *g, uint64_t ts)
{
	if (!g->in_prepare) {
		g->rs = RS_ROWS;
	} else if (g->prep_cols) {
		g->defs_left = g->prep_cols;
		g->prep_cols = 0;
		g->rs = RS_DEFS;
	} else {
		resp_done(p, g, ts);
	}
}

/* The last definition of a block went by. */
static void defs_left_none(struct fl_parser *p, struct my_parser *g, uint64_t ts)
{
	if (eof_mode(g) == 0)
		defs_end(p, g, ts);
	else
		g->rs = RS_DEFS_EOF;
}

/* PREPARE_OK: statement id, columns, params; remembered for EXECUTE. */
static int on_prepare_ok(struct fl_parser *p, struct my_parser *g,
			 const struct my_pkt *m, uint64_t ts)
{
	const uint8_t *d = m->body.data;
	uint32_t cols, params;

	if (m->body.len < 9) {
		resp_done(p, g, ts);
		return 0;
	}
	cols = le16(d + 5);
	params = le16(d + 7);
	if (g->prep_op[0] && stmt_remember(g, le32(d + 1), g->prep_op))
		return -ENOMEM;
	g->in_prepare = true;
	g->defs_left = params ? params : cols;
	g->prep_cols = params ? cols : 0;
	if (g->defs_left)
		g->rs = RS_DEFS;
	else
		resp_done(p, g, ts);
	return 0;
}

/* The first packet of a result (of a response, or after MORE_RESULTS). */
static int on_result_start(struct fl_parser *p, struct my_parser *g,
			   const struct my_pkt *m, uint64_t ts)
{
	const uint8_t *d = m->body.data;
	size_t off = 0;
	uint64_t cols;

	switch (d[0]) {
	case 0xff:
		if (on_err(g, m))
			resp_done(p, g, ts);
		return 0;
	case 0x00:
		if (g->rkind == RK_PREPARE && g->rs == RS_IDLE)
			return on_prepare_ok(p, g, m, ts);
		result_end(p, g, m, ts);
		return 0;
	case 0xfe:
		if (m->len < 9) {
			result_end(p, g, m, ts);
			return 0;
		}
		break;
	case 0xfb:		/* LOCAL INFILE: the client sends a file */
		fl_parser_give_up(p);
		return 0;
	default:
		break;
	}
	if (!lenenc(d, m->body.len, &off, &cols) || !cols) {
		resp_done(p, g, ts);	/* not a column count: take it as the end */
		return 0;
	}
	g->defs_left = cols > UINT32_MAX ? UINT32_MAX : (uint32_t)cols;
	g->in_prepare = false;
	/* optional/cached metadata: a 0 flag after the count means none sent */
	if (m->len == off + 1 && off < m->body.len && d[off] == 0)
		g->defs_left = 0;
	if (g->defs_left)
		g->rs = RS_DEFS;
	else
		defs_left_none(p, g, ts);
	return 0;
}

/* Greeting and authentication: capabilities, then wait for OK/ERR. */
static void on_handshake(struct my_parser *g, const struct my_pkt *m)
{
	const uint8_t *d = m->body.data, *nul;
	size_t n = m->body.len, off;

	if (m->seq == 0 && d[0] == 10) {	/* HandshakeV10 */
		nul = memchr(d + 1, 0, n - 1);
		off = nul ? (size_t)(nul - d) + 1 + 4 + 8 + 1 : n;
		if (off + 2 <= n)
			g->server_caps = le16(d + off);
		if (off + 7 <= n)
			g->server_caps |= le16(d + off + 5) << 16;
		return;
	}
	if (m->seq != 0 && (d[0] == 0x00 || d[0] == 0xff))
		g->rs = RS_IDLE;	/* authentication over (or failed) */
	/* 0xfe auth switch, 0x01 auth more data: never read */
}

/* One whole server packet (its first bytes in @m->body). */
static int be_done(struct fl_parser *p, struct my_parser *g,
		   const struct my_pkt *m, uint64_t ts)
{
	uint64_t size = (uint64_t)m->len + MY_HDR;
	const struct fl_pending *e;

	if (g->rs == RS_HANDSHAKE) {
		if (!m->cont && m->body.len)
			on_handshake(g, m);
		return 0;
	}
	if (g->rs == RS_IDLE) {
		if (m->cont || m->seq != 1 || !m->body.len) {
			/* not a response start */
			fl_parser_unparsed(p, size - m->gapped, false);
			return 0;
		}
		e = fl_pending_next(p, m->start_ns);
		g->rkind = e ? (enum my_rkind)e->flags : RK_GENERIC;
		fl_copy_op(g->prep_op, e && g->rkind == RK_PREPARE ? e->operation : "");
		g->resp_open = true;
		g->resp_start = m->start_ns;
	}
	if (!m->cont && !m->body.len && m->len) {
		/* a gap hid its first byte: what it was is unknown */
		lose_pending(p, g, FL_SIDE_RESPONSE, ts, size);
		return 0;
	}
	if (g->rs == RS_DEFS_EOF && !m->cont && !is_eof(m)) {
		/* no EOF after the definitions: CLIENT_DEPRECATE_EOF */
		defs_end(p, g, ts);
		if (g->rs == RS_IDLE)
			return be_done(p, g, m, ts);	/* a PREPARE_OK ended */
	}
	g->resp_bytes += size;
	if (m->cont)
		return 0;	/* a long row's tail */
	switch (g->rs) {
	case RS_IDLE:
		if (g->rkind == RK_ONE) {
			resp_done(p, g, ts);
			return 0;
		}
		if (g->rkind == RK_ROWS || g->rkind == RK_FIELDS) {
			g->rs = g->rkind == RK_ROWS ? RS_ROWS : RS_FIELDS;
			break;	/* this packet is already a row/definition */
		}
		return on_result_start(p, g, m, ts);
	case RS_RESULT:
		return on_result_start(p, g, m, ts);
	case RS_DEFS:
		if (m->body.data[0] == 0xff && on_err(g, m))
			resp_done(p, g, ts);
		else if (--g->defs_left == 0)
			defs_left_none(p, g, ts);
		return 0;
	case RS_DEFS_EOF:	/* an EOF (checked above) */
		if (!g->in_prepare && (status_of(m) & SERVER_STATUS_CURSOR_EXISTS))
			resp_done(p, g, ts);	/* rows come with COM_STMT_FETCH */
		else
			defs_end(p, g, ts);
		return 0;
	default:
		break;
	}
	if (m->body.data[0] == 0xff && on_err(g, m))
		resp_done(p, g, ts);
	else if (g->rs == RS_ROWS && is_terminator(m))
		result_end(p, g, m, ts);
	else if (g->rs == RS_FIELDS && m->body.data[0] == 0xfe && m->len < 9)
		resp_done(p, g, ts);
	return 0;
}

/* ---- framing ----------------------------------------------------------- */

static size_t keep_of(const struct my_parser *g, const struct my_pkt *m,
		      enum fl_side sd)
{
	if (m->cont)
		return 0;
	if (sd == FL_SIDE_RESPONSE)
		return g->rs == RS_HANDSHAKE && m->seq == 0 ? MY_GREETING_KEEP :
		       g->rs == RS_HANDSHAKE ? 1 : MY_RESP_KEEP;
	if (m->seq != 0)	/* handshake response: fixed fields, not the user */
		return !g->hs_seen && (m->seq == 1 || m->seq == 2) ? MY_HS_KEEP : 0;
	return MY_QUERY_KEEP;	/* command byte and SQL, or a statement id */
}

static void header_parse(struct my_parser *g, struct my_pkt *m, enum fl_side sd)
{
	m->len = le24(m->hdr);
	m->seq = m->hdr[3];
	m->cont = m->more;
	m->more = m->len == MY_LEN_MAX;
	m->remaining = m->len;
	m->keep = keep_of(g, m, sd);
	if (m->keep > m->remaining)
		m->keep = (size_t)m->remaining;
	m->damaged = false;
	m->gapped = 0;
	m->state = MF_BODY;
	if (sd == FL_SIDE_REQUEST && !m->cont) {
		g->cmd_start = m->start_ns;
		g->cmd_bytes = 0;
		g->cmd_seen = 0;
	}
}

static int pkt_done(struct fl_parser *p, struct my_parser *g, struct my_pkt *m,
		    enum fl_side sd, uint64_t ts)
{
	int err;

	if (sd == FL_SIDE_REQUEST) {
		g->cmd_bytes += (uint64_t)m->len + MY_HDR;
		g->cmd_seen += (uint64_t)m->len + MY_HDR - m->gapped;
		err = fe_done(p, g, m);
	} else {
		err = be_done(p, g, m, ts);
	}
	m->state = m->state == MF_LOST ? MF_LOST : MF_HEADER;
	m->hdr_len = 0;
	fl_buf_reset(&m->body);
	return err;
}

static ssize_t step_header(struct fl_parser *p, struct my_parser *g,
			   struct my_pkt *m, enum fl_side sd, uint64_t ts,
			   const uint8_t *d, size_t n)
{
	size_t take = MY_HDR - m->hdr_len < n ? MY_HDR - m->hdr_len : n;
	int err = 0;

	if (m->hdr_len == 0)
		m->start_ns = ts;
	memcpy(m->hdr + m->hdr_len, d, take);
	m->hdr_len += take;
	if (m->hdr_len < MY_HDR)
		return (ssize_t)take;
	header_parse(g, m, sd);
	if (m->remaining == 0)
		err = pkt_done(p, g, m, sd, ts);
	return err ? err : (ssize_t)take;
}

/* Payload bytes, seen (@d) or not (@d NULL, a gap). */
static int body_bytes(struct fl_parser *p, struct my_parser *g,
		      struct my_pkt *m, enum fl_side sd, uint64_t ts,
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
	if (!d)
		m->gapped += take;
	m->remaining -= take;
	return m->remaining ? 0 : pkt_done(p, g, m, sd, ts);
}

/* A damaged prefix: what was kept before the gap stays usable, no more. */
static void stop_keeping(struct my_pkt *m)
{
	if (m->damaged)
		m->keep = m->body.len;
}

/*
 * Bytes of @sd lost at @ts (@gap of them after the last packet seen): the
 * response in progress is completed as seen, other waiting requests are
 * dropped, and a marker makes later responses answer only requests sent
 * after the loss.
 */
static void lose_pending(struct fl_parser *p, struct my_parser *g,
			 enum fl_side sd, uint64_t ts, uint64_t gap)
{
	struct fl_pending *e;

	if (sd == FL_SIDE_RESPONSE) {
		if (g->rs == RS_HANDSHAKE)
			g->rs = RS_IDLE;
		if (g->resp_open) {
			g->resp_bytes += gap;
			resp_done(p, g, ts);
		}
		fl_pending_clear(p);
		resp_reset(g);
		g->rs = RS_IDLE;
	}
	e = fl_pending_push(p, FL_PEND_MAYBE_LOST);
	if (e)
		e->start_ns = ts;
	else
		fl_pending_clear(p);
}

/* Framing of @sd lost at @ts: wait for a feed that starts a packet. */
static void lose(struct fl_parser *p, struct my_parser *g, enum fl_side sd,
		 uint64_t ts, uint64_t gap)
{
	struct my_pkt *m = sd == FL_SIDE_REQUEST ? &g->fe : &g->be;

	p->stats.resyncs++;
	m->state = MF_LOST;
	m->hdr_len = 0;
	m->more = false;
	fl_buf_reset(&m->body);
	lose_pending(p, g, sd, ts, gap);
}

/* Does a feed that starts with @d look like the start of a packet? */
static bool looks_like_start(enum fl_side sd, const uint8_t *d, size_t n)
{
	uint32_t len;

	if (n < MY_HDR + 1)
		return false;
	len = le24(d);
	if (len == 0 || len >= MY_LEN_MAX)
		return false;
	if (sd == FL_SIDE_REQUEST)
		return d[3] == 0 && cmd_known(d[4]) &&
		       (d[4] != COM_QUERY || len < 2 || n < 6 || d[5] >= 0x20 ||
			d[5] == '\t' || d[5] == '\n' || d[5] == '\r');
	if (d[3] != 1)
		return false;
	switch (d[4]) {
	case 0x00: return len >= 7;
	case 0xff: return len >= 3;
	case 0xfe: return len < 9;
	case 0xfc: return len <= 4;
	default: return d[4] < 0xfb && len <= 2;
	}
}

static ssize_t step(struct fl_parser *p, enum fl_side sd, uint64_t ts,
		    const uint8_t *d, size_t n)
{
	struct my_parser *g = myp(p);
	struct my_pkt *m = sd == FL_SIDE_REQUEST ? &g->fe : &g->be;
	size_t take;
	int err;

	if (m->state == MF_HEADER)
		return step_header(p, g, m, sd, ts, d, n);
	take = n < m->remaining ? n : (size_t)m->remaining;
	err = body_bytes(p, g, m, sd, ts, d, take);
	return err ? err : (ssize_t)take;
}

static int my_feed(struct fl_parser *p, enum fl_side sd, uint64_t ts,
		   const uint8_t *d, size_t n)
{
	struct my_parser *g = myp(p);
	struct my_pkt *m = sd == FL_SIDE_REQUEST ? &g->fe : &g->be;
	size_t off = 0;
	ssize_t r;

	if (m->state == MF_LOST) {
		if (!looks_like_start(sd, d, n)) {
			fl_parser_unparsed(p, n, false);
			return 0;
		}
		m->state = MF_HEADER;
	}
	while (off < n && !p->stats.given_up) {
		r = step(p, sd, ts, d + off, n - off);
		if (r < 0) {	/* -ENOMEM only: framing never fails */
			fl_parser_give_up(p);
			return (int)r;
		}
		off += (size_t)r;
	}
	if (p->stats.given_up)
		p->stats.unparsed_bytes += n - off;	/* after TLS, LOCAL INFILE */
	return 0;
}

static void my_gap(struct fl_parser *p, enum fl_side sd, uint64_t ts, size_t n)
{
	struct my_parser *g = myp(p);
	struct my_pkt *m = sd == FL_SIDE_REQUEST ? &g->fe : &g->be;
	size_t take;

	if (m->state == MF_LOST)
		return;
	if (m->state == MF_BODY) {
		take = n < m->remaining ? n : (size_t)m->remaining;
		n -= take;
		m->damaged |= m->body.len < m->keep;
		stop_keeping(m);
		if (body_bytes(p, g, m, sd, ts, NULL, take))
			n = n ? n : 1;	/* ENOMEM: treat as lost */
		if (p->stats.given_up)
			return;
	}
	if (n)
		lose(p, g, sd, ts, n);
}

static void my_close(struct fl_parser *p, uint64_t ts)
{
}

static void my_release(struct fl_parser *p)
{
	struct my_parser *g = myp(p);

	fl_buf_release(&g->fe.body);
	fl_buf_release(&g->be.body);
	free(g->stmts);
}

/* MySQL, joined mid-life: handshake and authentication are over. */
void fl_mysql_join(struct fl_parser *p)
{
	struct my_parser *g = myp(p);

	g->hs_seen = true;
	g->rs = RS_IDLE;
}

/* A HandshakeV10 greeting at @d: 1, 0, or -1 for "need more". */
int fl_mysql_detect_greeting(const uint8_t *d, size_t n)
{
	static const size_t tail = 4 + 8 + 1;	/* thread id, scramble, filler */
	uint32_t len;
	size_t i;

	if (n >= 3) {
		len = le24(d);
		if (len < 32 || len > 1024)
			return 0;
	}
	if (n >= 4 && d[3] != 0)
		return 0;
	if (n >= 5 && d[4] != 10)
		return 0;
	if (n >= 6 && !fl_is_digit(d[5]))	/* "5.5.5-10.11.6-MariaDB", "8.0.36" */
		return 0;
	for (i = 5; i < n && d[i]; i++)
		if (d[i] < 0x20 || d[i] > 0x7e || i > 5 + 64)
			return 0;
	if (i >= n)
		return -1;
	if (i + tail >= n)
		return -1;
	return d[i + tail] == 0 ? 1 : 0;
}

/*
 * A handshake response (protocol 4.1) at @d, sequence 1 (or 2, after an
 * SSLRequest: the first plaintext of a TLS connection): 1, 0, or -1.
 */
int fl_mysql_detect_hs_response(const uint8_t *d, size_t n)
{
	uint32_t len;

	if (n >= 3) {
		len = le24(d);
		if (len < 32 || len > 4096)
			return 0;
	}
	if (n >= 4 && d[3] != 1 && d[3] != 2)
		return 0;
	if (n >= 6 && !(d[5] & (CLIENT_PROTOCOL_41 >> 8)))
		return 0;
	for (size_t i = 4 + 13; i < 4 + 32; i++)	/* 19 reserved zero bytes */
		if (i < n && d[i])
			return 0;
	return n >= 4 + 32 ? 1 : -1;
}

/*
 * A COM_QUERY at a packet boundary of a joined connection: sequence 0, the
 * command byte, then text: 1, 0, or -1 for "need more".
 */
int fl_mysql_detect_query(const uint8_t *d, size_t n)
{
	size_t want, i;
	uint32_t len;

	if (n >= 3) {
		len = le24(d);
		if (len < 2 || len >= MY_LEN_MAX)
			return 0;
	}
	if ((n >= 4 && d[3] != 0) || (n >= 5 && d[4] != COM_QUERY))
		return 0;
	if (n >= 6 && !fl_is_alpha(d[5]) && !strchr("(/ \t\r\n", d[5]))
		return 0;	/* a statement starts with a keyword or a comment */
	if (n < 3)
		return -1;
	want = 5 + (len - 1 < 8 ? len - 1 : 8);
	for (i = 5; i < n && i < want; i++)
		if ((d[i] < 0x20 && !strchr("\t\r\n", d[i])) || d[i] == 0x7f)
			return 0;
	return n >= want ? 1 : -1;
}

const struct fl_proto_ops fl_mysql_ops = {
	.priv_size = sizeof(struct my_parser),
	.feed = my_feed,
	.gap = my_gap,
	.close = my_close,
	.release = my_release,
};
