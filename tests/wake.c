/* Cross-worker wakes are never lost:
 *  - msg_ring_failure_falls_back: a MSG_RING wake that fails in the kernel
 *    (URIO_TEST_MSG_RING_FAIL makes every one fail, -EBADF) falls back to
 *    the target's eventfd; it used to be dropped with the target counted
 *    as spinning, so no later wake reached it and a cancel aimed at its
 *    ring waited forever.
 *  - parked_worker_sees_push: a task pushed to a local queue while the
 *    other worker parks is run by that worker even though the spawner
 *    never yields (the push and the idle check need a full fence between
 *    them, as the parker has between its idle mark and its last look).
 * Both need two workers. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static void on_alarm(int sig)
{
	static const char msg[] = "wake: a case hung\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

/* Sleeps (so it may be picked up elsewhere) until the caller runs on
 * worker want. */
static void move_to(int want)
{
	for (int i = 0; urio_worker_index() != want; i++) {
		ASSERT(i < 20000);
		urio_sleep_ms(i % 2);
	}
}

/* --- a failed MSG_RING wake ---------------------------------------------- */
static int pfd[2];
static atomic_int reading;
static urio_rt *the_rt;

static intptr_t reads_on_1(void *arg)
{
	move_to(1);
	atomic_store(&reading, 1);
	char c;
	return urio_read(pfd[0], &c, 1, -1); /* in worker 1's ring */
}

static intptr_t cancels_from_0(void *arg)
{
	ASSERT_EQ(pipe(pfd), 0);
	atomic_store(&reading, 0);
	urio_task *t = urio_spawn(reads_on_1, NULL);
	ASSERT(t);
	POLL(atomic_load(&reading));
	move_to(0);
	/* best effort: worker 1 parked in its ring, so the cancel message
	 * must wake it */
	spin_until_parks_beyond(the_rt, parks_of(the_rt));
	urio_cancel(t);
	/* bounded: the wake must arrive (through the eventfd fallback) */
	POLL(urio_task_done(t));
	intptr_t res = 0;
	ASSERT_EQ(urio_join(t, &res), -ECANCELED);
	ASSERT_EQ(res, -ECANCELED);
	close(pfd[0]);
	close(pfd[1]);
	return 0;
}

static void msg_ring_failure_falls_back(void)
{
	setenv("URIO_TEST_MSG_RING_FAIL", "1", 1);
	urio_config c = {.workers = 2};
	the_rt = urio_rt_new(&c);
	ASSERT(the_rt);
	urio_stats st;
	urio_rt_stats(the_rt, &st);
	for (int round = 0; round < 5; round++) {
		intptr_t res = -1;
		alarm(60);
		ASSERT_EQ(urio_rt_block_on(the_rt, cancels_from_0, NULL, &res),
			  0);
		ASSERT_EQ(res, 0);
	}
	alarm(0);
	urio_rt_free(the_rt);
	unsetenv("URIO_TEST_MSG_RING_FAIL");
	printf("  msg_ring_failure_falls_back (%s wake): ok\n",
	       st.msg_ring_wake ? "MSG_RING" : "eventfd");
}

/* --- a push racing a park -------------------------------------------------- */
#define ROUNDS 1000
static atomic_int child_ran;

static intptr_t child(void *arg)
{
	atomic_store(&child_ran, 1);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spawns a child and busy-waits, never yielding, until it ran: only the
 * other worker can run it. Returns when it saw it run. */
static uint64_t spawn_and_watch(int round)
{
	atomic_store(&child_ran, 0);
	urio_task *t = urio_spawn(child, NULL);
	ASSERT(t);
	uint64_t end = now_ms() + 10000;
	while (!atomic_load(&child_ran)) {
		if (now_ms() > end) {
			fprintf(stderr, "round %d: the parked worker missed "
					"the spawn\n", round);
			exit(1);
		}
	}
	uint64_t seen = now_ns();
	ASSERT_EQ(urio_join(t, NULL), 0);
	return seen;
}

/* Even rounds learn how long the other worker searches after a child
 * before it parks; odd rounds spawn around that moment, give or take a
 * few microseconds, so some spawns race its park. */
static intptr_t spawner(void *arg)
{
	urio_rt *rt = arg;
	uint32_t rng = 12345;
	uint64_t search = 0;
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t seen = spawn_and_watch(round);
		if (round % 2 == 0) {
			uint64_t p0 = parks_of(rt), end = seen + 2000000u;
			while (parks_of(rt) == p0 && now_ns() < end)
				;
			uint64_t took = now_ns() - seen;
			search = search ? (search * 7 + took) / 8 : took;
			continue;
		}
		rng = rng * 1103515245u + 12345u;
		uint64_t at = seen + search + (rng >> 16) % 6000;
		at = at > 3000 ? at - 3000 : at;
		while (now_ns() < at)
			;
		spawn_and_watch(round);
	}
	return 0;
}

static void parked_worker_sees_push(void)
{
	urio_config c = {.workers = 2};
	urio_rt *rt = urio_rt_new(&c);
	ASSERT(rt);
	intptr_t res = -1;
	alarm(300);
	ASSERT_EQ(urio_rt_block_on(rt, spawner, rt, &res), 0);
	alarm(0);
	ASSERT_EQ(res, 0);
	urio_rt_free(rt);
	printf("  parked_worker_sees_push (%d rounds): ok\n", ROUNDS);
}

int main(int argc, char **argv)
{
	signal(SIGALRM, on_alarm);
	const char *only = argc > 1 ? argv[1] : NULL;
	if (!only || !strcmp(only, "park"))
		parked_worker_sees_push();
	/* last: the failing wakes stay on for the rest of the process */
	if (!only || !strcmp(only, "msg_ring"))
		msg_ring_failure_falls_back();
	printf("wake: ok\n");
	return 0;
}
