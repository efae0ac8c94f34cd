/* Test helpers: assertions that print both sides and stay in release
 * builds; exit 0 pass, 1 fail, 77 skip (liburing's convention). */
#ifndef URIO_TEST_H
#define URIO_TEST_H

#include <dirent.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urio/runtime.h>

#define T_SKIP 77

#define ASSERT(c)                                                           \
	do {                                                                \
		if (!(c)) {                                                 \
			fprintf(stderr, "%s:%d: assertion failed: %s\n",   \
				__FILE__, __LINE__, #c);                    \
			exit(1);                                            \
		}                                                           \
	} while (0)

#define ASSERT_EQ(a, b)                                                     \
	do {                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);         \
		if (a_ != b_) {                                             \
			fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n", \
				__FILE__, __LINE__, #a, #b, a_, b_);        \
			exit(1);                                            \
		}                                                           \
	} while (0)

#define ASSERT_GE(a, b)                                                     \
	do {                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);         \
		if (a_ < b_) {                                              \
			fprintf(stderr, "%s:%d: %s >= %s: %lld < %lld\n",  \
				__FILE__, __LINE__, #a, #b, a_, b_);        \
			exit(1);                                            \
		}                                                           \
	} while (0)

/* Polls cond every millisecond, for 10 s at most (never a timing check:
 * only a bound on a hang); sleeps as a task inside one. */
#define POLL(cond)                                                          \
	do {                                                                \
		int n_ = 0;                                                 \
		while (!(cond)) {                                           \
			ASSERT(++n_ < 10000);                               \
			if (urio_self())                                    \
				urio_sleep_ms(1);                           \
			else                                                \
				usleep(1000);                               \
		}                                                           \
	} while (0)

static inline uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Spins the thread (not the task: the other worker's thread may share the
 * CPU) until *flag is set: a liveness bound, not a timing check. */
static inline void spin_until(atomic_int *flag)
{
	uint64_t end = now_ms() + 20000;
	while (!atomic_load(flag)) {
		ASSERT(now_ms() < end); /* the other worker never ran it */
		sched_yield();
	}
}

static inline uint64_t parks_of(urio_rt *rt)
{
	urio_stats st;
	urio_rt_stats(rt, &st);
	return st.parks;
}

/* Best effort: spins until rt's parks pass p0 (the other worker parked, so
 * it waits in whatever its tasks suspended in). Assertions hold anyway. */
static inline void spin_until_parks_beyond(urio_rt *rt, uint64_t p0)
{
	uint64_t end = now_ms() + 2000;
	while (parks_of(rt) == p0 && now_ms() < end)
		sched_yield();
}

/* Entries of a /proc directory: open fds, threads. */
static inline int test_count_dir(const char *path)
{
	DIR *d = opendir(path);
	ASSERT(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Threads of ours: io_uring's kernel workers (iou-wrk-*, iou-sqp-*) join
 * the thread group and leave it on their own schedule, after the ring is
 * gone, so they are not counted. */
static inline int test_count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	ASSERT(d);
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		FILE *f = fopen(path, "r");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
		n += strncmp(comm, "iou-", 4) != 0;
	}
	closedir(d);
	return n;
}

/* Schedule fuzzing (tests/fuzz.c). URIO_FUZZ_SEED=n alone runs the suite
 * once under seed n. With URIO_FUZZ_BATCH=k as well, suite() runs under
 * seeds n .. n+k-1 in this one process, in quick mode (test_quick(): the
 * suite shrinks its loops and sleeps), printing "fuzz seed s" before each
 * so a failure or a hang names its seed; URIO_FUZZ_BATCH=1 replays one.
 * suite(ctx) returns 0 when it passed. */
static inline int *test_quick_flag(void)
{
	static int quick;
	return &quick;
}

static inline int test_quick(void)
{
	return *test_quick_flag();
}

/* The seed this run fuzzes under, 0 without one. */
static inline unsigned long long test_fuzz_seed(void)
{
	const char *s = getenv("URIO_FUZZ_SEED");
	return s ? strtoull(s, NULL, 0) : 0;
}

/* quick mode's count instead of the full one */
#define QUICK(full, quick) (test_quick() ? (quick) : (full))

static inline int test_fuzz_seeds(int (*suite)(void *), void *ctx)
{
	const char *s = getenv("URIO_FUZZ_SEED");
	const char *b = getenv("URIO_FUZZ_BATCH");
	if (!s || !*s || !b || !*b)
		return suite(ctx);
	unsigned long long first = strtoull(s, NULL, 0);
	unsigned long long k = strtoull(b, NULL, 0);
	*test_quick_flag() = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (unsigned long long i = 0; i < k; i++) {
		char v[32];
		snprintf(v, sizeof(v), "%llu", first + i);
		/* read at each urio_rt_new, which runs on this thread */
		setenv("URIO_FUZZ_SEED", v, 1);
		printf("fuzz seed %llu\n", first + i);
		int rc = suite(ctx);
		if (rc) {
			printf("fuzz seed %llu failed: %d\n", first + i, rc);
			return rc;
		}
	}
	return 0;
}

/* Runs each case (returning 0) on a 1-worker, then a 2-worker runtime. */
static inline void test_run_each(const urio_fn *cases, size_t n)
{
	for (unsigned w = 1; w <= 2; w++) {
		urio_config cfg = {.workers = w};
		for (size_t i = 0; i < n; i++) {
			intptr_t r = -1;
			ASSERT_EQ(urio_run(&cfg, cases[i], NULL, &r), 0);
			ASSERT_EQ(r, 0);
		}
	}
}

/* Quick mode's runner: the cases, each returning 0, on one 2-worker
 * runtime (creating one costs as much as a quick case); before, unless
 * NULL, runs ahead of each. */
static inline void test_run_shared(const urio_fn *cases, size_t n,
				   void (*before)(void))
{
	urio_config two = {.workers = 2};
	urio_rt *rt = urio_rt_new(&two);
	ASSERT(rt);
	for (size_t i = 0; i < n; i++) {
		intptr_t r = -1;
		if (before)
			before();
		ASSERT_EQ(urio_rt_block_on(rt, cases[i], NULL, &r), 0);
		ASSERT_EQ(r, 0);
	}
	urio_rt_free(rt);
}

/* stderr into a temp file between begin and end, for suites that check
 * the runtime's reports (they are part of the contract); end copies it
 * into buf (NUL-terminated) and echoes it for whoever reads the log. */
static int stderr_cap_fd_ = -1, stderr_saved_ = -1;

static inline void stderr_capture_begin(void)
{
	char tmpl[] = "/tmp/urio-stderr-XXXXXX";
	fflush(stderr);
	stderr_cap_fd_ = mkstemp(tmpl);
	ASSERT(stderr_cap_fd_ >= 0);
	unlink(tmpl);
	stderr_saved_ = dup(2);
	ASSERT(stderr_saved_ >= 0);
	ASSERT(dup2(stderr_cap_fd_, 2) == 2);
}

static inline void stderr_capture_end(char *buf, size_t n)
{
	fflush(stderr);
	ASSERT(dup2(stderr_saved_, 2) == 2);
	close(stderr_saved_);
	ssize_t r = pread(stderr_cap_fd_, buf, n - 1, 0);
	buf[r > 0 ? r : 0] = 0;
	close(stderr_cap_fd_);
	fputs(buf, stderr);
}

#endif
