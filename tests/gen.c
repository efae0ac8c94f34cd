/* Generators: items in order, the end, the generator's error, early close
 * running the generator's cleanup (urio_with exits that suspend), also
 * before the first item and in a cancelled consumer, a consumer cancelled
 * while the generator waits in I/O, generators and consumers doing I/O on
 * both sides on a 2-worker runtime, nested generators, adapters over a
 * generator, bad arguments, a generator cancelled from outside while
 * parked in yield, next and close from tasks other than the one that made
 * the generator (and overlapping calls refused). Each case on 1 and 2
 * workers; `test_gen case` runs one; in quick mode (fuzz seeds,
 * sync_cases.h) on one 2-worker runtime with fewer items. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>
#include <urio.h>

#include "gen_res.h"
#include "sync_cases.h"

struct count {
	int n;        /* items to yield */
	int fail;     /* return this after them (0: end) */
	int yielded;
	int last_yield; /* result of the last urio_gen_yield */
	bool started;
};

static int counter(urio_gen *g, void *arg)
{
	struct count *c = arg;
	c->started = true;
	for (int i = 0; i < c->n; i++) {
		int r = urio_gen_yield(g, (void *)(intptr_t)(i + 1));
		c->last_yield = r;
		if (r < 0)
			return r;
		c->yielded++;
	}
	return c->fail;
}

static intptr_t basic(void *arg)
{
	struct count c = {.n = 100};
	urio_gen *g = urio_gen_new(counter, &c);
	ASSERT(g);
	ASSERT(!c.started); /* lazy: runs when first asked */
	void *item;
	for (int i = 0; i < 100; i++) {
		ASSERT_EQ(urio_gen_next(g, &item), 1);
		ASSERT_EQ((intptr_t)item, i + 1);
	}
	ASSERT_EQ(urio_gen_next(g, &item), 0);
	ASSERT_EQ(urio_gen_next(g, &item), 0);
	urio_gen_close(g);

	/* the generator's error, once, then the end */
	c = (struct count){.n = 3, .fail = -EIO};
	g = urio_gen_new(counter, &c);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(urio_gen_next(g, &item), 1);
	ASSERT_EQ(urio_gen_next(g, &item), -EIO);
	ASSERT_EQ(urio_gen_next(g, &item), 0);
	urio_gen_close(g);

	/* closed before its first item: fn never runs */
	c = (struct count){.n = 3};
	g = urio_gen_new(counter, &c);
	urio_gen_close(g);
	ASSERT(!c.started);
	return 0;
}

/* --- cleanup on early close ----------------------------------------------- */

struct guarded {
	urio_gen *g;
	struct res *r;
	int yields; /* results of yields, -ECANCELED expected last */
	int last;
};

static int guarded_body(void *res, void *ctx)
{
	struct guarded *gd = ctx;
	for (int i = 0;; i++) {
		/* I/O between items: the generator suspends on its own */
		if (i % 2)
			ASSERT_EQ(urio_nop(), 0);
		int r = urio_gen_yield(gd->g, (void *)(intptr_t)i);
		gd->last = r;
		if (r < 0)
			return r;
		gd->yields++;
	}
}

static int guarded(urio_gen *g, void *arg)
{
	struct guarded *gd = arg;
	gd->g = g;
	return urio_with(&res_ops, gd->r, guarded_body, gd);
}

static intptr_t early_close(void *arg)
{
	struct res r = {0};
	struct guarded gd = {.r = &r};
	urio_gen *g = urio_gen_new(guarded, &gd);
	ASSERT(g);
	urio_iter *it = urio_gen_iter(g);
	ASSERT(it);
	int res, n = 0;
	void *item;
	URIO_FOREACH(res, item, it)
	{
		ASSERT_EQ(res, 1);
		ASSERT_EQ((intptr_t)item, n);
		if (++n == 5)
			break; /* closes the generator */
	}
	ASSERT_EQ(atomic_load(&r.exited), 1);
	ASSERT_EQ(gd.last, -ECANCELED);
	ASSERT_EQ(r.exit_err, -ECANCELED);
	ASSERT_EQ(r.exit_sleep, 0);
	return 0;
}

