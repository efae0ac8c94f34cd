/* Resource pool: never more than max_size resources under 1000 competing
 * tasks on 2 workers; broken resources (released with an error, failing
 * their check, past their lifetime) replaced; acquire timeout; creation
 * failing (each waiter gets the error, none hangs) then recovering; idle
 * timeout and max lifetime enforced by the background task; min_idle
 * warmed up; queued acquirers served FIFO, and a cancelled or timed-out one
 * hands its turn on; urio_pool_free waits for the leases still out; the
 * lease scope; bad arguments. Each case on 1 and 2 workers; `test_pool
 * case` runs one; in quick mode (fuzz seeds, sync_cases.h) on one 2-worker
 * runtime with a smaller storm, the cases that wait out intervals only
 * under every SLOW_EVERY-th seed. */
#include <errno.h>
#include <urio.h>
#include <urio/pool.h>

#include "sync_cases.h"

struct res {
	int id;
	bool broken;
};

static atomic_int live, max_live, next_id, fail_err, create_sleep;
static atomic_int creates, destroys, checks;

static int t_create(void *ctx, void **out)
{
	atomic_fetch_add(&creates, 1);
	if (atomic_load(&create_sleep)) {
		int r = urio_sleep_ms((uint64_t)atomic_load(&create_sleep));
		if (r < 0)
			return r;
	}
	int err = atomic_load(&fail_err);
	if (err)
		return err;
	struct res *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->id = atomic_fetch_add(&next_id, 1);
	r->broken = false;
	int n = atomic_fetch_add(&live, 1) + 1;
	int m = atomic_load(&max_live);
	while (n > m && !atomic_compare_exchange_weak(&max_live, &m, n))
		;
	*out = r;
	return 0;
}

static void t_destroy(void *ctx, void *p)
{
	atomic_fetch_add(&destroys, 1);
	/* destroy may suspend, and runs even in a cancelled task */
	ASSERT_EQ(urio_sleep_ms(0), 0);
	free(p);
	atomic_fetch_sub(&live, 1); /* gone only now */
}

static int t_check(void *ctx, void *p)
{
	atomic_fetch_add(&checks, 1);
	return ((struct res *)p)->broken ? -EPIPE : 0;
}

static const urio_pool_ops ops = {t_create, t_destroy, t_check};

static void reset(void)
{
	atomic_store(&live, 0);
	atomic_store(&max_live, 0);
	atomic_store(&next_id, 0);
	atomic_store(&fail_err, 0);
	atomic_store(&create_sleep, 0);
	atomic_store(&creates, 0);
	atomic_store(&destroys, 0);
	atomic_store(&checks, 0);
}

static urio_pool_stats stats(urio_pool *p)
{
	urio_pool_stats st;
	urio_pool_get_stats(p, &st);
	return st;
}

/* --- max_size under competition -------------------------------------------- */

#define STORM QUICK(1000, 64)
#define MAX 4

static urio_pool *sp;
static atomic_int holders, max_holders;

static intptr_t storm_task(void *arg)
{
	for (int i = 0; i < 3; i++) {
		void *r;
		int err = urio_pool_acquire(sp, &r);
		if (err < 0)
			return err;
		int h = atomic_fetch_add(&holders, 1) + 1;
		int m = atomic_load(&max_holders);
		while (h > m && !atomic_compare_exchange_weak(&max_holders, &m, h))
			;
		if (((intptr_t)arg + i) % 3 == 0)
			urio_sleep_ms(0);
		else
			urio_yield();
		atomic_fetch_sub(&holders, 1);
		/* every 10th lease comes back broken, every 13th fails check */
		if (((intptr_t)arg + i) % 13 == 0)
			((struct res *)r)->broken = true;
		urio_pool_release(sp, r, ((intptr_t)arg + i) % 10 ? 0 : -EIO);
	}
	return 0;
}

