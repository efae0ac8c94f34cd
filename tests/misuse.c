/* Misuse ends cleanly: a task that returns inside a deadline scope or with
 * a group it never waited for (reported by name, the deadline disarmed,
 * the children cancelled and reaped, the dead frame never read); a second
 * join of a task (two tasks at once, a foreign thread and a task, after a
 * detach, of a group's child) gets -EINVAL; urio_rt_free from a task of the
 * runtime it frees is refused with a message instead of waiting for
 * itself; NULL arguments give -EINVAL or do nothing. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static void on_alarm(int sig)
{
	static const char msg[] = "misuse: a case hung\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

/* Overwrites the stack below the caller's frame, where a callee's frame
 * just died: what any later call there would do. */
static __attribute__((noinline)) void scribble(void)
{
	volatile unsigned char junk[8192];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0xa5;
}

/* --- a task returns inside a deadline scope ------------------------------ */
static __attribute__((noinline)) void leave_deadline_open(uint64_t ms)
{
	urio_deadline d;
	urio_timeout_enter(&d, ms);
	ASSERT_EQ(urio_sleep_ms(1), 0); /* arms its timer */
}

static __attribute__((noinline)) void leave_shield_open(void)
{
	urio_shield s;
	urio_shield_enter(&s);
}

static intptr_t returns_in_deadline(void *arg)
{
	urio_task_set_name(urio_self(), "leaky-deadline");
	leave_deadline_open(20);
	leave_shield_open();
	scribble();
	return 7;
}

static intptr_t deadline_left_open(void *arg)
{
	char said[2048];
	stderr_capture_begin();
	urio_task *t = urio_spawn(returns_in_deadline, NULL);
	ASSERT(t);
	intptr_t res = 0;
	int r = urio_join(t, &res);
	/* past the deadline: a timer left armed would fire into the freed
	 * task (ASan) or the reused stack */
	urio_sleep_ms(40);
	stderr_capture_end(said, sizeof(said));
	ASSERT_EQ(r, 0);
	ASSERT_EQ(res, 7);
	ASSERT(strstr(said, "'leaky-deadline'"));
	ASSERT(strstr(said, "cancel scope"));
	/* this task is not affected: its own scopes still work */
	urio_deadline d;
	urio_timeout_enter(&d, 1);
	ASSERT_EQ(urio_sleep_ms(10000), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	return 0;
}

/* --- a task returns with a group it never waited for --------------------- */
static atomic_int children_cancelled, children_started;

static intptr_t child_sleeps(void *arg)
{
	atomic_fetch_add(&children_started, 1);
	int r = urio_sleep_ms(60000);
	if (r == -ECANCELED)
		atomic_fetch_add(&children_cancelled, 1);
	return r;
}

static __attribute__((noinline)) void leave_group_open(int n)
{
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < n; i++)
		ASSERT(urio_group_spawn(&g, child_sleeps, NULL));
	POLL(atomic_load(&children_started) == n);
}

static intptr_t returns_with_group(void *arg)
{
	urio_task_set_name(urio_self(), "leaky-group");
	leave_group_open(3);
	scribble();
	return 5;
}

static intptr_t group_left_open(void *arg)
{
	char said[2048];
	atomic_store(&children_cancelled, 0);
	atomic_store(&children_started, 0);
	stderr_capture_begin();
	urio_task *t = urio_spawn(returns_with_group, NULL);
	ASSERT(t);
	intptr_t res = 0;
	int r = urio_join(t, &res);
	stderr_capture_end(said, sizeof(said));
	ASSERT_EQ(r, 0);
	ASSERT_EQ(res, 5);
	/* reaped before the owner finished: none outlives it */
	ASSERT_EQ(atomic_load(&children_cancelled), 3);
	ASSERT(strstr(said, "'leaky-group'"));
	ASSERT(strstr(said, "group"));
	return 0;
}

/* --- one task, two joiners ----------------------------------------------- */
static atomic_int release, einval_seen;

/* Waits until a loser of a join race lets it go: it is alive throughout. */
static intptr_t held(void *arg)
{
	POLL(atomic_load(&release));
	return 42;
}

struct joiner {
	urio_task *t;
	int r;
	intptr_t res;
};

static void note(int r)
{
	if (r == -EINVAL) {
		atomic_fetch_add(&einval_seen, 1);
		atomic_store(&release, 1);
	}
}

static intptr_t joins(void *arg)
{
	struct joiner *j = arg;
	j->r = urio_join(j->t, &j->res);
	note(j->r);
	return 0;
}

static intptr_t two_joiners(void *arg)
{
	atomic_store(&release, 0);
	atomic_store(&einval_seen, 0);
	urio_task *x = urio_spawn(held, NULL);
	ASSERT(x);
	struct joiner a = {.t = x, .res = -1}, b = {.t = x, .res = -1};
	urio_task *ja = urio_spawn(joins, &a), *jb = urio_spawn(joins, &b);
	ASSERT(ja && jb);
	ASSERT_EQ(urio_join(ja, NULL), 0);
	ASSERT_EQ(urio_join(jb, NULL), 0);
	ASSERT_EQ(atomic_load(&einval_seen), 1);
	struct joiner *won = a.r == 0 ? &a : &b, *lost = a.r == 0 ? &b : &a;
	ASSERT_EQ(won->r, 0);
	ASSERT_EQ(won->res, 42);
	ASSERT_EQ(lost->r, -EINVAL);
	ASSERT_EQ(lost->res, -1); /* untouched */
	return 0;
}

