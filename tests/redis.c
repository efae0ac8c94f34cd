/* The Redis client against a real redis-server: commands with binary-safe
 * arguments (NUL bytes, a 1 MiB value), error replies, AUTH / SELECT
 * options, bad arguments; pipelining in order; the pool under many tasks;
 * the pool's automatic pipelining hands every reply to its own caller,
 * also while callers are cancelled with commands in flight;
 * a task cancelled in the middle of a command (a BLPOP the server holds)
 * leaves the pool healthy: the broken connection is destroyed, never
 * reused. Each case runs on 1 and 2 workers. */
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

static void flushall(urio_redis *c)
{
	ASSERT_EQ(urio_redis_commandf(c, NULL, "FLUSHALL"), 0);
}

static long long int_of(urio_redis *c, const char *key)
{
	redisReply *r;
	ASSERT_EQ(urio_redis_commandf(c, &r, "GET %s", key), 0);
	long long v = r->type == REDIS_REPLY_NIL ? 0 : atoll(r->str);
	urio_redis_reply_free(r);
	return v;
}

static void case_basic(void)
{
	urio_redis *c = conn();
	flushall(c);
	/* binary-safe key and value */
	const char key[] = {'k', 0, 'y'}, val[] = {'v', 0, 0, 'l', '\r', '\n'};
	const char *argv[] = {"SET", key, val};
	size_t lens[] = {3, sizeof(key), sizeof(val)};
	redisReply *r;
	ASSERT_EQ(urio_redis_command(c, &r, 3, argv, lens), 0);
	ASSERT_EQ(r->type, REDIS_REPLY_STATUS);
	urio_redis_reply_free(r);
	ASSERT_EQ(urio_redis_commandf(c, &r, "GET %b", key, sizeof(key)), 0);
	ASSERT_EQ(r->type, REDIS_REPLY_STRING);
	ASSERT_EQ(r->len, sizeof(val));
	ASSERT(memcmp(r->str, val, sizeof(val)) == 0);
	urio_redis_reply_free(r);
	/* a missing key, an integer */
	ASSERT_EQ(urio_redis_commandf(c, &r, "GET nope"), 0);
	ASSERT_EQ(r->type, REDIS_REPLY_NIL);
	urio_redis_reply_free(r);
	ASSERT_EQ(urio_redis_commandf(c, &r, "INCRBY n %d", 41), 0);
	ASSERT_EQ(r->type, REDIS_REPLY_INTEGER);
	ASSERT_EQ(r->integer, 41);
	urio_redis_reply_free(r);
	/* an error reply: its own code, the message kept, the link sound */
	ASSERT_EQ(urio_redis_commandf(c, &r, "NOSUCHCOMMAND x"), -EREMOTEIO);
	ASSERT(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "ERR"));
	urio_redis_reply_free(r);
	ASSERT_EQ(urio_redis_commandf(c, NULL, "INCR %b", key, sizeof(key)),
		  -EREMOTEIO);
	ASSERT(urio_redis_clean(c));
	ASSERT_EQ(int_of(c, "n"), 41);
	/* a value larger than a receive buffer, every byte value in it */
	size_t big = 1 << 20;
	char *b = malloc(big);
	ASSERT(b);
	for (size_t i = 0; i < big; i++)
		b[i] = (char)(i * 7);
	ASSERT_EQ(urio_redis_commandf(c, NULL, "SET big %b", b, big), 0);
	ASSERT_EQ(urio_redis_commandf(c, &r, "GET big"), 0);
	ASSERT_EQ(r->len, big);
	ASSERT(memcmp(r->str, b, big) == 0);
	urio_redis_reply_free(r);
	free(b);
	/* bad input */
	ASSERT_EQ(urio_redis_command(NULL, &r, 1, argv, NULL), -EINVAL);
	ASSERT(r == NULL);
	ASSERT_EQ(urio_redis_command(c, &r, 0, argv, NULL), -EINVAL);
	const char *nul[] = {"GET", NULL};
	ASSERT_EQ(urio_redis_command(c, &r, 2, nul, NULL), -EINVAL);
	ASSERT_EQ(urio_redis_commandf(c, &r, NULL), -EINVAL);
	ASSERT_EQ(urio_redis_get_reply(c, &r), -EALREADY);
	ASSERT(urio_redis_clean(c));
	urio_redis_close(c);
	urio_redis_close(NULL);
}

