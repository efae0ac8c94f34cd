/* RSS of 100k concurrently sleeping tasks with default stacks: spawns
 * them, reads VmRSS while they all sleep, joins them. Prints one JSON
 * object for the report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urio.h>

#define TASKS 100000

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = atol(line + 6);
	if (f)
		fclose(f);
	return v;
}

static intptr_t sleeper(void *arg)
{
	return urio_sleep_ms(2000);
}

static intptr_t root(void *arg)
{
	urio_task **t = malloc(TASKS * sizeof(*t));
	long before = rss_kib();
	int n = 0;
	for (; n < TASKS; n++)
		if (!(t[n] = urio_spawn(sleeper, NULL)))
			break;
	urio_sleep_ms(500); /* all of them are parked by now */
	long during = rss_kib();
	for (int i = 0; i < n; i++)
		urio_join(t[i], NULL);
	free(t);
	printf("{\"tasks\": %d, \"rss_before_kib\": %ld, \"rss_kib\": %ld}\n",
	       n, before, during);
	return n == TASKS ? 0 : -1;
}

int main(void)
{
	intptr_t r = -1;
	return urio_run(NULL, root, NULL, &r) < 0 || r < 0;
}