static intptr_t storm(void *arg)
{
	reset();
	atomic_store(&holders, 0);
	atomic_store(&max_holders, 0);
	atomic_store(&create_sleep, 1); /* creations overlap */
	urio_pool_opts o = {.max_size = MAX};
	sp = urio_pool_new(&ops, NULL, &o);
	ASSERT(sp);
	urio_group g;
	urio_group_init(&g);
	for (intptr_t i = 0; i < STORM; i++)
		ASSERT(urio_group_spawn(&g, storm_task, (void *)i));
	ASSERT_EQ(urio_group_wait(&g), 0);
	urio_pool_stats st = stats(sp);
	ASSERT(atomic_load(&max_live) <= MAX);
	ASSERT(atomic_load(&max_holders) <= MAX);
	ASSERT_EQ(st.in_use, 0);
	ASSERT_EQ(st.waiting, 0);
	ASSERT_EQ(st.acquires, 3 * STORM);
	ASSERT_EQ(st.created - st.destroyed, st.idle);
	ASSERT(st.broken >= 3 * STORM / 10);
	ASSERT_EQ(atomic_load(&live), (int)st.idle);
	urio_pool_free(sp);
	ASSERT_EQ(atomic_load(&live), 0);
	ASSERT_EQ(atomic_load(&creates), atomic_load(&destroys));
	return 0;
}

/* An unbounded pool: as many as asked for, reused afterwards. */
static intptr_t unbounded(void *arg)
{
	reset();
	urio_pool *p = urio_pool_new(&ops, NULL, NULL);
	ASSERT(p);
	void *r[50];
	for (int i = 0; i < 50; i++)
		ASSERT_EQ(urio_pool_acquire(p, &r[i]), 0);
	ASSERT_EQ(stats(p).in_use, 50);
	for (int i = 0; i < 50; i++)
		urio_pool_release(p, r[i], 0);
	ASSERT_EQ(stats(p).idle, 50);
	for (int i = 0; i < 50; i++)
		ASSERT_EQ(urio_pool_acquire(p, &r[i]), 0);
	ASSERT_EQ(stats(p).created, 50);
	for (int i = 0; i < 50; i++)
		urio_pool_release(p, r[i], i % 2 ? -EIO : 0);
	ASSERT_EQ(stats(p).destroyed, 25);
	urio_pool_free(p);
	ASSERT_EQ(atomic_load(&live), 0);
	return 0;
}

/* --- broken resources -------------------------------------------------------- */

static intptr_t broken(void *arg)
{
	reset();
	urio_pool_opts o = {.max_size = 2};
	urio_pool *p = urio_pool_new(&ops, NULL, &o);
	ASSERT(p);
	void *a, *b;
	ASSERT_EQ(urio_pool_acquire(p, &a), 0);
	urio_pool_release(p, a, 0);
	ASSERT_EQ(urio_pool_acquire(p, &b), 0);
	ASSERT(a == b); /* reused, after a check */
	ASSERT_EQ(atomic_load(&checks), 1);
	urio_pool_release(p, b, -EIO); /* broken: destroyed */
	urio_pool_stats st = stats(p);
	ASSERT_EQ(st.destroyed, 1);
	ASSERT_EQ(st.idle, 0);
	ASSERT_EQ(urio_pool_acquire(p, &a), 0); /* replaced on demand */
	ASSERT_EQ(((struct res *)a)->id, 1);
	/* fails its check after idling: destroyed, another made */
	((struct res *)a)->broken = true;
	urio_pool_release(p, a, 0);
	ASSERT_EQ(urio_pool_acquire(p, &b), 0);
	ASSERT_EQ(((struct res *)b)->id, 2);
	st = stats(p);
	ASSERT_EQ(st.created, 3);
	ASSERT_EQ(st.destroyed, 2);
	ASSERT_EQ(st.broken, 2);
	urio_pool_release(p, b, 0);
	/* releases of what is not leased are ignored */
	urio_pool_release(p, b, 0);
	struct res other;
	urio_pool_release(p, &other, 0);
	urio_pool_release(p, NULL, 0);
	ASSERT_EQ(stats(p).idle, 1);
	urio_pool_free(p);
	ASSERT_EQ(atomic_load(&live), 0);
	return 0;
}

/* --- acquire timeout --------------------------------------------------------- */

