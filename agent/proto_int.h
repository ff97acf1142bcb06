/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The parser table's view of each protocol (proto_detect.c): its vtable
 * and the entry points detection and joining need. Each parser defines its
 * own and includes this; everything they share is in proto_core.h.
 */
#ifndef FAULTLINE_PROTO_INT_H
#define FAULTLINE_PROTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "proto_core.h"


extern const struct fl_proto_ops fl_http_ops;
extern const struct fl_proto_ops fl_pg_ops;

/* PostgreSQL, joined mid-life: startup is over (proto_pg.c). */
void fl_pg_join(struct fl_parser *p);

/* A PostgreSQL frontend message header at @d (@n bytes): 1, 0, or -1 for
 * "need more" (proto_pg.c). */
int fl_pg_detect_typed(const uint8_t *d, size_t n);
extern const struct fl_proto_ops fl_redis_ops;
extern const struct fl_proto_ops fl_mysql_ops;

/* MySQL, joined mid-life: handshake and authentication are over (proto_mysql.c). */
void fl_mysql_join(struct fl_parser *p);

/* MySQL openings at @d (@n bytes): 1, 0, or -1 for "need more"
 * (proto_mysql.c): the server's greeting, the client's handshake response,
 * a COM_QUERY at a packet boundary. */
int fl_mysql_detect_greeting(const uint8_t *d, size_t n);
int fl_mysql_detect_hs_response(const uint8_t *d, size_t n);
int fl_mysql_detect_query(const uint8_t *d, size_t n);

extern const struct fl_proto_ops fl_h2_ops;

/* HTTP/2, joined mid-life: no preface, HPACK state unknown (proto_http2.c). */
void fl_h2_join(struct fl_parser *p);

/* An HTTP/2 frame header a client may send at @d (@n bytes): 1, 0, or -1
 * for "need more" (proto_http2.c). */
int fl_h2_detect_frame(const uint8_t *d, size_t n);

#endif /* FAULTLINE_PROTO_INT_H */
