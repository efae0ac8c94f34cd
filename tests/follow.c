/* Follow mode (tail -F) of the line iterator: a writer thread appends
 * numbered lines, some in two writes, while rotating the file by rename +
 * a new file and by copy + truncate; the follower must see every line
 * exactly once, in order. Also: a follower interrupted by a deadline and
 * then closed, one cancelled while it waits, growth of a file opened by
 * fd, and follow refused on a pipe. Every case on 1 and 2 workers; the
 * _poll ctest entry runs it on the poll(2) backend. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <urio.h>
#include <urio/lines.h>

#include "test.h"

#define LINES 20000
#define EVERY 2000 /* lines between rotations */

static char dir[64], path[96], old[96];
static atomic_int seen;    /* lines the follower has checked */
static atomic_int written; /* lines the writer has finished */
static atomic_int mode;    /* 0 rename, 1 copy + truncate */

static void wait_seen(int n)
{
	uint64_t end = now_ms() + 20000;
	while (atomic_load(&seen) < n) {
		ASSERT(now_ms() < end); /* the follower is stuck */
		usleep(200);
	}
}

static int open_log(void)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ASSERT(fd >= 0);
	return fd;
}

static void copy_file(const char *from, const char *to)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	ASSERT_EQ(system(cmd), 0);
}

static void *writer(void *arg)
{
	int fd = open_log();
	unsigned seed = 12345;
	for (int i = 0; i < LINES; i++) {
		if (i && i % EVERY == 0) {
			if (atomic_load(&mode) == 0) {
				/* the follower must be on the current file:
				 * a file rotated twice unread is lost */
				wait_seen(i - EVERY + 1);
				ASSERT_EQ(rename(path, old), 0);
				close(fd);
				fd = open_log();
			} else {
				/* lines not read before the truncation would
				 * only be in the copy */
				wait_seen(i);
				copy_file(path, old);
				ASSERT_EQ(ftruncate(fd, 0), 0);
				/* one line below the old offset, seen before
				 * the file grows past it again */
				char l[32];
				int n = snprintf(l, sizeof(l), "line %08d\n", i);
				ASSERT_EQ(write(fd, l, (size_t)n), n);
				atomic_store(&written, ++i);
				wait_seen(i);
			}
		}
		char l[32];
		int n = snprintf(l, sizeof(l), "line %08d\n", i);
		int cut = rand_r(&seed) % 4 == 0 ? rand_r(&seed) % n : n;
		ASSERT_EQ(write(fd, l, (size_t)cut), cut);
		if (cut < n) /* half a line: the follower waits for the rest */
			ASSERT_EQ(write(fd, l + cut, (size_t)(n - cut)),
				  n - cut);
		atomic_store(&written, i + 1);
	}
	close(fd);
	return NULL;
}

static intptr_t follow_rotation(void *arg)
{
	unlink(path);
	unlink(old);
	close(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
	atomic_store(&seen, 0);
	atomic_store(&written, 0);
	atomic_store(&mode, (int)(intptr_t)arg);
	urio_lines_opts o = {.follow = true, .chunk_size = 4096};
	urio_lines *ls = urio_lines_open(path, &o);
	ASSERT(ls);
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, writer, NULL), 0);
	urio_deadline d;
	urio_timeout_enter(&d, 60000); /* a lost line would wait forever */
	urio_slice line;
	int r = 1;
	for (int i = 0; i < LINES && (r = urio_lines_next(ls, &line)) == 1; i++) {
		char want[32];
		int n = snprintf(want, sizeof(want), "line %08d", i);
		if (line.len != (size_t)n || memcmp(line.ptr, want, (size_t)n)) {
			fprintf(stderr, "want '%s', got '%.*s'\n", want,
				(int)line.len, line.ptr);
			ASSERT(0);
		}
		atomic_store(&seen, i + 1);
	}
	int t = urio_timeout_exit(&d);
	if (r != 1 || t)
		fprintf(stderr, "stopped at %d of %d (written %d): %d %d\n",
			atomic_load(&seen), LINES, atomic_load(&written), r, t);
	ASSERT_EQ(r, 1);
	ASSERT_EQ(t, 0);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	/* nothing more: the next call waits, until a deadline ends it */
	urio_timeout_enter(&d, 20);
	r = urio_lines_next(ls, &line);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT_EQ(r, -ECANCELED);
	urio_lines_close(ls);
	return 0;
}

