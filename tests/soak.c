/* Soak (URIO_SOAK=ON only): rounds of mixed work on 2 workers for
 * URIO_SOAK_SECONDS (default 60): pipe pairs streaming counted bytes
 * between tasks that migrate, groups whose first failure cancels siblings
 * blocked in reads, deadlines firing in sleeps, offloads with some callers
 * cancelled, and cancels from a foreign thread. Each round checks its own
 * results; at the end no task, fd or thread is left. Then a burst of
 * URIO_SOAK_BURST (default 100k) tasks alive at once, each touching 32 KiB
 * of its stack: RSS falls back under a bound once the workers idle, and
 * RSS, fds and stack mappings are where they were before the soak (after
 * a warm-up runtime). Bounded in rounds and time; asserts behaviour,
 * never speed. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <urio.h>

#include "burst.h"

#define PAIRS 16     /* writer/reader pairs per round */
#define BYTES 4096   /* streamed through each pair */
#define CHILDREN 32  /* blocked readers in the failing group */
#define OFFLOADS 64  /* offloaded calls per round, every 8th cancelled */

/* --- streams: every byte arrives, in order, whoever runs where -------- */

struct pipe_pair {
	int fd[2];
	uint64_t sum; /* what the reader saw */
};

static intptr_t writer(void *arg)
{
	struct pipe_pair *p = arg;
	for (int i = 0; i < BYTES; i++) {
		unsigned char c = (unsigned char)i;
		if (urio_write(p->fd[1], &c, 1, -1) != 1)
			return -EIO;
		if (i % 97 == 0)
			urio_yield(); /* a chance to move to the other worker */
	}
	return urio_close(p->fd[1]);
}

static intptr_t reader(void *arg)
{
	struct pipe_pair *p = arg;
	unsigned char buf[256];
	int i = 0;
	ssize_t n;
	while ((n = urio_read(p->fd[0], buf, sizeof(buf), -1)) > 0)
		for (ssize_t k = 0; k < n; k++, i++) {
			if (buf[k] != (unsigned char)i)
				return -EPROTO;
			p->sum += buf[k];
		}
	urio_close(p->fd[0]);
	return n < 0 ? n : i;
}

static void streams(void)
{
	struct pipe_pair p[PAIRS] = {0};
	urio_task *t[2 * PAIRS];
	for (int i = 0; i < PAIRS; i++) {
		ASSERT_EQ(pipe2(p[i].fd, O_CLOEXEC), 0);
		ASSERT(t[2 * i] = urio_spawn(reader, &p[i]));
		ASSERT(t[2 * i + 1] = urio_spawn(writer, &p[i]));
	}
	for (int i = 0; i < 2 * PAIRS; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(t[i], &r), 0);
		ASSERT_EQ(r, i % 2 ? 0 : BYTES);
	}
}

/* --- a failing group cancels its blocked children ---------------------- */

static int idle_pipe[2]; /* never written: reads wait until cancelled */

static intptr_t blocked_reader(void *arg)
{
	char c;
	return urio_read(idle_pipe[0], &c, 1, -1);
}

static intptr_t fail_soon(void *arg)
{
	urio_sleep_ms(1);
	return -EIO;
}

static void failing_group(void)
{
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < CHILDREN; i++)
		ASSERT(urio_group_spawn(&g, blocked_reader, NULL));
	ASSERT(urio_group_spawn(&g, fail_soon, NULL));
	ASSERT_EQ(urio_group_wait(&g), -EIO);
	/* the siblings it cancelled are not failures of their own */
	int errs[URIO_GROUP_ERRORS];
	ASSERT_EQ(urio_group_errors(&g, errs, URIO_GROUP_ERRORS), 1);
	ASSERT_EQ(errs[0], -EIO);
}

/* --- a deadline fires in a sleep inside an outer, later one ------------ */

static void deadlines(void)
{
	urio_deadline outer, inner;
	urio_timeout_enter(&outer, 60000);
	urio_timeout_enter(&inner, 1);
	ASSERT_EQ(urio_sleep_ms(60000), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&inner), -ETIMEDOUT);
	ASSERT_EQ(urio_sleep_ms(0), 0); /* the outer one has not fired */
	ASSERT_EQ(urio_timeout_exit(&outer), 0);
}

/* --- offloads, some callers cancelled from a foreign thread ------------ */

