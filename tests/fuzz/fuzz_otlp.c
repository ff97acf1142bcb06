/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: gatectl import otlp's reading and checking of OTLP/JSON lines. */
#include "fz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_import(imp_otlp_run, "otlp", NULL, data, size);
	return 0;
}