static intptr_t timeout(void *arg)
{
	reset();
	urio_pool_opts o = {.max_size = 1, .acquire_timeout_ms = 20};
	urio_pool *p = urio_pool_new(&ops, NULL, &o);
	ASSERT(p);
	void *a, *b;
	ASSERT_EQ(urio_pool_acquire(p, &a), 0);
	uint64_t t0 = now_ms();
	ASSERT_EQ(urio_pool_acquire(p, &b), -ETIMEDOUT);
	ASSERT(now_ms() - t0 >= 19);
	ASSERT(b == NULL);
	urio_pool_stats st = stats(p);
	ASSERT_EQ(st.timeouts, 1);
	ASSERT_EQ(st.waiting, 0);
	urio_pool_release(p, a, 0);
	ASSERT_EQ(urio_pool_acquire(p, &b), 0); /* the permit was not lost */
	ASSERT(a == b);
	/* a creation that hangs is bounded too */
	urio_pool_release(p, b, -EIO);
	atomic_store(&create_sleep, 60000);
	ASSERT_EQ(urio_pool_acquire(p, &b), -ETIMEDOUT);
	st = stats(p);
	ASSERT_EQ(st.timeouts, 2);
	ASSERT_EQ(st.create_errors, 1);
	ASSERT_EQ(st.creating, 0);
	atomic_store(&create_sleep, 0);
	ASSERT_EQ(urio_pool_acquire(p, &b), 0);
	urio_pool_release(p, b, 0);
	urio_pool_free(p);
	return 0;
}

/* --- creation failing, then recovering ------------------------------------ */

static urio_pool *fp;

static intptr_t fail_task(void *arg)
{
	void *r;
	int err = urio_pool_acquire(fp, &r);
	if (err == 0)
		urio_pool_release(fp, r, 0);
	return err;
}

static intptr_t create_fails(void *arg)
{
	reset();
	atomic_store(&create_sleep, 1);
	atomic_store(&fail_err, -ECONNREFUSED);
	urio_pool_opts o = {.max_size = 2};
	fp = urio_pool_new(&ops, NULL, &o);
	ASSERT(fp);
	void *r;
	ASSERT_EQ(urio_pool_acquire(fp, &r), -ECONNREFUSED);
	/* queued acquirers each get the error: none hangs */
	urio_task *t[10];
	for (int i = 0; i < 10; i++)
		ASSERT(t[i] = urio_spawn(fail_task, NULL));
	for (int i = 0; i < 10; i++) {
		intptr_t res = 0;
		ASSERT_EQ(urio_join(t[i], &res), 0);
		ASSERT_EQ(res, -ECONNREFUSED);
	}
	urio_pool_stats st = stats(fp);
	ASSERT_EQ(st.create_errors, 11);
	ASSERT_EQ(st.created, 0);
	ASSERT_EQ(st.in_use + st.idle + st.waiting + st.creating, 0);
	/* the server is back */
	atomic_store(&fail_err, 0);
	for (int i = 0; i < 10; i++)
		ASSERT(t[i] = urio_spawn(fail_task, NULL));
	for (int i = 0; i < 10; i++) {
		intptr_t res = -1;
		ASSERT_EQ(urio_join(t[i], &res), 0);
		ASSERT_EQ(res, 0);
	}
	ASSERT(stats(fp).created <= 2);
	urio_pool_free(fp);
	ASSERT_EQ(atomic_load(&live), 0);
	return 0;
}

/* --- the background task: idle timeout, lifetime, warm-up ---------------- */

static intptr_t idle_timeout(void *arg)
{
	reset();
	urio_pool_opts o = {.max_size = 4, .idle_timeout_ms = 10};
	urio_pool *p = urio_pool_new(&ops, NULL, &o);
	ASSERT(p);
	void *a, *b;
	ASSERT_EQ(urio_pool_acquire(p, &a), 0);
	ASSERT_EQ(urio_pool_acquire(p, &b), 0);
	urio_pool_release(p, a, 0);
	urio_pool_release(p, b, 0);
	ASSERT_EQ(stats(p).idle, 2);
	POLL(stats(p).destroyed == 2);
	ASSERT_EQ(stats(p).idle, 0);
	ASSERT_EQ(atomic_load(&live), 0);
	/* in use, a resource never times out */
	ASSERT_EQ(urio_pool_acquire(p, &a), 0);
	urio_sleep_ms(30);
	ASSERT_EQ(stats(p).destroyed, 2);
	urio_pool_release(p, a, 0);
	POLL(stats(p).destroyed == 3);
	urio_pool_free(p);
	return 0;
}

