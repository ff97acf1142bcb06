/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Time arguments and time output of gatectl (query/time.c): RFC 3339,
 * Unix seconds, durations before now; ns since the epoch throughout.
 */
#ifndef FAULTLINE_GATE_TIME_H
#define FAULTLINE_GATE_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "query/ctx.h"

/*
 * gate_time_parse() - parse a time argument into ns since the epoch:
 * RFC 3339 ("2026-11-21T05:00:00Z", optional fraction, "Z" or "+hh:mm"),
 * Unix seconds ("@1763700000"), or a duration before @now_ns ("30s", "15m",
 * "2h", "1d", combined as in "1h30m"). OUT: *@out_ns.
 * Returns 0 or -EINVAL (-ERANGE when outside what int64 ns can hold).
 */
int gate_time_parse(const char *s, int64_t now_ns, int64_t *out_ns);

/*
 * gate_time_format() - @ns since the epoch as UTC RFC 3339 with
 * milliseconds, "2026-11-21T05:00:00.123Z", into @buf (>= 32 bytes).
 */
void gate_time_format(int64_t ns, char *buf, size_t len);

/* gate_now_ns() - the wall clock, ns since the epoch. */
int64_t gate_now_ns(void);

/*
 * gate_time_arg() - gate_time_parse() for option @opt, with an error
 * message naming the option and value.
 */
int gate_time_arg(struct gate_ctx *ctx, const char *opt, const char *s,
		  int64_t *out_ns);

#endif /* FAULTLINE_GATE_TIME_H */
