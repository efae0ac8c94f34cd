/* The sync_* suites' runner: every named case on 1 and 2 workers (the
 * case gets the worker count as its argument); `test_sync_x case` runs one
 * case by name. */
#ifndef URIO_TEST_SYNC_CASES_H
#define URIO_TEST_SYNC_CASES_H

#include "test.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#else
#define UNDER_TSAN 0
#endif

struct sync_case {
	const char *name;
	urio_fn fn;
};
#define CASE(f) {#f, f}

static inline int run_cases(const char *suite, const struct sync_case *cases,
			    size_t n, int argc, char **argv)
{
	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		for (unsigned w = 1; w <= 2; w++) {
			urio_config cfg = {.workers = w};
			intptr_t r = -1;
			ASSERT_EQ(urio_run(&cfg, cases[i].fn,
					   (void *)(intptr_t)w, &r),
				  0);
			if (r != 0) {
				fprintf(stderr, "%s on %u workers: %ld\n",
					cases[i].name, w, (long)r);
				return 1;
			}
		}
	}
	printf("%s: ok\n", suite);
	return 0;
}

#endif