/* The consumer is cancelled, then closes: the cleanup still runs. */
static intptr_t cancelled_closer(void *arg)
{
	struct res *r = arg;
	struct guarded gd = {.r = r};
	urio_gen *g = urio_gen_new(guarded, &gd);
	void *item;
	ASSERT_EQ(urio_gen_next(g, &item), 1);
	ASSERT_EQ(urio_gen_next(g, &item), 1);
	urio_cancel(urio_self());
	ASSERT_EQ(urio_gen_next(g, &item), -ECANCELED);
	urio_gen_close(g);
	ASSERT_EQ(gd.last, -ECANCELED);
	return 0;
}

/* A generator stuck in I/O while its consumer is cancelled. */
static int sleep_body(void *res, void *ctx)
{
	struct guarded *gd = ctx;
	gd->last = urio_sleep_ms(20000); /* cut short by the cancel */
	return gd->last;
}

static int sleeper(urio_gen *g, void *arg)
{
	struct guarded *gd = arg;
	gd->g = g;
	ASSERT_EQ(urio_gen_yield(g, NULL), 0);
	return urio_with(&res_ops, gd->r, sleep_body, gd);
}

static atomic_int waiting;

static bool dump_has(const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ASSERT(f);
	urio_dump_tasks(f);
	fclose(f);
	bool found = strstr(buf, what) != NULL;
	free(buf);
	return found;
}

static intptr_t cancelled_waiter(void *arg)
{
	struct res *r = arg;
	struct guarded gd = {.r = r};
	urio_gen *g = urio_gen_new(sleeper, &gd);
	void *item;
	ASSERT_EQ(urio_gen_next(g, &item), 1);
	atomic_store(&waiting, 1);
	ASSERT_EQ(urio_gen_next(g, &item), -ECANCELED);
	ASSERT_EQ(gd.last, -ECANCELED);
	urio_gen_close(g);
	return 0;
}

static intptr_t cancel_cases(void *arg)
{
	struct res r = {0};
	urio_task *t = urio_spawn(cancelled_closer, &r);
	ASSERT(t);
	ASSERT_EQ(urio_join(t, NULL), -ECANCELED);
	ASSERT_EQ(atomic_load(&r.entered), 1);
	ASSERT_EQ(atomic_load(&r.exited), 1);
	ASSERT_EQ(r.exit_err, -ECANCELED);
	ASSERT_EQ(r.exit_sleep, 0); /* with exits are shielded */

	atomic_store(&waiting, 0);
	t = urio_spawn(cancelled_waiter, &r);
	POLL(atomic_load(&waiting));
	/* the consumer shows as running its generator (urio-ps) */
	POLL(dump_has("gen task"));
	ASSERT_EQ(urio_cancel(t), 0);
	ASSERT_EQ(urio_join(t, NULL), -ECANCELED);
	ASSERT_EQ(atomic_load(&r.exited), 2);
	ASSERT_EQ(r.exit_err, -ECANCELED);
	return 0;
}

/* --- I/O on both sides, many pairs, 2 workers ------------------------------ */

#define PAIRS 8
#define ITEMS QUICK(3000, 300)

struct pair {
	int p[2]; /* the generator reads a byte per item from p[0] */
	int q[2]; /* the consumer writes a byte per item into it */
};

static int io_gen(urio_gen *g, void *arg)
{
	struct pair *pr = arg;
	for (int i = 0; i < ITEMS; i++) {
		char c;
		if (i % 3 == 0) {
			ASSERT_EQ(urio_read(pr->p[0], &c, 1, -1), 1);
			ASSERT_EQ(c, (char)i);
		} else if (i % 3 == 1) {
			urio_yield();
		}
		int r = urio_gen_yield(g, (void *)(intptr_t)i);
		if (r < 0)
			return r;
	}
	return 0;
}

static intptr_t io_consumer(void *arg)
{
	struct pair *pr = arg;
	urio_gen *g = urio_gen_new(io_gen, pr);
	ASSERT(g);
	/* the generator's first byte, so it never waits forever */
	char c = 0;
	ASSERT_EQ(urio_write(pr->p[1], &c, 1, -1), 1);
	void *item;
	int r, n = 0;
	while ((r = urio_gen_next(g, &item)) == 1) {
		ASSERT_EQ((intptr_t)item, n);
		n++;
		if (n % 3 == 0 && n < ITEMS) {
			c = (char)n;
			ASSERT_EQ(urio_write(pr->p[1], &c, 1, -1), 1);
		}
		if (n % 5 == 0) {
			ASSERT_EQ(urio_write(pr->q[1], "x", 1, -1), 1);
			ASSERT_EQ(urio_read(pr->q[0], &c, 1, -1), 1);
		}
	}
	ASSERT_EQ(r, 0);
	ASSERT_EQ(n, ITEMS);
	urio_gen_close(g);
	return 0;
}

