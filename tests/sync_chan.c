/* Bounded channel: order, a million items through 8 producers and 8
 * consumers with nothing lost or duplicated (every item's bit is set once),
 * close with senders and receivers blocked on both sides, close in
 * mid-stream, cancelled and timed-out senders and receivers that pass
 * their slot or item on (and a storm of them, then the sums compared),
 * plain-thread senders, bad arguments. */
#include <errno.h>
#include <pthread.h>
#include <urio.h>

#include "sync_cases.h"

static urio_chan *ch;

static intptr_t chan_basic(void *arg)
{
	ASSERT((ch = urio_chan_new(sizeof(int), 4)));
	int v;
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(urio_chan_try_send(ch, &i), 0);
	ASSERT_EQ(urio_chan_try_send(ch, &v), -EAGAIN);
	ASSERT_EQ(urio_chan_send_timeout(ch, &v, 0), -ETIMEDOUT);
	ASSERT_EQ(urio_chan_len(ch), 4);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(urio_chan_recv(ch, &v), 1);
		ASSERT_EQ(v, i);
	}
	int five = 5;
	ASSERT_EQ(urio_chan_send(ch, &five), 0);
	for (int i = 2; i < 4; i++) {
		ASSERT_EQ(urio_chan_try_recv(ch, &v), 1);
		ASSERT_EQ(v, i);
	}
	ASSERT_EQ(urio_chan_recv_timeout(ch, &v, 100), 1);
	ASSERT_EQ(v, 5);
	ASSERT_EQ(urio_chan_try_recv(ch, &v), -EAGAIN);
	ASSERT_EQ(urio_chan_recv_timeout(ch, &v, 0), -ETIMEDOUT);
	ASSERT_EQ(urio_chan_send(ch, &five), 0);
	ASSERT_EQ(urio_chan_close(ch), 0);
	ASSERT_EQ(urio_chan_close(ch), -EALREADY);
	ASSERT_EQ(urio_chan_try_send(ch, &five), -EPIPE);
	ASSERT_EQ(urio_chan_send(ch, &five), -EPIPE);
	ASSERT_EQ(urio_chan_recv(ch, &v), 1); /* drains first */
	ASSERT_EQ(v, 5);
	ASSERT_EQ(urio_chan_recv(ch, &v), 0); /* then EOF */
	ASSERT_EQ(urio_chan_try_recv(ch, &v), 0);
	ASSERT_EQ(urio_chan_recv_timeout(ch, &v, 5), 0);
	urio_chan_free(ch);
	return 0;
}

static intptr_t chan_invalid(void *arg)
{
	errno = 0;
	ASSERT(!urio_chan_new(0, 4));
	ASSERT_EQ(errno, EINVAL);
	ASSERT(!urio_chan_new(4, 0));
	ASSERT(!urio_chan_new(SIZE_MAX / 2, 4));
	ASSERT_EQ(errno, EINVAL);
	int v = 0;
	ASSERT_EQ(urio_chan_send(NULL, &v), -EINVAL);
	ASSERT_EQ(urio_chan_try_send(NULL, &v), -EINVAL);
	ASSERT_EQ(urio_chan_send_timeout(NULL, &v, 1), -EINVAL);
	ASSERT_EQ(urio_chan_recv(NULL, &v), -EINVAL);
	ASSERT_EQ(urio_chan_try_recv(NULL, &v), -EINVAL);
	ASSERT_EQ(urio_chan_recv_timeout(NULL, &v, 1), -EINVAL);
	ASSERT_EQ(urio_chan_close(NULL), -EINVAL);
	ASSERT_EQ(urio_chan_len(NULL), 0);
	ASSERT_EQ(urio_chan_senders(NULL), 0);
	ASSERT_EQ(urio_chan_receivers(NULL), 0);
	urio_chan_free(NULL);
	ASSERT((ch = urio_chan_new(sizeof(v), 1)));
	ASSERT_EQ(urio_chan_send(ch, NULL), -EINVAL);
	ASSERT_EQ(urio_chan_recv(ch, NULL), -EINVAL);
	urio_chan_free(ch);
	return 0;
}

