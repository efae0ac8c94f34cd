/* The iterator protocol and its adapters over an array iterator with
 * per-item errors: filter, map (with its own errors), batch (the last one
 * partial, an error between items of a batch), take, collect, and
 * URIO_FOREACH closing its iterator on the end, break and return; bad
 * arguments. Each case on 1 and 2 workers. */
#include <errno.h>
#include <stdlib.h>
#include <urio.h>

#include "test.h"

static int closes; /* array iterators closed */

struct arr {
	urio_iter it;
	int n, i;
	int err_every; /* item k with k % err_every == err_every - 1 is -EIO */
};

static int arr_next(urio_iter *it, void **item)
{
	struct arr *a = (struct arr *)it;
	if (a->i == a->n)
		return 0;
	int k = a->i++;
	if (a->err_every && k % a->err_every == a->err_every - 1)
		return -EIO;
	*item = (void *)(intptr_t)k;
	return 1;
}

static void arr_close(urio_iter *it)
{
	closes++;
	free(it);
}

static const urio_iter_ops arr_ops = {arr_next, arr_close};

static urio_iter *arr(int n, int err_every)
{
	struct arr *a = calloc(1, sizeof(*a));
	ASSERT(a);
	*a = (struct arr){{&arr_ops}, n, 0, err_every};
	return &a->it;
}

static bool even(void *item, void *ctx)
{
	return (intptr_t)item % 2 == 0;
}

static int times10(void *item, void **out, void *ctx)
{
	if ((intptr_t)item == 4)
		return -ERANGE;
	*out = (void *)((intptr_t)item * 10);
	return 0;
}

static int first_of(int n)
{
	int r;
	void *x;
	URIO_FOREACH(r, x, arr(n, 0))
	{
		if (r == 1)
			return (int)(intptr_t)x; /* closes on return */
	}
	return -1;
}

static intptr_t adapters(void *arg)
{
	int r, n;
	void *x;
	closes = 0;

	/* filter: 0..9, errors at 2 5 8 pass through; evens left: 0 4 6 */
	n = 0;
	int errs = 0;
	URIO_FOREACH(r, x, urio_iter_filter(arr(10, 3), even, NULL))
	{
		if (r < 0) {
			ASSERT_EQ(r, -EIO);
			errs++;
			continue;
		}
		ASSERT_EQ((intptr_t)x % 2, 0);
		n++;
	}
	ASSERT_EQ(n, 3);
	ASSERT_EQ(errs, 3);
	ASSERT_EQ(closes, 1);

	/* map: its own error for item 4, iteration goes on */
	urio_iter *it = urio_iter_map(arr(6, 0), times10, NULL);
	static const int want[] = {0, 10, 20, 30, -ERANGE, 50};
	for (int i = 0; i < 6; i++) {
		r = urio_iter_next(it, &x);
		ASSERT_EQ(r, want[i] < 0 ? want[i] : 1);
		if (r == 1)
			ASSERT_EQ((intptr_t)x, want[i]);
	}
	ASSERT_EQ(urio_iter_next(it, &x), 0);
	urio_iter_close(it);
	ASSERT_EQ(closes, 2);

	/* batch: 0..10 by 4 with an error at 7: [0 1 2 3] -EIO [4 5 6 8]
	 * [9 10] */
	it = urio_iter_batch(arr(11, 8), 4);
	urio_batch *b;
	ASSERT_EQ(urio_iter_next(it, (void **)&b), 1);
	ASSERT_EQ(b->n, 4);
	ASSERT_EQ((intptr_t)b->items[3], 3);
	ASSERT_EQ(urio_iter_next(it, (void **)&b), -EIO);
	ASSERT_EQ(urio_iter_next(it, (void **)&b), 1);
	ASSERT_EQ(b->n, 4);
	ASSERT_EQ((intptr_t)b->items[0], 4);
	ASSERT_EQ((intptr_t)b->items[3], 8);
	ASSERT_EQ(urio_iter_next(it, (void **)&b), 1);
	ASSERT_EQ(b->n, 2);
	ASSERT_EQ((intptr_t)b->items[1], 10);
	ASSERT_EQ(urio_iter_next(it, (void **)&b), 0);
	ASSERT_EQ(urio_iter_next(it, (void **)&b), 0);
	urio_iter_close(it);
	/* exact multiple: no empty last batch */
	void **items;
	size_t cnt;
	ASSERT_EQ(urio_iter_collect(urio_iter_batch(arr(8, 0), 4), &items,
				    &cnt), 2);
	free(items);

	/* take: errors count as items; the source is closed with it */
	ASSERT_EQ(urio_iter_collect(urio_iter_take(arr(100, 0), 7), &items,
				    &cnt), 7);
	ASSERT_EQ(cnt, 7);
	ASSERT_EQ((intptr_t)items[6], 6);
	free(items);
	ASSERT_EQ(urio_iter_collect(urio_iter_take(arr(3, 0), 7), &items,
				    &cnt), 3);
	free(items);
	ASSERT_EQ(urio_iter_collect(urio_iter_take(arr(3, 0), 0), &items,
				    &cnt), 0);
	free(items);
	/* collect stops at the first error, keeping what came before */
	ASSERT_EQ(urio_iter_collect(arr(10, 4), &items, &cnt), -EIO);
	ASSERT_EQ(cnt, 3);
	free(items);
	ASSERT_EQ(closes, 8);

	/* URIO_FOREACH closes on break and on return */
	n = 0;
	URIO_FOREACH(r, x, arr(100, 0))
	{
		if (++n == 3)
			break;
	}
	ASSERT_EQ(closes, 9);
	ASSERT_EQ(first_of(5), 0);
	ASSERT_EQ(closes, 10);
	n = 0;
	URIO_FOREACH(r, x, (urio_iter *)NULL)
		n++;
	ASSERT_EQ(n, 0);
	return 0;
}

static intptr_t bad_args(void *arg)
{
	void *x;
	void **items;
	size_t n;
	ASSERT_EQ(urio_iter_next(NULL, &x), -EINVAL);
	urio_iter *a = arr(1, 0);
	ASSERT_EQ(urio_iter_next(a, NULL), -EINVAL);
	ASSERT(!urio_iter_filter(a, NULL, NULL) && errno == EINVAL);
	ASSERT(!urio_iter_map(a, NULL, NULL) && errno == EINVAL);
	ASSERT(!urio_iter_batch(a, 0) && errno == EINVAL);
	ASSERT(!urio_iter_batch(a, SIZE_MAX) && errno == EINVAL);
	ASSERT(!urio_iter_filter(NULL, even, NULL) && errno == EINVAL);
	ASSERT(!urio_iter_take(NULL, 1) && errno == EINVAL);
	ASSERT(!urio_gen_iter(NULL) && errno == EINVAL);
	ASSERT(!urio_lines_iter(NULL) && errno == EINVAL);
	ASSERT(!urio_chunks_iter(NULL) && errno == EINVAL);
	ASSERT_EQ(urio_iter_collect(NULL, &items, &n), -EINVAL);
	ASSERT_EQ(urio_iter_collect(a, NULL, &n), -EINVAL); /* closes a */
	urio_iter_close(NULL);
	return 0;
}

static void run(const char *name, urio_fn fn)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		urio_config cfg = {.workers = workers};
		intptr_t res = -1;
		ASSERT_EQ(urio_run(&cfg, fn, NULL, &res), 0);
		ASSERT_EQ(res, 0);
	}
	printf("ok %s\n", name);
}

int main(void)
{
	run("adapters", adapters);
	run("bad_args", bad_args);
	return 0;
}
