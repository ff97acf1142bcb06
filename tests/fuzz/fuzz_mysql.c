/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: the MySQL/MariaDB parser, both sides, any split, gaps (see fuzz.h). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_run_stream(FL_PROTO_MYSQL, data, size);
	return 0;
}
