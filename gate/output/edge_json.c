// SPDX-License-Identifier: BSD-2-Clause
/*
 * The edge object of `graph -o json` and `paths -o json`, and how an edge
 * is known, as JSON and as a table cell (docs/gatectl.md).
 */
#include "output/output.h"
#include "query/sources.h"

#include <stdio.h>

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

json_t *gate_sources_json(const struct gate_sources *s)
{
	json_t *arr = json_array();

	for (int i = 0; arr && i < GATE_SRC_COUNT; i++) {
		const struct gate_source *x = &s->s[i];
		if (!x->have)
			continue;
		if (json_array_append_new(arr, json_pack("{s:s, s:I, s:o, s:o}",
				"source", gate_src_name((enum gate_src)i), "samples", (json_int_t)x->samples,
				"first_seen", gate_json_time(x->first_ns),
				"last_seen", gate_json_time(x->last_ns)))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

void gate_sources_str(const struct gate_sources *s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < GATE_SRC_COUNT; i++) {
		if (!s->s[i].have)
			continue;
		int w = snprintf(buf + n, len - n, "%s%s", n ? "+" : "", gate_src_name((enum gate_src)i));
		if (w < 0 || (size_t)w >= len - n)
			break;
		n += (size_t)w;
	}
	if (!n)
		snprintf(buf, len, "-");
}
