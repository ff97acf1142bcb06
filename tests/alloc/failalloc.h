/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Allocation-failure injection (tests/alloc/run.sh), after jansson's
 * test_chaos.c: force-included (-include) into the sources under test, it
 * routes their malloc, calloc, realloc, strdup and strndup through
 * tests/alloc/failalloc.c, which knows each call site by file and line and
 * can fail one call of one site. Only the sources compiled with it are
 * affected: a test harness, SQLite, jansson and libnghttp2 allocate as usual.
 */
#ifndef FAULTLINE_FAILALLOC_H
#define FAULTLINE_FAILALLOC_H

#include <stdlib.h>
#include <string.h>
#include <malloc.h>	/* declares malloc again: before the macros */

void *fa_malloc(size_t n, const char *file, int line);
void *fa_calloc(size_t k, size_t n, const char *file, int line);
void *fa_realloc(void *p, size_t n, const char *file, int line);
char *fa_strdup(const char *s, const char *file, int line);
char *fa_strndup(const char *s, size_t n, const char *file, int line);

#define malloc(n) fa_malloc((n), __FILE__, __LINE__)
#define calloc(k, n) fa_calloc((k), (n), __FILE__, __LINE__)
#define realloc(p, n) fa_realloc((p), (n), __FILE__, __LINE__)
#define strdup(s) fa_strdup((s), __FILE__, __LINE__)
#define strndup(s, n) fa_strndup((s), (n), __FILE__, __LINE__)

#endif /* FAULTLINE_FAILALLOC_H */
