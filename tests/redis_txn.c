/* MULTI/EXEC as a transaction scope against a real redis-server: many
 * tasks running MULTI INCR a / INCR b / EXEC over a pool keep a == b, and
 * transactional readers never see them apart; WATCH conflicts give -EAGAIN
 * and optimistic retries lose no increment; EXECABORT; a body that fails,
 * is cancelled or passes a deadline rolls back (queued commands dropped,
 * or DISCARD sent once MULTI had left, counted by the server) and leaves
 * the connection clean for the pool; misuse. Each case on 1 and 2 workers. */
#include <errno.h>
#include <urio.h>
#include <urio/redis.h>

#include "redis_server.h"

static urio_redis *conn(void)
{
	urio_redis *c = NULL;
	ASSERT_EQ(urio_redis_connect("127.0.0.1", (uint16_t)redis_port, NULL,
				     &c), 0);
	return c;
}

static long long int_of(urio_redis *c, const char *key)
{
	redisReply *r;
	ASSERT_EQ(urio_redis_commandf(c, &r, "GET %s", key), 0);
	long long v = r->type == REDIS_REPLY_NIL ? 0 : atoll(r->str);
	urio_redis_reply_free(r);
	return v;
}

static long long exists(urio_redis *c, const char *key)
{
	redisReply *r;
	ASSERT_EQ(urio_redis_commandf(c, &r, "EXISTS %s", key), 0);
	long long v = r->integer;
	urio_redis_reply_free(r);
	return v;
}

/* DISCARDs the server has run so far. */
static long long discards(urio_redis *c)
{
	redisReply *r;
	ASSERT_EQ(urio_redis_commandf(c, &r, "INFO commandstats"), 0);
	const char *p = strstr(r->str, "cmdstat_discard:calls=");
	long long v = p ? atoll(p + strlen("cmdstat_discard:calls=")) : 0;
	urio_redis_reply_free(r);
	return v;
}

/* --- atomicity under concurrent writers ------------------------------------ */

#define WRITERS 24
#define TXNS 25
#define READERS 4

static urio_redis_pool *pool;
static atomic_int writers_left;

static int incr_both(void *res, void *ctx)
{
	(void)ctx;
	urio_redis_txn *t = res;
	int err = urio_redis_txn_addf(t, "INCR a");
	if (err == 0)
		urio_yield(); /* let others in between the two */
	return err < 0 ? err : urio_redis_txn_addf(t, "INCR b");
}

static intptr_t writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < TXNS; i++) {
		urio_redis *c;
		int err = urio_redis_pool_acquire(pool, &c);
		if (err < 0)
			return err;
		urio_redis_txn t;
		urio_redis_txn_init(&t, c);
		err = urio_with(&urio_txn_scope, &t, incr_both, NULL);
		if (err == 0) {
			ASSERT_EQ(t.result->type, REDIS_REPLY_ARRAY);
			ASSERT_EQ(t.result->elements, 2);
			ASSERT_EQ(t.result->element[0]->integer,
				  t.result->element[1]->integer);
		}
		urio_redis_reply_free(t.result);
		urio_redis_pool_release(pool, c, err);
		if (err < 0)
			return err;
	}
	atomic_fetch_sub(&writers_left, 1);
	return 0;
}

static int get_both(void *res, void *ctx)
{
	(void)ctx;
	int err = urio_redis_txn_addf(res, "GET a");
	return err < 0 ? err : urio_redis_txn_addf(res, "GET b");
}

/* Reads a and b in transactions while the writers run: always equal. */
static intptr_t reader(void *arg)
{
	(void)arg;
	while (atomic_load(&writers_left) > 0) {
		urio_redis *c;
		int err = urio_redis_pool_acquire(pool, &c);
		if (err < 0)
			return err;
		urio_redis_txn t;
		urio_redis_txn_init(&t, c);
		err = urio_with(&urio_txn_scope, &t, get_both, NULL);
		ASSERT_EQ(err, 0);
		redisReply **e = t.result->element;
		ASSERT_EQ(e[0]->type, e[1]->type);
		if (e[0]->type == REDIS_REPLY_STRING)
			ASSERT(strcmp(e[0]->str, e[1]->str) == 0);
		urio_redis_reply_free(t.result);
		urio_redis_pool_release(pool, c, err);
	}
	return 0;
}

