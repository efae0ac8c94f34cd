/* Tasks: run, spawn/join/detach, yield, sleep, names and ids, block_on
 * repeated with blocking code between, foreign-thread spawn. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static intptr_t add_one(void *arg)
{
	return (intptr_t)arg + 1;
}

static intptr_t spawn_join(void *arg)
{
	urio_task *t[100];
	for (intptr_t i = 0; i < 100; i++) {
		t[i] = urio_spawn(add_one, (void *)i);
		ASSERT(t[i]);
	}
	for (intptr_t i = 0; i < 100; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(t[i], &r), 0);
		ASSERT_EQ(r, i + 1);
	}
	return 42;
}

static atomic_int detached_ran;
static intptr_t detached(void *arg)
{
	urio_sleep_ms(1);
	atomic_fetch_add(&detached_ran, 1);
	return 0;
}

static intptr_t yielder(void *arg)
{
	atomic_int *counter = arg;
	for (int i = 0; i < 1000; i++) {
		atomic_fetch_add(counter, 1);
		urio_yield();
	}
	return 0;
}

static intptr_t yields(void *arg)
{
	atomic_int c = 0;
	urio_task *a = urio_spawn(yielder, &c);
	urio_task *b = urio_spawn(yielder, &c);
	ASSERT_EQ(urio_join(a, NULL), 0);
	ASSERT_EQ(urio_join(b, NULL), 0);
	ASSERT_EQ(atomic_load(&c), 2000);
	return 0;
}

static intptr_t sleeper(void *arg)
{
	ASSERT_EQ(urio_sleep_ms(5), 0);
	ASSERT_EQ(urio_sleep_ns(1000), 0);
	ASSERT_EQ(urio_sleep_ms(0), 0);
	return 7;
}

static intptr_t names(void *arg)
{
	urio_task *t = urio_spawn(sleeper, NULL);
	urio_task_set_name(t, "a-rather-long-name-that-will-be-truncated-here");
	ASSERT_EQ(strlen(urio_task_name(t)), 31);
	ASSERT(urio_task_id(t) > urio_task_id(urio_self()));
	ASSERT(!urio_task_done(t));
	intptr_t r;
	ASSERT_EQ(urio_join(t, &r), 0);
	ASSERT_EQ(r, 7);
	ASSERT_EQ(urio_join(urio_self(), NULL), -EDEADLK);
	ASSERT_EQ(urio_join(NULL, NULL), -EINVAL);
	ASSERT(urio_spawn(NULL, NULL) == NULL && errno == EINVAL);
	return 0;
}

static intptr_t spawn_detached(void *arg)
{
	for (int i = 0; i < 50; i++)
		urio_detach(urio_spawn(detached, NULL));
	while (atomic_load(&detached_ran) < 50)
		urio_sleep_ms(1);
	return 0;
}

struct foreign {
	urio_rt *rt;
	urio_task *t;
};

static void *foreign_thread(void *arg)
{
	struct foreign *f = arg;
	f->t = urio_rt_spawn(f->rt, add_one, (void *)41);
	return NULL;
}

int main(void)
{
	intptr_t r = 0;
	urio_config cfg = {.workers = 2};
	ASSERT_EQ(urio_run(&cfg, spawn_join, NULL, &r), 0);
	ASSERT_EQ(r, 42);
	ASSERT_EQ(urio_run(NULL, yields, NULL, NULL), 0);
	ASSERT_EQ(urio_run(&cfg, names, NULL, NULL), 0);
	ASSERT_EQ(urio_run(NULL, NULL, NULL, NULL), -EINVAL);

	/* urio_spawn outside a task */
	ASSERT(urio_spawn(add_one, NULL) == NULL && errno == EPERM);

	urio_rt *rt = urio_rt_new(&cfg);
	ASSERT(rt);
	ASSERT_EQ(urio_rt_workers(rt), 2);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(urio_rt_block_on(rt, sleeper, NULL, &r), 0);
		ASSERT_EQ(r, 7);
		usleep(1000); /* blocking code between runs */
	}
	ASSERT_EQ(urio_rt_block_on(rt, spawn_detached, NULL, NULL), 0);

	/* spawn from a thread the runtime does not own */
	struct foreign f = {.rt = rt};
	pthread_t th;
	pthread_create(&th, NULL, foreign_thread, &f);
	pthread_join(th, NULL);
	ASSERT(f.t);
	ASSERT_EQ(urio_join(f.t, &r), 0);
	ASSERT_EQ(r, 42);
	urio_rt_free(rt);

	urio_config bad = {.workers = 100000};
	ASSERT(urio_rt_new(&bad) == NULL && errno == EINVAL);
	bad = (urio_config){.stack_size = 100};
	ASSERT(urio_rt_new(&bad) == NULL && errno == EINVAL);
	puts("task: ok");
	return 0;
}
