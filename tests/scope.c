/* Cancel scopes: deadlines firing in sleep and in I/O, nesting (an inner
 * scope never extends an outer), level-triggered cancellation inside a
 * fired scope, shields, scopes exited on another worker, deadlines acting
 * at suspensions only. */
#include <errno.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static intptr_t fires_in_sleep(void *arg)
{
	urio_deadline d;
	urio_timeout_enter(&d, 20);
	ASSERT_EQ(urio_sleep_ms(60000), -ECANCELED);
	ASSERT(urio_cancelled());
	ASSERT_EQ(urio_nop(), -ECANCELED); /* level-triggered */
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT(!urio_cancelled());
	ASSERT_EQ(urio_sleep_ms(1), 0);
	return 0;
}

static intptr_t fires_in_read(void *arg)
{
	int p[2];
	char c;
	ASSERT_EQ(pipe(p), 0);
	urio_deadline d;
	urio_timeout_enter(&d, 20);
	ASSERT_EQ(urio_read(p[0], &c, 1, -1), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	/* the pipe is usable again: the cancelled read consumed nothing */
	ASSERT_EQ(urio_write(p[1], "z", 1, -1), 1);
	ASSERT_EQ(urio_read(p[0], &c, 1, -1), 1);
	ASSERT_EQ(c, 'z');
	close(p[0]);
	close(p[1]);
	return 0;
}

static intptr_t covers_many_awaits(void *arg)
{
	urio_deadline d;
	int r = 0, n = 0;
	urio_timeout_enter(&d, 30);
	while ((r = urio_sleep_ms(2)) == 0 && n < 100000)
		n++;
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	return 0;
}

static intptr_t nested(void *arg)
{
	urio_deadline outer, inner;
	/* outer fires first: the longer inner deadline does not extend it */
	urio_timeout_enter(&outer, 20);
	urio_timeout_enter(&inner, 60000);
	ASSERT_EQ(urio_sleep_ms(60000), -ECANCELED);
	ASSERT_EQ(urio_sleep_ms(1), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&inner), 0);
	ASSERT_EQ(urio_timeout_exit(&outer), -ETIMEDOUT);

	/* inner fires; outer goes on */
	urio_timeout_enter(&outer, 60000);
	urio_timeout_enter(&inner, 10);
	ASSERT_EQ(urio_sleep_ms(60000), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&inner), -ETIMEDOUT);
	ASSERT_EQ(urio_sleep_ms(1), 0);
	ASSERT_EQ(urio_timeout_exit(&outer), 0);

	/* zero and past deadlines fire before the first suspension */
	urio_timeout_enter(&inner, 0);
	ASSERT_EQ(urio_nop(), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&inner), -ETIMEDOUT);
	urio_timeout_enter_at(&inner, urio_now_ns() - 1);
	ASSERT_EQ(urio_sleep_ms(1), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&inner), -ETIMEDOUT);
	return 0;
}

static intptr_t not_fired(void *arg)
{
	for (int i = 0; i < 2000; i++) {
		urio_deadline d;
		urio_timeout_enter(&d, 60000);
		ASSERT_EQ(urio_nop(), 0);
		if (i % 7 == 0)
			urio_yield(); /* may move to the other worker */
		ASSERT_EQ(urio_timeout_exit(&d), 0);
	}
	return 0;
}

static void busy_ms(uint64_t ms)
{
	for (uint64_t end = urio_now_ns() + ms * 1000000; urio_now_ns() < end;)
		;
}

/* A deadline acts at suspensions (asyncio.timeout does the same): one that
 * passes while the task computes fires at its next suspension, and a scope
 * left without one reports nothing. */
static intptr_t acts_at_suspensions(void *arg)
{
	urio_deadline d;
	urio_timeout_enter(&d, 1);
	busy_ms(3);
	ASSERT_EQ(urio_timeout_exit(&d), 0);

	urio_timeout_enter(&d, 1);
	busy_ms(3);
	ASSERT(urio_cancelled());
	ASSERT_EQ(urio_sleep_ms(60000), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);

	urio_timeout_enter_at(&d, urio_now_ns() - 1); /* already past */
	ASSERT_EQ(urio_nop(), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);

	/* armed at the first suspension, on whichever worker that is */
	urio_timeout_enter(&d, 20);
	urio_yield();
	ASSERT_EQ(urio_sleep_ms(60000), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT(!urio_cancelled());
	return 0;
}

static intptr_t shielded(void *arg)
{
	urio_shield s;
	urio_sleep_ms(5); /* the canceller runs meanwhile or later */
	urio_shield_enter(&s);
	ASSERT_EQ(urio_sleep_ms(30), 0);
	urio_deadline d; /* a deadline inside a shield still works */
	urio_timeout_enter(&d, 5);
	ASSERT_EQ(urio_sleep_ms(60000), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	urio_shield_exit(&s);
	return urio_sleep_ms(60000);
}

static intptr_t shield_main(void *arg)
{
	urio_task *t = urio_spawn(shielded, NULL);
	ASSERT(t);
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(t, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
	return 0;
}

static intptr_t many(void *arg)
{
	urio_task *t[64];
	for (int i = 0; i < 64; i++)
		t[i] = urio_spawn(i % 2 ? not_fired : fires_in_sleep, NULL);
	for (int i = 0; i < 64; i++)
		ASSERT_EQ(urio_join(t[i], NULL), 0);
	return 0;
}

int main(void)
{
	urio_config one = {.workers = 1}, two = {.workers = 2};
	urio_fn cases[] = {fires_in_sleep, fires_in_read, covers_many_awaits,
			   nested, not_fired, shield_main, many,
			   acts_at_suspensions};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_run(&one, cases[i], NULL, &r), 0);
		ASSERT_EQ(r, 0);
		ASSERT_EQ(urio_run(&two, cases[i], NULL, &r), 0);
		ASSERT_EQ(r, 0);
	}
	urio_deadline d;
	urio_timeout_enter(&d, 10);
	ASSERT_EQ(urio_timeout_exit(&d), -EPERM);
	puts("scope: ok");
	return 0;
}
