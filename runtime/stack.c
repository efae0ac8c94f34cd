/* Task stacks.
 *
 * Each stack is its own anonymous mapping, reserved with MAP_NORESERVE so
 * only the pages a task touches are committed (a sleeping task costs a page
 * or two). The lowest pages are a guard: with MADV_GUARD_INSTALL (Linux
 * 6.13+) the guard lives in the page tables and splits no VMA, so 100k
 * stacks stay far below vm.max_map_count; older kernels fall back to
 * mprotect(PROT_NONE), which costs two VMAs per stack, so spawning stops
 * with EAGAIN before the process runs out of mappings.
 *
 * Stacks are pooled: mmap/munmap cost a syscall each, and with two workers
 * they also contend on the mmap lock and flush the other CPU's TLB, which
 * made a burst of 10k tasks cost ~20 us each. A per-worker hot pool makes
 * spawn+join pointer moves; past it, stacks wait in a process-wide cold list
 * (with their touched pages, a few KiB each) up to COLD_MAX, and are only
 * unmapped when the last runtime is freed. The descriptor sits at the top
 * of the mapping, so a stack costs no separate allocation. Pools are arrays
 * of (pointer, size) slots, not lists threaded through the stacks: when one
 * worker spawns and another finishes (a fan-out), stacks cross between them
 * in batches, and are picked, without touching their cache lines.
 *
 * A burst of deep tasks leaves every pooled stack with its deep pages
 * committed, and pooling alone would keep that RSS for good. So a worker
 * about to park (when a syscall costs nobody) gives back the pages of its
 * pooled stacks past the WARM newest, and of the cold list, with
 * MADV_DONTNEED (MADV_FREE would leave RSS up until memory pressure);
 * each stack keeps its top page, which holds its header. A slot's size
 * carries a CLEAN bit (sizes are multiples of 8), so a stack is given back
 * once per use.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault.h"
#include "fiber.h"
#include "internal.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h> /* a few no-op instructions outside valgrind */
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13, absent from older headers */
#endif

#define COLD_MAX 16384  /* process-wide */
#define BATCH URIO__AWAY_MAX /* stacks moved per cold-list visit */
#define GUARD_SIZE (16u << 10)
#define WARM 64      /* newest pooled stacks a worker keeps committed */
#define CLEAN 1u     /* slot size bit: pages below the top given back */

static _Atomic int guard_mode; /* 0 unknown, 1 madvise, 2 mprotect */
static _Atomic long mprotect_stacks;
static long map_limit;

static urio__spin cold_lock;
static struct urio__stack_slot cold[COLD_MAX];
static unsigned ncold, runtimes;
static _Atomic bool cold_dirty; /* a slot without CLEAN went cold */

