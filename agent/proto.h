/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Protocol parsers: detection, incremental request/response parsing and
 * pairing into records. One parser instance per connection.
 *
 * The caller (agent/conn.c) reassembles each direction of a TCP stream and
 * feeds the parser in order: bytes it saw with fl_parser_feed(), bytes it
 * did not see (truncated capture, gaps) with fl_parser_gap(). The caller maps
 * directions to sides: on a client connection the request side is what the
 * process writes, on a server connection what it reads.
 *
 * Parsers never keep secrets: a record holds only the normalised operation
 * (HTTP route template, SQL with literals replaced by '?', Redis command
 * name) and status. They never crash on garbage: a stream they cannot follow
 * is given up and counted (struct fl_parser_stats).
 */
#ifndef FAULTLINE_PROTO_H
#define FAULTLINE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opname.h"	/* FL_OP_MAX, the operation naming the parsers use */

#define FL_PENDING_MAX 1024	/* in-flight requests kept per connection */

enum fl_proto {
	FL_PROTO_UNKNOWN = 0,
	FL_PROTO_HTTP = 1,	/* HTTP/1.x, RFC 9112 */
	FL_PROTO_POSTGRES = 2,	/* PostgreSQL frontend/backend protocol v3 */
	FL_PROTO_REDIS = 3,	/* RESP2/RESP3 */
	FL_PROTO_MYSQL = 4,	/* MySQL/MariaDB client/server protocol 4.1 */
	FL_PROTO_HTTP2 = 5,	/* HTTP/2, RFC 9113: a connection's parser; its
				   records are FL_PROTO_HTTP or FL_PROTO_GRPC */
	FL_PROTO_GRPC = 6,	/* gRPC over HTTP/2: records only, no parser */
	FL_PROTO_COUNT
};

enum fl_side {
	FL_SIDE_REQUEST = 0,	/* bytes from the client to the server */
	FL_SIDE_RESPONSE = 1,	/* bytes from the server to the client */
};

/* One request/response pair. */
struct fl_record {
	enum fl_proto proto;	/* of the operation: an HTTP/2 connection gives
				   FL_PROTO_HTTP (plain requests, the same
				   edges as HTTP/1.x) or FL_PROTO_GRPC */
	char operation[FL_OP_MAX]; /* "GET /users/{id}", "SELECT * FROM t WHERE id = ?", "GET" */
	int status;		/* HTTP status code, gRPC status code; 0 for other protocols */
	char status_text[16];	/* SQLSTATE ("42P01") or Redis error prefix ("WRONGTYPE"); "" if none */
	bool error;		/* HTTP 5xx, gRPC status != 0, PostgreSQL ErrorResponse, Redis error reply */
	bool client_error;	/* HTTP 4xx */
	uint64_t start_ns;	/* timestamp of the first request byte, ns */
	uint64_t end_ns;	/* timestamp of the last response byte, ns */
	uint64_t req_bytes;	/* request size on the wire, bytes (seen or not) */
	uint64_t resp_bytes;	/* response size on the wire, bytes (seen or not) */
	bool has_trace_id;	/* the request carried a W3C traceparent */
	uint8_t trace_id[16];	/* its trace-id (W3C Trace Context §3.2.2.3) */
};

/* A request the parser has just queued (its response may be far off). */
struct fl_request_info {
	uint64_t seq;		/* numbers the parser's requests, from 1 */
	uint64_t start_ns;	/* timestamp of its first byte, ns */
	char operation[FL_OP_MAX];
	bool has_trace_id;
	uint8_t trace_id[16];
};

/* What a parser could not follow; summed by the agent into its counters. */
struct fl_parser_stats {
	uint64_t resyncs;	  /* times the parser lost framing and resynchronised */
	uint64_t unparsed_bytes;  /* bytes skipped without being understood */
	uint64_t unpaired;	  /* responses with no request (or dropped requests) */
	uint64_t requests_lost;	  /* requests that made no record because framing
				   * was lost around them (gap, truncation,
				   * garbage): a response whose request was in
				   * the lost stretch, or a request pending when
				   * its response side lost framing; also in
				   * unpaired */
	uint64_t given_up;	  /* 1 once the parser gave the connection up */
	uint64_t unnamed;	  /* HTTP/2 streams not recorded: a header block
				     could not be decoded (HPACK state lost) */
};

typedef void (*fl_record_cb)(const struct fl_record *rec, void *ctx);

struct fl_parser;

/*
 * fl_detect() - guess the protocol from the first bytes of a request stream.
 * @data, @len: the first bytes the client sent (may be fewer than a message).
 * Returns the protocol, or FL_PROTO_UNKNOWN when the bytes match none, or
 * when more bytes are needed (*need_more set to true then).
 */
enum fl_proto fl_detect(const uint8_t *data, size_t len, bool *need_more);

/*
 * fl_detect_joined() - like fl_detect(), for a connection joined after it
 * started (a socket that existed before the agent): also recognises a
 * PostgreSQL frontend message (Query, Parse, Bind, ...) or a MySQL COM_QUERY
 * packet (sequence id 0, SQL text) at a message boundary, since the startup
 * went by long ago, and an HTTP/2 frame header a client may send (the
 * preface went by too).
 */