static intptr_t short_block(void *arg)
{
	usleep(200);
	return (intptr_t)arg;
}

static intptr_t offloader(void *arg)
{
	return urio_offload(short_block, arg);
}

struct cancels {
	urio_task **t;
	int n;
};

static void *cancel_some(void *arg)
{
	struct cancels *c = arg;
	for (int i = 0; i < c->n; i += 8)
		urio_cancel(c->t[i]);
	return NULL;
}

static void offloads(void)
{
	urio_task *t[OFFLOADS];
	for (int i = 0; i < OFFLOADS; i++)
		ASSERT(t[i] = urio_spawn(offloader, (void *)(intptr_t)i));
	struct cancels c = {t, OFFLOADS};
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, cancel_some, &c), 0);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	for (int i = 0; i < OFFLOADS; i++) {
		intptr_t r = -1;
		int j = urio_join(t[i], &r);
		if (i % 8 == 0 && j == -ECANCELED)
			continue; /* cancelled, or done before the cancel */
		ASSERT_EQ(j, 0);
		ASSERT_EQ(r, i);
	}
}

#define STACK (256u << 10)
#define DEPTH (32u << 10)
static int burst_n;

static intptr_t burst_main(void *arg)
{
	long before = test_rss();
	test_burst(burst_n, DEPTH);
	long peak = test_rss();
	/* a page or two per pooled stack, and 64 warm ones per worker */
	long bound = before + (long)burst_n * 2 * 4096 + (64l << 20);
	for (int i = 0; test_rss() > bound; i++) {
		ASSERT(i < 600);
		urio_sleep_ms(100); /* the workers park, and trim */
	}
	printf("soak: burst of %d tasks of %u KiB: RSS %ld -> %ld -> %ld MiB "
	       "(bound %ld)\n", burst_n, DEPTH >> 10, before >> 20,
	       peak >> 20, test_rss() >> 20, bound >> 20);
	return 0;
}

static intptr_t nothing(void *arg)
{
	return 0;
}

static intptr_t round_main(void *arg)
{
	streams();
	failing_group();
	deadlines();
	offloads();
	return 0;
}

int main(void)
{
	const char *env = getenv("URIO_SOAK_SECONDS");
	uint64_t seconds = env && *env ? strtoull(env, NULL, 10) : 60;
	env = getenv("URIO_SOAK_BURST");
	burst_n = env && *env ? atoi(env) : 100000;
	ASSERT_EQ(pipe2(idle_pipe, O_CLOEXEC), 0);
	urio_config two = {.workers = 2, .stack_size = STACK};
	intptr_t r0;
	ASSERT_EQ(urio_run(&two, nothing, NULL, &r0), 0); /* warm-up */
	int fds0 = test_count_dir("/proc/self/fd");
	int stacks0 = test_count_stacks(STACK);
	long rss0 = test_rss();
	urio_rt *rt = urio_rt_new(&two);
	ASSERT(rt);
	uint64_t end = now_ms() + seconds * 1000;
	unsigned rounds = 0;
	while (now_ms() < end && rounds < 1000000) {
		intptr_t r = -1;
		ASSERT_EQ(urio_rt_block_on(rt, round_main, NULL, &r), 0);
		ASSERT_EQ(r, 0);
		rounds++;
	}
	intptr_t r = -1;
	ASSERT_EQ(urio_rt_block_on(rt, burst_main, NULL, &r), 0);
	ASSERT_EQ(r, 0);
	urio_stats st;
	urio_rt_stats(rt, &st);
	ASSERT_EQ(st.live_tasks, 0);
	urio_rt_free(rt);
	ASSERT_EQ(test_count_dir("/proc/self/fd"), fds0);
	ASSERT_EQ(test_count_stacks(STACK), stacks0);
	/* the allocator keeps some of what the rounds used */
	printf("soak: RSS %ld MiB at start, %ld MiB at end\n", rss0 >> 20,
	       test_rss() >> 20);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* (the sanitizers keep their shadow of the stacks, and quarantine) */
	ASSERT(test_rss() <= rss0 + (64l << 20));
#endif
	close(idle_pipe[0]);
	close(idle_pipe[1]);
	printf("soak: ok, %u rounds in %llu s\n", rounds,
	       (unsigned long long)seconds);
	return 0;
}
