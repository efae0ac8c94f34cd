/* Pooled stacks give their pages back: after a burst of deep tasks (all
 * alive at once, each touching tens of KiB of its stack) RSS falls back
 * under a bound once the workers go idle, instead of staying at the
 * burst's peak (the pools kept every touched page); and a runtime's whole
 * life, burst included, leaves fds, mappings (stacks) and RSS where they
 * were. */
#include <limits.h>
#include <unistd.h>

#include "burst.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer) || \
	defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif

/* Page faults and MADV_DONTNEED each cost microseconds in a loaded VM:
 * 1000 tasks of 128 KiB show the difference (128 MiB kept before) in a
 * few seconds. The soak does 100k. */
#define TASKS 1000
#define DEPTH (128u << 10)
#define STACK (512u << 10) /* deep enough under the sanitizers too */

static long rss_before;

static intptr_t deep_burst(void *arg)
{
	rss_before = test_rss();
	test_burst(TASKS, DEPTH);
	/* kept: the warm stacks of each worker and a page per pooled stack;
	 * before, every pooled stack kept its DEPTH */
	long bound = rss_before + (long)TASKS * 3 * 4096 + (32l << 20);
	long peak = test_rss();
	uint64_t t0 = now_ms();
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
	/* TSan's shadow of the stacks stays: fds and mappings are checked */
	bound = LONG_MAX;
#endif
	for (int i = 0; test_rss() > bound; i++) {
		if (i == 10000) {
			fprintf(stderr, "RSS %ld MiB after the burst (bound %ld "
					"MiB, %ld before, peak %ld)\n",
				test_rss() >> 20, bound >> 20,
				rss_before >> 20, peak >> 20);
			exit(1);
		}
		urio_sleep_ms(1); /* the workers park, and trim */
	}
	printf("  RSS before %ld MiB, after the burst %ld MiB, %ld MiB %llu "
	       "ms later\n", rss_before >> 20, peak >> 20, test_rss() >> 20,
	       (unsigned long long)(now_ms() - t0));
	return 0;
}

static intptr_t nothing(void *arg)
{
	return 0;
}

int main(void)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		urio_config c = {.workers = workers, .stack_size = STACK};
		intptr_t r = -1;
		/* warm-up: allocator arenas, the offload pool, probes */
		ASSERT_EQ(urio_run(&c, nothing, NULL, &r), 0);
		int fds0 = test_count_dir("/proc/self/fd");
		int stacks0 = test_count_stacks(STACK);
		uint64_t t0 = now_ms();
		long rss0 = test_rss();
		ASSERT_EQ(urio_run(&c, deep_burst, NULL, &r), 0);
		ASSERT_EQ(r, 0);
		ASSERT_EQ(test_count_dir("/proc/self/fd"), fds0);
		/* the last runtime gone, its stacks are unmapped */
		ASSERT_EQ(test_count_stacks(STACK), stacks0);
#ifndef SANITIZED /* their shadow of the stacks and quarantine stay */
		ASSERT(test_rss() <= rss0 + (32l << 20));
#endif
		(void)rss0;
		printf("  deep_burst_gives_back (%u workers, %d tasks, %llu "
		       "ms): ok\n", workers, TASKS,
		       (unsigned long long)(now_ms() - t0));
	}
	printf("stack_rss: ok\n");
	return 0;
}
