/* The waiter queue every sync/ primitive parks on. Never installed.
 *
 * A primitive guards its state and its queues with one urio__spin. A waiter
 * is a record on the waiting task's (or thread's) stack, linked FIFO under
 * that lock. Whoever grants a waiter its turn (a permit, the lock, an item)
 * unlinks it under the lock, stores its result and queues it on a
 * urio__wakes list; the list is woken after the lock is dropped. A cancel
 * (or a thread's timeout) that finds its waiter still linked unlinks it and
 * calls the primitive's settle hook under the lock, so the turn the leaver
 * held up goes on to the next waiter; one that finds it unlinked lost the
 * race to a grant, and the primitive passes the grant on when the waiter
 * resumes (urio__waiter_cancelled). */
#ifndef URIO_SYNC_WAITQ_H
#define URIO_SYNC_WAITQ_H

#include "internal.h"

struct urio__waiter;

struct urio__waitq {
	struct urio__waiter *head, *tail;
};

/* Waiters granted under the lock, to wake once it is dropped. */
struct urio__wakes {
	struct urio__waiter *head;
};

/* Runs under the primitive's lock after a waiter left q by cancel or
 * timeout: grants whatever that waiter held up. May be NULL. */
typedef void (*urio__settle_fn)(void *prim, struct urio__wakes *wk);

struct urio__waiter {
	struct urio__wait w; /* first: the cancel hook gets &w; w.res is the result */
	struct urio__waiter *prev, *next, *wnext;
	urio__spin *lock;
	struct urio__waitq *q;
	urio__settle_fn settle;
	void *prim;
	uintptr_t arg;    /* the primitive's own (rwlock: the mode wanted) */
	_Atomic int done; /* thread waiters: the futex word, 1 once granted */
	bool thread;      /* a plain thread, not a task */
	bool linked;      /* on q; under *lock */
};

/* Prepares x to wait on q of prim, before taking *lock. Returns 0,
 * -ECANCELED (the task's scopes are cancelled) or -EDEADLK (called on a
 * worker outside any task, where blocking would stall the worker). */
int urio__waiter_init(struct urio__waiter *x, const char *what,
		      urio__spin *lock, struct urio__waitq *q,
		      urio__settle_fn settle, void *prim);
/* Withdraws x when it did not park after all; call without *lock. */
void urio__waiter_abort(struct urio__waiter *x);
/* Under *lock, before parking: would a park fail with -ECANCELED? And after
 * a granted wake: was the waiter cancelled meanwhile (pass the grant on)? */
bool urio__waiter_cancelled(struct urio__waiter *x);
/* Links x at the tail of its queue and waits; *lock is held on entry and
 * released on return. Returns what the granter stored (>= 0, the
 * primitive's meaning) or -ECANCELED / -ETIMEDOUT. deadline_ns
 * (CLOCK_MONOTONIC, 0 = none) bounds a thread's wait; a task's waits are
 * bounded by its deadline scopes. */
int32_t urio__waitq_park(struct urio__waiter *x, uint64_t deadline_ns);
/* Under the lock: unlinks the first waiter, gives it res, queues its wake.
 * Returns it, or NULL when q is empty. */
struct urio__waiter *urio__waitq_grant(struct urio__waitq *q,
				       struct urio__wakes *wk, int32_t res);
/* Under the lock: grants every waiter of q res. */
void urio__waitq_grant_all(struct urio__waitq *q, struct urio__wakes *wk,
			   int32_t res);
static inline bool urio__waitq_empty(const struct urio__waitq *q)
{
	return !q->head;
}
/* Under the lock: waiters on q. */
unsigned urio__waitq_len(const struct urio__waitq *q);
/* After the lock is dropped: wakes the granted waiters. */
void urio__wakes_run(struct urio__wakes *wk);

/* Runs fn(arg, deadline_ns) bounded by ms: a task inside a deadline scope
 * (fn gets 0 and reports its -ECANCELED, turned into -ETIMEDOUT when this
 * scope fired), a thread through fn's own deadline. */
int urio__wait_timed(int (*fn)(void *arg, uint64_t deadline_ns), void *arg,
		     uint64_t ms);
/* The absolute CLOCK_MONOTONIC time ms from now, saturating. */
uint64_t urio__deadline_after(uint64_t ms);

#endif