static intptr_t io_both(void *arg)
{
	struct pair prs[PAIRS];
	urio_task *t[PAIRS];
	for (int i = 0; i < PAIRS; i++) {
		ASSERT_EQ(pipe2(prs[i].p, O_CLOEXEC), 0);
		ASSERT_EQ(pipe2(prs[i].q, O_CLOEXEC), 0);
		t[i] = urio_spawn(io_consumer, &prs[i]);
		ASSERT(t[i]);
	}
	for (int i = 0; i < PAIRS; i++) {
		ASSERT_EQ(urio_join(t[i], NULL), 0);
		for (int k = 0; k < 2; k++) {
			close(prs[i].p[k]);
			close(prs[i].q[k]);
		}
	}
	return 0;
}

/* --- nested generators, adapters over one, bad arguments ------------------- */

static int doubler(urio_gen *g, void *arg)
{
	struct count c = {.n = 10};
	urio_gen *inner = urio_gen_new(counter, &c);
	ASSERT(inner);
	void *item;
	int r;
	while ((r = urio_gen_next(inner, &item)) == 1) {
		r = urio_gen_yield(g, (void *)((intptr_t)item * 2));
		if (r < 0)
			break;
	}
	urio_gen_close(inner);
	return r < 0 ? r : 0;
}

static bool is_odd(void *item, void *ctx)
{
	return (intptr_t)item % 2;
}

static intptr_t nested(void *arg)
{
	urio_gen *g = urio_gen_new(doubler, NULL);
	void **items;
	size_t n;
	ASSERT_EQ(urio_iter_collect(urio_gen_iter(g), &items, &n), 10);
	for (size_t i = 0; i < n; i++)
		ASSERT_EQ((intptr_t)items[i], 2 * (i + 1));
	free(items);

	struct count c = {.n = 50};
	g = urio_gen_new(counter, &c);
	urio_iter *it = urio_iter_take(
		urio_iter_batch(urio_iter_filter(urio_gen_iter(g), is_odd, NULL),
				4),
		3);
	ASSERT(it);
	int r;
	urio_batch *b;
	int batches = 0;
	URIO_FOREACH(r, b, it)
	{
		ASSERT_EQ(r, 1);
		ASSERT_EQ(b->n, 4);
		for (size_t i = 0; i < 4; i++)
			ASSERT_EQ((intptr_t)b->items[i], 1 + 2 * (4 * batches + (intptr_t)i));
		batches++;
	}
	ASSERT_EQ(batches, 3);
	ASSERT_EQ(c.last_yield, -ECANCELED); /* closed under take */
	return 0;
}

static int self_next(urio_gen *g, void *arg)
{
	void *item;
	ASSERT_EQ(urio_gen_next(g, &item), -EINVAL);
	urio_gen_close(g); /* ignored from inside */
	return 0;
}

static intptr_t bad_args(void *arg)
{
	void *item;
	errno = 0;
	ASSERT(!urio_gen_new(NULL, NULL) && errno == EINVAL);
	ASSERT_EQ(urio_gen_next(NULL, &item), -EINVAL);
	ASSERT_EQ(urio_gen_yield(NULL, NULL), -EINVAL);
	urio_gen_close(NULL);
	struct count c = {.n = 1};
	urio_gen *g = urio_gen_new(counter, &c);
	ASSERT_EQ(urio_gen_next(g, NULL), -EINVAL);
	ASSERT_EQ(urio_gen_yield(g, NULL), -EINVAL); /* not the generator */
	urio_gen_close(g);
	g = urio_gen_new(self_next, NULL);
	ASSERT_EQ(urio_gen_next(g, &item), 0);
	urio_gen_close(g);
	return 0;
}

/* --- a generator cancelled from outside; next and close from other tasks -- */

struct selfish {
	_Atomic(urio_task *) task; /* the generator's own task */
	int n;
	int last;
};

static int selfish(urio_gen *g, void *arg)
{
	struct selfish *s = arg;
	atomic_store(&s->task, urio_self());
	for (;; s->n++) {
		s->last = urio_gen_yield(g, (void *)(intptr_t)s->n);
		if (s->last < 0)
			return s->last;
	}
}

