/* Shutdown: urio_run returns when main returns although detached tasks are
 * still blocked in sleeps, pipe reads, accepts, recvs, polls and joins
 * (they are cancelled and waited for); urio_rt_free cancels what foreign
 * threads spawned or wait for; and runtimes leave no fd, thread, stack
 * mapping or memory behind across cycles (fds, threads and address space
 * are measured here; heap memory by LSan in the ASan build and by valgrind
 * in the shutdown_valgrind test). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/runtime.h>

#include "test.h"

static int fds[2], lfd, sp[2];
static atomic_int cancelled;

/* Address space in KiB: stacks are mappings, which LSan does not see. */
static long vm_size_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	ASSERT(f);
	char line[256];
	long kib = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
			break;
	fclose(f);
	ASSERT(kib > 0);
	return kib;
}

/* --- detached tasks left blocked when main returns ------------------------ */
static intptr_t noted(intptr_t r)
{
	atomic_fetch_add(&cancelled, r == -ECANCELED);
	return r;
}

static intptr_t stuck_sleep(void *a)
{
	return noted(urio_sleep_ms(600000));
}

static intptr_t stuck_read(void *a)
{
	char c;
	return noted(urio_read(fds[0], &c, 1, -1));
}

static intptr_t stuck_accept(void *a)
{
	return noted(urio_accept(lfd, NULL, NULL, 0));
}

static intptr_t stuck_recv(void *a)
{
	char c;
	return noted(urio_recv(sp[0], &c, 1, 0));
}

static intptr_t stuck_poll(void *a)
{
	return noted(urio_poll(fds[0], POLLIN));
}

static intptr_t quiet_sleep(void *a)
{
	return urio_sleep_ms(600000);
}

/* Joins a child that sleeps: shutdown cancels both. */
static intptr_t stuck_join(void *a)
{
	urio_task *child = urio_spawn(quiet_sleep, NULL);
	if (!child)
		return -ENOMEM;
	return noted(urio_join(child, NULL));
}

static const urio_fn stuck[] = {stuck_sleep, stuck_read, stuck_accept,
				stuck_recv,  stuck_poll, stuck_join};
enum { NSTUCK = sizeof(stuck) / sizeof(stuck[0]), LEFT = NSTUCK * 5 };

static intptr_t main_leaves_tasks(void *arg)
{
	for (int i = 0; i < LEFT; i++) {
		urio_task *t = urio_spawn(stuck[i % NSTUCK], NULL);
		ASSERT(t);
		urio_detach(t);
	}
	urio_sleep_ms(10); /* let them block (correct either way) */
	return 42;
}

/* --- foreign threads -------------------------------------------------------- */
struct waiter {
	urio_rt *rt;
	atomic_int spawned;
	int join_res;
	intptr_t result;
};

/* Spawns a long sleeper and waits for it from this plain thread. */
static void *foreign_joiner(void *arg)
{
	struct waiter *w = arg;
	urio_task *t = urio_rt_spawn(w->rt, quiet_sleep, NULL);
	ASSERT(t);
	atomic_store(&w->spawned, 1);
	w->join_res = urio_join(t, &w->result);
	return NULL;
}

/* urio_rt_free cancels a task a foreign thread is blocked joining. */
static void free_under_foreign_join(const urio_config *cfg)
{
	struct waiter w = {.rt = urio_rt_new(cfg)};
	ASSERT(w.rt);
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, foreign_joiner, &w), 0);
	while (!atomic_load(&w.spawned))
		usleep(100);
	urio_rt_free(w.rt);
	pthread_join(th, NULL);
	ASSERT_EQ(w.join_res, -ECANCELED);
	ASSERT_EQ(w.result, -ECANCELED);
}

/* Detached foreign spawns, then the runtime freed at once: each task is
 * cancelled (perhaps before it ever ran) and freed. */
static void free_fresh_spawns(const urio_config *cfg)
{
	urio_rt *rt = urio_rt_new(cfg);
	ASSERT(rt);
	for (int i = 0; i < 100; i++) {
		urio_task *t = urio_rt_spawn(rt, quiet_sleep, NULL);
		ASSERT(t);
		urio_detach(t);
	}
	urio_rt_free(rt);
}

