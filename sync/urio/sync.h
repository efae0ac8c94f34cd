/* Synchronisation between tasks, across workers: semaphore, mutex, rwlock,
 * event, condition variable, bounded channel, wait group, rate limiter.
 *
 * Every wait is FIFO, cancellable (urio_cancel, deadline scopes: the wait
 * fails with -ECANCELED) and has a _timeout form (-ETIMEDOUT). A waiter that
 * leaves the queue by cancel or timeout never takes a permit, the lock, a
 * wake or an item with it: if one was handed to it in the race, it passes it
 * on to the next waiter before returning. Plain threads the runtime does not
 * own may call every function here too (they block in a futex, and have no
 * cancellation); a worker's own thread outside a task gets -EDEADLK where it
 * would have to wait. Bad arguments give -EINVAL.
 *
 * The types that live on the caller's memory (all but urio_chan) mark their
 * layout private; it is checked against the implementation's at build. */
#ifndef URIO_SYNC_H
#define URIO_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include <urio/runtime.h>
#include <urio/with.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- counting semaphore (sync/sem.c) ------------------------------------ */
typedef struct urio_sem {
	uint64_t priv_[4]; /* private: state word, lock, waiter queue */
} urio_sem;

/* Sets s up with permits permits. */
URIO_API void urio_sem_init(urio_sem *s, unsigned permits);
/* Takes a permit, waiting behind earlier waiters (no barging). Returns 0,
 * or -ECANCELED / -ETIMEDOUT (an enclosing deadline), -EINVAL. */
URIO_API int urio_sem_acquire(urio_sem *s);
/* Like urio_sem_acquire, giving up after ms milliseconds: -ETIMEDOUT. */
URIO_API int urio_sem_acquire_timeout(urio_sem *s, uint64_t ms);
/* Takes a permit if one is free and nobody queues: 0, else -EAGAIN. */
URIO_API int urio_sem_try_acquire(urio_sem *s);
/* Returns a permit: to the first waiter if any. Any thread may call it. */
URIO_API void urio_sem_release(urio_sem *s);
/* urio_sem_release for URIO_GUARD (void *). */
URIO_API void urio_sem_release_void(void *s);
/* Free permits now (0 while anyone waits), and waiters queued now: a
 * snapshot, for stats. */
URIO_API unsigned urio_sem_available(urio_sem *s);
URIO_API unsigned urio_sem_waiters(urio_sem *s);

/* --- mutex (sync/mutex.c): a zeroed urio_mutex is unlocked --------------- */
typedef struct urio_mutex {
	uint64_t priv_[4]; /* private */
} urio_mutex;

#define URIO_MUTEX_INIT {{0, 0, 0, 0}}

URIO_API void urio_mutex_init(urio_mutex *m);
/* Locks m, FIFO behind earlier waiters: 0, -ECANCELED, -ETIMEDOUT. The
 * owner is not recorded: another task may unlock it (a hand-over). */
URIO_API int urio_mutex_lock(urio_mutex *m);
URIO_API int urio_mutex_lock_timeout(urio_mutex *m, uint64_t ms);
/* 0, or -EBUSY if m is locked or waited for. */
URIO_API int urio_mutex_try_lock(urio_mutex *m);
/* Unlocks m, handing it to the first waiter: 0, or -EPERM if unlocked. */
URIO_API int urio_mutex_unlock(urio_mutex *m);
/* urio_mutex_unlock for URIO_GUARD (void *). */
URIO_API void urio_mutex_unlock_void(void *m);
/* Waiters queued now (a snapshot, for stats). */
URIO_API unsigned urio_mutex_waiters(urio_mutex *m);

/* --- readers-writer lock (sync/rwlock.c), FIFO between the two kinds ---- */
typedef struct urio_rwlock {
	uint64_t priv_[4]; /* private */
} urio_rwlock;

