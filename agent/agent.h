/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Counters of the agent: what it saw and, above all, what it did not see.
 * Written to the store's agent_counters table at every flush and printed at
 * exit. Names are the `name` column values (docs/store.md).
 */
#ifndef FAULTLINE_AGENT_H
#define FAULTLINE_AGENT_H

#include <stdint.h>
#include <faultline/events.h>

#define AGENT_STATS(X)                                                        \
	X(events)		/* ring-buffer events consumed */              \
	X(data_events)		/* of which data events */                     \
	X(conn_opens)		/* TCP connections seen opening */             \
	X(conns_joined)		/* of which existed before the agent started */\
	X(conns_join_map_full)	/* existing connections not adopted: map full */\
	X(conn_closes)		/* tracked connections seen closing */         \
	X(conn_failures)	/* connect() refused, unreachable, timed out; resets */\
	X(conns_without_open)	/* data on a connection whose open was lost */ \
	X(conns_mirrored)	/* server ends skipped: client end traced here */\
	X(conns_inherited)	/* connections a child got from its parent's fork */\
	X(bytes_seen)		/* payload bytes moved by traced syscalls */   \
	X(bytes_captured)	/* of which captured */                        \
	X(bytes_truncated)	/* not captured: beyond the per-syscall cap */ \
	X(bytes_spliced)	/* not captured: moved by sendfile/splice */   \
	X(bytes_mirrored)	/* not captured: mirrored server ends (the client end has them) */\
	X(gap_bytes)		/* not captured: stream gaps (lost events) */  \
	X(reordered_events)	/* data events behind the stream offset */     \
	X(records)		/* request/response pairs aggregated */        \
	X(unknown_proto_conns)	/* connections no parser recognised */         \
	X(unknown_proto_bytes)	/* bytes on those connections */               \
	X(parser_resyncs)	/* parsers that lost framing and resynced */   \
	X(parser_unparsed_bytes)/* bytes parsers skipped unparsed */           \
	X(parser_unpaired)	/* responses without a request or vice versa */\
	X(requests_lost)	/* requests with no record: framing lost around them */\
	X(parser_given_up)	/* connections a parser gave up */            \
	X(http2_unnamed_streams)/* HTTP/2 streams not recorded: HPACK lost */  \
	X(unresolved_peers)	/* peers named ADDR:PORT, no process found */  \
	X(store_errors)		/* failed flushes to the store */              \
	X(tls_libraries)	/* TLS libraries/executables uprobes attached to */\
	X(tls_attach_failures)	/* SSL_* uprobes that could not be attached */ \
	X(tls_conns)		/* connections whose TLS plaintext was seen */ \
	X(tls_opaque_conns)	/* TLS connections seen only encrypted: not parsed */\
	X(links_thread)		/* child requests linked by the same thread */ \
	X(links_traceparent)	/* child requests linked by W3C trace-id */    \
	X(threads_evloop)	/* threads seen waiting on epoll: no thread links */\
	X(threads_multiplexed)	/* threads that read two requests at once: no thread links */\
	X(routes_overflowed)	/* records of routes over --max-routes: "{overflow}" */\
	X(backlog_windows)	/* windows pending in memory (at the last flush) */\
	X(backlog_windows_peak)	/* most windows pending at once */              \
	X(backlog_windows_dropped) /* windows refused at --backlog-windows */   \
	X(backlog_records_dropped) /* records not counted: backlog full */\
	X(alloc_failures)	/* events whose handling lost an allocation (ENOMEM) */

struct agent_stats {
#define X(name) uint64_t name;
	AGENT_STATS(X)
#undef X
	uint64_t bpf[FL_CNT_MAX]; /* enum fl_counter, summed over CPUs */
};

#endif /* FAULTLINE_AGENT_H */
