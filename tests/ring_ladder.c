/* The ring set-up ladder: each rung is reached by refusing chosen setup
 * flags (fault injection stands in for an older kernel: 6.0, 5.19, 5.18,
 * 5.10/5.15, 5.5, and none), the runtime starts with the flags of that
 * rung, and it works. Rings over 16384 entries start on every rung. The
 * CQE loop skips liburing's own timeout CQEs on kernels without EXT_ARG,
 * and never re-enters itself when the SQ is full and submits fail. */
#include <errno.h>
#include <liburing.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <urio.h>

#include "fault.h"
#include "test.h"

#define SA IORING_SETUP_SUBMIT_ALL
#define BASE (IORING_SETUP_CLAMP | IORING_SETUP_CQSIZE)
#define COOP (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG)

static intptr_t pinger(void *arg)
{
	int fd = (int)(intptr_t)arg;
	for (int i = 0; i < 20; i++) {
		if (urio_write(fd, "x", 1, -1) != 1)
			return -EIO;
		urio_sleep_ms(1);
	}
	return 0;
}

/* A little of everything that touches the ring: spawns across workers,
 * timers, pipe reads that wait and writes that wake them. */
static intptr_t workload(void *arg)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	urio_task *t = urio_spawn(pinger, (void *)(intptr_t)p[1]);
	ASSERT(t);
	char buf[8];
	for (int got = 0; got < 20;) {
		ssize_t n = urio_read(p[0], buf, sizeof(buf), -1);
		ASSERT(n > 0);
		got += (int)n;
	}
	intptr_t r = -1;
	ASSERT_EQ(urio_join(t, &r), 0);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(urio_sleep_ms(2), 0);
	close(p[0]);
	close(p[1]);
	return 0;
}

static void large_rings(unsigned workers)
{
	/* 4x the SQ would pass the kernel's CQ maximum without a clamp */
	urio_config c = {.workers = workers, .ring_entries = 32768};
	intptr_t r = -1;
	ASSERT_EQ(urio_run(&c, workload, NULL, &r), 0);
	ASSERT_EQ(r, 0);
	c.ring_entries = 16385;
	ASSERT_EQ(urio_run(&c, workload, NULL, &r), 0);
	ASSERT_EQ(r, 0);
}

#ifdef URIO_FAULT
static bool poll_forced(void)
{
	const char *b = getenv("URIO_BACKEND");
	return b && !strcmp(b, "poll");
}

/* Starts a runtime, checks its backend and flags, runs the workload. */
static void run_expect(unsigned workers, unsigned entries, bool ring,
		       unsigned flags)
{
	urio_config c = {.workers = workers, .ring_entries = entries};
	urio_rt *rt = urio_rt_new(&c);
	ASSERT(rt);
	urio_stats st;
	urio_rt_stats(rt, &st);
	if (poll_forced() || !ring) {
		ASSERT(!strcmp(st.backend, "poll"));
	} else {
		ASSERT(!strcmp(st.backend, "io_uring"));
		if (st.ring_flags != flags)
			fprintf(stderr, "ring flags 0x%x, expected 0x%x\n",
				st.ring_flags, flags);
		ASSERT_EQ(st.ring_flags, flags);
	}
	intptr_t r = -1;
	ASSERT_EQ(urio_rt_block_on(rt, workload, NULL, &r), 0);
	ASSERT_EQ(r, 0);
	urio_rt_free(rt);
}

static const struct {
	unsigned refuse; /* setup flags the "kernel" lacks */
	bool ring;
	unsigned flags; /* the rung expected */
} rungs[] = {
	{0, true,
	 IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		 IORING_SETUP_TASKRUN_FLAG | SA | BASE},
	{IORING_SETUP_DEFER_TASKRUN, true,
	 IORING_SETUP_SINGLE_ISSUER | COOP | SA | BASE},
	{IORING_SETUP_SINGLE_ISSUER, true, COOP | SA | BASE},
	{IORING_SETUP_TASKRUN_FLAG, true, SA | BASE},
	{IORING_SETUP_COOP_TASKRUN | IORING_SETUP_DEFER_TASKRUN, true,
	 SA | BASE},
	{SA, true, BASE}, /* 5.10 and 5.15 LTS */
	{IORING_SETUP_CLAMP, true, IORING_SETUP_CQSIZE},
	{IORING_SETUP_CQSIZE, true, 0},
	{~0u, false, 0}, /* no ring at all: the poll(2) backend */
};

