/* The sync_* suites' runner: every named case on 1 and 2 workers (the
 * case gets the worker count as its argument); `test_sync_x case` runs one
 * case by name; under URIO_FUZZ_BATCH, many fuzz seeds (test.h). */
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
	int slow; /* waits out whole intervals: one quick seed in SLOW_EVERY */
};
#define CASE(f) {#f, f, 0}
#define CASE_SLOW(f) {#f, f, 1}
#define SLOW_EVERY 32

struct sync_run {
	const char *suite;
	const struct sync_case *cases;
	size_t n;
	const char *only; /* a case name, or NULL for all */
};

/* A case on a fresh runtime of w workers. */
static inline int run_case(const struct sync_case *c, unsigned w)
{
	urio_config cfg = {.workers = w};
	intptr_t r = -1;
	ASSERT_EQ(urio_run(&cfg, c->fn, (void *)(intptr_t)w, &r), 0);
	if (r != 0)
		fprintf(stderr, "%s on %u workers: %ld\n", c->name, w, (long)r);
	return r != 0;
}

/* Quick mode (a fuzz seed): every case on one 2-worker runtime, the
 * seed's, since a runtime costs as much as a quick case; the slow ones
 * only under every SLOW_EVERY-th seed. */
static inline int run_cases_shared(const struct sync_run *run)
{
	int slow = test_fuzz_seed() % SLOW_EVERY == 0;
	urio_config cfg = {.workers = 2};
	urio_rt *rt = urio_rt_new(&cfg);
	ASSERT(rt);
	int bad = 0;
	for (size_t i = 0; i < run->n && !bad; i++) {
		const struct sync_case *c = &run->cases[i];
		if ((run->only && strcmp(run->only, c->name) != 0) ||
		    (c->slow && !slow && !run->only))
			continue;
		intptr_t r = -1;
		ASSERT_EQ(urio_rt_block_on(rt, c->fn, (void *)(intptr_t)2, &r),
			  0);
		if (r != 0) {
			fprintf(stderr, "%s on 2 workers: %ld\n", c->name,
				(long)r);
			bad = 1;
		}
	}
	urio_rt_free(rt);
	return bad;
}

static inline int run_cases_once(void *arg)
{
	const struct sync_run *run = arg;
	if (test_quick())
		return run_cases_shared(run);
	for (size_t i = 0; i < run->n; i++) {
		if (run->only && strcmp(run->only, run->cases[i].name) != 0)
			continue;
		for (unsigned w = 1; w <= 2; w++)
			if (run_case(&run->cases[i], w))
				return 1;
	}
	printf("%s: ok\n", run->suite);
	return 0;
}

static inline int run_cases(const char *suite, const struct sync_case *cases,
			    size_t n, int argc, char **argv)
{
	struct sync_run run = {suite, cases, n, argc > 1 ? argv[1] : NULL};
	return test_fuzz_seeds(run_cases_once, &run);
}

#endif
