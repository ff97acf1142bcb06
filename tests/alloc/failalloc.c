// SPDX-License-Identifier: BSD-2-Clause
/*
 * The allocator of tests/alloc/failalloc.h. Environment:
 *   FA_REPORT=FILE   at exit, write one line per call site reached:
 *                    "FILE:LINE CALLS" (count mode)
 *   FA_FAIL=FILE:LINE[@N]  fail the Nth call (default 1st) of that site
 *                    with ENOMEM; at exit say on stderr whether it was
 *                    reached ("failalloc: failed SITE call N" or
 *                    "failalloc: SITE not reached")
 * Sites are kept in a fixed table (no allocation inside the allocator).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SITES_MAX 4096

static struct site {
	const char *file;
	int line;
	unsigned long calls;
} sites[SITES_MAX];
static int nsites;
static bool inited, failed;
static char fail_file[512];
static int fail_line;
static unsigned long fail_nth = 1;

static void fa_report(void)
{
	const char *rep = getenv("FA_REPORT");

	if (rep) {
		FILE *f = fopen(rep, "w");
		if (f) {
			for (int i = 0; i < nsites; i++)
				fprintf(f, "%s:%d %lu\n", sites[i].file, sites[i].line,
					sites[i].calls);
			fclose(f);
		}
	}
	if (fail_line)
		fprintf(stderr, failed ? "failalloc: failed %s:%d call %lu\n"
				       : "failalloc: %s:%d call %lu not reached\n",
			fail_file, fail_line, fail_nth);
}

__attribute__((constructor)) static void fa_init(void)
{
	const char *f = getenv("FA_FAIL");

	inited = true;
	if (f) {
		const char *colon = strrchr(f, ':');
		const char *at = strchr(f, '@');
		if (colon && (size_t)(colon - f) < sizeof(fail_file)) {
			memcpy(fail_file, f, (size_t)(colon - f));
			fail_line = atoi(colon + 1);
			if (at)
				fail_nth = strtoul(at + 1, NULL, 10);
		}
	}
	atexit(fa_report);
}

/* Count a call of FILE:LINE; true if this one must fail. */
static bool fa_fail(const char *file, int line)
{
	struct site *s = NULL;

	if (!inited)
		fa_init();
	for (int i = 0; i < nsites; i++)
		if (sites[i].line == line && (sites[i].file == file ||
					      !strcmp(sites[i].file, file))) {
			s = &sites[i];
			break;
		}
	if (!s && nsites < SITES_MAX)
		s = &sites[nsites++], s->file = file, s->line = line;
	if (!s)
		return false;
	s->calls++;
	if (!failed && line == fail_line && s->calls == fail_nth &&
	    !strcmp(file, fail_file)) {
		failed = true;
		errno = ENOMEM;
		return true;
	}
	return false;
}

void *fa_malloc(size_t n, const char *file, int line)
{
	return fa_fail(file, line) ? NULL : malloc(n);
}

void *fa_calloc(size_t k, size_t n, const char *file, int line)
{
	return fa_fail(file, line) ? NULL : calloc(k, n);
}

void *fa_realloc(void *p, size_t n, const char *file, int line)
{
	return fa_fail(file, line) ? NULL : realloc(p, n);
}

char *fa_strdup(const char *s, const char *file, int line)
{
	return fa_fail(file, line) ? NULL : strdup(s);
}

char *fa_strndup(const char *s, size_t n, const char *file, int line)
{
	return fa_fail(file, line) ? NULL : strndup(s, n);
}
