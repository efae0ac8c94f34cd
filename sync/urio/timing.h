/* The timing scope (a "TimeMeasurer"): how long a body ran, reported even
 * when it failed, was cancelled or ran past a deadline.
 *
 *	urio_timing tm = {.report = log_elapsed, .arg = "load"};
 *	err = urio_with(&urio_timing_scope, &tm, body, ctx);
 *	// tm.elapsed_ns and tm.err hold the figures as well */
#ifndef URIO_TIMING_H
#define URIO_TIMING_H

#include <stdint.h>
#include <urio/with.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_timing {
	/* Called at exit with the elapsed time and the body's result (may be
	 * NULL). It runs shielded: it may suspend, even in a cancelled task. */
	void (*report)(void *arg, uint64_t elapsed_ns, int err);
	void *arg;
	uint64_t start_ns;   /* out: CLOCK_MONOTONIC at enter */
	uint64_t elapsed_ns; /* out: enter to exit */
	int err;             /* out: the body's result */
} urio_timing;

/* The scope for urio_with; res is a urio_timing *. It passes the body's
 * result through unchanged. */
URIO_API extern const urio_scope_ops urio_timing_scope;

#ifdef __cplusplus
}
#endif
#endif
