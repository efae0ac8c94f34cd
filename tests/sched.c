/* The scheduler across workers: tasks migrating while doing I/O (data
 * always intact), a task woken from another worker, spawns from several
 * foreign threads at once, 100k concurrently sleeping tasks, a fan-out with
 * every result counted, and the stats adding up afterwards. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif

/* TSan gives each live fiber its own shadow stack (~2.5 MiB of mappings):
 * fewer at once there. */
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define SLEEPERS 2000
#elif defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SLEEPERS 10000
#else
#define SLEEPERS 100000
#endif

static atomic_int moved;

/* Writes and reads back through its own pipe, yielding between, and
 * notes whether it ever resumed on another worker. */
static intptr_t migrant(void *arg)
{
	int p[2];
	if (pipe(p) < 0)
		return -errno;
	int first = urio_worker_index();
	intptr_t r = 0;
	for (int i = 0; i < 50 && r == 0; i++) {
		char out = (char)i, in = 0;
		if (urio_write(p[1], &out, 1, -1) != 1 ||
		    urio_read(p[0], &in, 1, -1) != 1 || in != out)
			r = -EIO;
		urio_yield();
		if (urio_worker_index() != first)
			atomic_store(&moved, 1);
	}
	close(p[0]);
	close(p[1]);
	return r;
}

static intptr_t migration(void *arg)
{
	/* Migration depends on timing, so it is looked for in rounds, bounded;
	 * data integrity is asserted every time. */
	for (int round = 0; round < 50 && !atomic_load(&moved); round++) {
		enum { N = 200 };
		urio_task *t[N];
		for (int i = 0; i < N; i++)
			ASSERT((t[i] = urio_spawn(migrant, NULL)));
		for (int i = 0; i < N; i++) {
			intptr_t r = -1;
			ASSERT_EQ(urio_join(t[i], &r), 0);
			ASSERT_EQ(r, 0);
		}
	}
	ASSERT(atomic_load(&moved));
	return 0;
}

/* A reader parks in urio_read; the writer runs on whichever worker, often
 * the other one; the reader must be woken across workers. */
static intptr_t reader(void *arg)
{
	char buf[4];
	return urio_read((int)(intptr_t)arg, buf, 4, -1);
}

static intptr_t writer(void *arg)
{
	urio_sleep_ms(1);
	return urio_write((int)(intptr_t)arg, "wake", 4, -1);
}

static intptr_t cross_wake(void *arg)
{
	for (int i = 0; i < 200; i++) {
		int p[2];
		ASSERT_EQ(pipe(p), 0);
		urio_task *r = urio_spawn(reader, (void *)(intptr_t)p[0]);
		urio_task *w = urio_spawn(writer, (void *)(intptr_t)p[1]);
		intptr_t rr = 0, wr = 0;
		ASSERT_EQ(urio_join(r, &rr), 0);
		ASSERT_EQ(urio_join(w, &wr), 0);
		ASSERT_EQ(rr, 4);
		ASSERT_EQ(wr, 4);
		close(p[0]);
		close(p[1]);
	}
	return 0;
}

static intptr_t add(void *arg)
{
	return (intptr_t)arg + 1;
}

struct spawner {
	urio_rt *rt;
	long sum;
};

static void *foreign(void *arg)
{
	struct spawner *s = arg;
	for (intptr_t i = 0; i < 500; i++) {
		urio_task *t = urio_rt_spawn(s->rt, add, (void *)i);
		ASSERT(t);
		intptr_t r = 0;
		if (i % 2) {
			ASSERT_EQ(urio_join(t, &r), 0);
			s->sum += r;
		} else {
			urio_detach(t);
		}
	}
	return NULL;
}

static intptr_t sleeper(void *arg)
{
	return urio_sleep_ms(50 + (uintptr_t)arg % 150);
}

static intptr_t many_sleepers(void *arg)
{
	urio_task **t = calloc(SLEEPERS, sizeof(*t));
	for (intptr_t i = 0; i < SLEEPERS; i++)
		ASSERT((t[i] = urio_spawn(sleeper, (void *)i)));
	for (int i = 0; i < SLEEPERS; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(t[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	free(t);
	return 0;
}

static intptr_t fanout(void *arg)
{
	enum { N = 100000, W = 1024 };
	static urio_task *win[W];
	long sum = 0;
	for (int i = 0; i < N + W; i++) {
		if (i >= W) {
			intptr_t r = 0;
			ASSERT_EQ(urio_join(win[i % W], &r), 0);
			sum += r;
		}
		if (i < N)
			ASSERT((win[i % W] = urio_spawn(add, (void *)(intptr_t)i)));
	}
	ASSERT_EQ(sum, (long)N * (N + 1) / 2);
	return 0;
}

int main(void)
{
	urio_config two = {.workers = 2};
	urio_rt *rt = urio_rt_new(&two);
	ASSERT(rt);
	urio_fn cases[] = {migration, cross_wake, many_sleepers, fanout};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_rt_block_on(rt, cases[i], NULL, &r), 0);
		ASSERT_EQ(r, 0);
	}

	/* four foreign threads spawning at once */
	struct spawner s[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		s[i] = (struct spawner){.rt = rt};
		pthread_create(&th[i], NULL, foreign, &s[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ASSERT_EQ(s[i].sum, 250 * 251); /* i + 1 for odd i: 2 + 4 + .. + 500 */
	}

	/* every spawned task finished (detached ones too, bounded wait) */
	urio_stats st;
	for (int i = 0; i < 2000; i++) {
		urio_rt_stats(rt, &st);
		if (st.live_tasks == 0)
			break;
		usleep(1000);
	}
	ASSERT_EQ(st.live_tasks, 0);
	ASSERT_EQ(st.spawned, st.finished);
	ASSERT_EQ(st.workers, 2);
	urio_rt_free(rt);
	puts("sched: ok");
	return 0;
}
