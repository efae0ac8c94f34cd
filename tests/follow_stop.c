/* Ending a follower (urio_lines_stop): one parked at EOF in its inotify
 * wait is woken and its next returns 0; one stopped from a plain thread at
 * a random moment (reading, at EOF, parked) ends and closes at once,
 * racing the stopper still inside stop (ASan sees any use after free);
 * one stopped while a writer keeps appending still ends, with every line
 * it returned in order (the last one perhaps half written); stop without follow mode changes nothing. Every
 * follower runs under a deadline, so a missed wake fails instead of
 * hanging. Each case on 1 and 2 workers; the _poll ctest entry runs it on
 * the poll(2) backend. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <urio.h>
#include <urio/lines.h>

#include "test.h"

#define RACES 100
#define WRITES 20000

static char dir[64], path[96];

static void write_lines(int from, int n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ASSERT(fd >= 0);
	for (int i = from; i < from + n; i++) {
		char l[32];
		int k = snprintf(l, sizeof(l), "line %d\n", i);
		ASSERT_EQ(write(fd, l, (size_t)k), k);
	}
	close(fd);
}

static void fresh_file(int lines)
{
	unlink(path);
	close(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
	write_lines(0, lines);
}

/* Lines "line <i>" in order from 0 until next returns 0; the count. */
static int follow_to_end(urio_lines *ls, atomic_int *seen)
{
	urio_deadline d;
	urio_timeout_enter(&d, 30000); /* a lost wake would wait forever */
	urio_slice line;
	int r, n = 0;
	bool torn = false;
	while ((r = urio_lines_next(ls, &line)) == 1) {
		char want[32];
		int k = snprintf(want, sizeof(want), "line %d", n);
		/* a write the reader saw half of (it crossed a page) can be
		 * the last line, cut short, when the stop ends the stream */
		ASSERT(!torn);
		torn = line.len < (size_t)k;
		if (line.len > (size_t)k || memcmp(line.ptr, want, line.len)) {
			fprintf(stderr, "want '%s', got '%.*s'\n", want,
				(int)line.len, line.ptr);
			ASSERT(0);
		}
		n++;
		if (seen)
			atomic_store(seen, n);
	}
	ASSERT_EQ(urio_timeout_exit(&d), 0);
	ASSERT_EQ(r, 0);
	urio_slice l;
	ASSERT_EQ(urio_lines_next(ls, &l), 0); /* and stays ended */
	return n;
}

/* --- parked at EOF, stopped by another task ------------------------------- */

struct follower {
	_Atomic(urio_lines *) ls;
	atomic_int seen;
	int n;
};

static intptr_t follow_task(void *arg)
{
	struct follower *f = arg;
	urio_lines_opts o = {.follow = true, .chunk_size = 4096};
	urio_lines *ls = urio_lines_open(path, &o);
	ASSERT(ls);
	atomic_store(&f->ls, ls);
	f->n = follow_to_end(ls, &f->seen);
	urio_lines_close(ls); /* the stopper may still be inside stop */
	return 0;
}

static intptr_t stop_parked(void *arg)
{
	fresh_file(3);
	struct follower f = {.n = 0};
	urio_task *t = urio_spawn(follow_task, &f);
	ASSERT(t);
	POLL(atomic_load(&f.seen) == 3);
	urio_sleep_ms(5); /* most often it waits for inotify by now */
	urio_lines_stop(atomic_load(&f.ls));
	ASSERT_EQ(urio_join(t, NULL), 0);
	ASSERT_EQ(f.n, 3);
	return 0;
}

/* --- stopped from a plain thread at a random moment ----------------------- */

struct racer {
	struct follower *f;
	unsigned spin;
};

static void *stopper(void *arg)
{
	struct racer *x = arg;
	urio_lines *ls;
	uint64_t end = now_ms() + 20000;
	while (!(ls = atomic_load(&x->f->ls)))
		ASSERT(now_ms() < end);
	for (volatile unsigned i = 0; i < x->spin; i++)
		;
	urio_lines_stop(ls);
	return NULL;
}

static intptr_t stop_race(void *arg)
{
	uint64_t s = 88172645463325252ull;
	for (int i = 0; i < RACES; i++) {
		fresh_file(i % 5 * 50);
		struct follower f = {.n = 0};
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		struct racer x = {&f, (unsigned)(s % 200000)};
		pthread_t th;
		ASSERT_EQ(pthread_create(&th, NULL, stopper, &x), 0);
		urio_task *t = urio_spawn(follow_task, &f);
		ASSERT(t);
		ASSERT_EQ(urio_join(t, NULL), 0);
		ASSERT_EQ(pthread_join(th, NULL), 0);
		/* stopped anywhere: it still reads to the end of the file */
		ASSERT_EQ(f.n, i % 5 * 50);
	}
	return 0;
}

/* --- stopped while a writer appends --------------------------------------- */

static atomic_int writing;

static void *appender(void *arg)
{
	for (int i = 0; i < WRITES && atomic_load(&writing); i += 100)
		write_lines(i, 100);
	return NULL;
}

static intptr_t stop_growing(void *arg)
{
	fresh_file(0);
	struct follower f = {.n = 0};
	atomic_store(&writing, 1);
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, appender, NULL), 0);
	urio_task *t = urio_spawn(follow_task, &f);
	ASSERT(t);
	POLL(atomic_load(&f.seen) >= 300);
	urio_lines_stop(atomic_load(&f.ls));
	ASSERT_EQ(urio_join(t, NULL), 0); /* lines checked in order */
	ASSERT_GE(f.n, 300);
	atomic_store(&writing, 0);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	return 0;
}

/* --- no follow mode: stop changes nothing --------------------------------- */

static intptr_t stop_plain(void *arg)
{
	fresh_file(10);
	urio_lines *ls = urio_lines_open(path, NULL);
	ASSERT(ls);
	urio_lines_stop(ls);
	urio_lines_stop(NULL);
	urio_chunks_stop(NULL);
	ASSERT_EQ(follow_to_end(ls, NULL), 10);
	urio_lines_close(ls);
	return 0;
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/urio-fstop-%d", (int)getpid());
	ASSERT_EQ(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/log", dir);
	int fds = test_count_dir("/proc/self/fd");
	struct {
		const char *name;
		urio_fn fn;
	} cases[] = {{"stop_parked", stop_parked},
		     {"stop_race", stop_race},
		     {"stop_growing", stop_growing},
		     {"stop_plain", stop_plain}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (unsigned workers = 1; workers <= 2; workers++) {
			urio_config cfg = {.workers = workers};
			intptr_t r = -1;
			ASSERT_EQ(urio_run(&cfg, cases[i].fn, NULL, &r), 0);
			ASSERT_EQ(r, 0);
		}
		printf("ok %s\n", cases[i].name);
	}
	ASSERT_EQ(test_count_dir("/proc/self/fd"), fds);
	unlink(path);
	rmdir(dir);
	return 0;
}
