/* Stacks: an overflow dies with a message naming the task (in a child
 * process), a custom stack size per spawn works (and again from the pool),
 * 50k tasks alive at once, and spawning past the memory limit, or with an
 * absurd stack size, returns NULL with ENOMEM / EAGAIN / EINVAL instead of
 * crashing. Each child process is forked before this process starts any
 * thread. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/runtime.h>

#include "test.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#define ALIVE 2000 /* TSan: a shadow stack per live fiber */
#elif defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SANITIZED 1
#define ALIVE 10000
#else
#define ALIVE 50000
#endif

/* Runs child() in a forked process with its stderr captured into out;
 * returns the wait status. The pipe is drained to the end so a chatty
 * child (a sanitizer report) never blocks on it. */
static int in_child(void (*child)(void), char *out, size_t cap)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		/* no core file for the crashes expected here */
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(p[1], 2);
		close(p[0]);
		child();
		_exit(0);
	}
	close(p[1]);
	size_t got = 0;
	char chunk[4096];
	ssize_t n;
	while ((n = read(p[0], chunk, sizeof(chunk))) > 0) {
		size_t k = (size_t)n < cap - 1 - got ? (size_t)n : cap - 1 - got;
		memcpy(out + got, chunk, k);
		got += k;
	}
	out[got] = 0;
	close(p[0]);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	return st;
}

/* Fails with what the child said unless it exited with 0. */
static void expect_clean_exit(int st, const char *what, const char *said)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return;
	fprintf(stderr, "%s: child %s %d; it said:\n%s\n", what,
		WIFSIGNALED(st) ? "killed by signal" : "exited with",
		WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), said);
	exit(1);
}

/* --- overflow ------------------------------------------------------------ */
static int deep(int n)
{
	volatile char pad[1024];
	pad[0] = (char)n;
	return n ? deep(n - 1) + pad[0] : 0;
}

static intptr_t overflow(void *arg)
{
	urio_task_set_name(urio_self(), "deep");
	return deep(1 << 20);
}

static intptr_t spawn_overflow(void *arg)
{
	urio_join(urio_spawn(overflow, NULL), NULL);
	return 0;
}

static void overflow_child(void)
{
	urio_config c = {.workers = 1, .stack_size = 64 << 10};
	urio_run(&c, spawn_overflow, NULL, NULL);
	_exit(0); /* not reached: the overflow kills the process */
}

static void overflow_reported(void)
{
	char said[8192];
	int st = in_child(overflow_child, said, sizeof(said));
	if (!strstr(said, "stack overflow in task 'deep'")) {
		fprintf(stderr, "no overflow report; the child said:\n%s\n",
			said);
		exit(1);
	}
#ifdef SANITIZED
	/* the sanitizer takes the fault after urio's report and exits */
	ASSERT((WIFEXITED(st) && WEXITSTATUS(st) != 0) || WIFSIGNALED(st));
#else
	ASSERT(WIFSIGNALED(st));
	ASSERT_EQ(WTERMSIG(st), SIGSEGV);
#endif
}

/* --- absurd sizes ---------------------------------------------------------- */
static intptr_t one(void *arg)
{
	return 1;
}

static bool no_memory(int err)
{
	return err == ENOMEM || err == EAGAIN || err == EINVAL;
}

/* Stacks no machine can map: NULL with errno, not a small stack. Each bad
 * answer is reported at once (a later size may crash the process). */
static intptr_t absurd_spawns(void *arg)
{
	const size_t sizes[] = {SIZE_MAX / 2 + 1, (size_t)1 << 62, SIZE_MAX,
				SIZE_MAX - 65536, SIZE_MAX - 4095};
	intptr_t bad = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		errno = 0;
		urio_task *t = urio_spawn_ex(one, NULL, sizes[i]);
		if (!t && no_memory(errno))
			continue;
		fprintf(stderr, "urio_spawn_ex(stack_size %#zx): %s, errno %d\n",
			sizes[i], t ? "a task" : "NULL", errno);
		bad--;
		if (t)
			urio_join(t, NULL);
	}
	return bad;
}

static void absurd_spawns_child(void)
{
	urio_config c = {.workers = 1};
	intptr_t r = -1;
	int ret = urio_run(&c, absurd_spawns, NULL, &r);
	_exit(ret == 0 && r == 0 ? 0 : 3);
}

/* The same as a runtime's default: refused by urio_rt_new, or every
 * spawn fails; never a task on a wrapped-around size. */
static void absurd_default_child(void)
{
	urio_config c = {.workers = 1, .stack_size = SIZE_MAX};
	urio_rt *rt = urio_rt_new(&c);
	if (!rt)
		_exit(no_memory(errno) ? 0 : 4);
	int r = urio_rt_block_on(rt, one, NULL, NULL);
	urio_rt_free(rt);
	if (r == 0)
		fprintf(stderr, "a task ran with stack_size SIZE_MAX\n");
	_exit(r < 0 && no_memory(-r) ? 0 : 5);
}

static void absurd_sizes(void)
{
	char said[8192];
	int st = in_child(absurd_spawns_child, said, sizeof(said));
	expect_clean_exit(st, "urio_spawn_ex with an absurd stack_size", said);
	st = in_child(absurd_default_child, said, sizeof(said));
	expect_clean_exit(st, "urio_config.stack_size = SIZE_MAX", said);
}