static intptr_t join_after_detach(void *arg)
{
	atomic_store(&release, 0);
	urio_task *x = urio_spawn(held, NULL);
	ASSERT(x);
	urio_detach(x);
	intptr_t res = -1;
	ASSERT_EQ(urio_join(x, &res), -EINVAL); /* x is alive: held */
	ASSERT_EQ(res, -1);
	urio_detach(x); /* a second detach is ignored */
	atomic_store(&release, 1);
	return 0;
}

static intptr_t join_group_child(void *arg)
{
	atomic_store(&release, 0);
	urio_group g;
	urio_group_init(&g);
	urio_task *c = urio_group_spawn(&g, held, NULL);
	ASSERT(c);
	ASSERT_EQ(urio_join(c, NULL), -EINVAL); /* the group owns it */
	urio_detach(c);                          /* ignored, likewise */
	atomic_store(&release, 1);
	ASSERT_EQ(urio_group_wait(&g), 0);
	return 0;
}

static void foreign_and_task_join(urio_rt *rt)
{
	atomic_store(&release, 0);
	atomic_store(&einval_seen, 0);
	urio_task *x = urio_rt_spawn(rt, held, NULL);
	ASSERT(x);
	struct joiner a = {.t = x, .res = -1};
	urio_task *ja = urio_rt_spawn(rt, joins, &a);
	ASSERT(ja);
	intptr_t res = -1;
	int r = urio_join(x, &res); /* from this thread, outside the runtime */
	note(r);
	ASSERT_EQ(urio_join(ja, NULL), 0);
	ASSERT_EQ(atomic_load(&einval_seen), 1);
	if (r == 0) {
		ASSERT_EQ(res, 42);
		ASSERT_EQ(a.r, -EINVAL);
	} else {
		ASSERT_EQ(r, -EINVAL);
		ASSERT_EQ(res, -1);
		ASSERT_EQ(a.r, 0);
		ASSERT_EQ(a.res, 42);
	}
}

/* --- urio_rt_free from a task of that runtime ---------------------------- */
static intptr_t frees_own_runtime(void *arg)
{
	char said[1024];
	urio_task_set_name(urio_self(), "self-free");
	stderr_capture_begin();
	urio_rt_free(arg); /* refused: it would wait for this very task */
	stderr_capture_end(said, sizeof(said));
	ASSERT(strstr(said, "urio_rt_free"));
	ASSERT(strstr(said, "'self-free'"));
	/* the runtime still works */
	ASSERT_EQ(urio_sleep_ms(1), 0);
	return 0;
}

/* --- NULL arguments ------------------------------------------------------ */
static intptr_t null_arguments(void *arg)
{
	urio_timeout_enter(NULL, 5);
	urio_timeout_enter_at(NULL, 0);
	ASSERT_EQ(urio_timeout_exit(NULL), -EINVAL);
	urio_shield_enter(NULL);
	urio_shield_exit(NULL);
	ASSERT(!urio_cancelled());
	urio_group_init(NULL);
	urio_group_cancel(NULL);
	ASSERT_EQ(urio_group_errors(NULL, NULL, 4), 0);
	int errs[2];
	ASSERT_EQ(urio_group_errors(NULL, errs, 2), 0);
	urio_group g;
	urio_group_init(&g);
	atomic_store(&release, 1);
	ASSERT(urio_group_spawn(&g, held, NULL));
	ASSERT_EQ(urio_group_wait(&g), 0);
	ASSERT_EQ(urio_group_errors(&g, NULL, 4), 0);
	urio_rt_stats(arg, NULL);
	urio_rt_stats(NULL, NULL);
	return 0;
}

static const char *only; /* argv[1]: run just that case */

static void run_on(unsigned workers)
{
	urio_config c = {.workers = workers};
	urio_rt *rt = urio_rt_new(&c);
	ASSERT(rt);
	static const struct {
		const char *name;
		urio_fn fn;
	} cases[] = {
		{"deadline_left_open", deadline_left_open},
		{"group_left_open", group_left_open},
		{"two_joiners", two_joiners},
		{"join_after_detach", join_after_detach},
		{"join_group_child", join_group_child},
		{"rt_free_from_own_task", frees_own_runtime},
		{"null_arguments", null_arguments},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		intptr_t res = -1;
		if (only && strcmp(only, cases[i].name))
			continue;
		alarm(60);
		ASSERT_EQ(urio_rt_block_on(rt, cases[i].fn, rt, &res), 0);
		ASSERT_EQ(res, 0);
		printf("  %s (%u workers): ok\n", cases[i].name, workers);
	}
	if (!only || !strcmp(only, "foreign_and_task_join")) {
		alarm(60);
		foreign_and_task_join(rt);
		printf("  foreign_and_task_join (%u workers): ok\n", workers);
	}
	/* a detached task finishes on its own */
	urio_stats st;
	POLL((urio_rt_stats(rt, &st), st.live_tasks == 0));
	urio_rt_free(rt);
	alarm(0);
}

int main(int argc, char **argv)
{
	only = argc > 1 ? argv[1] : NULL;
	signal(SIGALRM, on_alarm);
	run_on(1);
	run_on(2);
	printf("misuse: ok\n");
	return 0;
}
