/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: the operator's services mapping file (identity_load_rules):
 * any bytes are either rules or one error message, printable and bounded.
 */
#include <string.h>
#include "fz_file.h"
#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity *id = identity_new();
	char err[512];
	int rc;

	if (!id)
		abort();
	err[0] = 0;
	rc = identity_load_rules(id, fz_file(data, size), err, sizeof(err));
	if (rc && (!err[0] || !memchr(err, 0, sizeof(err))))
		abort();	/* an error always says why */
	identity_free(id);
	return 0;
}