static intptr_t sleeper(void *arg)
{
	return urio_sleep_ms(100);
}

/* --- beyond the address-space limit ----------------------------------------
 * Not under the sanitizers: they reserve terabytes of shadow, so no
 * RLIMIT_AS leaves them room to start. */
#ifndef SANITIZED

/* Alive until cancelled: a stack recycled before the limit bites (a
 * spawn loop slower than a short sleep, on a loaded machine) would let
 * the loop run to its end. */
static intptr_t long_sleeper(void *arg)
{
	return urio_sleep_ms(600000);
}

/* Spawns until the limit stops it; then cancels and joins them all. */
static intptr_t until_failure(void *arg)
{
	enum { MAX = 200000 };
	urio_task **t = calloc(MAX, sizeof(*t));
	if (!t)
		return -3;
	int n = 0, err = 0;
	for (; n < MAX; n++) {
		t[n] = urio_spawn_ex(long_sleeper, NULL, 1 << 20);
		if (!t[n]) {
			err = errno;
			break;
		}
	}
	for (int i = 0; i < n; i++)
		urio_cancel(t[i]);
	for (int i = 0; i < n; i++)
		urio_join(t[i], NULL);
	free(t);
	if (n == MAX)
		return -1; /* the limit never bit */
	return err == ENOMEM || err == EAGAIN ? 0 : -2;
}

static void beyond_memory_child(void)
{
	urio_config c = {.workers = 2};
	urio_rt *rt = urio_rt_new(&c);
	if (!rt)
		_exit(3);
	/* 8 GiB of address space: room for the runtime, not for 200k tasks
	 * with 1 MiB stacks */
	struct rlimit rl = {8ul << 30, 8ul << 30};
	setrlimit(RLIMIT_AS, &rl);
	intptr_t r = -9;
	urio_rt_block_on(rt, until_failure, NULL, &r);
	urio_rt_free(rt);
	if (r)
		fprintf(stderr, "until_failure: %ld\n", (long)r);
	_exit(r == 0 ? 0 : 4);
}
#endif

/* --- custom sizes and many stacks ------------------------------------------ */
static intptr_t big_frame(void *arg)
{
	volatile char big[1 << 20];
	big[0] = 1;
	big[sizeof(big) - 1] = 2;
	return big[0] + big[sizeof(big) - 1];
}

static intptr_t custom_and_many(void *arg)
{
	/* twice: the second gets the first's stack back from the pool */
	for (int i = 0; i < 2; i++) {
		urio_task *t = urio_spawn_ex(big_frame, NULL, 4 << 20);
		ASSERT(t);
		intptr_t r = 0;
		ASSERT_EQ(urio_join(t, &r), 0);
		ASSERT_EQ(r, 3);
	}
	urio_task **all = calloc(ALIVE, sizeof(*all));
	ASSERT(all);
	for (int i = 0; i < ALIVE; i++)
		ASSERT((all[i] = urio_spawn(sleeper, NULL)));
	for (int i = 0; i < ALIVE; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(all[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	free(all);
	return 0;
}

/* --- stacks of tasks first run on another worker ----------------------------
 * A task spawned on one worker and first run on another trades its stack for
 * one from that worker's pool (stack.c): it must still get one of its size.
 * Mixed sizes, so the thief's pool holds the wrong size for half of them. */
#define STOLEN 64
static atomic_int ran_elsewhere;

struct stolen_arg {
	int spawner;
};

static void count_if_stolen(const struct stolen_arg *a)
{
	if (urio_worker_index() != a->spawner)
		atomic_fetch_add(&ran_elsewhere, 1);
}

static intptr_t big_or_small(void *arg)
{
	count_if_stolen(arg);
	return big_frame(NULL);
}

static intptr_t small_frame(void *arg)
{
	count_if_stolen(arg);
	volatile char c[4096];
	c[0] = 1;
	return c[0] + 2;
}

static intptr_t stolen_keep_size(void *arg)
{
	struct stolen_arg a = {.spawner = urio_worker_index()};
	urio_task *t[STOLEN];
	for (int round = 0; round < 20 && !atomic_load(&ran_elsewhere);
	     round++) {
		for (int i = 0; i < STOLEN; i++) {
			t[i] = i % 2 ? urio_spawn_ex(big_or_small, &a, 4 << 20)
				     : urio_spawn(small_frame, &a);
			ASSERT(t[i]);
		}
		/* busy here, so the idle worker steals and first runs some */
		uint64_t end = now_ms() + 50;
		while (now_ms() < end)
			;
		for (int i = 0; i < STOLEN; i++) {
			intptr_t r = 0;
			ASSERT_EQ(urio_join(t[i], &r), 0);
			ASSERT_EQ(r, 3);
		}
	}
	ASSERT(atomic_load(&ran_elsewhere) > 0); /* the path was taken */
	return 0;
}

int main(void)
{
	overflow_reported();
	absurd_sizes();
#ifndef SANITIZED
	char said[8192];
	int st = in_child(beyond_memory_child, said, sizeof(said));
	expect_clean_exit(st, "spawning past RLIMIT_AS", said);
#endif
	intptr_t r = -1;
	urio_config c = {.workers = 2};
	ASSERT_EQ(urio_run(&c, custom_and_many, NULL, &r), 0);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(urio_run(&c, stolen_keep_size, NULL, &r), 0);
	ASSERT_EQ(r, 0);
	puts("stack: ok");
	return 0;
}