enum fl_proto fl_detect_joined(const uint8_t *data, size_t len, bool *need_more);

/*
 * fl_detect_server() - guess a server-first protocol from the first bytes
 * of a response stream, sent before any request: MySQL's HandshakeV10
 * greeting. Same results as fl_detect(); the caller feeds the bytes to the
 * parser as FL_SIDE_RESPONSE.
 */
enum fl_proto fl_detect_server(const uint8_t *data, size_t len, bool *need_more);

/*
 * fl_parser_new() - a parser for one connection speaking @proto.
 * Returns NULL with errno = ENOMEM or EINVAL (unknown protocol).
 * The caller owns it and releases it with fl_parser_free().
 */
struct fl_parser *fl_parser_new(enum fl_proto proto);

/*
 * fl_parser_feed() - give the parser @len bytes of @side seen at @ts_ns.
 * Calls @cb once for each request/response pair completed by these bytes
 * (in request order; HTTP/2, whose streams are multiplexed, in the order
 * responses end); the record is valid only during the call.
 * The bytes are copied where the parser needs to keep them.
 * Returns 0, or -ENOMEM; garbage is not an error (it is counted in stats).
 */
int fl_parser_feed(struct fl_parser *p, enum fl_side side, uint64_t ts_ns,
		   const uint8_t *data, size_t len, fl_record_cb cb, void *ctx);

/*
 * fl_parser_gap() - @len bytes of @side passed at @ts_ns but were not
 * captured. Parsers skip them inside bodies; elsewhere they resynchronise.
 */
void fl_parser_gap(struct fl_parser *p, enum fl_side side, uint64_t ts_ns,
		   size_t len, fl_record_cb cb, void *ctx);

/*
 * fl_parser_close() - the connection closed at @ts_ns: completes a response
 * delimited by the close (HTTP without Content-Length) and drops requests
 * that never got an answer (counted as unpaired).
 */
void fl_parser_close(struct fl_parser *p, uint64_t ts_ns, fl_record_cb cb,
		     void *ctx);

/*
 * fl_parser_join() - the connection of new parser @p was joined after it
 * started: its startup phase (PostgreSQL startup and authentication,
 * MySQL handshake and authentication, the HTTP/2 preface and SETTINGS) is
 * over, and the first bytes fed are taken to start a message (HTTP/2:
 * scanned for a frame header, HPACK state unknown). Call before the first
 * fl_parser_feed().
 */
void fl_parser_join(struct fl_parser *p);

/*
 * fl_parser_idle() - true when @p holds nothing the connection's next
 * bytes need: no request waiting, both sides between messages, nothing
 * half-read (HTTP/1.x only; PostgreSQL's prepared statements, MySQL's
 * capabilities, HPACK tables and RESP3 mode live across messages).
 */
bool fl_parser_idle(const struct fl_parser *p);

/*
 * fl_parser_trim() - when @p is idle, free the memory its next message
 * allocates again (the ring of pending requests, line buffers): an idle
 * keep-alive connection then keeps only the parser's fixed state. A no-op
 * otherwise, and for NULL.
 */
void fl_parser_trim(struct fl_parser *p);

/*
 * fl_parser_drop_pending() - forget the requests @p queued for responses it
 * will never be fed (a mirrored server end, parsed for its requests only):
 * not counted as unpaired; fl_parser_last_request() then has none until the
 * next request. A no-op for NULL.
 */
void fl_parser_drop_pending(struct fl_parser *p);

/*
 * fl_parser_last_request() - the newest request @p has queued, if it is
 * newer than *@seen: fills @out, sets *@seen to its seq and returns true.
 * Lets the caller act when a request is read (call-path links), long
 * before its record exists. Returns false when nothing new was queued.
 */
bool fl_parser_last_request(const struct fl_parser *p, uint64_t *seen,
			    struct fl_request_info *out);

/*
 * fl_parser_pending() - requests @p has queued that no response answered
 * yet (0 for NULL).
 */
size_t fl_parser_pending(const struct fl_parser *p);

/* fl_parser_stats() - counters of what this parser could not follow. */
const struct fl_parser_stats *fl_parser_stats(const struct fl_parser *p);

/* fl_parser_free() - release @p; NULL is fine. */
void fl_parser_free(struct fl_parser *p);

/*
 * fl_proto_name() - "http", "postgresql", "redis", "mysql", "http2", "grpc"
 * or "unknown" (static). Records never carry "http2" (see struct fl_record).
 */
const char *fl_proto_name(enum fl_proto proto);

/* An HTTP method of the one table (proto_methods.c). */
struct fl_http_method {
	const char *name;	/* "GET", "PROPFIND" */
	size_t len;		/* strlen(name) */
	bool standard;		/* RFC 9110 or PATCH: kept in overflow operations */
};

/*
 * fl_http_methods - the registered methods faultline takes for HTTP,
 * standard ones first: detection, resynchronisation and the aggregator
 * all read this table. fl_http_nmethods entries.
 */
extern const struct fl_http_method fl_http_methods[];
extern const size_t fl_http_nmethods;

/* fl_http_method_find() - the method @s (@n bytes, exact case), or NULL. */
const struct fl_http_method *fl_http_method_find(const char *s, size_t n);

#endif /* FAULTLINE_PROTO_H */