URIO_API void urio_rwlock_init(urio_rwlock *l);
/* Shared lock: 0, -ECANCELED, -ETIMEDOUT. A reader queues behind a waiting
 * writer, so writers are not starved. */
URIO_API int urio_rwlock_rdlock(urio_rwlock *l);
URIO_API int urio_rwlock_rdlock_timeout(urio_rwlock *l, uint64_t ms);
URIO_API int urio_rwlock_try_rdlock(urio_rwlock *l); /* 0 or -EBUSY */
/* Exclusive lock: 0, -ECANCELED, -ETIMEDOUT. */
URIO_API int urio_rwlock_wrlock(urio_rwlock *l);
URIO_API int urio_rwlock_wrlock_timeout(urio_rwlock *l, uint64_t ms);
URIO_API int urio_rwlock_try_wrlock(urio_rwlock *l); /* 0 or -EBUSY */
/* Drops a shared or the exclusive hold: 0, or -EPERM if l is not held. */
URIO_API int urio_rwlock_unlock(urio_rwlock *l);
URIO_API void urio_rwlock_unlock_void(void *l);
URIO_API unsigned urio_rwlock_waiters(urio_rwlock *l);

/* --- event (sync/event.c): a flag tasks wait to see set ----------------- */
typedef struct urio_event {
	uint64_t priv_[4]; /* private */
} urio_event;

URIO_API void urio_event_init(urio_event *e);
/* Sets e and wakes every waiter; any thread may call it. */
URIO_API void urio_event_set(urio_event *e);
URIO_API void urio_event_clear(urio_event *e);
URIO_API bool urio_event_is_set(const urio_event *e);
/* Returns 0 once e is set (at once if it is), -ECANCELED, -ETIMEDOUT. */
URIO_API int urio_event_wait(urio_event *e);
URIO_API int urio_event_wait_timeout(urio_event *e, uint64_t ms);
URIO_API unsigned urio_event_waiters(urio_event *e);

/* --- condition variable over urio_mutex (sync/cond.c) ------------------- */
typedef struct urio_cond {
	uint64_t priv_[4]; /* private */
} urio_cond;

URIO_API void urio_cond_init(urio_cond *c);
/* Unlocks m (which the caller holds), waits for a signal, locks m again.
 * Returns 0, -ECANCELED or -ETIMEDOUT, and holds m again in every case,
 * even cancelled. A signal that reached a cancelled waiter goes on to the
 * next one. Callers recheck their predicate (another task may run first).
 * -EPERM (and no wait) if m was not locked. */
URIO_API int urio_cond_wait(urio_cond *c, urio_mutex *m);
URIO_API int urio_cond_wait_timeout(urio_cond *c, urio_mutex *m,
				    uint64_t ms);
/* Wakes the first waiter / every waiter: 0, or -EINVAL. */
URIO_API int urio_cond_signal(urio_cond *c);
URIO_API int urio_cond_broadcast(urio_cond *c);
URIO_API unsigned urio_cond_waiters(urio_cond *c);

/* --- bounded MPMC channel of fixed-size items (sync/chan.c) ------------- */
typedef struct urio_chan urio_chan;

/* A channel of capacity items of item_size bytes (both > 0), or NULL with
 * errno EINVAL / ENOMEM. */
URIO_API urio_chan *urio_chan_new(size_t item_size, size_t capacity);
/* Frees c; nobody may be using it any more. */
URIO_API void urio_chan_free(urio_chan *c);
/* Copies item in, waiting for room: 0, -EPIPE once closed, -ECANCELED,
 * -ETIMEDOUT. Plain threads may send. */
URIO_API int urio_chan_send(urio_chan *c, const void *item);
URIO_API int urio_chan_send_timeout(urio_chan *c, const void *item,
				    uint64_t ms);
/* 0, -EAGAIN when full (or senders queue), -EPIPE once closed. */
URIO_API int urio_chan_try_send(urio_chan *c, const void *item);
/* Copies the oldest item out: 1, 0 once closed and drained (EOF),
 * -ECANCELED, -ETIMEDOUT. */
