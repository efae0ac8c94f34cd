/* Pub/sub as an iterator against a real redis-server: N messages (binary,
 * NUL bytes included) reach each of M subscribers in order; the iteration
 * ends (0) when the subscriber unsubscribes itself or another task
 * unsubscribes it while it waits, and the connection is then usable;
 * pattern subscriptions; the server closing the connection gives the error
 * once, then the end; a cancelled subscriber likewise; breaking out of the
 * loop closes the iterator. Each case on 1 and 2 workers. */
#include <errno.h>
#include <urio.h>
#include <urio/redis.h>

#include "redis_server.h"

#define SUBS 4
#define MSGS 200

static urio_redis *conn(void)
{
	urio_redis *c = NULL;
	ASSERT_EQ(urio_redis_connect("127.0.0.1", (uint16_t)redis_port, NULL,
				     &c), 0);
	return c;
}

static atomic_int ready;

/* Message i: "m<i>" then a NUL and the byte i. */
static size_t payload(char *buf, int i)
{
	int n = sprintf(buf, "m%d", i);
	buf[n] = 0;
	buf[n + 1] = (char)i;
	return (size_t)n + 2;
}

struct subscriber {
	int id;
	bool self_unsub; /* unsubscribes itself after MSGS, else waits for it */
	int got;
	int end;         /* what the loop ended on: 0 */
	urio_iter *it;
};

static intptr_t subscriber(void *arg)
{
	struct subscriber *s = arg;
	urio_redis *c = conn();
	const char *chans[] = {"ch", "other"};
	s->it = urio_redis_subscribe(c, false, 2, chans, NULL);
	ASSERT(s->it);
	ASSERT(!urio_redis_clean(c));
	atomic_fetch_add(&ready, 1);
	int r;
	urio_redis_msg *m;
	URIO_FOREACH(r, m, s->it)
	{
		ASSERT_EQ(r, 1);
		char want[32];
		size_t n = payload(want, s->got);
		ASSERT_EQ(m->channel_len, 2);
		ASSERT(memcmp(m->channel, "ch", 2) == 0);
		ASSERT(m->pattern == NULL);
		ASSERT_EQ(m->data_len, n);
		ASSERT(memcmp(m->data, want, n) == 0);
		if (++s->got == MSGS && s->self_unsub)
			ASSERT_EQ(urio_redis_unsubscribe(s->it, 0, NULL, NULL),
				  0);
	}
	s->end = r;
	/* subscribed to nothing: an ordinary connection again */
	ASSERT(urio_redis_clean(c));
	redisReply *rep;
	ASSERT_EQ(urio_redis_commandf(c, &rep, "PING"), 0);
	ASSERT(rep->type == REDIS_REPLY_STATUS && !strcmp(rep->str, "PONG"));
	urio_redis_reply_free(rep);
	urio_redis_close(c);
	return 0;
}

static void case_fanout(void)
{
	urio_redis *pub = conn();
	struct subscriber subs[SUBS];
	urio_task *t[SUBS];
	atomic_store(&ready, 0);
	for (int i = 0; i < SUBS; i++) {
		subs[i] = (struct subscriber){.id = i, .self_unsub = i % 2 == 0,
					      .end = -1};
		t[i] = urio_spawn(subscriber, &subs[i]);
		ASSERT(t[i]);
	}
	POLL(atomic_load(&ready) == SUBS);
	for (int i = 0; i < MSGS; i++) {
		char buf[32];
		size_t n = payload(buf, i);
		redisReply *r;
		ASSERT_EQ(urio_redis_commandf(pub, &r, "PUBLISH ch %b", buf, n),
			  0);
		ASSERT_EQ(r->integer, SUBS);
		urio_redis_reply_free(r);
	}
	/* the odd ones are unsubscribed from here, while they wait */
	for (int i = 1; i < SUBS; i += 2) {
		POLL(subs[i].got == MSGS);
		const char *ch[] = {"ch"};
		ASSERT_EQ(urio_redis_unsubscribe(subs[i].it, 1, ch, NULL), 0);
		/* still on "other": it goes on until that one goes too */
		ASSERT_EQ(urio_redis_unsubscribe(subs[i].it, 0, NULL, NULL), 0);
	}
	for (int i = 0; i < SUBS; i++) {
		ASSERT_EQ(urio_join(t[i], NULL), 0);
		ASSERT_EQ(subs[i].got, MSGS);
		ASSERT_EQ(subs[i].end, 0);
	}
	urio_redis_close(pub);
}

