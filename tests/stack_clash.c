/* A frame larger than the stack's guard still hits the guard: built with
 * -fstack-clash-protection, a function whose locals span far more than
 * the task's stack probes each page as its frame grows, so it faults in
 * the guard and the overflow is reported with the task's name. Without
 * the probes its first store lands past the guard, in whatever mapping
 * lies below (a silent corruption or an unexplained crash). In a child
 * process, forked before this process starts any thread. */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <urio/runtime.h>

#include "test.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer) || \
	defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif

/* Runs child() in a forked process with its stderr captured into out;
 * returns the wait status. */
static int in_child(void (*child)(void), char *out, size_t cap)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	fflush(stdout);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(p[1], 2);
		close(p[0]);
		alarm(60);
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

/* One frame of 1 MiB on a 16 KiB stack: its lowest byte is far below the
 * 16 KiB guard. */
static __attribute__((noinline)) int huge_frame(int x)
{
	char buf[1 << 20];
	buf[0] = (char)x;
	buf[sizeof(buf) - 1] = (char)x;
	/* the whole array escapes: no compiler may shrink the frame */
	__asm__ volatile("" : : "r"(buf) : "memory");
	return buf[0] + buf[sizeof(buf) - 1];
}

static intptr_t big(void *arg)
{
	urio_task_set_name(urio_self(), "huge-frame");
	return huge_frame((int)(intptr_t)arg);
}

static intptr_t spawn_big(void *arg)
{
	/* neighbours: a frame that skipped the guard would land in them */
	urio_task *keep[8];
	for (int i = 0; i < 8; i++)
		keep[i] = urio_spawn_ex(big, (void *)0, 16 << 10);
	urio_task *t = urio_spawn_ex(big, (void *)1, 16 << 10);
	urio_join(t, NULL);
	for (int i = 0; i < 8; i++)
		urio_join(keep[i], NULL);
	return 0;
}

static void big_child(void)
{
	urio_config c = {.workers = 1};
	urio_run(&c, spawn_big, NULL, NULL);
	_exit(0); /* not reached: the guard kills the process */
}

int main(void)
{
	char said[8192];
	int st = in_child(big_child, said, sizeof(said));
	if (!strstr(said, "stack overflow in task 'huge-frame'")) {
		fprintf(stderr, "no overflow report (status %#x); the child "
				"said:\n%s\n", st, said);
		return 1;
	}
#ifdef SANITIZED
	ASSERT((WIFEXITED(st) && WEXITSTATUS(st) != 0) || WIFSIGNALED(st));
#else
	ASSERT(WIFSIGNALED(st));
	ASSERT_EQ(WTERMSIG(st), SIGSEGV);
#endif
	printf("stack_clash: ok\n");
	return 0;
}
