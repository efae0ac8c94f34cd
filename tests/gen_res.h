/* A resource whose scope counts its enters and exits and suspends in its
 * exit, for the generator suites (gen.c, gen_leak.c): a generator's
 * cleanup must run, and may suspend, however it ends. */
#ifndef URIO_TEST_GEN_RES_H
#define URIO_TEST_GEN_RES_H

#include <stdatomic.h>
#include <urio.h>

struct res {
	atomic_int entered, exited;
	int exit_err;   /* the error the body ended with */
	int exit_sleep; /* what a suspension inside exit returned */
};

static int res_enter(void *r)
{
	atomic_fetch_add(&((struct res *)r)->entered, 1);
	return 0;
}

static int res_exit(void *p, int err)
{
	struct res *r = p;
	r->exit_err = err;
	r->exit_sleep = urio_sleep_ms(1); /* cleanup that suspends */
	atomic_fetch_add(&r->exited, 1);
	return err;
}

static const urio_scope_ops res_ops = {res_enter, res_exit};

#endif