/* --- a million items, 8 producers, 8 consumers --------------------------- */
#define NPROD 8
#define NCONS 8
/* TSan runs this path ~20x slower: 100k items there */
#if UNDER_TSAN
#define ITEMS_MAX 100000u
#else
#define ITEMS_MAX 1000000u
#endif
#define ITEMS QUICK(ITEMS_MAX, 4096u)
static _Atomic uint64_t seen[ITEMS_MAX / 64 + 1];
static atomic_ullong recv_sum, recv_count, dup_or_bad;

static intptr_t producer(void *arg)
{
	uint64_t k = (uint64_t)(intptr_t)arg;
	for (uint64_t i = k; i < ITEMS; i += NPROD) {
		int r = urio_chan_send(ch, &i);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Marks item v received; counts it as bad if it was already, or is out of
 * range. */
static void mark(uint64_t v)
{
	if (v >= ITEMS) {
		atomic_fetch_add(&dup_or_bad, 1);
		return;
	}
	uint64_t bit = 1ull << (v % 64);
	if (atomic_fetch_or(&seen[v / 64], bit) & bit)
		atomic_fetch_add(&dup_or_bad, 1);
	atomic_fetch_add(&recv_sum, v);
	atomic_fetch_add(&recv_count, 1);
}

static intptr_t consumer(void *arg)
{
	uint64_t v;
	int r;
	while ((r = urio_chan_recv(ch, &v)) == 1)
		mark(v);
	return r; /* 0 at EOF */
}

static void reset_marks(void)
{
	memset((void *)seen, 0, sizeof(seen));
	atomic_store(&recv_sum, 0);
	atomic_store(&recv_count, 0);
	atomic_store(&dup_or_bad, 0);
}

static intptr_t chan_mpmc_checksum(void *arg)
{
	urio_task *p[NPROD], *c[NCONS];
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 64)));
	reset_marks();
	for (intptr_t i = 0; i < NCONS; i++)
		ASSERT((c[i] = urio_spawn(consumer, NULL)));
	for (intptr_t i = 0; i < NPROD; i++)
		ASSERT((p[i] = urio_spawn(producer, (void *)i)));
	for (int i = 0; i < NPROD; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(p[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	ASSERT_EQ(urio_chan_close(ch), 0);
	for (int i = 0; i < NCONS; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(c[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	ASSERT_EQ(atomic_load(&dup_or_bad), 0);
	ASSERT_EQ(atomic_load(&recv_count), ITEMS);
	ASSERT_EQ(atomic_load(&recv_sum), (uint64_t)ITEMS * (ITEMS - 1) / 2);
	ASSERT_EQ(urio_chan_len(ch), 0);
	urio_chan_free(ch);
	return 0;
}

/* --- close with both sides blocked --------------------------------------- */
static intptr_t blocked_sender(void *arg)
{
	uint64_t v = (uint64_t)(intptr_t)arg;
	return urio_chan_send(ch, &v);
}

static intptr_t blocked_receiver(void *arg)
{
	uint64_t v;
	int r = urio_chan_recv(ch, &v);
	if (r == 1)
		mark(v);
	return r;
}

static intptr_t chan_close_blocked(void *arg)
{
	urio_task *s[8], *r[8];
	reset_marks();
	/* senders blocked on a full channel get -EPIPE; what was queued is
	 * drained, then EOF */
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 4)));
	for (uint64_t i = 0; i < 4; i++)
		ASSERT_EQ(urio_chan_send(ch, &i), 0);
	for (intptr_t i = 0; i < 8; i++)
		ASSERT((s[i] = urio_spawn(blocked_sender, (void *)(i + 100))));
	POLL(urio_chan_senders(ch) == 8);
	ASSERT_EQ(urio_chan_close(ch), 0);
	for (int i = 0; i < 8; i++) {
		intptr_t res = 0;
		ASSERT_EQ(urio_join(s[i], &res), 0);
		ASSERT_EQ(res, -EPIPE);
	}
	for (int i = 0; i < 8; i++)
		ASSERT((r[i] = urio_spawn(blocked_receiver, NULL)));
	int items = 0;
	for (int i = 0; i < 8; i++) {
		intptr_t res = -1;
		ASSERT_EQ(urio_join(r[i], &res), 0);
		ASSERT(res == 0 || res == 1);
		items += res;
	}
	ASSERT_EQ(items, 4);
	ASSERT_EQ(atomic_load(&recv_sum), 0 + 1 + 2 + 3);
	urio_chan_free(ch);

	/* receivers blocked on an empty channel get EOF */
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 4)));
	for (int i = 0; i < 8; i++)
		ASSERT((r[i] = urio_spawn(blocked_receiver, NULL)));
	POLL(urio_chan_receivers(ch) == 8);
	ASSERT_EQ(urio_chan_close(ch), 0);
	for (int i = 0; i < 8; i++) {
		intptr_t res = -1;
		ASSERT_EQ(urio_join(r[i], &res), 0);
		ASSERT_EQ(res, 0);
	}
	urio_chan_free(ch);
	return 0;
}

