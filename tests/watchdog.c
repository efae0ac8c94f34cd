/* The stuck-worker watchdog: a task blocked in sleep(1) (the libc call)
 * and one spinning on the CPU are each reported by name, with what they
 * call, counted in urio_stats and shown as STUCK by urio_dump_tasks (what
 * urio-ps prints); with the watchdog off nothing is reported. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

/* stderr goes to a file while a case runs; the report is read back. */
static int saved_err = -1;
static FILE *capture;

static void capture_begin(void)
{
	fflush(stderr);
	capture = tmpfile();
	ASSERT(capture);
	saved_err = dup(2);
	ASSERT(saved_err >= 0);
	ASSERT(dup2(fileno(capture), 2) == 2);
}

static char *capture_end(void)
{
	fflush(stderr);
	ASSERT(dup2(saved_err, 2) == 2);
	close(saved_err);
	long n = ftell(capture);
	char *text = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	ASSERT(text);
	rewind(capture);
	size_t got = fread(text, 1, (size_t)(n > 0 ? n : 0), capture);
	text[got] = 0;
	fclose(capture);
	fputs(text, stderr); /* keep it in the test log */
	return text;
}

static atomic_int no_report; /* the watchdog is off: sleep once */

static intptr_t sleeper(void *arg)
{
	urio_rt *rt = arg;
	urio_stats st;
	urio_task_set_name(urio_self(), "sleeper");
	/* blocks the worker: what the watchdog is for; again while the
	 * report is not out (a loaded machine may hold the watchdog back) */
	for (int i = 0; i < 10; i++) {
		sleep(1);
		urio_rt_stats(rt, &st);
		if (st.stuck_reports || (i == 0 && atomic_load(&no_report)))
			break;
	}
	return 0;
}

static void blocked_in_sleep(unsigned workers)
{
	urio_config c = {.workers = workers, .watchdog_ms = 100};
	atomic_store(&no_report, 0);
	urio_rt *rt = urio_rt_new(&c);
	ASSERT(rt);
	capture_begin();
	intptr_t r = -1;
	ASSERT_EQ(urio_rt_block_on(rt, sleeper, rt, &r), 0);
	char *text = capture_end();
	urio_stats st;
	urio_rt_stats(rt, &st);
	urio_rt_free(rt);
	ASSERT_GE(st.stuck_reports, 1);
	ASSERT(strstr(text, "'sleeper'"));
	ASSERT(strstr(text, "nanosleep"));
	free(text);
}

static atomic_int stop, spun;

static intptr_t spinner(void *arg)
{
	urio_task_set_name(urio_self(), "spinner");
	atomic_store(&spun, 1);
	uint64_t end = now_ms() + 20000; /* a bound if the report never comes */
	while (!atomic_load(&stop) && now_ms() < end)
		;
	atomic_store(&spun, 2);
	return 0;
}

static void spinning(unsigned workers)
{
	urio_config c = {.workers = workers, .watchdog_ms = 100};
	urio_rt *rt = urio_rt_new(&c);
	ASSERT(rt);
	atomic_store(&stop, 0);
	atomic_store(&spun, 0);
	capture_begin();
	urio_task *t = urio_rt_spawn(rt, spinner, NULL);
	ASSERT(t);
	urio_detach(t);
	urio_stats st;
	int n = 0;
	do {
		ASSERT(++n < 20000);
		usleep(1000);
		urio_rt_stats(rt, &st);
	} while (!st.stuck_reports);
	/* urio-ps shows the stuck worker */
	char *dump = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&dump, &len);
	ASSERT(f);
	ASSERT_EQ(urio_dump_tasks(f), 0);
	fclose(f);
	bool shown = atomic_load(&spun) == 1 && strstr(dump, "STUCK") &&
		     strstr(dump, "'spinner'");
	atomic_store(&stop, 1);
	POLL(atomic_load(&spun) == 2);
	char *text = capture_end();
	urio_rt_free(rt);
	fputs(dump, stderr);
	ASSERT(shown);
	ASSERT(strstr(text, "'spinner'"));
	ASSERT(strstr(text, "running"));
	free(dump);
	free(text);
}

static void off(unsigned workers)
{
	urio_config c = {.workers = workers,
			 .watchdog_ms = 100,
			 .flags = URIO_CFG_NO_WATCHDOG};
	atomic_store(&no_report, 1);
	urio_rt *rt = urio_rt_new(&c);
	ASSERT(rt);
	intptr_t r = -1;
	ASSERT_EQ(urio_rt_block_on(rt, sleeper, rt, &r), 0);
	urio_stats st;
	urio_rt_stats(rt, &st);
	urio_rt_free(rt);
	ASSERT_EQ(st.stuck_reports, 0);
}

int main(void)
{
	if (getenv("URIO_WATCHDOG_MS"))
		return T_SKIP; /* the environment overrides every case */
	for (unsigned w = 1; w <= 2; w++) {
		blocked_in_sleep(w);
		spinning(w);
		off(w);
	}
	return 0;
}
