/* Fault injection (see fault.h). The counters are process-wide: a driver
 * arms one point, runs a workload, and reads back whether the fault fired;
 * the next run arms the call after it. Compiled to nothing unless
 * URIO_FAULT is defined. */
#ifdef URIO_FAULT
#include <errno.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

static const char *const names[URIO__FAULT_NPOINTS] = {
	[URIO__FAULT_ALLOC] = "alloc",
	[URIO__FAULT_MMAP] = "mmap",
	[URIO__FAULT_MAPCOUNT] = "mapcount",
	[URIO__FAULT_SUBMIT] = "submit",
	[URIO__FAULT_SQ_FULL] = "sq_full",
	[URIO__FAULT_SHORT_IO] = "short_io",
};

static const struct {
	const char *name;
	unsigned flag;
} setup_names[] = {
	{"DEFER_TASKRUN", IORING_SETUP_DEFER_TASKRUN},
	{"SINGLE_ISSUER", IORING_SETUP_SINGLE_ISSUER},
	{"COOP_TASKRUN", IORING_SETUP_COOP_TASKRUN},
	{"TASKRUN_FLAG", IORING_SETUP_TASKRUN_FLAG},
	{"SUBMIT_ALL", IORING_SETUP_SUBMIT_ALL},
	{"CLAMP", IORING_SETUP_CLAMP},
	{"CQSIZE", IORING_SETUP_CQSIZE},
	{"ALL", ~0u},
};

static struct {
	_Atomic uint64_t calls, nth, every;
	_Atomic bool fired;
} pt[URIO__FAULT_NPOINTS];
static _Atomic unsigned setup_mask;
static _Atomic bool no_ext_arg;
static _Atomic long gauges[URIO__GAUGE_N];
static _Atomic int env_read;

static bool word_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ',') && (!p[n] || p[n] == ','))
			return true;
	return false;
}

/* URIO_FAULT=name:n and URIO_FAULT_SETUP_FLAGS=NAME,... once, at the
 * first check; the controls called later override them. */
static void read_env(void)
{
	int exp = 0;
	if (atomic_load(&env_read) ||
	    !atomic_compare_exchange_strong(&env_read, &exp, 1))
		return;
	const char *e = getenv("URIO_FAULT_SETUP_FLAGS");
	unsigned mask = 0;
	for (size_t i = 0; e && i < sizeof(setup_names) / sizeof(*setup_names);
	     i++)
		if (word_in(e, setup_names[i].name))
			mask |= setup_names[i].flag;
	atomic_store(&setup_mask, mask);
	e = getenv("URIO_FAULT_NO_EXT_ARG");
	atomic_store(&no_ext_arg, e && *e == '1');
	e = getenv("URIO_FAULT");
	const char *colon = e ? strchr(e, ':') : NULL;
	for (int p = 0; colon && p < URIO__FAULT_NPOINTS; p++)
		if (strlen(names[p]) == (size_t)(colon - e) &&
		    !strncmp(e, names[p], (size_t)(colon - e)))
			urio__fault_arm(p, strtoull(colon + 1, NULL, 10));
}

bool urio__fault(enum urio__fault_point p)
{
	read_env();
	uint64_t nth = atomic_load_explicit(&pt[p].nth, memory_order_relaxed);
	uint64_t every = atomic_load_explicit(&pt[p].every,
					      memory_order_relaxed);
	if (!nth && !every)
		return false;
	uint64_t c = atomic_fetch_add(&pt[p].calls, 1) + 1;
	if (every ? c % every : c != nth)
		return false;
	atomic_store(&pt[p].fired, true);
	return true;
}

int urio__fault_setup(unsigned flags)
{
	read_env();
	unsigned mask = atomic_load(&setup_mask);
	return mask == ~0u || (flags & mask) ? -EINVAL : 0;
}

int urio__fault_arm(int p, uint64_t nth)
{
	if (p < 0 || p >= URIO__FAULT_NPOINTS)
		return -EINVAL;
	read_env();
	atomic_store(&pt[p].nth, 0);
	atomic_store(&pt[p].every, 0);
	atomic_store(&pt[p].calls, 0);
	atomic_store(&pt[p].fired, false);
	atomic_store(&pt[p].nth, nth);
	return 0;
}

int urio__fault_arm_every(int p, uint64_t period)
{
	int r = urio__fault_arm(p, 0);
	if (r == 0)
		atomic_store(&pt[p].every, period);
	return r;
}

uint64_t urio__fault_calls(int p)
{
	return p >= 0 && p < URIO__FAULT_NPOINTS ? atomic_load(&pt[p].calls)
						  : 0;
}

bool urio__fault_fired(int p)
{
	return p >= 0 && p < URIO__FAULT_NPOINTS && atomic_load(&pt[p].fired);
}

const char *urio__fault_name(int p)
{
	return p >= 0 && p < URIO__FAULT_NPOINTS ? names[p] : NULL;
}

void urio__fault_set_no_ext_arg(bool on)
{
	read_env();
	atomic_store(&no_ext_arg, on);
}

bool urio__fault_no_ext_arg(void)
{
	read_env();
	return atomic_load(&no_ext_arg);
}

void urio__fault_gauge(enum urio__fault_gauge g, long delta)
{
	atomic_fetch_add(&gauges[g], delta);
}

long urio__fault_gauge_get(int g)
{
	return g >= 0 && g < URIO__GAUGE_N ? atomic_load(&gauges[g]) : -1;
}

unsigned urio__fault_setup_mask(unsigned mask)
{
	read_env();
	return atomic_exchange(&setup_mask, mask);
}
#endif
