/* Cleanup paths after a cancel or at exit end in bounded time and leak
 * nothing: urio_close in a cancelled task still closes the fd (both
 * backends); exit() inside an offloaded call ends the process; an offload
 * cancelled while its call still blocks does not hold process exit; and
 * urio_rt_free with a task stuck in an uncancellable call reports it and
 * returns within urio_config.shutdown_ms, its worker freeing the runtime
 * once the call returns. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static void on_alarm(int sig)
{
	static const char msg[] = "cleanup: a case hung\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

/* --- urio_close in a cancelled task -------------------------------------- */
static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static intptr_t close_when_cancelled(void *arg)
{
	/* cancelled by urio_cancel */
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT(fd >= 0);
	urio_cancel(urio_self());
	ASSERT_EQ(urio_sleep_ms(1), -ECANCELED);
	ASSERT_EQ(urio_close(fd), 0);
	ASSERT(!is_open(fd));
	return 0;
}

static intptr_t close_after_deadline(void *arg)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT(fd >= 0);
	urio_deadline d;
	urio_timeout_enter(&d, 1);
	ASSERT_EQ(urio_sleep_ms(10000), -ECANCELED);
	ASSERT_EQ(urio_close(fd), 0); /* inside the fired scope */
	ASSERT(!is_open(fd));
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	return 0;
}

static intptr_t spawn_close_cancelled(void *arg)
{
	urio_task *t = urio_spawn(close_when_cancelled, NULL);
	ASSERT(t);
	intptr_t res = -1;
	ASSERT_EQ(urio_join(t, &res), -ECANCELED);
	ASSERT_EQ(res, 0);
	t = urio_spawn(close_after_deadline, NULL);
	ASSERT(t);
	ASSERT_EQ(urio_join(t, &res), 0);
	ASSERT_EQ(res, 0);
	return 0;
}

/* --- exit() in an offloaded call; a cancelled offload at exit ------------- */
static intptr_t calls_exit(void *arg)
{
	exit(3);
}

static intptr_t offloads_exit(void *arg)
{
	urio_offload(calls_exit, NULL);
	return -1; /* not reached */
}

static int block_fds[2];
static atomic_int offload_started;

static intptr_t blocks_in_read(void *arg)
{
	char c;
	atomic_store(&offload_started, 1);
	return read(block_fds[0], &c, 1); /* nobody writes */
}

static intptr_t offloads_block(void *arg)
{
	return urio_offload(blocks_in_read, NULL);
}

static intptr_t cancels_blocked_offload(void *arg)
{
	urio_task *t = urio_spawn(offloads_block, NULL);
	ASSERT(t);
	POLL(atomic_load(&offload_started));
	urio_cancel(t);
	intptr_t res = 0;
	ASSERT_EQ(urio_join(t, &res), -ECANCELED);
	ASSERT_EQ(res, -ECANCELED);
	return 0;
}

/* Runs body in a child process; returns its wait status, or fails if it
 * has not ended within a bound (the defect was a hang). */
static int in_child(void (*body)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		body();
		_exit(100);
	}
	for (int i = 0; i < 3000; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		ASSERT(r >= 0);
		if (r == pid)
			return st;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fprintf(stderr, "child did not exit\n");
	exit(1);
}

static unsigned child_workers;

static void exit_in_offload_child(void)
{
	urio_config c = {.workers = child_workers};
	urio_run(&c, offloads_exit, NULL, NULL);
}

static void blocked_offload_child(void)
{
	ASSERT_EQ(pipe(block_fds), 0);
	urio_config c = {.workers = child_workers};
	intptr_t res = -1;
	ASSERT_EQ(urio_run(&c, cancels_blocked_offload, NULL, &res), 0);
	ASSERT_EQ(res, 0);
	exit(0); /* atexit: the default pool, its thread still in read(2) */
}

static void exit_cases(unsigned workers)
{
	child_workers = workers;
	int st = in_child(exit_in_offload_child);
	ASSERT(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 3);
	printf("  exit_in_offload (%u workers): ok\n", workers);
	st = in_child(blocked_offload_child);
	ASSERT(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	printf("  exit_with_blocked_offload (%u workers): ok\n", workers);
}

/* --- urio_rt_free with a task stuck in an uncancellable call -------------- */
static int stuck_fds[2];
static atomic_int stuck_in_call, stuck_done;

static intptr_t stuck_read(void *arg)
{
	char c;
	urio_task_set_name(urio_self(), "stuck-read");
	atomic_store(&stuck_in_call, 1);
	/* the plain syscall: blocks its worker, deaf to urio_cancel */
	ssize_t r = read(stuck_fds[0], &c, 1);
	atomic_store(&stuck_done, 1); /* the test may close the pipe now */
	return r;
}

static void rt_free_bounded(unsigned workers)
{
	int fds0 = test_count_dir("/proc/self/fd");
	int threads0 = test_count_threads();
	ASSERT_EQ(pipe(stuck_fds), 0);
	atomic_store(&stuck_in_call, 0);
	atomic_store(&stuck_done, 0);
	urio_config c = {.workers = workers, .shutdown_ms = 200};
	urio_rt *rt = urio_rt_new(&c);
	ASSERT(rt);
	urio_task *t = urio_rt_spawn(rt, stuck_read, NULL);
	ASSERT(t);
	urio_detach(t);
	POLL(atomic_load(&stuck_in_call));

	char said[2048];
	char tmpl[] = "/tmp/urio-cleanup-XXXXXX";
	int cap = mkstemp(tmpl);
	ASSERT(cap >= 0);
	unlink(tmpl);
	fflush(stderr);
	int saved = dup(2);
	dup2(cap, 2);
	alarm(60);
	urio_rt_free(rt); /* returns: the task is reported and left */
	alarm(0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(cap, said, sizeof(said) - 1, 0);
	said[n > 0 ? n : 0] = 0;
	close(cap);
	fputs(said, stderr);
	ASSERT(strstr(said, "'stuck-read'"));

	/* the call returns: its worker finishes, exits and frees rt */
	ASSERT_EQ(write(stuck_fds[1], "x", 1), 1);
	POLL(atomic_load(&stuck_done));
	POLL(test_count_threads() == threads0);
	close(stuck_fds[0]);
	close(stuck_fds[1]);
	POLL(test_count_dir("/proc/self/fd") == fds0);
	printf("  rt_free_bounded (%u workers): ok\n", workers);
}

static void run_on(unsigned workers)
{
	urio_config c = {.workers = workers};
	intptr_t res = -1;
	alarm(60);
	ASSERT_EQ(urio_run(&c, spawn_close_cancelled, NULL, &res), 0);
	ASSERT_EQ(res, 0);
	alarm(0);
	printf("  close_when_cancelled (%u workers): ok\n", workers);
	rt_free_bounded(workers);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	/* children first, while this process has no threads to fork */
	exit_cases(1);
	exit_cases(2);
	run_on(1);
	run_on(2);
	printf("cleanup: ok\n");
	return 0;
}
