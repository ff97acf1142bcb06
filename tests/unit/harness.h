/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Minimal unit-test harness. Each test is a function; CHECK records a
 * failure with file:line and goes on. main() comes from RUN_TESTS and prints
 * "<name>: N passed, N failed" (the closing line CI reads); exit 1 on failure.
 *
 *   static void test_split(void) { CHECK(x == 1); CHECK_EQ_INT(n, 3); }
 *   RUN_TESTS(test_split, test_garbage)
 */
#ifndef FAULTLINE_HARNESS_H
#define FAULTLINE_HARNESS_H

#include <stdio.h>
#include <string.h>

static int h_failed_checks;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			h_failed_checks++;                                   \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",      \
				__FILE__, __LINE__, #cond);                  \
		}                                                            \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                   \
	do {                                                                 \
		long long _a = (long long)(a), _b = (long long)(b);          \
		if (_a != _b) {                                              \
			h_failed_checks++;                                   \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", \
				__FILE__, __LINE__, #a, _a, _b);             \
		}                                                            \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                   \
	do {                                                                 \
		const char *_a = (a), *_b = (b);                             \
		if (strcmp(_a, _b)) {                                        \
			h_failed_checks++;                                   \
			fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, _a, _b);             \
		}                                                            \
	} while (0)

typedef void (*h_test_fn)(void);

static int h_run(const char *prog, const h_test_fn *fns, const char *names)
{
	int passed = 0, failed = 0;
	char buf[4096], *save, *name;

	snprintf(buf, sizeof(buf), "%s", names);
	name = strtok_r(buf, ", ", &save);
	for (const h_test_fn *f = fns; *f; f++) {
		int before = h_failed_checks;
		(*f)();
		if (h_failed_checks == before) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL %s\n", name ? name : "?");
		}
		name = strtok_r(NULL, ", ", &save);
	}
	const char *base = strrchr(prog, '/');
	printf("%s: %d passed, %d failed\n", base ? base + 1 : prog, passed, failed);
	return failed ? 1 : 0;
}

#define RUN_TESTS(...)                                                       \
	int main(int argc, char **argv)                                      \
	{                                                                    \
		static const h_test_fn fns[] = { __VA_ARGS__, NULL };        \
		(void)argc;                                                  \
		return h_run(argv[0], fns, #__VA_ARGS__);                    \
	}

#endif /* FAULTLINE_HARNESS_H */
