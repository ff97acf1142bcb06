/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: fl_sql_normalize() and fl_http_route(). Byte 0 sizes the output
 * buffer, byte 1 splits the rest into an HTTP method and a target; the
 * whole rest is also a SQL statement.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 2;
	size_t out_size, n, mlen;

	if (size < 2)
		return 0;
	out_size = data[0] == 0xff ? FL_OP_MAX : (size_t)data[0] + 1;
	n = size - 2;
	mlen = data[1] % (n + 1);
	fz_check_sql(s, n, out_size);
	fz_check_route(s, mlen, s + mlen, n - mlen, out_size);
	return 0;
}