static void case_patterns(void)
{
	urio_redis *pub = conn(), *c = conn();
	const char *pat[] = {"news.*"};
	urio_iter *it = urio_redis_subscribe(c, true, 1, pat, NULL);
	ASSERT(it);
	ASSERT_EQ(urio_redis_commandf(pub, NULL, "PUBLISH news.a one"), 0);
	ASSERT_EQ(urio_redis_commandf(pub, NULL, "PUBLISH sport.a no"), 0);
	ASSERT_EQ(urio_redis_commandf(pub, NULL, "PUBLISH news.b two"), 0);
	urio_redis_msg *m;
	ASSERT_EQ(urio_iter_next(it, (void **)&m), 1);
	ASSERT(m->pattern && m->pattern_len == 6 &&
	       !memcmp(m->pattern, "news.*", 6));
	ASSERT(m->channel_len == 6 && !memcmp(m->channel, "news.a", 6));
	ASSERT(m->data_len == 3 && !memcmp(m->data, "one", 3));
	ASSERT_EQ(urio_iter_next(it, (void **)&m), 1);
	ASSERT(m->data_len == 3 && !memcmp(m->data, "two", 3));
	ASSERT_EQ(urio_redis_unsubscribe(it, 1, pat, NULL), 0);
	ASSERT_EQ(urio_iter_next(it, (void **)&m), 0);
	ASSERT_EQ(urio_iter_next(it, (void **)&m), 0);
	urio_iter_close(it);
	ASSERT(urio_redis_clean(c));
	urio_redis_close(c);
	urio_redis_close(pub);
}

/* A subscriber that records how its loop went: the results it saw. */
struct waiter {
	urio_redis *c;
	int first;  /* the first result of next */
	int second; /* the one after it */
};

static intptr_t wait_one(void *arg)
{
	struct waiter *w = arg;
	const char *ch[] = {"quiet"};
	urio_iter *it = urio_redis_subscribe(w->c, false, 1, ch, NULL);
	ASSERT(it);
	atomic_fetch_add(&ready, 1);
	void *m;
	w->first = urio_iter_next(it, &m);
	w->second = urio_iter_next(it, &m);
	urio_iter_close(it);
	return 0;
}

static void case_close_cancel(void)
{
	urio_redis *c = conn();
	/* the server closes the connection: the error once, then the end */
	struct waiter w = {.c = conn(), .first = 1, .second = 1};
	atomic_store(&ready, 0);
	urio_task *t = urio_spawn(wait_one, &w);
	ASSERT(t);
	POLL(atomic_load(&ready) == 1);
	redisReply *r;
	ASSERT_EQ(urio_redis_commandf(c, &r, "CLIENT KILL TYPE pubsub"), 0);
	ASSERT_EQ(r->integer, 1);
	urio_redis_reply_free(r);
	ASSERT_EQ(urio_join(t, NULL), 0);
	ASSERT_EQ(w.first, -ECONNRESET);
	ASSERT_EQ(w.second, 0);
	ASSERT(urio_redis_error(w.c) < 0);
	ASSERT_EQ(urio_redis_commandf(w.c, NULL, "PING"), -ENOTCONN);
	urio_redis_close(w.c);
	/* the subscriber is cancelled */
	w = (struct waiter){.c = conn(), .first = 1, .second = 1};
	atomic_store(&ready, 0);
	t = urio_spawn(wait_one, &w);
	ASSERT(t);
	POLL(atomic_load(&ready) == 1);
	ASSERT_EQ(urio_cancel(t), 0);
	urio_join(t, NULL);
	ASSERT_EQ(w.first, -ECANCELED);
	ASSERT_EQ(w.second, 0);
	ASSERT(!urio_redis_clean(w.c));
	urio_redis_close(w.c);
	/* a consumer that breaks out early: the iterator is closed and the
	 * connection, still subscribed, is not clean */
	urio_redis *s = conn();
	const char *ch[] = {"br"};
	int n = 0, res;
	urio_redis_msg *m;
	urio_iter *it = urio_redis_subscribe(s, false, 1, ch, NULL);
	ASSERT(it);
	ASSERT_EQ(urio_redis_commandf(c, NULL, "PUBLISH br x"), 0);
	ASSERT_EQ(urio_redis_commandf(c, NULL, "PUBLISH br y"), 0);
	URIO_FOREACH(res, m, it)
	{
		ASSERT_EQ(res, 1);
		if (++n == 1)
			break;
	}
	ASSERT_EQ(n, 1);
	ASSERT(!urio_redis_clean(s));
	ASSERT_EQ(urio_redis_commandf(s, NULL, "PING"), -ENOTCONN);
	urio_redis_close(s);
	/* bad input */
	errno = 0;
	ASSERT(!urio_redis_subscribe(NULL, false, 1, ch, NULL) &&
	       errno == EINVAL);
	ASSERT(!urio_redis_subscribe(c, false, 0, ch, NULL) && errno == EINVAL);
	const char *nul[] = {NULL};
	ASSERT(!urio_redis_subscribe(c, false, 1, nul, NULL) &&
	       errno == EINVAL);
	ASSERT_EQ(urio_redis_unsubscribe(NULL, 0, NULL, NULL), -EINVAL);
	ASSERT(urio_redis_clean(c));
	urio_redis_close(c);
}

static intptr_t run_all(void *arg)
{
	(void)arg;
	case_fanout();
	case_patterns();
	case_close_cancel();
	return 0;
}

int main(void)
{
	return redis_test_main(run_all);
}