static void case_options(void)
{
	urio_redis *c = NULL;
	/* SELECT: a key set in db 3 is not in db 0 */
	urio_redis_opts o = {.db = 3, .connect_timeout_ms = 10000};
	ASSERT_EQ(urio_redis_connect("127.0.0.1", (uint16_t)redis_port, &o,
				     &c), 0);
	ASSERT_EQ(urio_redis_commandf(c, NULL, "SET indb3 1"), 0);
	urio_redis_close(c);
	c = conn();
	ASSERT_EQ(int_of(c, "indb3"), 0);
	urio_redis_close(c);
	/* AUTH refused (the server has no password): a clear error */
	urio_redis_opts bad = {.password = "secret"};
	ASSERT_EQ(urio_redis_connect("127.0.0.1", (uint16_t)redis_port, &bad,
				     &c), -EREMOTEIO);
	ASSERT(c == NULL);
	/* AUTH accepted, with and without an ACL user, also by a pool */
	urio_redis *admin = conn();
	ASSERT_EQ(urio_redis_commandf(admin, NULL, "CONFIG SET requirepass pw"),
		  0);
	urio_redis_opts good = {.password = "pw", .db = 1};
	ASSERT_EQ(urio_redis_connect("127.0.0.1", (uint16_t)redis_port, &good,
				     &c), 0);
	ASSERT_EQ(urio_redis_commandf(c, NULL, "PING"), 0);
	urio_redis_close(c);
	urio_redis_opts acl = {.user = "default", .password = "pw"};
	ASSERT_EQ(urio_redis_connect("127.0.0.1", (uint16_t)redis_port, &acl,
				     &c), 0);
	urio_redis_close(c);
	urio_redis_pool *p = urio_redis_pool_new("127.0.0.1",
						 (uint16_t)redis_port, &good, NULL);
	ASSERT(p);
	const char *ping[] = {"PING"};
	ASSERT_EQ(urio_redis_pool_command(p, NULL, 1, ping, NULL), 0);
	urio_redis_pool_free(p);
	c = conn(); /* no password: the server refuses commands */
	ASSERT_EQ(urio_redis_commandf(c, NULL, "PING"), -EREMOTEIO);
	urio_redis_close(c);
	ASSERT_EQ(urio_redis_commandf(admin, NULL, "CONFIG SET requirepass %s",
				      ""), 0);
	urio_redis_close(admin);
	urio_redis_opts neg = {.db = -1};
	ASSERT_EQ(urio_redis_connect("127.0.0.1", (uint16_t)redis_port, &neg,
				     &c), -EINVAL);
	ASSERT_EQ(urio_redis_connect(NULL, 1, NULL, &c), -EINVAL);
	/* nobody listening */
	int port = proc_free_port();
	ASSERT(port > 0);
	ASSERT_EQ(urio_redis_connect("127.0.0.1", (uint16_t)port, NULL, &c),
		  -ECONNREFUSED);
}

#define PIPE_N 1000

static void case_pipeline(void)
{
	urio_redis *c = conn();
	flushall(c);
	for (int i = 0; i < PIPE_N; i++) {
		ASSERT_EQ(urio_redis_appendf(c, "SET k%d v%d", i, i), 0);
		ASSERT_EQ(urio_redis_appendf(c, "GET k%d", i), 0);
	}
	ASSERT_EQ(urio_redis_appendf(c, "NOSUCHCOMMAND"), 0);
	ASSERT_EQ(urio_redis_pending(c), 2 * PIPE_N + 1);
	ASSERT(!urio_redis_clean(c));
	for (int i = 0; i < PIPE_N; i++) {
		redisReply *r;
		char want[32];
		ASSERT_EQ(urio_redis_get_reply(c, &r), 0);
		ASSERT_EQ(r->type, REDIS_REPLY_STATUS);
		urio_redis_reply_free(r);
		ASSERT_EQ(urio_redis_get_reply(c, &r), 0);
		snprintf(want, sizeof(want), "v%d", i);
		ASSERT_EQ(r->type, REDIS_REPLY_STRING);
		ASSERT(strcmp(r->str, want) == 0);
		urio_redis_reply_free(r);
	}
	redisReply *r;
	ASSERT_EQ(urio_redis_get_reply(c, &r), -EREMOTEIO);
	urio_redis_reply_free(r);
	ASSERT(urio_redis_clean(c));
	/* a command after an unread pipeline gets its own reply */
	ASSERT_EQ(urio_redis_appendf(c, "SET x 1"), 0);
	ASSERT_EQ(urio_redis_flush(c), 0);
	ASSERT_EQ(urio_redis_appendf(c, "SET y 2"), 0);
	ASSERT_EQ(urio_redis_commandf(c, &r, "GET x"), 0);
	ASSERT(r->type == REDIS_REPLY_STRING && strcmp(r->str, "1") == 0);
	urio_redis_reply_free(r);
	ASSERT(urio_redis_clean(c));
	urio_redis_close(c);
}

/* --- the pool ------------------------------------------------------------- */

#define POOL_TASKS 40
#define POOL_INCRS 50