static size_t page_size(void)
{
	static size_t ps;
	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

bool urio__stack_guard_madvise(void)
{
	return atomic_load(&guard_mode) == 1;
}

static long read_map_limit(void)
{
	long v = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v;
}

static int install_guard(char *map, size_t guard)
{
	/* both madvise and mprotect fail so at vm.max_map_count */
	if (urio__fault(URIO__FAULT_MAPCOUNT))
		return -ENOMEM;
	int mode = atomic_load(&guard_mode);
	if (mode != 2) {
		if (madvise(map, guard, MADV_GUARD_INSTALL) == 0) {
			atomic_store(&guard_mode, 1);
			return 0;
		}
		if (errno != EINVAL)
			return -errno;
		atomic_store(&guard_mode, 2); /* kernel < 6.13 */
		map_limit = read_map_limit();
	}
	/* Each mprotect'ed stack is two VMAs; keep a margin for malloc,
	 * threads and the application. */
	if (atomic_fetch_add(&mprotect_stacks, 1) * 2 + 4096 > map_limit) {
		atomic_fetch_sub(&mprotect_stacks, 1);
		return -EAGAIN;
	}
	if (mprotect(map, guard, PROT_NONE) < 0) {
		int err = errno;
		atomic_fetch_sub(&mprotect_stacks, 1);
		return -err;
	}
	return 0;
}

static struct urio__stack *stack_map(size_t size)
{
	size_t ps = page_size();
	size_t guard = GUARD_SIZE < ps ? ps : GUARD_SIZE;
	/* a huge request would wrap the sums below into a tiny mapping */
	if (size > SIZE_MAX / 2 - guard - sizeof(struct urio__stack) - ps) {
		errno = ENOMEM;
		return NULL;
	}
	size_t usable = (size + sizeof(struct urio__stack) + ps - 1) & ~(ps - 1);
	size_t map_size = guard + usable;
	if (urio__fault(URIO__FAULT_MMAP)) {
		errno = ENOMEM;
		return NULL;
	}
	char *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	int err = install_guard(map, guard);
	if (err < 0) {
		munmap(map, map_size);
		errno = -err;
		return NULL;
	}
	struct urio__stack *s =
		(struct urio__stack *)(map + map_size - sizeof(*s));
	s->map = map;
	s->map_size = map_size;
	s->guard = guard;
	s->lo = map + guard;
	s->size = (size_t)((char *)s - s->lo);
	/* memcheck must know a stack switch from a wild write */
	s->vg_id = VALGRIND_STACK_REGISTER(s->lo, (char *)s);
	urio__fault_gauge(URIO__GAUGE_STACKS, 1);
	return s;
}

static void stack_unmap(struct urio__stack *s)
{
	VALGRIND_STACK_DEREGISTER(s->vg_id);
#ifdef URIO__ASAN
	/* ASan keeps shadow for unmapped memory: a later mapping at this
	 * address would inherit the poison of frames that never returned */
	__asan_unpoison_memory_region(s->lo, s->size);
#endif
	if (atomic_load(&guard_mode) == 2)
		atomic_fetch_sub(&mprotect_stacks, 1);
	urio__fault_gauge(URIO__GAUGE_STACKS, -1);
	munmap(s->map, s->map_size);
}

/* Takes a stack of about size bytes out of arr[0..*n), newest first. The
 * slot keeps its CLEAN bit. *moved: a newer slot took its place. */
static struct urio__stack_slot take(struct urio__stack_slot *arr, unsigned *n,
				    size_t size, bool *moved)
{
	for (unsigned i = *n; i-- > 0;) {
		struct urio__stack_slot x = arr[i];
		size_t got = x.size & ~(size_t)CLEAN;
		if (got >= size && got < size * 2) {
			*moved = i + 1 != *n;
			arr[i] = arr[--*n];
#ifdef URIO__ASAN
			/* frames that never returned leave poison */
			__asan_unpoison_memory_region((char *)x.s - got, got);
#endif
			return x;
		}
	}
	return (struct urio__stack_slot){NULL, 0};
}

/* Refills w's pool from the cold list with up to BATCH stacks of about
 * size bytes: one lock per batch, since stacks drift from the workers that
 * finish tasks to the ones that spawn them. */
static void refill(struct urio__worker *w, size_t size)
{
	bool moved;
	urio__spin_lock(&cold_lock);
	for (int i = 0; i < BATCH && w->npool < URIO__POOL_MAX; i++) {
		struct urio__stack_slot x = take(cold, &ncold, size, &moved);
		if (!x.s)
			break;
		w->pool[w->npool++] = x;
	}
	urio__spin_unlock(&cold_lock);
}

struct urio__stack *urio__stack_get(struct urio__worker *w, size_t size,
				    size_t *got)
{
	struct urio__stack_slot x;
	bool moved = false;
	if (w) {
		x = take(w->pool, &w->npool, size, &moved);
		if (!x.s) {
			refill(w, size);
			x = take(w->pool, &w->npool, size, &moved);
		}
		if (moved) /* a newer, maybe dirty slot now sits deeper */
			w->stacks_dirty = true;
	} else {
		urio__spin_lock(&cold_lock);
		x = take(cold, &ncold, size, &moved);
		urio__spin_unlock(&cold_lock);
	}
	if (!x.s && (x.s = stack_map(size)))
		x.size = x.s->size;
	*got = x.size & ~(size_t)CLEAN;
	return x.s;
}

/* Moves n stacks to the cold list; unmaps what does not fit. */
static void to_cold(const struct urio__stack_slot *arr, unsigned n)
{
	unsigned i = 0;
	bool dirty = false;
	urio__spin_lock(&cold_lock);
	for (; i < n && ncold < COLD_MAX; i++) {
		dirty |= !(arr[i].size & CLEAN);
		cold[ncold++] = arr[i];
	}
	urio__spin_unlock(&cold_lock);
	if (dirty)
		atomic_store_explicit(&cold_dirty, true, memory_order_relaxed);
	for (; i < n; i++)
		stack_unmap(arr[i].s);
}

void urio__stack_put(struct urio__worker *w, struct urio__stack *s,
		     size_t size)
{
	struct urio__stack_slot x = {s, size};
	if (!w) {
		to_cold(&x, 1);
		return;
	}
	if (w->npool == URIO__POOL_MAX) {
		/* full: the oldest batch goes to the spawning workers */
		to_cold(w->pool, BATCH);
		w->npool -= BATCH;
		memmove(w->pool, w->pool + BATCH, w->npool * sizeof(*w->pool));
	}
	w->pool[w->npool++] = x;
	if (w->npool > WARM)
		w->stacks_dirty = true;
}

/* A task is about to run on w for the first time: trades the stack s it
 * reserved at spawn (of *size usable bytes, updated) for the one w's pool
 * got last, which the task that ran before used: its top page and lines
 * are still in this CPU's TLB and cache, where s, taken long before, may
 * have left them. s goes back untouched: to the pool, if spawned here, or
 * (foreign) to w's "away" batch, which goes to the cold list whole, where
 * the spawning workers refill from; stacks then never cross CPUs with
 * their lines. */
struct urio__stack *urio__stack_swap(struct urio__worker *w,
				     struct urio__stack *s, size_t *size,
				     bool foreign)
{
	bool moved;
	struct urio__stack_slot mine = take(w->pool, &w->npool, *size, &moved);
	if (!mine.s)
		return s;
	if (moved)
		w->stacks_dirty = true;
	struct urio__stack_slot x = {s, *size};
	if (!foreign) {
		w->pool[w->npool++] = x; /* room: one was just taken */
	} else {
		w->away[w->naway++] = x;
		w->stacks_dirty = true;
		if (w->naway == BATCH) {
			to_cold(w->away, BATCH);
			w->naway = 0;
		}
	}
	*size = mine.size & ~(size_t)CLEAN;
	return mine.s;
}

/* Gives back the pages of s below its top page (which holds s). */
static void clean(struct urio__stack_slot *x)
{
	if (x->size & CLEAN)
		return;
	struct urio__stack *s = x->s;
	uintptr_t top = (uintptr_t)s & ~(uintptr_t)(page_size() - 1);
	if (top > (uintptr_t)s->lo)
		madvise(s->lo, top - (uintptr_t)s->lo, MADV_DONTNEED);
	x->size |= CLEAN;
}

/* Cleans the cold list a batch at a time: each batch leaves the list
 * while its syscalls run (another worker may take a stack meanwhile, but
 * never one being cleaned), then goes back. */
static void trim_cold(void)
{
	struct urio__stack_slot batch[BATCH];
	unsigned from = 0;
	for (;;) {
		unsigned n = 0;
		urio__spin_lock(&cold_lock);
		unsigned i = from;
		while (i < ncold && n < BATCH) {
			if (cold[i].size & CLEAN) {
				i++;
				continue;
			}
			batch[n++] = cold[i];
			cold[i] = cold[--ncold];
		}
		from = i;
		urio__spin_unlock(&cold_lock);
		if (!n)
			return;
		for (unsigned k = 0; k < n; k++)
			clean(&batch[k]);
		to_cold(batch, n);
	}
}

void urio__stack_trim(struct urio__worker *w)
{
	w->stacks_dirty = false;
	for (unsigned i = 0; i + WARM < w->npool; i++)
		clean(&w->pool[i]);
	for (unsigned i = 0; i < w->naway; i++)
		clean(&w->away[i]);
	if (atomic_exchange_explicit(&cold_dirty, false, memory_order_relaxed))
		trim_cold();
}

void urio__stack_pool_free(struct urio__worker *w)
{
	to_cold(w->pool, w->npool);
	w->npool = 0;
	to_cold(w->away, w->naway);
	w->naway = 0;
}

void urio__stacks_runtime(int delta)
{
	urio__spin_lock(&cold_lock);
	runtimes += (unsigned)delta;
	if (runtimes == 0) {
		/* no runtime left to spawn from or return to cold */
		while (ncold)
			stack_unmap(cold[--ncold].s);
	}
	urio__spin_unlock(&cold_lock);
}

/* --- stack overflow report ----------------------------------------------
 * A task that runs into its guard faults there; the SIGSEGV handler (on the
 * worker's alternate signal stack) names the task before the process dies,
 * instead of leaving a bare "Segmentation fault". */

static struct sigaction old_segv;

static void put(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	struct urio__worker *w = urio__cur_worker();
	urio_task *t = w ? w->cur : NULL;
	char *a = si->si_addr;
	if (t && a >= t->stack->map && a < t->stack->lo + 256) {
		char num[24];
		int i = (int)sizeof(num) - 1;
		uint64_t id = t->id;
		num[i] = 0;
		do
			num[--i] = (char)('0' + id % 10);
		while ((id /= 10) && i > 0);
		put("urio: stack overflow in task '");
		put(t->name[0] ? t->name : "?");
		put("' (id ");
		put(num + i);
		put("): raise urio_config.stack_size or use urio_spawn_ex\n");
	}
	/* Let the default action (or the previous handler) take the fault. */
	if (old_segv.sa_flags & SA_SIGINFO && old_segv.sa_sigaction) {
		old_segv.sa_sigaction(sig, si, uc);
		return;
	}
	if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN &&
	    !(old_segv.sa_flags & SA_SIGINFO)) {
		old_segv.sa_handler(sig);
		return;
	}
	signal(SIGSEGV, SIG_DFL);
}

static void install_segv(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
}

void urio__stack_overflow_handler_install(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, install_segv);
}