static intptr_t lifetime(void *arg)
{
	reset();
	urio_pool_opts o = {.max_size = 4, .max_lifetime_ms = 20};
	urio_pool *p = urio_pool_new(&ops, NULL, &o);
	ASSERT(p);
	void *a, *b;
	/* leased past its lifetime: destroyed at release */
	ASSERT_EQ(urio_pool_acquire(p, &a), 0);
	urio_sleep_ms(25);
	urio_pool_release(p, a, 0);
	ASSERT_EQ(stats(p).destroyed, 1);
	/* idle past it: retired in the background */
	ASSERT_EQ(urio_pool_acquire(p, &a), 0);
	urio_pool_release(p, a, 0);
	POLL(stats(p).destroyed == 2);
	/* in frequent use it is replaced all the same */
	ASSERT_EQ(urio_pool_acquire(p, &a), 0);
	int first = ((struct res *)a)->id;
	urio_pool_release(p, a, 0);
	for (;;) {
		ASSERT_EQ(urio_pool_acquire(p, &b), 0);
		int id = ((struct res *)b)->id;
		urio_pool_release(p, b, 0);
		if (id != first)
			break;
		urio_sleep_ms(1);
	}
	ASSERT_EQ(stats(p).broken, 0);
	urio_pool_free(p);
	ASSERT_EQ(atomic_load(&live), 0);
	return 0;
}

static intptr_t warmup(void *arg)
{
	reset();
	urio_pool_opts o = {.max_size = 5, .min_idle = 3, .idle_timeout_ms = 5};
	urio_pool *p = urio_pool_new(&ops, NULL, &o);
	ASSERT(p);
	POLL(stats(p).idle == 3); /* without anyone asking */
	ASSERT_EQ(stats(p).created, 3);
	/* taking one makes the background task warm another */
	void *a, *b, *c;
	ASSERT_EQ(urio_pool_acquire(p, &a), 0);
	POLL(stats(p).idle == 3);
	ASSERT_EQ(stats(p).created, 4);
	ASSERT_EQ(urio_pool_acquire(p, &b), 0);
	ASSERT_EQ(urio_pool_acquire(p, &c), 0);
	/* 3 leased + 2 idle: no room for a third spare */
	POLL(stats(p).created == 5);
	urio_sleep_ms(10);
	ASSERT_EQ(stats(p).created, 5);
	ASSERT_EQ(stats(p).idle, 2);
	urio_pool_release(p, a, 0);
	urio_pool_release(p, b, 0);
	urio_pool_release(p, c, 0);
	/* the spares above min_idle time out, min_idle stay */
	POLL(stats(p).idle == 3 && stats(p).destroyed == 2);
	urio_sleep_ms(20);
	ASSERT_EQ(stats(p).idle, 3);
	/* a broken one is replaced in the background */
	ASSERT_EQ(urio_pool_acquire(p, &a), 0);
	urio_pool_release(p, a, -EIO);
	POLL(stats(p).idle == 3 && stats(p).in_use == 0);
	ASSERT(atomic_load(&max_live) <= 5);
	urio_pool_free(p);
	ASSERT_EQ(atomic_load(&live), 0);
	/* a failing warm-up does not spin, and stops with the pool */
	atomic_store(&fail_err, -ECONNREFUSED);
	p = urio_pool_new(&ops, NULL, &o);
	ASSERT(p);
	POLL(stats(p).create_errors >= 2);
	urio_pool_free(p);
	return 0;
}

/* --- FIFO waiters, cancelled and timed-out ones ---------------------------- */

static urio_pool *qp;
static int order[8], norder;

static intptr_t queued(void *arg)
{
	void *r;
	int err = urio_pool_acquire(qp, &r);
	if (err < 0)
		return err;
	order[norder++] = (int)(intptr_t)arg;
	urio_pool_release(qp, r, 0);
	return 0;
}

static intptr_t queued_timed(void *arg)
{
	urio_deadline d;
	urio_timeout_enter(&d, 10);
	int err = (int)queued(arg);
	int t = urio_timeout_exit(&d);
	return t < 0 ? t : err;
}