static void ladder(unsigned workers)
{
	for (size_t i = 0; i < sizeof(rungs) / sizeof(*rungs); i++) {
		urio__fault_setup_mask(rungs[i].refuse);
		run_expect(workers, 64, rungs[i].ring, rungs[i].flags);
		/* the rungs without CLAMP clamp big rings themselves */
		if (rungs[i].ring)
			run_expect(workers, 32768, true, rungs[i].flags);
	}
	urio__fault_setup_mask(0);
}

/* Kernels before 5.11 lack EXT_ARG: liburing then waits with a timeout
 * SQE of its own, whose CQE (user_data LIBURING_UDATA_TIMEOUT) reaches
 * our CQE loop and must be skipped, never read as a wait record. */
static intptr_t sleepers(void *arg)
{
	urio_task *t[16];
	for (int i = 0; i < 16; i++)
		ASSERT((t[i] = urio_spawn(workload, NULL)));
	for (int i = 0; i < 16; i++) {
		ASSERT_EQ(urio_sleep_ms(1), 0);
		intptr_t r = -1;
		ASSERT_EQ(urio_join(t[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	return 0;
}

static void no_ext_arg(unsigned workers)
{
	/* as a 5.10 kernel: no EXT_ARG, and the ring flags it lacks */
	urio__fault_setup_mask(IORING_SETUP_SUBMIT_ALL);
	urio__fault_set_no_ext_arg(true);
	urio_config c = {.workers = workers};
	intptr_t r = -1;
	ASSERT_EQ(urio_run(&c, sleepers, NULL, &r), 0);
	ASSERT_EQ(r, 0);
	urio__fault_set_no_ext_arg(false);
	urio__fault_setup_mask(0);
}

static atomic_int foreign_done;

static intptr_t foreign_task(void *arg)
{
	urio_nop();
	atomic_fetch_add(&foreign_done, 1);
	return 0;
}

/* The eventfd wake's re-arm needs an SQE: with the SQ made to look full and
 * submits failing with -EAGAIN / -EBUSY on every other try, a re-arm from
 * inside the CQE loop would submit, reap the same CQEs again and resume a
 * task twice. Foreign spawns keep the eventfd firing meanwhile. */
static void cqe_loop_reentry(unsigned workers)
{
	urio_config c = {.workers = workers,
			 .ring_entries = 4,
			 .flags = URIO_CFG_EVENTFD_WAKE};
	urio_rt *rt = urio_rt_new(&c);
	ASSERT(rt);
	urio__fault_arm_every(URIO__FAULT_SQ_FULL, 3);
	urio__fault_arm_every(URIO__FAULT_SUBMIT, 2);
	atomic_store(&foreign_done, 0);
	for (int i = 0; i < 200; i++) {
		urio_task *t = urio_rt_spawn(rt, foreign_task, NULL);
		ASSERT(t);
		urio_detach(t);
		if (i % 20 == 0) {
			intptr_t r = -1;
			ASSERT_EQ(urio_rt_block_on(rt, sleepers, NULL, &r), 0);
			ASSERT_EQ(r, 0);
		}
	}
	POLL(atomic_load(&foreign_done) == 200);
	bool fired = urio__fault_fired(URIO__FAULT_SQ_FULL) &&
		     urio__fault_fired(URIO__FAULT_SUBMIT);
	urio__fault_arm(URIO__FAULT_SQ_FULL, 0);
	urio__fault_arm(URIO__FAULT_SUBMIT, 0);
	urio_rt_free(rt);
	ASSERT(fired || poll_forced());
}
#endif

int main(void)
{
	for (unsigned w = 1; w <= 2; w++) {
		large_rings(w);
#ifdef URIO_FAULT
		ladder(w);
		no_ext_arg(w);
		cqe_loop_reentry(w);
#endif
	}
	return 0;
}
