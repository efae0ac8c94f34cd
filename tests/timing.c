/* The timing scope reports the elapsed time and the body's result on
 * success, error, cancellation and deadline, and passes the result on. */
#include <errno.h>
#include <urio.h>
#include <urio/timing.h>

#include "test.h"

struct seen {
	int calls, err;
	uint64_t ns;
};

static void report(void *arg, uint64_t ns, int err)
{
	struct seen *s = arg;
	s->calls++;
	s->ns = ns;
	s->err = err;
}

static int body_sleep2(void *res, void *ctx)
{
	int r = urio_sleep_ms(2);
	return r < 0 ? r : 5;
}
static int body_fail(void *res, void *ctx) { return -EIO; }
static int body_block(void *res, void *ctx) { return urio_sleep_ms(60000); }

static intptr_t basic(void *arg)
{
	struct seen s = {0};
	urio_timing tm = {.report = report, .arg = &s};
	ASSERT_EQ(urio_with(&urio_timing_scope, &tm, body_sleep2, NULL), 5);
	ASSERT_EQ(s.calls, 1);
	ASSERT_EQ(s.err, 5);
	ASSERT_GE(s.ns, 2000000); /* it slept that long at least */
	ASSERT_EQ(tm.elapsed_ns, s.ns);
	ASSERT_EQ(tm.err, 5);

	ASSERT_EQ(urio_with(&urio_timing_scope, &tm, body_fail, NULL), -EIO);
	ASSERT_EQ(s.calls, 2);
	ASSERT_EQ(s.err, -EIO);
	ASSERT_EQ(tm.err, -EIO);

	/* a deadline around it: measured, and the body's -ECANCELED */
	urio_deadline d;
	urio_timeout_enter(&d, 3);
	ASSERT_EQ(urio_with(&urio_timing_scope, &tm, body_block, NULL),
		  -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT_EQ(s.calls, 3);
	ASSERT_EQ(s.err, -ECANCELED);
	ASSERT_GE(s.ns, 2000000); /* the deadline was entered just before */

	/* no callback: the out fields alone */
	urio_timing quiet = {0};
	ASSERT_EQ(urio_with(&urio_timing_scope, &quiet, body_sleep2, NULL), 5);
	ASSERT_GE(quiet.elapsed_ns, 2000000);
	ASSERT(quiet.start_ns > 0);
	ASSERT_EQ(urio_with(&urio_timing_scope, NULL, body_fail, NULL),
		  -EINVAL);
	return 0;
}

static struct seen cs;
static urio_timing ctm = {.report = report, .arg = &cs};
static atomic_int started;

static intptr_t timed(void *arg)
{
	atomic_store(&started, 1);
	return urio_with(&urio_timing_scope, &ctm, body_block, NULL);
}

static intptr_t cancelled(void *arg)
{
	cs = (struct seen){0};
	atomic_store(&started, 0);
	urio_task *t = urio_spawn(timed, NULL);
	ASSERT(t);
	POLL(atomic_load(&started));
	urio_sleep_ms(1);
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t res = 0;
	ASSERT_EQ(urio_join(t, &res), -ECANCELED);
	ASSERT_EQ(res, -ECANCELED);
	ASSERT_EQ(cs.calls, 1);
	ASSERT_EQ(cs.err, -ECANCELED);
	ASSERT(cs.ns > 0);
	return 0;
}

int main(void)
{
	urio_fn cases[] = {basic, cancelled};
	test_run_each(cases, sizeof(cases) / sizeof(cases[0]));
	puts("timing: ok");
	return 0;
}
