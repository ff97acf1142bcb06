/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: gatectl import openapi's reading and checking of OpenAPI 3 JSON. */
#include "fz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_import(imp_openapi_run, "openapi", "checkout", data, size);
	return 0;
}