static intptr_t canceller(void *arg)
{
	return urio_cancel(arg);
}

static intptr_t gen_cancelled(void *arg)
{
	for (int from_task = 0; from_task < 2; from_task++) {
		struct selfish s = {.n = 0};
		urio_gen *g = urio_gen_new(selfish, &s);
		void *item;
		ASSERT_EQ(urio_gen_next(g, &item), 1);
		ASSERT_EQ(urio_gen_next(g, &item), 1);
		/* cancelled while parked in yield */
		urio_task *gt = atomic_load(&s.task);
		if (from_task) {
			urio_task *t = urio_spawn(canceller, gt);
			ASSERT(t);
			ASSERT_EQ(urio_join(t, NULL), 0);
		} else {
			ASSERT_EQ(urio_cancel(gt), 0);
		}
		ASSERT_EQ(urio_gen_next(g, &item), -ECANCELED);
		ASSERT_EQ(s.last, -ECANCELED);
		ASSERT_EQ(s.n, 1);
		ASSERT_EQ(urio_gen_next(g, &item), 0);
		urio_gen_close(g);
	}
	return 0;
}

/* next and close from a task other than the one that made g: they work,
 * one at a time; a next that overlaps another one is -EBUSY and a close
 * then is ignored. */
struct handoff {
	urio_gen *g;
	struct res *r;
	int fd;            /* the generator waits for a byte on it */
	atomic_int reading;
};

static int piped_body(void *res, void *ctx)
{
	struct handoff *h = ctx;
	for (int i = 0;; i++) {
		char c;
		if (i == 2) {
			atomic_store(&h->reading, 1);
			ASSERT_EQ(urio_read(h->fd, &c, 1, -1), 1);
		}
		int r = urio_gen_yield(h->g, (void *)(intptr_t)i);
		if (r < 0)
			return r;
	}
}

static int piped(urio_gen *g, void *arg)
{
	struct handoff *h = arg;
	h->g = g;
	return urio_with(&res_ops, h->r, piped_body, h);
}

static intptr_t second_consumer(void *arg)
{
	struct handoff *h = arg;
	void *item;
	ASSERT_EQ(urio_gen_next(h->g, &item), 1);
	ASSERT_EQ((intptr_t)item, 3);
	urio_gen_close(h->g);
	return 0;
}

static intptr_t waiting_consumer(void *arg)
{
	struct handoff *h = arg;
	void *item;
	ASSERT_EQ(urio_gen_next(h->g, &item), 1); /* waits for the byte */
	ASSERT_EQ((intptr_t)item, 2);
	return 0;
}

static intptr_t other_task(void *arg)
{
	struct res r = {0};
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	struct handoff h = {.r = &r, .fd = p[0]};
	urio_gen *g = urio_gen_new(piped, &h);
	ASSERT(g);
	void *item;
	ASSERT_EQ(urio_gen_next(g, &item), 1);
	ASSERT_EQ(urio_gen_next(g, &item), 1);
	urio_task *t = urio_spawn(waiting_consumer, &h);
	ASSERT(t);
	POLL(atomic_load(&h.reading)); /* its next runs the generator */
	ASSERT_EQ(urio_gen_next(g, &item), -EBUSY);
	urio_gen_close(g); /* overlaps its next: ignored */
	ASSERT_EQ(atomic_load(&r.exited), 0);
	ASSERT_EQ(urio_write(p[1], "x", 1, -1), 1);
	ASSERT_EQ(urio_join(t, NULL), 0);
	t = urio_spawn(second_consumer, &h); /* closes g */
	ASSERT(t);
	ASSERT_EQ(urio_join(t, NULL), 0);
	ASSERT_EQ(atomic_load(&r.exited), 1);
	ASSERT_EQ(r.exit_err, -ECANCELED);
	close(p[0]);
	close(p[1]);
	return 0;
}

int main(int argc, char **argv)
{
	ASSERT(!urio_gen_new(counter, NULL) && errno == EPERM);
	static const struct sync_case cases[] = {
		CASE(basic),
		CASE(early_close),
		CASE(cancel_cases),
		CASE(io_both),
		CASE(nested),
		CASE(bad_args),
		CASE(gen_cancelled),
		CASE(other_task),
	};
	return run_cases("gen", cases, sizeof(cases) / sizeof(cases[0]), argc,
			 argv);
}