static void case_atomic(void)
{
	urio_redis *c = conn();
	ASSERT_EQ(urio_redis_commandf(c, NULL, "FLUSHALL"), 0);
	urio_pool_opts po = {.max_size = 8};
	pool = urio_redis_pool_new("127.0.0.1", (uint16_t)redis_port, NULL, &po);
	ASSERT(pool);
	atomic_store(&writers_left, WRITERS);
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < WRITERS; i++)
		ASSERT(urio_group_spawn(&g, writer, NULL));
	for (int i = 0; i < READERS; i++)
		ASSERT(urio_group_spawn(&g, reader, NULL));
	ASSERT_EQ(urio_group_wait(&g), 0);
	ASSERT_EQ(int_of(c, "a"), WRITERS * TXNS);
	ASSERT_EQ(int_of(c, "b"), WRITERS * TXNS);
	urio_pool_stats st;
	urio_pool_get_stats(urio_redis_pool_pool(pool), &st);
	ASSERT_EQ(st.broken, 0);
	urio_redis_pool_free(pool);
	pool = NULL;
	urio_redis_close(c);
}

/* --- WATCH ------------------------------------------------------------------ */

struct setv {
	const char *key;
	long long v;
};

static int set_value(void *res, void *ctx)
{
	struct setv *s = ctx;
	return urio_redis_txn_addf(res, "SET %s %lld", s->key, s->v);
}

#define OPT_TASKS 6
#define OPT_INCRS 15

static atomic_int conflicts;

/* Increments w with WATCH / GET / MULTI SET / EXEC, retried on conflict. */
static intptr_t optimist(void *arg)
{
	(void)arg;
	urio_redis *c = conn();
	for (int i = 0; i < OPT_INCRS;) {
		const char *key = "w";
		ASSERT_EQ(urio_redis_watch(c, 1, &key, NULL), 0);
		ASSERT(!urio_redis_clean(c));
		struct setv s = {"w", int_of(c, "w") + 1};
		urio_yield();
		urio_redis_txn t;
		urio_redis_txn_init(&t, c);
		int err = urio_with(&urio_txn_scope, &t, set_value, &s);
		urio_redis_reply_free(t.result);
		ASSERT(urio_redis_clean(c));
		if (err == -EAGAIN) {
			atomic_fetch_add(&conflicts, 1);
			continue;
		}
		ASSERT_EQ(err, 0);
		i++;
	}
	urio_redis_close(c);
	return 0;
}

static void case_watch(void)
{
	urio_redis *c1 = conn(), *c2 = conn();
	ASSERT_EQ(urio_redis_commandf(c1, NULL, "FLUSHALL"), 0);
	/* a deterministic conflict */
	const char *key = "k";
	ASSERT_EQ(urio_redis_watch(c1, 1, &key, NULL), 0);
	ASSERT_EQ(urio_redis_commandf(c2, NULL, "SET k 1"), 0);
	struct setv s = {"k", 2};
	urio_redis_txn t;
	urio_redis_txn_init(&t, c1);
	ASSERT_EQ(urio_with(&urio_txn_scope, &t, set_value, &s), -EAGAIN);
	urio_redis_reply_free(t.result);
	ASSERT(urio_redis_clean(c1));
	ASSERT_EQ(int_of(c1, "k"), 1);
	/* no conflict: it commits */
	ASSERT_EQ(urio_redis_watch(c1, 1, &key, NULL), 0);
	urio_redis_txn_init(&t, c1);
	ASSERT_EQ(urio_with(&urio_txn_scope, &t, set_value, &s), 0);
	urio_redis_reply_free(t.result);
	ASSERT_EQ(int_of(c2, "k"), 2);
	/* UNWATCH */
	ASSERT_EQ(urio_redis_watch(c1, 1, &key, NULL), 0);
	ASSERT_EQ(urio_redis_unwatch(c1), 0);
	ASSERT(urio_redis_clean(c1));
	ASSERT_EQ(urio_redis_watch(c1, 0, &key, NULL), -EINVAL);
	/* optimistic increments from several tasks: none lost */
	atomic_store(&conflicts, 0);
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < OPT_TASKS; i++)
		ASSERT(urio_group_spawn(&g, optimist, NULL));
	ASSERT_EQ(urio_group_wait(&g), 0);
	ASSERT_EQ(int_of(c1, "w"), OPT_TASKS * OPT_INCRS);
	urio_redis_close(c1);
	urio_redis_close(c2);
}

