/* The timing scope: exit always runs once enter did, so failing,
 * cancelled and timed-out bodies are measured like successful ones. */
#include <errno.h>
#include <urio/scope.h>
#include <urio/timing.h>

static int timing_enter(void *res)
{
	urio_timing *tm = res;
	if (!tm)
		return -EINVAL;
	tm->elapsed_ns = 0;
	tm->err = 0;
	tm->start_ns = urio_now_ns();
	return 0;
}

static int timing_exit(void *res, int err)
{
	urio_timing *tm = res;
	tm->elapsed_ns = urio_now_ns() - tm->start_ns;
	tm->err = err;
	if (tm->report)
		tm->report(tm->arg, tm->elapsed_ns, err);
	return err;
}

const urio_scope_ops urio_timing_scope = {timing_enter, timing_exit};
