/* Switching between the scheduler and a task's stack, with the fiber hooks
 * ASan and TSan need: a hand-written switch is invisible to them, so each
 * one is announced (see shared/research/reliability.md §1). The hooks sit
 * in always_inline helpers so no instrumented call happens between the
 * announcement and the real switch. */
#ifndef URIO_FIBER_H
#define URIO_FIBER_H

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define URIO__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define URIO__ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define URIO__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define URIO__TSAN 1
#endif
#endif

#ifdef URIO__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef URIO__TSAN
#include <sanitizer/tsan_interface.h>
#endif

void urio__ctx_switch(void **from, void *to);
void urio__ctx_start(void);

/* Lays out a fresh stack so that switching to it calls entry(arg). */
static inline void *urio__ctx_init(char *top, void (*entry)(urio_task *),
				   urio_task *arg)
{
	top = (char *)((uintptr_t)top & ~(uintptr_t)15);
#if defined(__x86_64__)
	uint64_t *sp = (uint64_t *)(top - 64);
	sp[0] = 0x1F80 | ((uint64_t)0x037F << 32); /* MXCSR, x87 FCW defaults */
	sp[1] = 0;                                 /* r15 */
	sp[2] = 0;                                 /* r14 */
	sp[3] = (uint64_t)arg;                     /* r13 */
	sp[4] = (uint64_t)entry;                   /* r12 */
	sp[5] = 0;                                 /* rbx */
	sp[6] = 0;                                 /* rbp: ends unwinding */
	sp[7] = (uint64_t)urio__ctx_start;         /* return address */
	return sp;
#elif defined(__aarch64__)
	uint64_t *sp = (uint64_t *)(top - 176);
	for (int i = 0; i < 22; i++)
		sp[i] = 0;
	sp[0] = (uint64_t)entry;           /* x19 */
	sp[1] = (uint64_t)arg;             /* x20 */
	sp[10] = 0;                        /* x29 */
	sp[11] = (uint64_t)urio__ctx_start; /* x30 */
	return sp;
#else
#error "urio: no context switch for this architecture"
#endif
}

/* Scheduler -> task t. Returns when t switches back. */
static inline __attribute__((always_inline)) void
urio__switch_to_task(struct urio__worker *w, urio_task *t)
{
#ifdef URIO__ASAN
	__sanitizer_start_switch_fiber(&w->asan_fake, t->stack->lo,
				       t->stack->size);
#endif
#ifdef URIO__TSAN
	__tsan_switch_to_fiber(t->tsan_fiber, 0);
#endif
	urio__ctx_switch(&w->sched_sp, t->sp);
#ifdef URIO__ASAN
	__sanitizer_finish_switch_fiber(w->asan_fake, NULL, NULL);
#endif
}

/* Task t -> its worker's scheduler. exiting: t never comes back. Returns
 * (possibly on another worker) when t is resumed. */
static inline __attribute__((always_inline)) void
urio__switch_to_sched(struct urio__worker *w, urio_task *t, bool exiting)
{
#ifdef URIO__ASAN
	__sanitizer_start_switch_fiber(exiting ? NULL : &t->asan_fake,
				       w->stack_bottom, w->stack_size);
#endif
#ifdef URIO__TSAN
	__tsan_switch_to_fiber(w->tsan_fiber, 0);
#endif
	(void)exiting;
	urio__ctx_switch(&t->sp, w->sched_sp);
#ifdef URIO__ASAN
	__sanitizer_finish_switch_fiber(t->asan_fake, NULL, NULL);
#endif
}

/* Task from -> task to on the same worker, without the scheduler. exiting:
 * from never comes back. Returns when from is resumed. */
static inline __attribute__((always_inline)) void
urio__switch_task_to_task(urio_task *from, urio_task *to, bool exiting)
{
#ifdef URIO__ASAN
	__sanitizer_start_switch_fiber(exiting ? NULL : &from->asan_fake,
				       to->stack->lo, to->stack->size);
#endif
#ifdef URIO__TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
	(void)exiting;
	urio__ctx_switch(&from->sp, to->sp);
#ifdef URIO__ASAN
	__sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
}

/* First code on a new task stack (reached from the scheduler or from
 * another task: the old stack's bounds are not needed). */
static inline __attribute__((always_inline)) void urio__fiber_started(void)
{
#ifdef URIO__ASAN
	const void *bottom;
	size_t size;
	__sanitizer_finish_switch_fiber(NULL, &bottom, &size);
#endif
}

#endif
