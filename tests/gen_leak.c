/* Generators nobody closed: urio_rt_free ends them once no other task is
 * left. The parked urio_gen_yield returns -ECANCELED, the generator's
 * cleanup (a urio_with exit that suspends) runs, urio_rt_free returns, and
 * stderr names each generator's task. Cases: the consumer forgot close;
 * the generator never started; the consumer was cancelled and ended while
 * the generator was parked; a generator that abandons an inner one as it
 * ends (ended in a second round). Each case on 1 and 2 workers, with a
 * shutdown bound, so a generator left parked fails the case instead of
 * hanging it. */
#include <errno.h>
#include <stdatomic.h>
#include <urio.h>

#include "gen_res.h"
#include "test.h"

/* Occurrences of what in s. */
static int count_of(const char *s, const char *what)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, what)); p++)
		n++;
	return n;
}

/* --- a generator with a cleanup ------------------------------------------ */

struct guarded {
	urio_gen *g;
	struct res r;
	bool started;
	int last; /* the last yield's result */
};

static int guarded_body(void *res, void *ctx)
{
	struct guarded *gd = ctx;
	for (int i = 0;; i++) {
		if (i % 2) /* I/O between items */
			ASSERT_EQ(urio_nop(), 0);
		int r = urio_gen_yield(gd->g, (void *)(intptr_t)i);
		gd->last = r;
		if (r < 0)
			return r;
	}
}

static int guarded(urio_gen *g, void *arg)
{
	struct guarded *gd = arg;
	gd->g = g;
	gd->started = true;
	urio_task_set_name(urio_self(), "pages");
	return urio_with(&res_ops, &gd->r, guarded_body, gd);
}

static void take(urio_gen *g, int n)
{
	void *item;
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(urio_gen_next(g, &item), 1);
		ASSERT_EQ((intptr_t)item, i);
	}
}

static void ended_cleanly(struct guarded *gd)
{
	ASSERT_EQ(atomic_load(&gd->r.entered), 1);
	ASSERT_EQ(atomic_load(&gd->r.exited), 1);
	ASSERT_EQ(gd->last, -ECANCELED);
	ASSERT_EQ(gd->r.exit_err, -ECANCELED);
	ASSERT_EQ(gd->r.exit_sleep, 0); /* the exit is shielded */
}

/* Runs main on a fresh runtime, frees it, and returns the reports. */
static void run_rt(unsigned workers, urio_fn main, void *arg, char *said,
		   size_t n)
{
	/* a generator left parked would hold urio_rt_free this long */
	urio_config cfg = {.workers = workers, .shutdown_ms = 3000};
	urio_rt *rt = urio_rt_new(&cfg);
	ASSERT(rt);
	intptr_t res = -1;
	ASSERT_EQ(urio_rt_block_on(rt, main, arg, &res), 0);
	ASSERT_EQ(res, 0);
	stderr_capture_begin();
	urio_rt_free(rt);
	stderr_capture_end(said, n);
	ASSERT(!strstr(said, "still running")); /* nothing was stuck */
}

/* --- the cases ------------------------------------------------------------ */

static intptr_t forgot_close(void *arg)
{
	struct guarded *gd = arg;
	urio_gen *g = urio_gen_new(guarded, gd);
	ASSERT(g);
	take(g, 3);
	return 0; /* no urio_gen_close */
}

static intptr_t never_started(void *arg)
{
	ASSERT(urio_gen_new(guarded, arg));
	return 0;
}

static atomic_int parked;

static intptr_t cancelled_consumer(void *arg)
{
	urio_gen *g = urio_gen_new(guarded, arg);
	ASSERT(g);
	take(g, 2);
	atomic_store(&parked, 1);
	ASSERT_EQ(urio_sleep_ms(60000), -ECANCELED);
	return -ECANCELED; /* ends without closing g */
}

static intptr_t consumer_cancelled(void *arg)
{
	atomic_store(&parked, 0);
	urio_task *t = urio_spawn(cancelled_consumer, arg);
	ASSERT(t);
	POLL(atomic_load(&parked));
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t res = 0;
	ASSERT_EQ(urio_join(t, &res), -ECANCELED);
	ASSERT_EQ(res, -ECANCELED);
	return 0;
}

/* An outer generator passing on an inner one's items that returns
 * without closing it: the inner one is left once the outer one ends. */
static struct guarded inner_gd;

static int leaky_outer(urio_gen *g, void *arg)
{
	urio_gen *inner = urio_gen_new(guarded, &inner_gd);
	ASSERT(inner);
	void *item;
	while (urio_gen_next(inner, &item) == 1) {
		int r = urio_gen_yield(g, item);
		if (r < 0)
			return r; /* inner is never closed */
	}
	return 0;
}

static intptr_t nested(void *arg)
{
	urio_gen *g = urio_gen_new(leaky_outer, NULL);
	ASSERT(g);
	take(g, 4);
	return 0;
}

int main(void)
{
	char said[4096];
	for (unsigned workers = 1; workers <= 2; workers++) {
		struct guarded gd = {0};
		run_rt(workers, forgot_close, &gd, said, sizeof(said));
		ended_cleanly(&gd);
		ASSERT(strstr(said, "generator task 'pages'"));
		ASSERT(strstr(said, "was never closed"));
		ASSERT_EQ(count_of(said, "never closed"), 1);
	}
	printf("ok forgot_close\n");

	for (unsigned workers = 1; workers <= 2; workers++) {
		struct guarded gd = {0};
		run_rt(workers, never_started, &gd, said, sizeof(said));
		ASSERT(!gd.started); /* closed before it started: fn never ran */
		ASSERT(strstr(said, "generator task 'generator'"));
		ASSERT_EQ(count_of(said, "never closed"), 1);
	}
	printf("ok never_started\n");

	for (unsigned workers = 1; workers <= 2; workers++) {
		struct guarded gd = {0};
		run_rt(workers, consumer_cancelled, &gd, said, sizeof(said));
		ended_cleanly(&gd);
		ASSERT_EQ(count_of(said, "never closed"), 1);
	}
	printf("ok consumer_cancelled\n");

	for (unsigned workers = 1; workers <= 2; workers++) {
		inner_gd = (struct guarded){0};
		run_rt(workers, nested, NULL, said, sizeof(said));
		ended_cleanly(&inner_gd);
		ASSERT_EQ(count_of(said, "never closed"), 2);
	}
	printf("ok nested\n");
	return 0;
}