URIO_API int urio_chan_recv(urio_chan *c, void *item);
URIO_API int urio_chan_recv_timeout(urio_chan *c, void *item, uint64_t ms);
/* 1, -EAGAIN when empty, 0 at EOF. */
URIO_API int urio_chan_try_recv(urio_chan *c, void *item);
/* Closes c: waiting and later senders get -EPIPE; receivers drain what is
 * queued, then get 0. Returns 0, or -EALREADY if it was closed. */
URIO_API int urio_chan_close(urio_chan *c);
/* Items queued now (a snapshot). */
URIO_API size_t urio_chan_len(urio_chan *c);
/* Senders / receivers waiting now (a snapshot). */
URIO_API unsigned urio_chan_senders(urio_chan *c);
URIO_API unsigned urio_chan_receivers(urio_chan *c);

/* --- wait group (sync/wg.c) --------------------------------------------- */
typedef struct urio_wg {
	uint64_t priv_[4]; /* private */
} urio_wg;

URIO_API void urio_wg_init(urio_wg *g);
/* Adds n (may be negative) to the count: 0, or -EINVAL if it would go
 * below zero. Reaching zero wakes every waiter. Any thread may call it. */
URIO_API int urio_wg_add(urio_wg *g, int64_t n);
URIO_API int urio_wg_done(urio_wg *g); /* urio_wg_add(g, -1) */
/* Waits until the count is zero: 0, -ECANCELED, -ETIMEDOUT. */
URIO_API int urio_wg_wait(urio_wg *g);
URIO_API int urio_wg_wait_timeout(urio_wg *g, uint64_t ms);
URIO_API unsigned urio_wg_waiters(urio_wg *g);

/* --- token-bucket rate limiter (sync/limiter.c) ------------------------- */
typedef struct urio_limiter {
	uint64_t priv_[4]; /* private */
} urio_limiter;

/* rate tokens per second (1 to 1e9), at most burst (>= 1) at once: 0 or
 * -EINVAL. Starts full. */
URIO_API int urio_limiter_init(urio_limiter *l, uint64_t rate, unsigned burst);
/* Takes a token, sleeping until one is due (callers are served in order):
 * 0, -ECANCELED; a cancelled sleeper gives its token back. */
URIO_API int urio_limiter_acquire(urio_limiter *l);
/* -ETIMEDOUT at once, taking nothing, if the token is due after ms. */
URIO_API int urio_limiter_acquire_timeout(urio_limiter *l, uint64_t ms);
/* 0 if a token is due now, else -EAGAIN. */
URIO_API int urio_limiter_try_acquire(urio_limiter *l);

/* --- ready-made scopes for urio_with, and guards ------------------------ */
/* enter acquires / locks res, exit releases / unlocks it and propagates the
 * body's error. */
URIO_API extern const urio_scope_ops urio_sem_scope;
URIO_API extern const urio_scope_ops urio_mutex_scope;

/* URIO_WITH_MUTEX(err, m) { block }: the block runs with m locked, err 0;
 * m is unlocked however the block is left. If the lock fails, err < 0 and
 * the block is skipped. Likewise for a semaphore's permit and rwlocks. */
#define URIO_WITH_MUTEX(err, m) \
	URIO_GUARD(err, urio_mutex_lock(m), urio_mutex_unlock_void, (m))
#define URIO_WITH_SEM(err, s) \
	URIO_GUARD(err, urio_sem_acquire(s), urio_sem_release_void, (s))
#define URIO_WITH_RDLOCK(err, l) \
	URIO_GUARD(err, urio_rwlock_rdlock(l), urio_rwlock_unlock_void, (l))
#define URIO_WITH_WRLOCK(err, l) \
	URIO_GUARD(err, urio_rwlock_wrlock(l), urio_rwlock_unlock_void, (l))

#ifdef __cplusplus
}
#endif
#endif
