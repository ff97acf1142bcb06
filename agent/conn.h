/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The connection table: turns collector events into records.
 *
 * Connections are keyed by (tgid, fd) and checked against the generation of
 * each event, so a reused fd is a new connection. Each direction's stream
 * offset is followed: bytes beyond the capture limit and jumps in the offset
 * reach the parser as gaps, never as silence. When both ends of a
 * connection are traced on this node, only the client end produces records
 * (the server end is "mirrored"), so every request counts once.
 *
 * TLS: once a connection's plaintext comes from the TLS uprobes
 * (FL_SRC_TLS), its syscall bytes are ignored and the plaintext is parsed
 * from its start, with its own offsets. A connection whose syscall bytes
 * look like TLS records without plaintext (a TLS library not hooked) is
 * never parsed: counted as tls_opaque_conns.
 */
#ifndef FAULTLINE_CONN_H
#define FAULTLINE_CONN_H

#include <stddef.h>
#include <stdint.h>
#include "agent.h"
#include "aggregate.h"
#include "identity.h"

struct conn_table;

/*
 * conn_table_new() - an empty table that resolves names with @id, counts
 * into @stats and aggregates into @agg (all borrowed, must outlive it).
 * @mono_to_wall_ns: added to collector timestamps (CLOCK_MONOTONIC) to get
 * Unix ns. @conns_map_fd: the collector's `conns` map, whose entries of
 * exited processes the table deletes (-1: none). @paths: link the requests
 * a service makes to the request it serves (agent/callpath.h); this parses
 * the server ends of HTTP connections whose client end is traced here too.
 * Returns NULL with errno = ENOMEM.
 */
struct conn_table *conn_table_new(struct identity *id, struct aggregator *agg,
				  struct agent_stats *stats,
				  int64_t mono_to_wall_ns, int conns_map_fd,
				  bool paths);

/*
 * conn_table_set_mirrors() - let @ct ask the collector not to copy the
 * payload of server ends whose client end it traces: @map_fd is the
 * collector's `mirrors` map (struct fl_mirror), @on its `mirrors_on` flag
 * (set at the first entry; both borrowed). Without it (replay, tests)
 * those ends are still fully captured, and parsed the same way.
 */
void conn_table_set_mirrors(struct conn_table *ct, int map_fd,
			    volatile uint32_t *on);

/* conn_table_free() - release @ct and its parsers; NULL is fine. */
void conn_table_free(struct conn_table *ct);

/*
 * conn_table_event() - handle one ring-buffer event (@data, @len bytes as
 * the collector wrote it). Malformed or short events are counted and
 * ignored. Returns 0, or -ENOMEM.
 */
int conn_table_event(struct conn_table *ct, const void *data, size_t len);

/*
 * conn_table_parser_stats() - add the parser counters of live connections
 * to those of closed ones into @stats (parser_* fields, overwritten), and
 * count the connections seen only as TLS ciphertext (tls_opaque_conns).
 */
void conn_table_parser_stats(struct conn_table *ct, struct agent_stats *stats);

#endif /* FAULTLINE_CONN_H */