static urio_redis_pool *the_pool;

static intptr_t incr_task(void *arg)
{
	(void)arg;
	for (int i = 0; i < POOL_INCRS; i++) {
		const char *argv[] = {"INCR", "counter"};
		redisReply *r;
		int err = urio_redis_pool_command(the_pool, &r, 2, argv, NULL);
		if (err < 0)
			return err;
		urio_redis_reply_free(r);
	}
	return 0;
}

static void case_pool(void)
{
	urio_redis *c = conn();
	flushall(c);
	urio_pool_opts po = {.max_size = 4};
	the_pool = urio_redis_pool_new("127.0.0.1", (uint16_t)redis_port, NULL,
				       &po);
	ASSERT(the_pool);
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < POOL_TASKS; i++)
		ASSERT(urio_group_spawn(&g, incr_task, NULL));
	ASSERT_EQ(urio_group_wait(&g), 0);
	ASSERT_EQ(int_of(c, "counter"), POOL_TASKS * POOL_INCRS);
	urio_pool_stats st;
	urio_pool_get_stats(urio_redis_pool_pool(the_pool), &st);
	ASSERT(st.created <= 4);
	ASSERT_EQ(st.broken, 0);
	/* an unclean connection given back with err 0 is destroyed anyway */
	urio_redis *l;
	ASSERT_EQ(urio_redis_pool_acquire(the_pool, &l), 0);
	ASSERT_EQ(urio_redis_appendf(l, "PING"), 0);
	urio_redis_pool_release(the_pool, l, 0);
	urio_pool_get_stats(urio_redis_pool_pool(the_pool), &st);
	ASSERT_EQ(st.broken, 1);
	/* an error reply does not cost the connection */
	ASSERT_EQ(urio_redis_pool_acquire(the_pool, &l), 0);
	int err = urio_redis_commandf(l, NULL, "NOSUCHCOMMAND");
	ASSERT_EQ(err, -EREMOTEIO);
	urio_redis_pool_release(the_pool, l, err);
	urio_pool_get_stats(urio_redis_pool_pool(the_pool), &st);
	ASSERT_EQ(st.broken, 1);
	urio_redis_pool_free(the_pool);
	the_pool = NULL;
	errno = 0;
	ASSERT(!urio_redis_pool_new(NULL, 1, NULL, NULL) && errno == EINVAL);
	ASSERT_EQ(urio_redis_pool_acquire(NULL, &l), -EINVAL);
	urio_redis_close(c);
}

/* --- automatic pipelining: replies reach their own callers ---------------- */

#define MUX_TASKS 60
#define MUX_VICTIMS 30
#define MUX_ROUNDS 40

static atomic_int victim_rounds;

/* SET key:id to a value of this round, GET it back: a reply handed to the
 * wrong caller fails the comparison. Victims loop until cancelled. */
static intptr_t mux_task(void *arg)
{
	int id = (int)(intptr_t)arg;
	bool victim = id >= MUX_TASKS;
	char key[32], val[32];
	snprintf(key, sizeof(key), "key:%d", id);
	for (int i = 0; victim || i < MUX_ROUNDS; i++) {
		ASSERT(i < 1000000);
		int vlen = snprintf(val, sizeof(val), "%d.%d", id, i);
		const char *set[] = {"SET", key, val};
		const char *get[] = {"GET", key};
		size_t setl[] = {3, strlen(key), (size_t)vlen};
		redisReply *r;
		int err = urio_redis_pool_command(the_pool, &r, 3, set, setl);
		if (err == -ECANCELED && victim)
			return 0;
		ASSERT_EQ(err, 0);
		ASSERT(r->type == REDIS_REPLY_STATUS);
		urio_redis_reply_free(r);
		err = urio_redis_pool_command(the_pool, &r, 2, get, NULL);
		if (err == -ECANCELED && victim)
			return 0;
		ASSERT_EQ(err, 0);
		ASSERT(r->type == REDIS_REPLY_STRING && r->len == (size_t)vlen);
		ASSERT(memcmp(r->str, val, (size_t)vlen) == 0);
		urio_redis_reply_free(r);
		if (victim)
			atomic_fetch_add(&victim_rounds, 1);
	}
	return 0;
}

