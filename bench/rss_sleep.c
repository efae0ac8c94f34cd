/* RSS of 100k concurrently sleeping tasks with default stacks (256 KiB,
 * lazily committed) on the default runtime (one worker per CPU).
 *
 * The root spawns the tasks, waits until every one of them has started
 * and gone to sleep (a task counts itself just before urio_sleep_ms), reads
 * VmRSS from /proc/self/status, then joins them. The sleep is long enough
 * that none has woken before the reading; `woken_early` in the output
 * says so if it ever happens. Prints one JSON object for the report. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urio.h>

#define TASKS 100000
#define SLEEP_MS 2000

static _Atomic int asleep, woken;

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = atol(line + 6);
	fclose(f);
	return v;
}

static intptr_t sleeper(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&asleep, 1, memory_order_relaxed);
	int r = urio_sleep_ms(SLEEP_MS);
	atomic_fetch_add_explicit(&woken, 1, memory_order_relaxed);
	return r;
}

static intptr_t root(void *arg)
{
	(void)arg;
	urio_task **t = malloc(TASKS * sizeof(*t));
	if (!t)
		return -1;
	long before = rss_kib();
	uint64_t t0 = urio_now_ns();
	int n = 0;
	for (; n < TASKS; n++)
		if (!(t[n] = urio_spawn(sleeper, NULL)))
			break;
	uint64_t spawned_ns = urio_now_ns() - t0;
	while (atomic_load_explicit(&asleep, memory_order_relaxed) < n)
		urio_sleep_ms(5);
	long during = rss_kib();
	int early = atomic_load_explicit(&woken, memory_order_relaxed);
	intptr_t bad = 0;
	for (int i = 0; i < n; i++) {
		intptr_t r = 0;
		urio_join(t[i], &r);
		bad |= r;
	}
	free(t);
	printf("{\"tasks\": %d, \"rss_mib\": %.1f, \"rss_kib\": %ld, "
	       "\"rss_before_kib\": %ld, \"spawn_ms\": %.1f, "
	       "\"woken_early\": %d}\n",
	       n, during / 1024.0, during, before, spawned_ns / 1e6, early);
	return n == TASKS && !bad ? 0 : -1;
}

int main(void)
{
	intptr_t r = -1;
	int err = urio_run(NULL, root, NULL, &r);
	if (err < 0 || r < 0)
		fprintf(stderr, "rss_sleep: failed (%d, %ld)\n", err, (long)r);
	return err < 0 || r < 0;
}