/* Close in mid-stream: every send that returned 0 is received once, and
 * nothing else is. */
#define MID_PER_PROD (ITEMS / NPROD)
static atomic_ullong sent_sum, sent_count;

static intptr_t mid_producer(void *arg)
{
	uint64_t k = (uint64_t)(intptr_t)arg;
	for (uint64_t i = 0; i < MID_PER_PROD; i++) {
		uint64_t v = k * MID_PER_PROD + i;
		int r = urio_chan_send(ch, &v);
		if (r == -EPIPE)
			return 0;
		if (r < 0)
			return r;
		atomic_fetch_add(&sent_sum, v);
		atomic_fetch_add(&sent_count, 1);
	}
	return 0;
}

static intptr_t chan_close_midstream(void *arg)
{
	urio_task *p[NPROD], *c[NCONS];
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 8)));
	reset_marks();
	atomic_store(&sent_sum, 0);
	atomic_store(&sent_count, 0);
	for (intptr_t i = 0; i < NCONS; i++)
		ASSERT((c[i] = urio_spawn(consumer, NULL)));
	for (intptr_t i = 0; i < NPROD; i++)
		ASSERT((p[i] = urio_spawn(mid_producer, (void *)i)));
	POLL(atomic_load(&recv_count) >= 1000);
	ASSERT_EQ(urio_chan_close(ch), 0);
	for (int i = 0; i < NPROD; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(p[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	for (int i = 0; i < NCONS; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(c[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	ASSERT_EQ(atomic_load(&dup_or_bad), 0);
	ASSERT_EQ(atomic_load(&recv_count), atomic_load(&sent_count));
	ASSERT_EQ(atomic_load(&recv_sum), atomic_load(&sent_sum));
	urio_chan_free(ch);
	return 0;
}

/* --- named failure paths ------------------------------------------------- */
static intptr_t chan_recv_cancelled(void *arg)
{
	reset_marks();
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 2)));
	urio_task *a = urio_spawn(blocked_receiver, NULL);
	POLL(urio_chan_receivers(ch) == 1);
	urio_cancel(a);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(a, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(urio_chan_receivers(ch), 0);
	uint64_t v = 7;
	ASSERT_EQ(urio_chan_send(ch, &v), 0);
	ASSERT_EQ(urio_chan_len(ch), 1); /* nobody took it away */
	v = 0;
	ASSERT_EQ(urio_chan_try_recv(ch, &v), 1);
	ASSERT_EQ(v, 7);
	urio_chan_free(ch);
	return 0;
}

/* an item kept for a receiver as its cancel comes goes to the next one
 * (exact on one worker) */
static intptr_t chan_recv_cancel_after_grant(void *arg)
{
	reset_marks();
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 2)));
	urio_task *a = urio_spawn(blocked_receiver, NULL);
	POLL(urio_chan_receivers(ch) == 1);
	urio_task *b = urio_spawn(blocked_receiver, NULL);
	POLL(urio_chan_receivers(ch) == 2);
	uint64_t v = 42;
	ASSERT_EQ(urio_chan_send(ch, &v), 0);
	urio_cancel(a);
	intptr_t ra = 0, rb = 0;
	urio_join(a, &ra);
	if ((intptr_t)arg == 1)
		ASSERT_EQ(ra, -ECANCELED);
	if (ra == -ECANCELED) {
		ASSERT_EQ(urio_join(b, &rb), 0);
		ASSERT_EQ(rb, 1);
	} else {
		ASSERT_EQ(ra, 1);
		ASSERT_EQ(urio_chan_close(ch), 0);
		ASSERT_EQ(urio_join(b, &rb), 0);
		ASSERT_EQ(rb, 0);
	}
	ASSERT_EQ(atomic_load(&recv_count), 1);
	ASSERT_EQ(atomic_load(&recv_sum), 42);
	urio_chan_free(ch);
	return 0;
}