static intptr_t fifo(void *arg)
{
	reset();
	norder = 0;
	urio_pool_opts o = {.max_size = 1};
	qp = urio_pool_new(&ops, NULL, &o);
	ASSERT(qp);
	void *held;
	ASSERT_EQ(urio_pool_acquire(qp, &held), 0);
	urio_task *t[5];
	urio_fn fns[5] = {queued, queued, queued_timed, queued, queued};
	for (intptr_t i = 0; i < 5; i++) {
		ASSERT(t[i] = urio_spawn(fns[i], (void *)i));
		if (i == 2) /* the timed one leaves the queue */
			POLL(urio_task_done(t[2]) && stats(qp).waiting == 2);
		else
			POLL(stats(qp).waiting == (unsigned)i + 1 - (i > 2));
	}
	ASSERT_EQ(urio_cancel(t[1]), 0);
	intptr_t res = 0;
	ASSERT_EQ(urio_join(t[1], &res), -ECANCELED);
	ASSERT_EQ(res, -ECANCELED);
	ASSERT_EQ(urio_join(t[2], &res), 0);
	ASSERT_EQ(res, -ETIMEDOUT);
	urio_pool_release(qp, held, 0);
	for (int i = 0; i < 5; i++)
		if (i != 1 && i != 2) {
			ASSERT_EQ(urio_join(t[i], &res), 0);
			ASSERT_EQ(res, 0);
		}
	/* the turns of the cancelled and the timed-out went on, in order */
	ASSERT_EQ(norder, 3);
	ASSERT_EQ(order[0], 0);
	ASSERT_EQ(order[1], 3);
	ASSERT_EQ(order[2], 4);
	urio_pool_stats st = stats(qp);
	ASSERT_EQ(st.created, 1);
	ASSERT_EQ(st.waiting, 0);
	ASSERT_EQ(st.idle, 1);
	urio_pool_free(qp);
	return 0;
}

/* --- urio_pool_free with leases out ----------------------------------------- */

static urio_pool *lp;
static atomic_int freed;

static intptr_t freer(void *arg)
{
	urio_pool_free(lp);
	atomic_store(&freed, 1);
	return 0;
}

static intptr_t free_waits(void *arg)
{
	reset();
	atomic_store(&freed, 0);
	urio_pool_opts o = {.max_size = 2, .min_idle = 1};
	lp = urio_pool_new(&ops, NULL, &o);
	ASSERT(lp);
	void *a, *b;
	ASSERT_EQ(urio_pool_acquire(lp, &a), 0);
	ASSERT_EQ(urio_pool_acquire(lp, &b), 0);
	urio_pool_release(lp, b, 0);
	urio_task *f = urio_spawn(freer, NULL);
	ASSERT(f);
	/* acquirers are refused once free has begun */
	int r;
	POLL((r = urio_pool_acquire(lp, &b)) == -ESHUTDOWN ||
	     (r == 0 && (urio_pool_release(lp, b, 0), false)));
	urio_sleep_ms(10);
	ASSERT(!atomic_load(&freed)); /* a lease is out */
	ASSERT(atomic_load(&live) >= 1);
	urio_pool_release(lp, a, 0);
	ASSERT_EQ(urio_join(f, NULL), 0);
	ASSERT(atomic_load(&freed));
	ASSERT_EQ(atomic_load(&live), 0);
	ASSERT_EQ(atomic_load(&creates), atomic_load(&destroys));
	return 0;
}

/* A cancelled task frees its pool all the same. */
static intptr_t cancelled_user(void *arg)
{
	urio_pool_opts o = {.max_size = 1, .min_idle = 1};
	urio_pool *p = urio_pool_new(&ops, NULL, &o);
	ASSERT(p);
	POLL(stats(p).idle == 1);
	urio_cancel(urio_self());
	void *a;
	ASSERT_EQ(urio_pool_acquire(p, &a), -ECANCELED);
	urio_pool_free(p);
	return 0;
}

static intptr_t free_cancelled(void *arg)
{
	reset();
	urio_task *t = urio_spawn(cancelled_user, NULL);
	ASSERT(t);
	intptr_t res = -1;
	ASSERT_EQ(urio_join(t, &res), -ECANCELED);
	ASSERT_EQ(res, 0);
	ASSERT_EQ(atomic_load(&live), 0);
	ASSERT_EQ(atomic_load(&destroys), 1);
	return 0;
}

/* --- lease scope ------------------------------------------------------------- */

