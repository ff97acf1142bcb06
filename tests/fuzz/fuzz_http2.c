/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: the HTTP/2 + gRPC parser, both sides, any split, gaps (see fuzz.h). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_run_stream(FL_PROTO_HTTP2, data, size);
	return 0;
}