/* --- EXECABORT, misuse ------------------------------------------------------ */

static int bad_arity(void *res, void *ctx)
{
	(void)ctx;
	int err = urio_redis_txn_addf(res, "SET good 1");
	return err < 0 ? err : urio_redis_txn_addf(res, "SET onlykey");
}

static int busy_body(void *res, void *ctx)
{
	urio_redis_txn *t = res;
	urio_redis *c = ctx;
	/* plain commands and a second transaction are refused inside one */
	ASSERT_EQ(urio_redis_commandf(c, NULL, "PING"), -EBUSY);
	urio_redis_txn t2;
	urio_redis_txn_init(&t2, c);
	ASSERT_EQ(urio_txn_begin(&t2.txn), -EBUSY);
	return urio_redis_txn_addf(t, "SET inbusy 1");
}

static void case_abort_misuse(void)
{
	urio_redis *c = conn();
	ASSERT_EQ(urio_redis_commandf(c, NULL, "FLUSHALL"), 0);
	urio_redis_txn t;
	urio_redis_txn_init(&t, c);
	ASSERT_EQ(urio_with(&urio_txn_scope, &t, bad_arity, NULL), -EREMOTEIO);
	ASSERT(t.result && t.result->type == REDIS_REPLY_ERROR);
	ASSERT(strstr(t.result->str, "EXECABORT"));
	urio_redis_reply_free(t.result);
	ASSERT(urio_redis_clean(c));
	ASSERT_EQ(exists(c, "good"), 0);
	/* outside begin / end */
	urio_redis_txn_init(&t, c);
	ASSERT_EQ(urio_redis_txn_addf(&t, "PING"), -EBADF);
	ASSERT_EQ(urio_redis_txn_add(NULL, 1, NULL, NULL), -EINVAL);
	/* an unread pipeline: no transaction on top of it */
	ASSERT_EQ(urio_redis_appendf(c, "PING"), 0);
	ASSERT_EQ(urio_with(&urio_txn_scope, &t, set_value, NULL), -EBUSY);
	redisReply *r;
	ASSERT_EQ(urio_redis_get_reply(c, &r), 0);
	urio_redis_reply_free(r);
	urio_redis_txn_init(&t, c);
	ASSERT_EQ(urio_with(&urio_txn_scope, &t, busy_body, c), 0);
	urio_redis_reply_free(t.result);
	ASSERT_EQ(int_of(c, "inbusy"), 1);
	urio_redis_txn_init(&t, NULL);
	ASSERT_EQ(urio_with(&urio_txn_scope, &t, set_value, NULL), -EINVAL);
	urio_redis_close(c);
}

/* --- rollback: error, cancellation, deadline -------------------------------- */

/* Commands in a body; large ones push the queue past its flush size, so
 * MULTI reaches the server before the body ends. */
struct body {
	bool large;
	int fail;         /* returned after queueing */
	bool sleep;       /* then waits to be cancelled */
	atomic_int queued;
};

static int queue_then(void *res, void *ctx)
{
	struct body *b = ctx;
	int n = b->large ? 2000 : 2;
	char pad[100];
	memset(pad, 'p', sizeof(pad));
	for (int i = 0; i < n; i++) {
		int err = urio_redis_txn_addf(res, "SET r%d %b", i, pad,
					      sizeof(pad));
		if (err < 0)
			return err;
	}
	atomic_store(&b->queued, 1);
	if (b->sleep)
		urio_sleep_ms(60000);
	return b->fail;
}