static int body_ok(void *res, void *ctx)
{
	urio_pool_lease *l = res;
	ASSERT(l->res);
	return 1;
}
static int body_fail(void *res, void *ctx) { return -EPROTO; }
static int body_sleep(void *res, void *ctx) { return urio_sleep_ms(60000); }

static intptr_t lease(void *arg)
{
	reset();
	urio_pool_opts o = {.max_size = 1};
	urio_pool *p = urio_pool_new(&ops, NULL, &o);
	ASSERT(p);
	urio_pool_lease l = {.pool = p};
	ASSERT_EQ(urio_with(&urio_pool_lease_scope, &l, body_ok, NULL), 1);
	ASSERT(l.res == NULL);
	ASSERT_EQ(stats(p).idle, 1);
	ASSERT_EQ(urio_with(&urio_pool_lease_scope, &l, body_fail, NULL),
		  -EPROTO);
	ASSERT_EQ(stats(p).destroyed, 1); /* an unknown state: not reused */
	urio_deadline d;
	urio_timeout_enter(&d, 5);
	ASSERT_EQ(urio_with(&urio_pool_lease_scope, &l, body_sleep, NULL),
		  -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT_EQ(stats(p).destroyed, 2);
	ASSERT_EQ(stats(p).in_use, 0);
	ASSERT_EQ(urio_with(&urio_pool_lease_scope, NULL, body_ok, NULL),
		  -EINVAL);
	urio_pool_lease none = {0};
	ASSERT_EQ(urio_with(&urio_pool_lease_scope, &none, body_ok, NULL),
		  -EINVAL);
	urio_pool_free(p);
	ASSERT_EQ(atomic_load(&live), 0);
	return 0;
}

/* --- bad arguments ------------------------------------------------------------- */

static int null_create(void *ctx, void **out)
{
	*out = NULL;
	return 0;
}

static intptr_t bad_args(void *arg)
{
	urio_pool_ops no_create = {NULL, t_destroy, NULL};
	urio_pool_ops no_destroy = {t_create, NULL, NULL};
	errno = 0;
	ASSERT(!urio_pool_new(NULL, NULL, NULL));
	ASSERT_EQ(errno, EINVAL);
	ASSERT(!urio_pool_new(&no_create, NULL, NULL));
	ASSERT(!urio_pool_new(&no_destroy, NULL, NULL));
	urio_pool_opts o = {.max_size = 2, .min_idle = 3};
	errno = 0;
	ASSERT(!urio_pool_new(&ops, NULL, &o));
	ASSERT_EQ(errno, EINVAL);
	void *r = &r;
	ASSERT_EQ(urio_pool_acquire(NULL, &r), -EINVAL);
	urio_pool *p = urio_pool_new(&ops, NULL, NULL);
	ASSERT(p);
	ASSERT_EQ(urio_pool_acquire(p, NULL), -EINVAL);
	urio_pool_release(NULL, r, 0);
	urio_pool_get_stats(NULL, NULL);
	urio_pool_get_stats(p, NULL);
	urio_pool_free(NULL);
	urio_pool_free(p);
	/* a create that claims success without a resource */
	urio_pool_ops nul = {null_create, t_destroy, NULL};
	p = urio_pool_new(&nul, NULL, NULL);
	ASSERT(p);
	ASSERT_EQ(urio_pool_acquire(p, &r), -EINVAL);
	ASSERT(r == NULL);
	ASSERT_EQ(stats(p).create_errors, 1);
	urio_pool_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	errno = 0;
	ASSERT(!urio_pool_new(&ops, NULL, NULL)); /* not in a task */
	ASSERT_EQ(errno, EPERM);
	/* the slow ones wait out timeouts and lifetimes */
	static const struct sync_case cases[] = {
		CASE(storm),
		CASE(unbounded),
		CASE(broken),
		CASE_SLOW(timeout),
		CASE(create_fails),
		CASE_SLOW(idle_timeout),
		CASE_SLOW(lifetime),
		CASE_SLOW(warmup),
		CASE(fifo),
		CASE_SLOW(free_waits),
		CASE(free_cancelled),
		CASE(lease),
		CASE(bad_args),
	};
	return run_cases("pool", cases, sizeof(cases) / sizeof(cases[0]),
			 argc, argv);
}
