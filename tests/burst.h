/* A burst of deep tasks (tests/stack_rss.c and the soak): n tasks alive at
 * once, each with depth bytes of its stack touched; and the process's
 * resident memory and mapping count around it. */
#ifndef URIO_TEST_BURST_H
#define URIO_TEST_BURST_H

#include <errno.h>
#include <stdatomic.h>
#include <urio.h>

#include "test.h"

/* Resident bytes of this process. */
static inline long test_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	ASSERT(f);
	long size, res;
	ASSERT_EQ(fscanf(f, "%ld %ld", &size, &res), 2);
	fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

/* Stack mappings of this process: those of the usable size of a stack
 * of stack_size bytes (its header page included), with or without the
 * 16 KiB guard (MADV_GUARD_INSTALL keeps one mapping; mprotect splits the
 * guard off). */
static inline int test_count_stacks(size_t stack_size)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	size_t usable = (stack_size + 64 + ps - 1) & ~(ps - 1);
	size_t guard = 16u << 10;
	FILE *f = fopen("/proc/self/maps", "r");
	ASSERT(f);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    (hi - lo == usable || hi - lo == usable + guard))
			n++;
	}
	fclose(f);
	return n;
}

static atomic_int burst_touched;

static __attribute__((noinline)) void burst_touch(size_t depth)
{
	volatile char buf[depth];
	for (size_t i = 0; i < depth; i += 4096)
		buf[i] = 1;
	buf[depth - 1] = 1;
	(void)buf[0];
}

static intptr_t burst_task(void *arg)
{
	burst_touch((size_t)(uintptr_t)arg);
	atomic_fetch_add(&burst_touched, 1);
	int r = urio_sleep_ms(UINT64_C(1) << 40); /* until cancelled */
	return r == -ECANCELED ? 0 : -EIO;
}

/* In a task: n tasks each touch depth bytes of stack and stay alive until
 * all have; then all are cancelled and joined. */
static inline void test_burst(int n, size_t depth)
{
	urio_task **t = calloc((size_t)n, sizeof(*t));
	ASSERT(t);
	atomic_store(&burst_touched, 0);
	for (int i = 0; i < n; i++) {
		t[i] = urio_spawn(burst_task, (void *)(uintptr_t)depth);
		ASSERT(t[i]);
	}
	POLL(atomic_load(&burst_touched) == n);
	for (int i = 0; i < n; i++)
		urio_cancel(t[i]);
	for (int i = 0; i < n; i++) {
		intptr_t r = -1;
		urio_join(t[i], &r);
		ASSERT_EQ(r, 0);
	}
	free(t);
}

#endif
