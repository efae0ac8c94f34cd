/* urio_with: exit on success, error, cancel and deadline, suppressing or
 * propagating as it returns; exit runs shielded and may suspend; an enter
 * that fails skips body and exit. URIO_GUARD releases on every way out of
 * its block. */
#include <errno.h>
#include <urio.h>

#include "test.h"

struct res {
	int entered, exited, exit_err, exit_slept;
	int enter_ret, exit_ret; /* exit_ret 1: return err unchanged */
};

static int enter(void *p)
{
	struct res *r = p;
	r->entered++;
	return r->enter_ret;
}

static int leave(void *p, int err)
{
	struct res *r = p;
	r->exited++;
	r->exit_err = err;
	/* cleanup may suspend, even in a cancelled task */
	r->exit_slept = urio_sleep_ms(1) == 0;
	return r->exit_ret == 1 ? err : r->exit_ret;
}

static const urio_scope_ops ops = {enter, leave};

static int body_ok(void *res, void *ctx) { return 7; }
static int body_fail(void *res, void *ctx) { return -EIO; }
static int body_sleep(void *res, void *ctx) { return urio_sleep_ms(60000); }
static int body_timeout(void *res, void *ctx)
{
	urio_deadline d;
	urio_timeout_enter(&d, 5);
	int r = urio_sleep_ms(60000);
	int t = urio_timeout_exit(&d);
	return t < 0 ? t : r;
}
/* swallows the cancel and claims success: exit must still see it */
static int body_swallow(void *res, void *ctx)
{
	urio_sleep_ms(60000);
	return 0;
}

static intptr_t basic(void *arg)
{
	struct res r = {.exit_ret = 1};
	ASSERT_EQ(urio_with(&ops, &r, body_ok, NULL), 7);
	ASSERT_EQ(r.exit_err, 7);
	ASSERT(r.exit_slept);

	r = (struct res){.exit_ret = 1};
	ASSERT_EQ(urio_with(&ops, &r, body_fail, NULL), -EIO);
	ASSERT_EQ(r.exit_err, -EIO);

	r = (struct res){.exit_ret = 0}; /* suppresses */
	ASSERT_EQ(urio_with(&ops, &r, body_fail, NULL), 0);
	ASSERT_EQ(r.exit_err, -EIO);

	r = (struct res){.exit_ret = -EPIPE}; /* exit's own error wins */
	ASSERT_EQ(urio_with(&ops, &r, body_ok, NULL), -EPIPE);

	r = (struct res){.enter_ret = -EAGAIN, .exit_ret = 1};
	ASSERT_EQ(urio_with(&ops, &r, body_ok, NULL), -EAGAIN);
	ASSERT_EQ(r.entered, 1);
	ASSERT_EQ(r.exited, 0);

	r = (struct res){.exit_ret = 1}; /* a deadline inside the body */
	ASSERT_EQ(urio_with(&ops, &r, body_timeout, NULL), -ETIMEDOUT);
	ASSERT_EQ(r.exit_err, -ETIMEDOUT);

	/* a deadline around the scope: the body sees -ECANCELED, exit runs
	 * shielded (its sleep succeeds), the deadline reports -ETIMEDOUT */
	r = (struct res){.exit_ret = 1};
	urio_deadline d;
	urio_timeout_enter(&d, 5);
	ASSERT_EQ(urio_with(&ops, &r, body_sleep, NULL), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT_EQ(r.exit_err, -ECANCELED);
	ASSERT(r.exit_slept);

	ASSERT_EQ(urio_with(NULL, &r, body_ok, NULL), -EINVAL);
	ASSERT_EQ(urio_with(&ops, &r, NULL, NULL), -EINVAL);
	static const urio_scope_ops none = {NULL, NULL};
	ASSERT_EQ(urio_with(&none, NULL, body_ok, NULL), 7);
	return 0;
}

static struct res cres;
static atomic_int started;

static int (*const cancelled_bodies[])(void *, void *) = {body_sleep,
							    body_swallow};

static intptr_t cancelled_body(void *arg)
{
	atomic_store(&started, 1);
	return urio_with(&ops, &cres, cancelled_bodies[(intptr_t)arg], NULL);
}

static intptr_t cancel(void *arg)
{
	for (intptr_t i = 0; i < 2; i++) {
		cres = (struct res){.exit_ret = 1};
		atomic_store(&started, 0);
		urio_task *t = urio_spawn(cancelled_body, (void *)i);
		ASSERT(t);
		POLL(atomic_load(&started));
		urio_sleep_ms(2);
		ASSERT_EQ(urio_cancel(t), 0);
		intptr_t res = 0;
		ASSERT_EQ(urio_join(t, &res), -ECANCELED);
		ASSERT_EQ(cres.exited, 1);
		ASSERT_EQ(cres.exit_err, -ECANCELED);
		ASSERT(cres.exit_slept);
	}
	return 0;
}

static int held, releases;
static int grab(void *p)
{
	if (*(int *)p < 0)
		return *(int *)p;
	held++;
	return 0;
}
static void drop(void *p)
{
	held--;
	releases++;
}

static int guarded_return(int *slot)
{
	int err;
	URIO_GUARD(err, grab(slot), drop, slot)
	{
		ASSERT_EQ(held, 1);
		return 5;
	}
	return err;
}

static intptr_t guard(void *arg)
{
	int ok = 0, bad = -EBUSY, err = 0;
	ASSERT_EQ(guarded_return(&ok), 5);
	ASSERT_EQ(held, 0);
	ASSERT_EQ(releases, 1);
	for (int i = 0; i < 3; i++) {
		URIO_GUARD(err, grab(&ok), drop, &ok)
		{
			if (i == 1)
				break;
			ASSERT_EQ(held, 1);
		}
		ASSERT_EQ(held, 0);
	}
	ASSERT_EQ(releases, 4);
	URIO_GUARD(err, grab(&ok), drop, &ok)
	{
		goto out;
	}
out:
	ASSERT_EQ(held, 0);
	int ran = 0;
	URIO_GUARD(err, grab(&bad), drop, &bad)
		ran = 1;
	ASSERT_EQ(err, -EBUSY);
	ASSERT_EQ(ran, 0);
	ASSERT_EQ(releases, 5);
	return 0;
}

static void reset(void)
{
	releases = 0;
}

static int suite(void *unused)
{
	urio_config one = {.workers = 1}, two = {.workers = 2};
	static const urio_fn cases[] = {basic, cancel, guard};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	if (test_quick()) {
		test_run_shared(cases, n, reset);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		intptr_t r = -1;
		reset();
		ASSERT_EQ(urio_run(&one, cases[i], NULL, &r), 0);
		ASSERT_EQ(r, 0);
		reset();
		ASSERT_EQ(urio_run(&two, cases[i], NULL, &r), 0);
		ASSERT_EQ(r, 0);
	}
	puts("with: ok");
	return 0;
}

int main(void)
{
	return test_fuzz_seeds(suite, NULL);
}
