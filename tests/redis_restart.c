/* The server killed in the middle of a transaction: commit fails with a
 * clear error (-ECONNRESET or -EPIPE, never a hang or a wrong reply), the
 * broken connection is destroyed, acquires fail with -ECONNREFUSED while
 * the server is down, and once it is back on the same port the pool
 * recovers: the idle connections that died with the server are found by
 * the check and replaced. Phases run on one runtime, the server (re)started
 * between them from the main thread (proc.h's death signal follows the
 * thread that spawned it). On 1 and 2 workers. */
#include <errno.h>
#include <urio.h>
#include <urio/redis.h>

#include "redis_server.h"

#define TASKS 4

static urio_redis_pool *pool;

static intptr_t ping(void *arg)
{
	(void)arg;
	const char *argv[] = {"INCR", "pings"};
	for (int i = 0; i < 10; i++) {
		redisReply *r;
		int err = urio_redis_pool_command(pool, &r, 2, argv, NULL);
		urio_redis_reply_free(r);
		if (err < 0)
			return err;
		urio_yield();
	}
	return 0;
}

static int pings(void)
{
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < TASKS; i++)
		ASSERT(urio_group_spawn(&g, ping, NULL));
	return urio_group_wait(&g);
}

static int kill_in_body(void *res, void *ctx)
{
	(void)ctx;
	int err = urio_redis_txn_addf(res, "INCR a");
	if (err == 0)
		err = urio_redis_txn_addf(res, "INCR b");
	redis_server_kill(); /* between MULTI's queueing and EXEC */
	return err;
}

static intptr_t phase_kill(void *arg)
{
	(void)arg;
	urio_pool_opts po = {.max_size = TASKS};
	pool = urio_redis_pool_new("127.0.0.1", (uint16_t)redis_port, NULL, &po);
	ASSERT(pool);
	ASSERT_EQ(pings(), 0); /* several connections idle in the pool */
	urio_redis *c;
	ASSERT_EQ(urio_redis_pool_acquire(pool, &c), 0);
	urio_redis_txn t;
	urio_redis_txn_init(&t, c);
	int err = urio_with(&urio_txn_scope, &t, kill_in_body, NULL);
	ASSERT(err == -ECONNRESET || err == -EPIPE);
	ASSERT(t.result == NULL);
	ASSERT_EQ(urio_redis_error(c), err);
	ASSERT_EQ(urio_redis_commandf(c, NULL, "PING"), -ENOTCONN);
	urio_redis_pool_release(pool, c, err);
	/* the server is down: idle connections fail their check, and new
	 * ones are refused, at once */
	const char *argv[] = {"PING"};
	for (int i = 0; i < TASKS + 1; i++) {
		int e = urio_redis_pool_command(pool, NULL, 1, argv, NULL);
		ASSERT(e == -ECONNREFUSED || e == -ECONNRESET || e == -EPIPE);
	}
	urio_pool_stats st;
	urio_pool_get_stats(urio_redis_pool_pool(pool), &st);
	ASSERT_EQ(st.in_use, 0);
	ASSERT(st.create_errors >= 1);
	return 0;
}

static intptr_t phase_back(void *arg)
{
	(void)arg;
	ASSERT_EQ(pings(), 0);
	redisReply *r;
	const char *argv[] = {"GET", "pings"};
	ASSERT_EQ(urio_redis_pool_command(pool, &r, 2, argv, NULL), 0);
	ASSERT_EQ(atoll(r->str), TASKS * 10); /* the server lost the rest */
	urio_redis_reply_free(r);
	/* the killed transaction left nothing */
	const char *ex[] = {"EXISTS", "a", "b"};
	ASSERT_EQ(urio_redis_pool_command(pool, &r, 3, ex, NULL), 0);
	ASSERT_EQ(r->integer, 0);
	urio_redis_reply_free(r);
	urio_redis_pool_free(pool);
	pool = NULL;
	return 0;
}

int main(void)
{
	for (unsigned w = 1; w <= 2; w++) {
		int err = redis_server_start();
		if (err < 0) {
			fprintf(stderr, "redis-server did not start: %d\n", err);
			redis_server_cleanup();
			return 1;
		}
		urio_config cfg = {.workers = w};
		urio_rt *rt = urio_rt_new(&cfg);
		ASSERT(rt);
		intptr_t res = -1;
		ASSERT_EQ(urio_rt_block_on(rt, phase_kill, NULL, &res), 0);
		ASSERT_EQ(res, 0);
		ASSERT_EQ(redis_server_start(), 0); /* the same port */
		res = -1;
		ASSERT_EQ(urio_rt_block_on(rt, phase_back, NULL, &res), 0);
		ASSERT_EQ(res, 0);
		urio_rt_free(rt);
		proc_stop(redis_pid);
	}
	redis_server_cleanup();
	return 0;
}