static intptr_t chan_send_cancelled(void *arg)
{
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 1)));
	uint64_t v = 1;
	ASSERT_EQ(urio_chan_send(ch, &v), 0);
	urio_task *a = urio_spawn(blocked_sender, (void *)2);
	POLL(urio_chan_senders(ch) == 1);
	urio_cancel(a);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(a, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(urio_chan_try_recv(ch, &v), 1);
	ASSERT_EQ(v, 1);
	ASSERT_EQ(urio_chan_try_recv(ch, &v), -EAGAIN); /* 2 never went in */
	urio_chan_free(ch);
	return 0;
}

/* a slot kept for a sender as its cancel comes goes to the next sender
 * (exact on one worker) */
static intptr_t chan_send_cancel_after_grant(void *arg)
{
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 1)));
	uint64_t v = 1;
	ASSERT_EQ(urio_chan_send(ch, &v), 0);
	urio_task *a = urio_spawn(blocked_sender, (void *)2);
	POLL(urio_chan_senders(ch) == 1);
	urio_task *b = urio_spawn(blocked_sender, (void *)3);
	POLL(urio_chan_senders(ch) == 2);
	ASSERT_EQ(urio_chan_recv(ch, &v), 1);
	ASSERT_EQ(v, 1);
	urio_cancel(a);
	intptr_t ra = 0, rb = 0;
	urio_join(a, &ra);
	if ((intptr_t)arg == 1)
		ASSERT_EQ(ra, -ECANCELED);
	if (ra == -ECANCELED) {
		ASSERT_EQ(urio_join(b, &rb), 0);
		ASSERT_EQ(rb, 0);
		ASSERT_EQ(urio_chan_recv(ch, &v), 1);
		ASSERT_EQ(v, 3);
	} else { /* a sent before the cancel: b still waits */
		ASSERT_EQ(ra, 0);
		ASSERT_EQ(urio_chan_recv(ch, &v), 1);
		ASSERT_EQ(v, 2);
		ASSERT_EQ(urio_chan_recv(ch, &v), 1);
		ASSERT_EQ(v, 3);
		ASSERT_EQ(urio_join(b, &rb), 0);
	}
	ASSERT_EQ(urio_chan_try_recv(ch, &v), -EAGAIN);
	urio_chan_free(ch);
	return 0;
}

static intptr_t chan_recv_timeout(void *arg)
{
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 1)));
	uint64_t v = 1;
	ASSERT_EQ(urio_chan_recv_timeout(ch, &v, 5), -ETIMEDOUT);
	ASSERT_EQ(urio_chan_receivers(ch), 0);
	ASSERT_EQ(urio_chan_send(ch, &v), 0); /* nobody kept waiting for it */
	ASSERT_EQ(urio_chan_len(ch), 1);
	urio_chan_free(ch);
	return 0;
}

