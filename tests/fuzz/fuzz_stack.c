/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: the stack file parser (fl_stack_load): a stack, or -EINVAL
 * with one message; whatever it returns is released cleanly.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "fz_file.h"
#include "stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_stack s;
	char err[1024];
	int rc;

	memset(&s, 0, sizeof(s));
	err[0] = 0;
	rc = fl_stack_load(fz_file(data, size), &s, err, sizeof(err));
	if (rc && rc != -EINVAL && rc != -ENOMEM) {
		fprintf(stderr, "fl_stack_load: %d: %s\n", rc, err);
		abort();	/* the file is there: only malformed or OOM */
	}
	if (rc && !err[0])
		abort();
	if (!rc)
		fl_stack_release(&s);
	return 0;
}
