/* Generators: asyncio's async generators in C.
 *
 * A generator is a coroutine of its own that hands items to its consumer
 * with urio_gen_yield; the consumer takes them with urio_gen_next. The
 * hand-off is a direct switch between the two coroutines, not a trip
 * through the run queue. Either side may do I/O in between: while the
 * generator runs (and suspends in I/O, perhaps resuming on another worker)
 * the consumer waits in urio_gen_next.
 *
 * urio_gen_close ends a generator early: its pending urio_gen_yield returns
 * -ECANCELED, and the generator runs to its return (its urio_with exits and
 * other cleanup) before close returns, also in a cancelled consumer. Every
 * generator must be closed: one left parked in yield (its consumer forgot
 * close, or ended first) is ended by urio_rt_free, with a report on
 * stderr, once no other task is left: its yield returns -ECANCELED and its
 * cleanup runs then. Any task may call next or close, one call at a time
 * (the consumer may hand the generator to another task). urio_gen_iter
 * (<urio/iter.h>) makes one an iterator, for URIO_FOREACH and the
 * adapters. Pagination, a generator fetching page after page, is the
 * example:
 *
 *	static int pages(urio_gen *g, void *arg)
 *	{
 *		for (int p = 0;; p++) {
 *			struct page *pg = fetch(arg, p);   // does I/O
 *			if (!pg)
 *				return 0;                  // the end
 *			int r = urio_gen_yield(g, pg);
 *			if (r < 0)
 *				return r;                  // closed early
 *		}
 *	}
 */
#ifndef URIO_GEN_H
#define URIO_GEN_H

#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_gen urio_gen;

/* A generator running fn(g, arg) once first asked for an item. fn's result
 * < 0 is the generator's error. Call from a task; NULL with errno: EINVAL,
 * EPERM (not in a task), ENOMEM. */
URIO_API urio_gen *urio_gen_new(int (*fn)(urio_gen *g, void *arg), void *arg);
/* In the generator: hands item to the consumer and waits for its next
 * request. 0, or -ECANCELED once the consumer closed it, or the generator
 * was cancelled (also while parked here); -EINVAL outside g's coroutine. */
URIO_API int urio_gen_yield(urio_gen *g, void *item);
/* In the consumer: runs the generator to its next item. 1 with *item set,
 * 0 when fn returned >= 0, fn's result when it was < 0 (then 0 after it),
 * -EINVAL for NULL arguments or a call from g itself, -EPERM outside a
 * task, -EBUSY while another task's next or close runs g. A cancelled
 * consumer gets -ECANCELED without running g; one cancelled while it waits
 * here cancels g too (its I/O fails with -ECANCELED) and gets what g then
 * returns. */
URIO_API int urio_gen_next(urio_gen *g, void **item);
/* Ends g (see above) and frees it, from any task. NULL is ignored; so is
 * a call from g itself, from outside a task, or while another task's next
 * runs g (reported on stderr). */
URIO_API void urio_gen_close(urio_gen *g);

#ifdef __cplusplus
}
#endif
#endif