/* --- one cycle of everything ---------------------------------------------- */
static void cycle(const urio_config *cfg)
{
	atomic_store(&cancelled, 0);
	intptr_t r = 0;
	ASSERT_EQ(urio_run(cfg, main_leaves_tasks, NULL, &r), 0);
	ASSERT_EQ(r, 42);
	ASSERT_EQ(atomic_load(&cancelled), LEFT);

	urio_rt *rt = urio_rt_new(cfg);
	ASSERT(rt);
	ASSERT_EQ(urio_rt_block_on(rt, main_leaves_tasks, NULL, &r), 0);
	urio_rt_free(rt);
	ASSERT_EQ(atomic_load(&cancelled), 2 * LEFT);

	urio_rt_free(urio_rt_new(cfg)); /* a runtime that never ran a task */
	free_fresh_spawns(cfg);
	free_under_foreign_join(cfg);
}

/* --- stacks are unmapped with the last runtime ------------------------------- */
enum { BIG_TASKS = 500, BIG_STACK = 4 << 20 }; /* 2 GiB per round */

static intptr_t big_sleeper(void *a)
{
	return urio_sleep_ms(1);
}

static intptr_t many_big_stacks(void *arg)
{
	static urio_task *t[BIG_TASKS];
	for (int i = 0; i < BIG_TASKS; i++)
		ASSERT((t[i] = urio_spawn_ex(big_sleeper, NULL, BIG_STACK)));
	for (int i = 0; i < BIG_TASKS; i++)
		ASSERT_EQ(urio_join(t[i], NULL), 0);
	return 0;
}

static void stacks_unmapped(void)
{
	urio_config cfg = {.workers = 2};
	ASSERT_EQ(urio_run(&cfg, many_big_stacks, NULL, NULL), 0);
	long before = vm_size_kib();
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(urio_run(&cfg, many_big_stacks, NULL, NULL), 0);
	/* leaked stacks would add 2 GiB a round; allow allocator slack */
	ASSERT(vm_size_kib() < before + (512l << 10));
}

static void open_fds(void)
{
	ASSERT_EQ(pipe(fds), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT(lfd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ASSERT_EQ(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ASSERT_EQ(listen(lfd, 8), 0);
}

int main(void)
{
	open_fds();
	/* the first runtime probes the kernel once; count after it */
	intptr_t r = 0;
	ASSERT_EQ(urio_run(NULL, main_leaves_tasks, NULL, &r), 0);
	int fd0 = test_count_dir("/proc/self/fd");
	int th0 = test_count_threads();

	const urio_config cfgs[] = {
		{.workers = 1},
		{.workers = 2},
		{.workers = 3},
		{.workers = 2, .flags = URIO_CFG_EVENTFD_WAKE},
		{.workers = 2, .flags = URIO_CFG_PLAIN_RING},
	};
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		cycle(&cfgs[i]);
		ASSERT_EQ(test_count_dir("/proc/self/fd"), fd0);
		/* a joined thread can linger in /proc for a moment after
		 * pthread_join returns (the kernel reaps it after waking the
		 * joiner): a leak never goes, a reaped thread does */
		POLL(test_count_threads() == th0);
	}
	stacks_unmapped();
	ASSERT_EQ(test_count_dir("/proc/self/fd"), fd0);
	POLL(test_count_threads() == th0);

	/* the fds still work: cancelled ops consumed nothing */
	ASSERT_EQ(write(fds[1], "x", 1), 1);
	char c;
	ASSERT_EQ(read(fds[0], &c, 1), 1);
	ASSERT_EQ(write(sp[1], "y", 1), 1);
	ASSERT_EQ(read(sp[0], &c, 1), 1);
	ASSERT_EQ(c, 'y');
	int all[] = {fds[0], fds[1], sp[0], sp[1], lfd};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		close(all[i]);
	puts("shutdown: ok");
	return 0;
}