struct waiter {
	atomic_int started;
	int r;
};

static intptr_t wait_line(void *arg)
{
	struct waiter *x = arg;
	urio_lines_opts o = {.follow = true};
	urio_lines *ls = urio_lines_open(path, &o);
	ASSERT(ls);
	urio_slice line;
	ASSERT_EQ(urio_lines_next(ls, &line), 1); /* the one line there */
	atomic_store(&x->started, 1);
	x->r = urio_lines_next(ls, &line);
	urio_lines_close(ls);
	return x->r;
}

static intptr_t follow_cancel(void *arg)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, "first\n", 6), 6);
	close(fd);
	struct waiter x = {0};
	urio_task *t = urio_spawn(wait_line, &x);
	ASSERT(t);
	POLL(atomic_load(&x.started));
	urio_sleep_ms(5); /* most often it waits for inotify by now */
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t res;
	ASSERT_EQ(urio_join(t, &res), -ECANCELED);
	ASSERT_EQ(x.r, -ECANCELED);
	return 0;
}

/* Opened by fd: growth is followed (no path, so no rotation). */
static intptr_t follow_fd(void *arg)
{
	int wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(wfd >= 0);
	int rfd = open(path, O_RDONLY);
	ASSERT(rfd >= 0);
	urio_lines_opts o = {.follow = true};
	urio_lines *ls = urio_lines_open_fd(rfd, &o);
	ASSERT(ls);
	urio_slice line;
	for (int i = 0; i < 50; i++) {
		char l[16];
		int n = snprintf(l, sizeof(l), "%d\n", i);
		ASSERT_EQ(write(wfd, l, (size_t)n), n);
		ASSERT_EQ(urio_lines_next(ls, &line), 1);
		ASSERT_EQ(line.len, (size_t)n - 1);
		ASSERT(!memcmp(line.ptr, l, line.len));
	}
	/* truncated below our offset: from the start again */
	ASSERT_EQ(ftruncate(wfd, 0), 0);
	ASSERT_EQ(write(wfd, "again\n", 6), 6);
	ASSERT_EQ(urio_lines_next(ls, &line), 1);
	ASSERT(line.len == 5 && !memcmp(line.ptr, "again", 5));
	urio_lines_close(ls);
	close(rfd);
	close(wfd);

	/* a pipe has no end to wait at */
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	errno = 0;
	ASSERT(!urio_lines_open_fd(p[0], &o));
	ASSERT_EQ(errno, ESPIPE);
	close(p[0]);
	close(p[1]);
	return 0;
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/urio-follow-%d", (int)getpid());
	ASSERT_EQ(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(old, sizeof(old), "%s/log.1", dir);
	int fds = test_count_dir("/proc/self/fd");
	struct {
		urio_fn fn;
		void *arg;
	} cases[] = {{follow_rotation, (void *)0},
		     {follow_rotation, (void *)1},
		     {follow_cancel, NULL},
		     {follow_fd, NULL}};
	for (unsigned workers = 1; workers <= 2; workers++) {
		urio_config cfg = {.workers = workers};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			intptr_t r = -1;
			ASSERT_EQ(urio_run(&cfg, cases[i].fn, cases[i].arg, &r), 0);
			ASSERT_EQ(r, 0);
		}
	}
	ASSERT_EQ(test_count_dir("/proc/self/fd"), fds);
	unlink(path);
	unlink(old);
	rmdir(dir);
	puts("follow: ok");
	return 0;
}
