/* The ring under pressure: a 4-entry SQ (16-entry CQ) with hundreds of ops
 * in flight forces SQ-full submits and CQ overflow; nothing may be lost.
 * Also the plain-ring and eventfd-wake fallbacks run the same workload. */
#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

#define TASKS 300
#define ROUNDS 50

static atomic_long done_ops;

static intptr_t nops(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		int r = urio_nop();
		if (r != 0)
			return r;
		atomic_fetch_add(&done_ops, 1);
	}
	return 0;
}

/* Pipe ping: half the tasks read what the other half write. */
static intptr_t reader(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c;
	ssize_t n = urio_read(fd, &c, 1, -1);
	return n == 1 && c == 'x' ? 0 : -EIO;
}

static intptr_t writer(void *arg)
{
	int fd = (int)(intptr_t)arg;
	urio_sleep_ms(1);
	return urio_write(fd, "x", 1, -1) == 1 ? 0 : -EIO;
}

static intptr_t pressure(void *arg)
{
	urio_task *t[TASKS];
	int p[TASKS / 2][2];
	atomic_store(&done_ops, 0);
	for (int i = 0; i < TASKS / 2; i++) {
		ASSERT_EQ(pipe(p[i]), 0);
		t[2 * i] = urio_spawn(reader, (void *)(intptr_t)p[i][0]);
		t[2 * i + 1] = urio_spawn(nops, NULL);
		ASSERT(t[2 * i] && t[2 * i + 1]);
	}
	urio_task *w[TASKS / 2];
	for (int i = 0; i < TASKS / 2; i++)
		w[i] = urio_spawn(writer, (void *)(intptr_t)p[i][1]);
	for (int i = 0; i < TASKS; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(t[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	for (int i = 0; i < TASKS / 2; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(w[i], &r), 0);
		ASSERT_EQ(r, 0);
		close(p[i][0]);
		close(p[i][1]);
	}
	ASSERT_EQ(atomic_load(&done_ops), (long)(TASKS / 2) * ROUNDS);
	return 0;
}

static void run_with(unsigned workers, unsigned entries, unsigned flags)
{
	urio_config cfg = {
		.workers = workers, .ring_entries = entries, .flags = flags};
	urio_rt *rt = urio_rt_new(&cfg);
	ASSERT(rt);
	intptr_t r = -1;
	ASSERT_EQ(urio_rt_block_on(rt, pressure, NULL, &r), 0);
	ASSERT_EQ(r, 0);
	urio_stats st;
	urio_rt_stats(rt, &st);
	ASSERT_EQ(st.live_tasks, 0);
	printf("workers %u entries %u flags %u: ops %llu submits %llu "
	       "overflow flushes %llu wakes %llu\n",
	       workers, entries, flags, (unsigned long long)st.ops,
	       (unsigned long long)st.submits,
	       (unsigned long long)st.cq_overflow_flushes,
	       (unsigned long long)st.wakes_sent);
	urio_rt_free(rt);
}

int main(void)
{
	run_with(1, 4, 0);
	run_with(2, 4, 0);
	run_with(2, 256, 0);
	run_with(2, 8, URIO_CFG_PLAIN_RING);
	run_with(2, 64, URIO_CFG_EVENTFD_WAKE);
	puts("ring: ok");
	return 0;
}
