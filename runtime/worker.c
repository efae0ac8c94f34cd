/* Worker threads: start-up (ring, wake channel, signal stack), the
 * thread-local "current worker", cross-thread wakeups and messages. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault.h"
#include "fiber.h"
#include "internal.h"

/* initial-exec: one %fs-relative load instead of a __tls_get_addr call in
 * the PIC library, paid on every switch (liburio is linked, not dlopened).
 * used: on x86-64 only inline asm names it, which LTO does not see. */
__thread struct urio__worker *urio__tls_worker
	__attribute__((tls_model("initial-exec"), used));

#if !defined(__x86_64__)
/* noinline + compiler barrier: a task may resume on another thread, so the
 * TLS address must be computed afresh on every call, never cached by the
 * caller across a switch (ClickHouse/silk#66, QEMU coroutine-tls.h). */
__attribute__((noinline)) struct urio__worker *urio__cur_worker(void)
{
	__asm__ volatile("" ::: "memory");
	return urio__tls_worker;
}
#endif

__attribute__((noinline)) void urio__set_cur_worker(struct urio__worker *w)
{
	__asm__ volatile("" ::: "memory");
	urio__tls_worker = w;
}

/* A MSG_RING names the target ring by fd: a ring closed at shutdown
 * could have its fd reused by another ring (a user's), which would get our
 * message. Announce the send, then look (seq_cst both, Dekker style, as
 * thread_teardown does the reverse); the submit holds the file from then. */
static bool send_msgring(struct urio__worker *me, struct urio__worker *target)
{
	atomic_fetch_add(&target->msg_senders, 1);
	bool sent = !atomic_load(&target->ring_closing) &&
		    urio__wake_msgring_post(me, target);
	atomic_fetch_sub(&target->msg_senders, 1);
	return sent;
}

/* noinline + compiler barrier, as urio__cur_worker: glibc declares
 * __errno_location const, so a caller may compute errno's address once,
 * before a suspension, and use it after resuming on another thread. */
__attribute__((noinline)) int urio__errno(void)
{
	__asm__ volatile("" ::: "memory");
	return errno;
}

int urio_errno(void)
{
	return urio__errno();
}

__attribute__((noinline)) void urio__errno_set(int err)
{
	__asm__ volatile("" ::: "memory");
	errno = err;
}

static void send_wake(struct urio__worker *target)
{
	struct urio__worker *me = urio__cur_worker();
	atomic_fetch_add_explicit(&target->st.wakes, 1, memory_order_relaxed);
	if (me && me->rt == target->rt && target->rt->msg_ring &&
	    send_msgring(me, target))
		return;
	urio__wake_eventfd_post(target);
}

/* Claims target if it is parked; the claimer counts it as spinning. */
static bool claim(struct urio__worker *target)
{
	int exp = 1;
	if (!atomic_load(&target->parked) ||
	    !atomic_compare_exchange_strong(&target->parked, &exp, 0))
		return false;
	atomic_fetch_sub(&target->rt->nidle, 1);
	return true;
}

/* A waker that finds the spinner count taken skips its wake (a spinner
 * will find the work), and ours is taken while we look for a parked
 * worker: one that parked behind our scan, before that waker's push, would
 * sleep through it. So a look that claims nobody looks again while work is
 * queued (tests/models/parkwake.pml, BROKEN_RECHECK, finds the lost wake). */
void urio__wake_one(urio_rt *rt)
{
	do {
		if (!atomic_load(&rt->nidle))
			return;
		unsigned zero = 0;
		if (!atomic_compare_exchange_strong(&rt->nspinning, &zero, 1))
			return; /* a spinner will find the work */
		for (unsigned i = 0; i < rt->nworkers; i++) {
			if (claim(&rt->workers[i])) {
				send_wake(&rt->workers[i]);
				return;
			}
		}
		atomic_fetch_sub(&rt->nspinning, 1);
	} while (urio__work_queued(rt));
}

void urio__wake_worker(struct urio__worker *target)
{
	if (claim(target)) {
		atomic_fetch_add(&target->rt->nspinning, 1);
		send_wake(target);
	}
}

void urio__worker_msg(struct urio__worker *target, struct urio__msg *m)
{
	struct urio__msg *head = atomic_load_explicit(&target->msgs,
						      memory_order_relaxed);
	do
		m->next = head;
	/* release pairs with the acquire exchange in drain_msgs */
	while (!atomic_compare_exchange_weak_explicit(&target->msgs, &head, m,
						      memory_order_seq_cst,
						      memory_order_relaxed));
	urio__wake_worker(target);
}

static void started(struct urio__worker *w, int err)
{
	urio_rt *rt = w->rt;
	pthread_mutex_lock(&rt->start_mu);
	if (err < 0 && !rt->start_err)
		rt->start_err = err;
	rt->started++;
	pthread_cond_broadcast(&rt->start_cv);
	pthread_mutex_unlock(&rt->start_mu);
}

static int thread_setup(struct urio__worker *w)
{
	/* The overflow report runs on this stack: the task's is exhausted. */
	size_t alt = 64 << 10;
	w->altstack = urio__fault(URIO__FAULT_MMAP)
			      ? (errno = ENOMEM, MAP_FAILED)
			      : mmap(NULL, alt, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->altstack == MAP_FAILED) {
		w->altstack = NULL;
		return -errno;
	}
	stack_t ss = {.ss_sp = w->altstack, .ss_size = alt};
	sigaltstack(&ss, NULL);
	pthread_attr_t attr;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		void *lo;
		pthread_attr_getstack(&attr, &lo, &w->stack_size);
		w->stack_bottom = lo;
		pthread_attr_destroy(&attr);
	}
#ifdef URIO__TSAN
	w->tsan_fiber = __tsan_get_current_fiber();
#endif
	return urio__io_init(w);
}

static void thread_teardown(struct urio__worker *w)
{
	urio__registry_flush(w);
	/* no MSG_RING may name the ring's fd once it is closed; a sender
	 * that saw it open is inside one submit */
	atomic_store(&w->ring_closing, true);
	while (atomic_load(&w->msg_senders))
		sched_yield();
	/* the eventfd is closed by free_rt once no thread can write to it */
	urio__io_fini(w);
	urio__stack_pool_free(w);
	urio__timers_drop(w);
	free(w->heap);
	if (w->altstack) {
		stack_t ss = {.ss_flags = SS_DISABLE};
		sigaltstack(&ss, NULL);
		munmap(w->altstack, 64 << 10);
	}
}

void *urio__worker_main(void *arg)
{
	struct urio__worker *w = arg;
	urio__set_cur_worker(w);
	w->tid = (int)gettid();
	int r = thread_setup(w);
	started(w, r);
	if (r == 0)
		urio__sched_loop(w);
	thread_teardown(w);
	urio__set_cur_worker(NULL);
	urio__rt_unref(w->rt); /* last: it may free w */
	return NULL;
}