static intptr_t chan_send_timeout(void *arg)
{
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 1)));
	uint64_t v = 1, w = 2;
	ASSERT_EQ(urio_chan_send(ch, &v), 0);
	ASSERT_EQ(urio_chan_send_timeout(ch, &w, 5), -ETIMEDOUT);
	ASSERT_EQ(urio_chan_senders(ch), 0);
	urio_deadline d;
	urio_timeout_enter(&d, 5);
	ASSERT_EQ(urio_chan_send(ch, &w), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT_EQ(urio_chan_try_recv(ch, &v), 1);
	ASSERT_EQ(v, 1);
	ASSERT_EQ(urio_chan_try_recv(ch, &v), -EAGAIN); /* 2 never went in */
	urio_chan_free(ch);
	return 0;
}

/* a sender blocked at close and one after it both get -EPIPE */
static intptr_t chan_send_closed(void *arg)
{
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 1)));
	uint64_t v = 1;
	ASSERT_EQ(urio_chan_send(ch, &v), 0);
	urio_task *a = urio_spawn(blocked_sender, (void *)2);
	POLL(urio_chan_senders(ch) == 1);
	ASSERT_EQ(urio_chan_close(ch), 0);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(a, &r), 0);
	ASSERT_EQ(r, -EPIPE);
	ASSERT_EQ(urio_chan_send(ch, &v), -EPIPE);
	ASSERT_EQ(urio_chan_send_timeout(ch, &v, 5), -EPIPE);
	ASSERT_EQ(urio_chan_try_send(ch, &v), -EPIPE);
	urio_chan_free(ch);
	return 0;
}

/* a receiver blocked at close gets EOF; later ones drain, then EOF */
static intptr_t chan_recv_eof(void *arg)
{
	reset_marks();
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 2)));
	urio_task *a = urio_spawn(blocked_receiver, NULL);
	POLL(urio_chan_receivers(ch) == 1);
	ASSERT_EQ(urio_chan_close(ch), 0);
	intptr_t r = -1;
	ASSERT_EQ(urio_join(a, &r), 0);
	ASSERT_EQ(r, 0);
	urio_chan_free(ch);
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 2)));
	uint64_t v = 9;
	ASSERT_EQ(urio_chan_send(ch, &v), 0);
	ASSERT_EQ(urio_chan_close(ch), 0);
	ASSERT_EQ(urio_chan_recv_timeout(ch, &v, 5), 1);
	ASSERT_EQ(v, 9);
	ASSERT_EQ(urio_chan_recv(ch, &v), 0);
	ASSERT_EQ(urio_chan_recv_timeout(ch, &v, 5), 0);
	urio_chan_free(ch);
	return 0;
}

/* --- a storm: senders and receivers that time out or are cancelled ------ */
#define STORM_TASKS_MAX 64
#define STORM_TASKS QUICK(STORM_TASKS_MAX, 16)
#define STORM_ITERS QUICK(300, 30)
static atomic_ullong storm_recv_sum, storm_recv_count;

static intptr_t storm_sender(void *arg)
{
	uint64_t k = (uint64_t)(intptr_t)arg;
	for (uint64_t i = 0; i < STORM_ITERS; i++) {
		uint64_t v = k * STORM_ITERS + i + 1;
		int r = i % 3 ? urio_chan_send(ch, &v)
			      : urio_chan_send_timeout(ch, &v, 1);
		if (r == -ECANCELED || r == -EPIPE)
			return 0;
		if (r == 0) {
			atomic_fetch_add(&sent_sum, v);
			atomic_fetch_add(&sent_count, 1);
		}
	}
	return 0;
}

static intptr_t storm_receiver(void *arg)
{
	for (int i = 0;; i++) {
		uint64_t v;
		int r = i % 3 ? urio_chan_recv(ch, &v)
			      : urio_chan_recv_timeout(ch, &v, 1);
		if (r == 0 || r == -ECANCELED)
			return 0;
		if (r == 1) {
			atomic_fetch_add(&storm_recv_sum, v);
			atomic_fetch_add(&storm_recv_count, 1);
		}
	}
}