static void case_mux(void)
{
	urio_pool_opts po = {.max_size = 3};
	the_pool = urio_redis_pool_new("127.0.0.1", (uint16_t)redis_port, NULL,
				       &po);
	ASSERT(the_pool);
	atomic_store(&victim_rounds, 0);
	urio_task *victims[MUX_VICTIMS];
	for (int i = 0; i < MUX_VICTIMS; i++) {
		victims[i] = urio_spawn(mux_task, (void *)(intptr_t)(MUX_TASKS + i));
		ASSERT(victims[i]);
	}
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < MUX_TASKS; i++)
		ASSERT(urio_group_spawn(&g, mux_task, (void *)(intptr_t)i));
	/* cancel the victims while everybody's commands are in flight */
	POLL(atomic_load(&victim_rounds) >= MUX_VICTIMS);
	for (int i = 0; i < MUX_VICTIMS; i++) {
		ASSERT_EQ(urio_cancel(victims[i]), 0);
		urio_yield();
	}
	for (int i = 0; i < MUX_VICTIMS; i++)
		urio_join(victims[i], NULL);
	ASSERT_EQ(urio_group_wait(&g), 0);
	urio_pool_stats st;
	urio_pool_get_stats(urio_redis_pool_pool(the_pool), &st);
	ASSERT(st.created <= 3);
	ASSERT_EQ(st.broken, 0);
	ASSERT_EQ(st.in_use, 0);
	const char *ping[] = {"PING"};
	ASSERT_EQ(urio_redis_pool_command(the_pool, NULL, 1, ping, NULL), 0);
	ASSERT_EQ(urio_redis_pool_command(the_pool, NULL, 0, ping, NULL),
		  -EINVAL);
	ASSERT_EQ(urio_redis_pool_command(NULL, NULL, 1, ping, NULL), -EINVAL);
	urio_redis_pool_free(the_pool);
	the_pool = NULL;
}

/* --- cancelled in the middle of a command ------------------------------- */

static atomic_int blocked;

/* BLPOP on a list nobody fills: the server holds the reply back until the
 * task is cancelled. */
static intptr_t blpop_task(void *arg)
{
	urio_redis_pool *p = arg;
	urio_redis *c;
	int err = urio_redis_pool_acquire(p, &c);
	if (err < 0)
		return err;
	ASSERT_EQ(urio_redis_appendf(c, "BLPOP emptylist 0"), 0);
	ASSERT_EQ(urio_redis_flush(c), 0);
	atomic_store(&blocked, 1);
	redisReply *r;
	err = urio_redis_get_reply(c, &r);
	ASSERT(r == NULL);
	ASSERT_EQ(urio_redis_error(c), err);
	urio_redis_pool_release(p, c, err);
	return err;
}

/* Polls INFO clients (bounded) until it shows what. */
static void wait_blocked(urio_redis *c, const char *what)
{
	for (int i = 0;; i++) {
		redisReply *r;
		ASSERT(i < 10000);
		ASSERT_EQ(urio_redis_commandf(c, &r, "INFO clients"), 0);
		bool in = strstr(r->str, what) != NULL;
		urio_redis_reply_free(r);
		if (in)
			return;
		urio_sleep_ms(1);
	}
}

static void case_cancel_mid_command(void)
{
	urio_redis *c = conn();
	flushall(c);
	urio_pool_opts po = {.max_size = 2};
	urio_redis_pool *p = urio_redis_pool_new("127.0.0.1",
						 (uint16_t)redis_port, NULL, &po);
	ASSERT(p);
	atomic_store(&blocked, 0);
	urio_task *t = urio_spawn(blpop_task, p);
	ASSERT(t);
	POLL(atomic_load(&blocked));
	wait_blocked(c, "blocked_clients:1"); /* the server holds the BLPOP */
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t res;
	int jerr = urio_join(t, &res);
	ASSERT(jerr == -ECANCELED || res == -ECANCELED);
	urio_pool_stats st;
	urio_pool_get_stats(urio_redis_pool_pool(p), &st);
	ASSERT_EQ(st.broken, 1);
	ASSERT_EQ(st.in_use, 0);
	/* the pool goes on: the BLPOP's connection is gone (the server
	 * saw it close), its reply never anybody's */
	wait_blocked(c, "blocked_clients:0");
	ASSERT_EQ(urio_redis_commandf(c, NULL, "RPUSH emptylist x"), 0);
	redisReply *r;
	for (int i = 0; i < 20; i++) {
		const char *argv[] = {"LLEN", "emptylist"};
		ASSERT_EQ(urio_redis_pool_command(p, &r, 2, argv, NULL), 0);
		ASSERT_EQ(r->type, REDIS_REPLY_INTEGER);
		ASSERT_EQ(r->integer, 1);
		urio_redis_reply_free(r);
	}
	urio_pool_get_stats(urio_redis_pool_pool(p), &st);
	ASSERT_EQ(st.broken, 1);
	urio_redis_pool_free(p);
	urio_redis_close(c);
}

static intptr_t run_all(void *arg)
{
	(void)arg;
	case_basic();
	case_options();
	case_pipeline();
	case_pool();
	case_mux();
	case_cancel_mid_command();
	return 0;
}

int main(void)
{
	return redis_test_main(run_all);
}
