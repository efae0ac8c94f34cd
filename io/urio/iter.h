/* The iterator protocol: asyncio's `async for` in C.
 *
 * An iterator yields opaque items. next returns 1 with an item, 0 at the
 * end, or a negative -errno that is an error for that one item: iteration
 * may go on after it (a line too long, a page that failed). A source that
 * cannot go on reports its error once and then ends. close releases
 * whatever the iterator holds (buffers, reads in flight, a generator's
 * coroutine) and must be called also when the consumer stops early;
 * URIO_FOREACH does that on every exit from its loop.
 *
 * Adapters take ownership of their source: closing the adapter closes the
 * source (an adapter that fails returns NULL with errno set, and the source
 * stays the caller's). An item is valid until the next call of next unless its source
 * says otherwise (line slices are not: map them to copies before batch or
 * collect). */
#ifndef URIO_ITER_H
#define URIO_ITER_H

#include <stdbool.h>
#include <stddef.h>
#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_iter urio_iter;

typedef struct urio_iter_ops {
	int (*next)(urio_iter *it, void **item); /* 1, 0 end, < 0 item error */
	void (*close)(urio_iter *it);            /* frees it and what it holds */
} urio_iter_ops;

/* Iterators embed this as their first member. */
struct urio_iter {
	const urio_iter_ops *ops;
};

/* 1 with *item set, 0 at the end, < 0 an error for this item. -EINVAL if
 * it or item is NULL. */
URIO_API int urio_iter_next(urio_iter *it, void **item);
/* Closes it (NULL is ignored); waits for what it has in flight. */
URIO_API void urio_iter_close(urio_iter *it);

/* Items of src for which keep(item, ctx) is true; errors pass through. */
URIO_API urio_iter *urio_iter_filter(urio_iter *src,
				     bool (*keep)(void *item, void *ctx),
				     void *ctx);
/* fn(item, &out, ctx) for each item of src: its result < 0 is an error for
 * that item, otherwise out is the item. Errors of src pass through. */
URIO_API urio_iter *urio_iter_map(urio_iter *src,
				  int (*fn)(void *item, void **out, void *ctx),
				  void *ctx);

/* The item of a batch iterator: up to n items of its source, in order. */
typedef struct urio_batch {
	void **items;
	size_t n;
} urio_batch;
/* Items of src grouped n at a time (the last batch may be shorter); each
 * item is a urio_batch *, valid until the next call. An error of src is
 * returned for its own item; the batch being filled is kept for the next
 * call. -EINVAL (NULL, errno) if n is 0. */
URIO_API urio_iter *urio_iter_batch(urio_iter *src, size_t n);
/* The first n items of src; ends (closing nothing early: src is closed
 * with the adapter) after them. Errors count as items. */
URIO_API urio_iter *urio_iter_take(urio_iter *src, size_t n);

/* Drains it into a malloc'd array (*items, *n; free(*items) afterwards) and
 * closes it. Returns the number of items, or the first item error (the
 * items collected so far are still returned; the iterator is closed). */
URIO_API long urio_iter_collect(urio_iter *it, void ***items, size_t *n);

/* A generator (<urio/gen.h>) as an iterator: next is urio_gen_next, close
 * is urio_gen_close. NULL (errno EINVAL/ENOMEM) on failure; g is then
 * still the caller's. */
typedef struct urio_gen urio_gen;
URIO_API urio_iter *urio_gen_iter(urio_gen *g);

/* --- URIO_FOREACH ------------------------------------------------------- */
struct urio__foreach {
	urio_iter *it_;
	void *v_;
};

static inline void urio__foreach_close(struct urio__foreach *f)
{
	urio_iter_close(f->it_);
}

static inline int urio__foreach_next(struct urio__foreach *f)
{
	return f->it_ ? urio_iter_next(f->it_, &f->v_) : 0;
}

#define URIO__ITCAT2(a, b) a##b
#define URIO__ITCAT(a, b) URIO__ITCAT2(a, b)

/* URIO_FOREACH(r, item, iter) { body }: runs body for every result of iter
 * with r (an int lvalue) set to 1 (item set) or to an item error (< 0),
 * until the end, and closes iter however the loop is left (end, break,
 * return, goto). A NULL iter runs no iteration. The iterator is owned by
 * the loop: do not close it yourself. */
#define URIO_FOREACH(r, item, iter)                                          \
	for (struct urio__foreach URIO__ITCAT(urio_fe_, __LINE__)            \
		     __attribute__((cleanup(urio__foreach_close))) = {(iter), \
								       0};   \
	     ((r) = urio__foreach_next(&URIO__ITCAT(urio_fe_, __LINE__))) !=  \
		     0 &&                                                    \
	     ((item) = (__typeof__(item))URIO__ITCAT(urio_fe_, __LINE__).v_, \
	      1);)

#ifdef __cplusplus
}
#endif
#endif