struct rb {
	urio_redis_pool *p;
	struct body body;
	int err;
};

static intptr_t txn_task(void *arg)
{
	struct rb *rb = arg;
	urio_redis *c;
	int err = urio_redis_pool_acquire(rb->p, &c);
	if (err < 0)
		return err;
	urio_redis_txn t;
	urio_redis_txn_init(&t, c);
	rb->err = urio_with(&urio_txn_scope, &t, queue_then, &rb->body);
	ASSERT(t.result == NULL);
	/* rolled back, shielded, in step; unless a deadline cut the body's
	 * own flush short (a slow build), which breaks the connection */
	ASSERT(urio_redis_clean(c) || !atomic_load(&rb->body.queued));
	urio_redis_pool_release(rb->p, c, rb->err);
	return 0;
}

static void check_rolled_back(urio_redis *c, long long d0, bool large)
{
	ASSERT_EQ(exists(c, "r0"), 0);
	ASSERT_EQ(exists(c, "r1"), 0);
	/* DISCARD went out only when MULTI had */
	ASSERT_EQ(discards(c), d0 + (large ? 1 : 0));
}

static void case_rollback(void)
{
	urio_redis *c = conn();
	ASSERT_EQ(urio_redis_commandf(c, NULL, "FLUSHALL"), 0);
	urio_pool_opts po = {.max_size = 2};
	urio_redis_pool *p = urio_redis_pool_new("127.0.0.1",
						 (uint16_t)redis_port, NULL, &po);
	ASSERT(p);
	for (int large = 0; large < 2; large++) {
		/* the body fails */
		struct rb rb = {.p = p, .body = {.large = large, .fail = -EIO}};
		long long d0 = discards(c);
		ASSERT_EQ(txn_task(&rb), 0);
		ASSERT_EQ(rb.err, -EIO);
		check_rolled_back(c, d0, large);
		/* the task is cancelled in the body */
		struct rb rc = {.p = p, .body = {.large = large, .sleep = true}};
		d0 = discards(c);
		urio_task *t = urio_spawn(txn_task, &rc);
		ASSERT(t);
		POLL(atomic_load(&rc.body.queued));
		ASSERT_EQ(urio_cancel(t), 0);
		urio_join(t, NULL);
		ASSERT_EQ(rc.err, -ECANCELED);
		check_rolled_back(c, d0, large);
		/* the body runs past a deadline (longer ones if it fired
		 * before the body was done queueing) */
		for (uint64_t ms = 30;; ms *= 4) {
			ASSERT(ms < 100000);
			struct rb rd = {.p = p,
					.body = {.large = large, .sleep = true}};
			d0 = discards(c);
			int terr = 0;
			URIO_TIMEOUT(terr, ms)
			{
				ASSERT_EQ(txn_task(&rd), 0);
			}
			ASSERT_EQ(terr, -ETIMEDOUT);
			ASSERT_EQ(rd.err, -ECANCELED);
			if (atomic_load(&rd.body.queued)) {
				check_rolled_back(c, d0, large);
				break;
			}
			ASSERT_EQ(exists(c, "r0"), 0);
		}
	}
	/* WATCH then a failing body: rollback unwatches */
	const char *key = "wk";
	ASSERT_EQ(urio_redis_watch(c, 1, &key, NULL), 0);
	struct body b = {.fail = -EIO};
	urio_redis_txn t;
	urio_redis_txn_init(&t, c);
	ASSERT_EQ(urio_with(&urio_txn_scope, &t, queue_then, &b), -EIO);
	ASSERT(urio_redis_clean(c));
	urio_redis_pool_free(p);
	urio_redis_close(c);
}

static intptr_t run_all(void *arg)
{
	(void)arg;
	case_atomic();
	case_watch();
	case_abort_misuse();
	case_rollback();
	return 0;
}

int main(void)
{
	return redis_test_main(run_all);
}
