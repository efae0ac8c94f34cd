/* Stacks: an overflow dies with a message naming the task (in a child
 * process), a custom stack size per spawn works, 50k tasks alive at once,
 * and spawning past the memory limit returns NULL with ENOMEM or EAGAIN
 * instead of crashing. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

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

/* Runs the overflow in a child; returns what it wrote to stderr. */
static __attribute__((unused)) void overflow_reported(void)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 2);
		urio_config c = {.workers = 1, .stack_size = 64 << 10};
		urio_run(&c, spawn_overflow, NULL, NULL);
		_exit(0); /* not reached: the overflow kills the child */
	}
	close(p[1]);
	char buf[4096] = {0};
	size_t got = 0;
	ssize_t n;
	while ((n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(p[0]);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFSIGNALED(st));
	ASSERT_EQ(WTERMSIG(st), SIGSEGV);
	if (!strstr(buf, "stack overflow in task 'deep'")) {
		fprintf(stderr, "child said: %s\n", buf);
		ASSERT(0);
	}
}

static intptr_t big_frame(void *arg)
{
	volatile char big[1 << 20];
	big[0] = 1;
	big[sizeof(big) - 1] = 2;
	return big[0] + big[sizeof(big) - 1];
}

static intptr_t sleeper(void *arg)
{
	return urio_sleep_ms(100);
}

static intptr_t custom_and_many(void *arg)
{
	urio_task *t = urio_spawn_ex(big_frame, NULL, 4 << 20);
	ASSERT(t);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(t, &r), 0);
	ASSERT_EQ(r, 3);
#ifdef SANITIZED
	enum { N = 2000 }; /* TSan: a shadow stack per live fiber */
#else
	enum { N = 50000 };
#endif
	urio_task **all = calloc(N, sizeof(*all));
	for (int i = 0; i < N; i++)
		ASSERT((all[i] = urio_spawn(sleeper, NULL)));
	for (int i = 0; i < N; i++) {
		ASSERT_EQ(urio_join(all[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	free(all);
	return 0;
}

/* Spawns until the address-space limit stops it; then cleans up. */
static intptr_t until_failure(void *arg)
{
	enum { MAX = 200000 };
	urio_task **t = calloc(MAX, sizeof(*t));
	int n = 0, err = 0;
	for (; n < MAX; n++) {
		t[n] = urio_spawn_ex(sleeper, NULL, 1 << 20);
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

static __attribute__((unused)) void beyond_memory(void)
{
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		urio_config c = {.workers = 2};
		urio_rt *rt = urio_rt_new(&c);
		if (!rt)
			_exit(3);
		/* 8 GiB of address space: room for the runtime, not for 200k
		 * tasks of 1 MiB stacks */
		struct rlimit rl = {8ul << 30, 8ul << 30};
		setrlimit(RLIMIT_AS, &rl);
		intptr_t r = -9;
		urio_rt_block_on(rt, until_failure, NULL, &r);
		urio_rt_free(rt);
		_exit(r == 0 ? 0 : 4);
	}
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
}

int main(void)
{
#ifndef SANITIZED
	/* the sanitizers own SIGSEGV and the address space */
	overflow_reported();
	beyond_memory();
#endif
	intptr_t r = -1;
	urio_config c = {.workers = 2};
	ASSERT_EQ(urio_run(&c, custom_and_many, NULL, &r), 0);
	ASSERT_EQ(r, 0);
	puts("stack: ok");
	return 0;
}
