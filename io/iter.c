/* The iterator protocol's entry points and adapters (<urio/iter.h>). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <urio/gen.h>
#include <urio/iter.h>

#include "../runtime/internal.h"

int urio_iter_next(urio_iter *it, void **item)
{
	if (!it || !item)
		return -EINVAL;
	return it->ops->next(it, item);
}

void urio_iter_close(urio_iter *it)
{
	if (it)
		it->ops->close(it);
}

/* --- filter and map --------------------------------------------------------- */

struct fmap {
	urio_iter it;
	urio_iter *src;
	bool (*keep)(void *item, void *ctx);
	int (*fn)(void *item, void **out, void *ctx);
	void *ctx;
};

static void fmap_close(urio_iter *it)
{
	struct fmap *f = (struct fmap *)it;
	urio_iter_close(f->src);
	free(f);
}

static int filter_next(urio_iter *it, void **item)
{
	struct fmap *f = (struct fmap *)it;
	for (;;) {
		int r = f->src->ops->next(f->src, item);
		if (r <= 0 || f->keep(*item, f->ctx))
			return r;
	}
}

static int map_next(urio_iter *it, void **item)
{
	struct fmap *f = (struct fmap *)it;
	void *x;
	int r = f->src->ops->next(f->src, &x);
	if (r <= 0)
		return r;
	r = f->fn(x, item, f->ctx);
	return r < 0 ? r : 1;
}

static const urio_iter_ops filter_ops = {filter_next, fmap_close};
static const urio_iter_ops map_ops = {map_next, fmap_close};

/* An adapter over src, or NULL with errno; src is the caller's on failure. */
static void *adapter(urio_iter *src, size_t size, bool fn_ok)
{
	if (!src || !fn_ok) {
		errno = EINVAL;
		return NULL;
	}
	return urio__calloc(1, size);
}

urio_iter *urio_iter_filter(urio_iter *src,
			    bool (*keep)(void *item, void *ctx), void *ctx)
{
	struct fmap *f = adapter(src, sizeof(*f), keep);
	if (!f)
		return NULL;
	*f = (struct fmap){.it = {&filter_ops}, .src = src, .keep = keep,
			   .ctx = ctx};
	return &f->it;
}

urio_iter *urio_iter_map(urio_iter *src,
			 int (*fn)(void *item, void **out, void *ctx),
			 void *ctx)
{
	struct fmap *f = adapter(src, sizeof(*f), fn);
	if (!f)
		return NULL;
	*f = (struct fmap){.it = {&map_ops}, .src = src, .fn = fn, .ctx = ctx};
	return &f->it;
}

/* --- batch ------------------------------------------------------------------ */

struct batch {
	urio_iter it;
	urio_iter *src;
	size_t cap, fill;
	bool ended;
	bool returned; /* items[0..fill) went out as the last batch */
	urio_batch out;
	void *items[];
};

static int batch_next(urio_iter *it, void **item)
{
	struct batch *b = (struct batch *)it;
	if (b->returned) {
		b->fill = 0; /* the caller is done with the last batch */
		b->returned = false;
	}
	while (!b->ended && b->fill < b->cap) {
		void *x;
		int r = b->src->ops->next(b->src, &x);
		if (r < 0)
			return r; /* the batch so far waits for the next call */
		if (r == 0)
			b->ended = true;
		else
			b->items[b->fill++] = x;
	}
	if (!b->fill)
		return 0;
	b->out = (urio_batch){b->items, b->fill};
	b->returned = true;
	*item = &b->out;
	return 1;
}

static void batch_close(urio_iter *it)
{
	struct batch *b = (struct batch *)it;
	urio_iter_close(b->src);
	free(b);
}

static const urio_iter_ops batch_ops = {batch_next, batch_close};

urio_iter *urio_iter_batch(urio_iter *src, size_t n)
{
	if (n > (SIZE_MAX - sizeof(struct batch)) / sizeof(void *)) {
		errno = EINVAL;
		return NULL;
	}
	struct batch *b = adapter(src, sizeof(*b) + n * sizeof(void *), n);
	if (!b)
		return NULL;
	b->it.ops = &batch_ops;
	b->src = src;
	b->cap = n;
	return &b->it;
}

/* --- take ------------------------------------------------------------------- */

struct take {
	urio_iter it;
	urio_iter *src;
	size_t left;
};

static int take_next(urio_iter *it, void **item)
{
	struct take *t = (struct take *)it;
	if (!t->left)
		return 0;
	int r = t->src->ops->next(t->src, item);
	if (r != 0)
		t->left--;
	else
		t->left = 0;
	return r;
}

static void take_close(urio_iter *it)
{
	struct take *t = (struct take *)it;
	urio_iter_close(t->src);
	free(t);
}

static const urio_iter_ops take_ops = {take_next, take_close};

urio_iter *urio_iter_take(urio_iter *src, size_t n)
{
	struct take *t = adapter(src, sizeof(*t), true);
	if (!t)
		return NULL;
	*t = (struct take){.it = {&take_ops}, .src = src, .left = n};
	return &t->it;
}

/* --- collect ---------------------------------------------------------------- */

long urio_iter_collect(urio_iter *it, void ***items, size_t *n)
{
	if (!items || !n) {
		urio_iter_close(it);
		return -EINVAL;
	}
	*items = NULL;
	*n = 0;
	if (!it)
		return -EINVAL;
	size_t cap = 0;
	long r;
	void *x;
	while ((r = it->ops->next(it, &x)) > 0) {
		if (*n == cap) {
			size_t c = cap ? cap * 2 : 16;
			void **grown = NULL;
			if (c > cap && c < SIZE_MAX / sizeof(void *))
				grown = urio__realloc(*items, c * sizeof(x));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			*items = grown;
			cap = c;
		}
		(*items)[(*n)++] = x;
	}
	urio_iter_close(it);
	return r < 0 ? r : (long)*n;
}

/* --- generators ------------------------------------------------------------- */

struct gen_iter {
	urio_iter it;
	urio_gen *g;
};

static int gen_next(urio_iter *it, void **item)
{
	return urio_gen_next(((struct gen_iter *)it)->g, item);
}

static void gen_close(urio_iter *it)
{
	urio_gen_close(((struct gen_iter *)it)->g);
	free(it);
}

static const urio_iter_ops gen_ops = {gen_next, gen_close};

urio_iter *urio_gen_iter(urio_gen *g)
{
	struct gen_iter *gi = adapter((urio_iter *)g, sizeof(*gi), true);
	if (!gi)
		return NULL;
	*gi = (struct gen_iter){.it = {&gen_ops}, .g = g};
	return &gi->it;
}
