// SPDX-License-Identifier: BSD-2-Clause
/* The edge object of `graph -o json` and `paths -o json` (docs/gatectl.md). */
#include "output/output.h"

json_t *gate_json_edge(const struct gate_edge *e)
{
	double p50 = 0, p90 = 0, p99 = 0;
	bool h50 = gate_quantile_ms(&e->stats, 0.50, &p50);
	bool h90 = gate_quantile_ms(&e->stats, 0.90, &p90);
	bool h99 = gate_quantile_ms(&e->stats, 0.99, &p99);

	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
			 "client", e->client, "server", e->server,
			 "protocol", e->protocol, "operation", e->operation,
			 "requests", (json_int_t)e->stats.requests,
			 "errors", (json_int_t)e->stats.errors,
			 "client_errors", (json_int_t)e->stats.client_errors,
			 "conn_errors", (json_int_t)e->stats.conn_errors,
			 "error_rate", gate_json_rate(gate_error_rate(&e->stats)),
			 "p50_ms", gate_json_ms(h50, p50),
			 "p90_ms", gate_json_ms(h90, p90),
			 "p99_ms", gate_json_ms(h99, p99),
			 "first_seen", gate_json_time(e->first_seen_ns),
			 "last_seen", gate_json_time(e->last_seen_ns),
			 "tls", e->tls);
}
