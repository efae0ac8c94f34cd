/* Fault injection for test builds (cmake -DURIO_FAULT=ON): each fallible
 * point counts its calls and fails the Nth one, so a driver can walk every
 * error path of a workload in turn (curl's torture, SQLite's faultsim).
 * Release builds compile every check to a constant false. Never installed. */
#ifndef URIO_FAULT_H
#define URIO_FAULT_H

#include <stdbool.h>
#include <stdint.h>

enum urio__fault_point {
	URIO__FAULT_ALLOC,    /* task and runtime records, io/, sync/: ENOMEM */
	URIO__FAULT_MMAP,     /* stack and signal-stack mappings: ENOMEM */
	URIO__FAULT_MAPCOUNT, /* stack guard: vm.max_map_count reached */
	URIO__FAULT_SUBMIT,   /* io_uring_enter: -EAGAIN, then -EBUSY */
	URIO__FAULT_SQ_FULL,  /* io_uring_get_sqe finds the SQ full */
	URIO__FAULT_SHORT_IO, /* a read or write asks for half its length */
	URIO__FAULT_NPOINTS
};

/* Resources a fault run must give back, counted in test builds. */
enum urio__fault_gauge { URIO__GAUGE_STACKS, URIO__GAUGE_N };

#ifdef URIO_FAULT
#define URIO_FAULT_API __attribute__((visibility("default")))
/* True when this call of point p is the one armed to fail. */
bool urio__fault(enum urio__fault_point p);
/* -EINVAL when a ring asked for with setup flags must fail as a kernel
 * without one of them would (URIO_FAULT_SETUP_FLAGS), else 0. */
int urio__fault_setup(unsigned flags);

/* Test controls. Arms point p to fail its nth call from now (0: never) and
 * zeroes its count; returns -EINVAL for an unknown point. Also set from the
 * environment as URIO_FAULT=name:n. */
URIO_FAULT_API int urio__fault_arm(int p, uint64_t nth);
/* Arms p to fail every period-th call (0: never), for storms. */
URIO_FAULT_API int urio__fault_arm_every(int p, uint64_t period);
/* Calls of p since it was armed; whether the armed call failed. */
URIO_FAULT_API uint64_t urio__fault_calls(int p);
URIO_FAULT_API bool urio__fault_fired(int p);
URIO_FAULT_API const char *urio__fault_name(int p);
/* Setup flags (IORING_SETUP_*) the next rings must be refused for, as
 * URIO_FAULT_SETUP_FLAGS=DEFER_TASKRUN,SINGLE_ISSUER,... names them; ~0u
 * refuses every ring. Returns the previous mask. */
URIO_FAULT_API unsigned urio__fault_setup_mask(unsigned mask);
/* Rings made from now on hide IORING_FEAT_EXT_ARG from liburing, which then
 * waits with a timeout SQE of its own (URIO_FAULT_NO_EXT_ARG=1). */
URIO_FAULT_API void urio__fault_set_no_ext_arg(bool on);
void urio__fault_gauge(enum urio__fault_gauge g, long delta);
/* How many of g are held now (stacks mapped). */
URIO_FAULT_API long urio__fault_gauge_get(int g);
bool urio__fault_no_ext_arg(void);
#else
static inline bool urio__fault(enum urio__fault_point p)
{
	(void)p;
	return false;
}
static inline int urio__fault_setup(unsigned flags)
{
	(void)flags;
	return 0;
}
static inline bool urio__fault_no_ext_arg(void)
{
	return false;
}
static inline void urio__fault_gauge(enum urio__fault_gauge g, long delta)
{
	(void)g;
	(void)delta;
}
#endif

#endif
