/* The block forms URIO_TIMEOUT and URIO_GROUP: however the block is left
 * (its end, break, continue, return, goto) the scope is exited and the
 * group waited for, and err gets the exit's or the wait's result. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

/* --- URIO_TIMEOUT ---------------------------------------------------------- */
static int __attribute__((noinline)) timeout_returns_inside(void)
{
	int err = 1;
	URIO_TIMEOUT(err, 20)
	{
		return urio_sleep_ms(1);
	}
	return -EIO; /* not reached */
}

static intptr_t timeout_forms(void *arg)
{
	int err = 1;
	URIO_TIMEOUT(err, 1)
	{
		ASSERT_EQ(urio_sleep_ms(10000), -ECANCELED);
	}
	ASSERT_EQ(err, -ETIMEDOUT);
	ASSERT(!urio_cancelled());

	URIO_TIMEOUT(err, 10000)
	{
		ASSERT_EQ(urio_sleep_ms(1), 0);
	}
	ASSERT_EQ(err, 0);

	err = 1;
	for (int i = 0; i < 3; i++) {
		URIO_TIMEOUT(err, 1)
		{
			if (i == 1)
				break; /* leaves the scope, not the loop */
			urio_sleep_ms(10000);
		}
		ASSERT_EQ(err, i == 1 ? 0 : -ETIMEDOUT);
	}

	URIO_TIMEOUT(err, 1)
	{
		goto out;
	}
out:
	ASSERT_EQ(err, 0);

	/* return from inside: the scope's timer is gone with it */
	ASSERT_EQ(timeout_returns_inside(), 0);
	ASSERT_EQ(urio_sleep_ms(40), 0);
	ASSERT(!urio_cancelled());

	/* nested, inner fires first */
	int outer = 1, inner = 1;
	URIO_TIMEOUT(outer, 10000)
	{
		URIO_TIMEOUT(inner, 1)
		{
			urio_sleep_ms(10000);
		}
		ASSERT_EQ(urio_sleep_ms(1), 0);
	}
	ASSERT_EQ(inner, -ETIMEDOUT);
	ASSERT_EQ(outer, 0);
	return 0;
}

/* --- URIO_GROUP ------------------------------------------------------------ */
static atomic_int finished;

static intptr_t naps(void *arg)
{
	urio_sleep_ms(5);
	atomic_fetch_add(&finished, 1);
	return (intptr_t)arg;
}

static int __attribute__((noinline)) group_returns_inside(void)
{
	int err = 1;
	URIO_GROUP(g, err)
	{
		ASSERT(urio_group_spawn(g, naps, NULL));
		ASSERT(urio_group_spawn(g, naps, NULL));
		return 9; /* the children are waited for first */
	}
	return -EIO; /* not reached */
}

static intptr_t group_forms(void *arg)
{
	int err = 1;
	atomic_store(&finished, 0);
	URIO_GROUP(g, err)
	{
		for (int i = 0; i < 4; i++)
			ASSERT(urio_group_spawn(g, naps, NULL));
	}
	ASSERT_EQ(err, 0);
	ASSERT_EQ(atomic_load(&finished), 4);

	URIO_GROUP(g, err)
	{
		ASSERT(urio_group_spawn(g, naps, (void *)(intptr_t)-EIO));
		ASSERT(urio_group_spawn(g, naps, NULL));
	}
	ASSERT_EQ(err, -EIO);

	atomic_store(&finished, 0);
	for (int i = 0; i < 2; i++) {
		URIO_GROUP(g, err)
		{
			ASSERT(urio_group_spawn(g, naps, NULL));
			if (i == 0)
				break; /* leaves the block: waits */
			ASSERT(urio_group_spawn(g, naps, NULL));
		}
		ASSERT_EQ(err, 0);
	}
	ASSERT_EQ(atomic_load(&finished), 3);

	atomic_store(&finished, 0);
	ASSERT_EQ(group_returns_inside(), 9);
	ASSERT_EQ(atomic_load(&finished), 2);
	return 0;
}

static void on_alarm(int sig)
{
	static const char msg[] = "blocks: a case hung\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	for (unsigned workers = 1; workers <= 2; workers++) {
		urio_config c = {.workers = workers};
		intptr_t res = -1;
		alarm(60);
		ASSERT_EQ(urio_run(&c, timeout_forms, NULL, &res), 0);
		ASSERT_EQ(res, 0);
		res = -1;
		ASSERT_EQ(urio_run(&c, group_forms, NULL, &res), 0);
		ASSERT_EQ(res, 0);
		alarm(0);
		printf("  blocks (%u workers): ok\n", workers);
	}
	printf("blocks: ok\n");
	return 0;
}