static intptr_t chan_cancel_storm(void *arg)
{
	urio_task *s[STORM_TASKS_MAX], *r[STORM_TASKS_MAX];
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 4)));
	atomic_store(&sent_sum, 0);
	atomic_store(&sent_count, 0);
	atomic_store(&storm_recv_sum, 0);
	atomic_store(&storm_recv_count, 0);
	for (intptr_t i = 0; i < STORM_TASKS; i++) {
		ASSERT((s[i] = urio_spawn(storm_sender, (void *)i)));
		ASSERT((r[i] = urio_spawn(storm_receiver, NULL)));
	}
	/* cancel half of each side while they run */
	for (int i = 0; i < STORM_TASKS; i += 2) {
		urio_yield();
		urio_cancel(s[i]);
		urio_cancel(r[i + 1]);
	}
	for (int i = 0; i < STORM_TASKS; i++)
		urio_join(s[i], NULL);
	ASSERT_EQ(urio_chan_close(ch), 0);
	for (int i = 0; i < STORM_TASKS; i++)
		urio_join(r[i], NULL);
	/* receivers cancelled may leave items behind: drain them */
	uint64_t v;
	while (urio_chan_try_recv(ch, &v) == 1) {
		atomic_fetch_add(&storm_recv_sum, v);
		atomic_fetch_add(&storm_recv_count, 1);
	}
	ASSERT_EQ(atomic_load(&storm_recv_count), atomic_load(&sent_count));
	ASSERT_EQ(atomic_load(&storm_recv_sum), atomic_load(&sent_sum));
	ASSERT_EQ(urio_chan_senders(ch), 0);
	ASSERT_EQ(urio_chan_receivers(ch), 0);
	urio_chan_free(ch);
	return 0;
}

/* --- plain threads send (and block on a full channel) ------------------- */
#define THR_SENDERS 3
#define THR_ITEMS QUICK(3000, 200)

static atomic_int threads_done;

static void *thread_sender(void *arg)
{
	uint64_t k = (uint64_t)(intptr_t)arg;
	for (uint64_t i = k; i < THR_SENDERS * THR_ITEMS; i += THR_SENDERS)
		if (urio_chan_send(ch, &i) < 0)
			return (void *)1;
	atomic_fetch_add(&threads_done, 1);
	return NULL;
}

static intptr_t chan_thread_send(void *arg)
{
	pthread_t th[THR_SENDERS];
	urio_task *c[4];
	ASSERT((ch = urio_chan_new(sizeof(uint64_t), 4)));
	reset_marks();
	atomic_store(&threads_done, 0);
	for (int i = 0; i < 4; i++)
		ASSERT((c[i] = urio_spawn(consumer, NULL)));
	for (intptr_t i = 0; i < THR_SENDERS; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, thread_sender, (void *)i),
			  0);
	/* the consumers need this worker: wait as a task, then join */
	POLL(atomic_load(&threads_done) == THR_SENDERS);
	for (int i = 0; i < THR_SENDERS; i++) {
		void *res = (void *)1;
		pthread_join(th[i], &res);
		ASSERT(res == NULL);
	}
	ASSERT_EQ(urio_chan_close(ch), 0);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(urio_join(c[i], NULL), 0);
	const uint64_t n = THR_SENDERS * THR_ITEMS;
	ASSERT_EQ(atomic_load(&dup_or_bad), 0);
	ASSERT_EQ(atomic_load(&recv_count), n);
	ASSERT_EQ(atomic_load(&recv_sum), n * (n - 1) / 2);
	urio_chan_free(ch);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct sync_case cases[] = {
		CASE(chan_basic),
		CASE(chan_invalid),
		CASE(chan_mpmc_checksum),
		CASE(chan_close_blocked),
		CASE(chan_close_midstream),
		CASE(chan_recv_cancelled),
		CASE(chan_recv_cancel_after_grant),
		CASE(chan_send_cancelled),
		CASE(chan_send_cancel_after_grant),
		CASE(chan_recv_timeout),
		CASE(chan_send_timeout),
		CASE(chan_send_closed),
		CASE(chan_recv_eof),
		CASE(chan_cancel_storm),
		CASE(chan_thread_send),
	};
	return run_cases("sync_chan", cases, sizeof(cases) / sizeof(cases[0]),
			 argc, argv);
}
