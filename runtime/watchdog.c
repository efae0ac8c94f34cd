/* Stuck-worker watchdog: a task that runs for longer than a threshold
 * without switching out freezes every timer and completion its worker
 * owns, and no other worker can take them. Like Go's sysmon and tokio's
 * blocking detection, a thread of the runtime samples each worker's switch
 * count (its scheduler tick, stored on every switch: the only cost on the
 * hot path) and the task it runs; the same task with the same count for a
 * whole threshold is reported once per stretch, by name, with what it is
 * doing:
 *   - blocked in a syscall: /proc/self/task/<tid>/syscall gives the call
 *     and its pc, and the words of its stack that point into code (read,
 *     not walked: libc may not keep frame pointers) give the callers; no
 *     signal is sent, so the blocking call is not interrupted (EINTR);
 *   - running: a signal (URIO__WD_SIGNAL, only when the application left
 *     it at its default) makes the worker record its pc and frame chain.
 * Default threshold 1000 ms; urio_config.watchdog_ms sets it, the flag
 * URIO_CFG_NO_WATCHDOG or URIO_WATCHDOG_MS=0 turns it off, and
 * URIO_WATCHDOG_MS=n overrides both. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_MS 1000u
#define URIO__WD_SIGNAL (SIGRTMAX - 2)
#define SCAN_BYTES (32u << 10) /* of a blocked task's stack, from its sp */

struct seen {
	const void *cur;
	uint64_t beat, since;
	bool reported;
};

struct urio__watchdog {
	urio_rt *rt;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	uint64_t threshold;
	struct seen *seen;
};

static _Atomic int sig_state; /* 0 unknown, 1 ours, 2 the application's */

static unsigned threshold_ms(const urio_config *c)
{
	const char *e = getenv("URIO_WATCHDOG_MS");
	if (e && *e)
		return (unsigned)strtoul(e, NULL, 10);
	if (c->flags & URIO_CFG_NO_WATCHDOG)
		return 0;
	return c->watchdog_ms ? c->watchdog_ms : DEFAULT_MS;
}

/* Runs on the stuck worker: its pc, then the return addresses of the
 * frame chain, kept inside the task's stack. */
static void on_signal(int sig, siginfo_t *si, void *ucv)
{
	struct urio__worker *w = urio__cur_worker();
	if (!w || !atomic_load(&w->wd_want))
		return;
	ucontext_t *uc = ucv;
	uintptr_t pc = 0, fp = 0;
#if defined(__x86_64__)
	pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
#elif defined(__aarch64__)
	pc = (uintptr_t)uc->uc_mcontext.pc;
	fp = (uintptr_t)uc->uc_mcontext.regs[29];
#endif
	urio_task *t = atomic_load_explicit(&w->cur, memory_order_relaxed);
	unsigned n = 0;
	w->wd_pcs[n++] = pc;
	if (t && t->stack) {
		uintptr_t lo = (uintptr_t)t->stack->lo, hi = (uintptr_t)t->stack;
		while (n < URIO__WD_PCS && fp >= lo && fp + 16 <= hi &&
		       !(fp & 7)) {
			uintptr_t *f = (uintptr_t *)fp;
			if (f[1])
				w->wd_pcs[n++] = f[1];
			if (f[0] <= fp)
				break;
			fp = f[0];
		}
	}
	atomic_store_explicit(&w->wd_npcs, n, memory_order_release);
}

static bool signal_ours(void)
{
	int s = atomic_load(&sig_state);
	if (s)
		return s == 1;
	struct sigaction old;
	if (sigaction(URIO__WD_SIGNAL, NULL, &old) == 0 &&
	    !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {
		struct sigaction sa = {.sa_sigaction = on_signal,
				       .sa_flags = SA_SIGINFO | SA_RESTART};
		sigemptyset(&sa.sa_mask);
		sigaction(URIO__WD_SIGNAL, &sa, NULL);
		s = 1;
	} else {
		s = 2;
	}
	atomic_store(&sig_state, s);
	return s == 1;
}

static void print_pc(FILE *f, uintptr_t pc)
{
	Dl_info di;
	if (dladdr((void *)pc, &di) && di.dli_fname) {
		const char *obj = strrchr(di.dli_fname, '/');
		obj = obj ? obj + 1 : di.dli_fname;
		if (di.dli_sname)
			fprintf(f, "%s+0x%lx (%s)", di.dli_sname,
				(unsigned long)(pc - (uintptr_t)di.dli_saddr),
				obj);
		else
			fprintf(f, "%s+0x%lx", obj,
				(unsigned long)(pc - (uintptr_t)di.dli_fbase));
	} else {
		fprintf(f, "0x%lx", (unsigned long)pc);
	}
}

/* Executable segments of the loaded objects: a stack word inside one is
 * (most likely) a return address. */
struct text_ranges {
	uintptr_t lo[64], hi[64];
	unsigned n;
};

static int add_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct text_ranges *r = arg;
	for (unsigned i = 0; i < info->dlpi_phnum && r->n < 64; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			r->lo[r->n] = info->dlpi_addr + ph->p_vaddr;
			r->hi[r->n++] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
		}
	}
	return 0;
}

static bool in_text(const struct text_ranges *r, uintptr_t v)
{
	for (unsigned i = 0; i < r->n; i++)
		if (v >= r->lo[i] && v < r->hi[i])
			return true;
	return false;
}

/* Reads len bytes of our own memory through the kernel: false, not a
 * fault, when the range is gone. */
static bool read_self(void *dst, const void *src, size_t len)
{
	struct iovec l = {dst, len}, r = {(void *)src, len};
	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)len;
}

/* A copy of the words above sp. The task may finish meanwhile (the
 * registry lock does not stop that) and its stack go back to a pool or be
 * unmapped, so header and words are read through the kernel: a vanished
 * stack gives nothing, never a fault in this thread. */
static size_t copy_stack(uintptr_t *out, size_t max, uintptr_t sp,
			 struct urio__stack *st)
{
	struct urio__stack hdr;
	if (!read_self(&hdr, st, sizeof(hdr)))
		return 0;
	uintptr_t lo = (uintptr_t)hdr.lo, hi = (uintptr_t)st;
	if (sp < lo || sp >= hi)
		return 0;
	sp &= ~(uintptr_t)7;
	size_t n = (hi - sp) / 8;
	if (n > max)
		n = max;
	return read_self(out, (const void *)sp, n * 8) ? n : 0;
}

struct stuck {
	uint64_t id;
	char name[URIO__NAME_MAX];
	long nr; /* syscall, -1 if none */
	uintptr_t sp, pc;
	uintptr_t *words;
	size_t nwords;
};

/* Where the worker's thread is: in a syscall (nr, sp, pc) or running. */
static void read_syscall(struct urio__worker *w, struct stuck *s)
{
	char path[64], buf[256];
	s->nr = -1;
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", w->tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	unsigned long a[6], sp, pc;
	long nr;
	if (fgets(buf, sizeof(buf), f) &&
	    sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0],
		   &a[1], &a[2], &a[3], &a[4], &a[5], &sp, &pc) == 9 &&
	    nr >= 0) {
		s->nr = nr;
		s->sp = sp;
		s->pc = pc;
	}
	fclose(f);
}

/* Finds cur in the registry; with it held, copies its name and stack. */
static bool find_task(urio_rt *rt, const void *cur, struct stuck *s)
{
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urio__worker *v = &rt->workers[i];
		bool found = false;
		urio__spin_lock(&v->reg_lock);
		for (uint32_t k = 0; k < v->nreg && !found; k++) {
			urio_task *t = urio__reg_at(v, k);
			/* a finished task may sit here for its shard's owner */
			if (t != cur || atomic_load_explicit(&t->jstate,
						memory_order_relaxed) ==
						URIO__J_DONE)
				continue;
			found = true;
			s->id = t->id;
			urio__task_lock(t); /* urio_task_set_name's lock */
			memcpy(s->name, t->name, sizeof(s->name));
			urio__task_unlock(t);
			s->name[sizeof(s->name) - 1] = 0;
			/* the task may finish now: see copy_stack */
			struct urio__stack *st =
				__atomic_load_n(&t->stack, __ATOMIC_RELAXED);
			if (s->nr >= 0 && s->words && st)
				s->nwords = copy_stack(s->words,
						       SCAN_BYTES / 8, s->sp, st);
		}
		urio__spin_unlock(&v->reg_lock);
		if (found)
			return true;
	}
	return false;
}

static const char *syscall_name(long nr)
{
	switch (nr) {
	case SYS_read: return "read";
	case SYS_write: return "write";
	case SYS_nanosleep: return "nanosleep";
	case SYS_clock_nanosleep: return "clock_nanosleep";
	case SYS_futex: return "futex";
	case SYS_ppoll: return "ppoll";
#ifdef SYS_poll
	case SYS_poll: return "poll";
	case SYS_select: return "select";
	case SYS_epoll_wait: return "epoll_wait";
#endif
	case SYS_pselect6: return "pselect6";
	case SYS_epoll_pwait: return "epoll_pwait";
	case SYS_connect: return "connect";
	case SYS_accept4: return "accept4";
	case SYS_recvfrom: return "recvfrom";
	case SYS_sendto: return "sendto";
	case SYS_wait4: return "wait4";
	case SYS_fsync: return "fsync";
	case SYS_openat: return "openat";
	default: return "syscall";
	}
}

static void report(struct urio__watchdog *wd, struct urio__worker *w,
		   const void *cur, uint64_t ns)
{
	uintptr_t *words = malloc(SCAN_BYTES);
	struct stuck s = {.words = words};
	read_syscall(w, &s);
	if (!find_task(wd->rt, cur, &s)) {
		free(words);
		return; /* it finished meanwhile */
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		free(words);
		atomic_fetch_add(&w->st.stuck, 1);
		return;
	}
	fprintf(f, "urio: watchdog: task %llu '%s' has run on worker %u for "
		   "%llu ms without suspending; the worker's timers and "
		   "completions wait for it\n",
		(unsigned long long)s.id, s.name, w->index,
		(unsigned long long)(ns / 1000000));
	if (s.nr >= 0) {
		fprintf(f, "urio: watchdog:   blocked in %s (%ld) at ",
			syscall_name(s.nr), s.nr);
		print_pc(f, s.pc);
		struct text_ranges tr = {.n = 0};
		dl_iterate_phdr(add_text, &tr);
		fprintf(f, "\nurio: watchdog:   code addresses on its stack, "
			   "innermost first:");
		for (size_t i = 0, shown = 0; i < s.nwords && shown < 8; i++) {
			if (!in_text(&tr, s.words[i]))
				continue;
			fprintf(f, "\nurio: watchdog:     ");
			print_pc(f, s.words[i]);
			shown++;
		}
		fputc('\n', f);
	} else if (signal_ours()) {
		atomic_store(&w->wd_npcs, 0);
		atomic_store(&w->wd_want, true);
		pthread_kill(w->thread, URIO__WD_SIGNAL);
		unsigned n = 0;
		for (int i = 0; i < 100 && !n; i++) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
			/* acquire pairs with the handler's release store */
			n = atomic_load_explicit(&w->wd_npcs,
						 memory_order_acquire);
		}
		atomic_store(&w->wd_want, false);
		fprintf(f, "urio: watchdog:   running%s", n ? ", at:" : "");
		for (unsigned i = 0; i < n; i++) {
			fprintf(f, "\nurio: watchdog:     ");
			print_pc(f, w->wd_pcs[i]);
		}
		fputc('\n', f);
	} else {
		fprintf(f, "urio: watchdog:   running\n");
	}
	fclose(f);
	fputs(text, stderr);
	free(text);
	free(words);
	atomic_fetch_add(&w->st.stuck, 1); /* once the report is out */
}

static void check(struct urio__watchdog *wd, uint64_t now)
{
	urio_rt *rt = wd->rt;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urio__worker *w = &rt->workers[i];
		struct seen *s = &wd->seen[i];
		/* acquire pairs with the release stores in sched.c: the
		 * running task's first-run set-up (its stack) and cur are
		 * visible; a stale pair delays a report by a period at most */
		uint64_t beat = atomic_load_explicit(&w->beat,
						     memory_order_acquire);
		const void *cur = atomic_load_explicit(&w->cur,
						       memory_order_relaxed);
		if (!cur || cur != s->cur || beat != s->beat) {
			*s = (struct seen){cur, beat, now, false};
			atomic_store_explicit(&w->stuck_since, 0,
					      memory_order_relaxed);
			continue;
		}
		if (now - s->since < wd->threshold || s->reported)
			continue;
		s->reported = true;
		atomic_store_explicit(&w->stuck_since, s->since,
				      memory_order_relaxed);
		report(wd, w, cur, now - s->since);
	}
}

static void *wd_main(void *arg)
{
	struct urio__watchdog *wd = arg;
	uint64_t period = wd->threshold / 4;
	if (period > 250000000u)
		period = 250000000u;
	if (period < 1000000u)
		period = 1000000u;
	pthread_mutex_lock(&wd->mu);
	while (!wd->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t due = (uint64_t)ts.tv_nsec + period;
		ts.tv_sec += (time_t)(due / 1000000000u);
		ts.tv_nsec = (long)(due % 1000000000u);
		pthread_cond_timedwait(&wd->cv, &wd->mu, &ts);
		if (wd->stop)
			break;
		pthread_mutex_unlock(&wd->mu);
		check(wd, urio__now_ns()); /* the clock introspect.c reads too */
		pthread_mutex_lock(&wd->mu);
	}
	pthread_mutex_unlock(&wd->mu);
	return NULL;
}

int urio__watchdog_start(urio_rt *rt)
{
	unsigned ms = threshold_ms(&rt->cfg);
	if (!ms)
		return 0;
	struct urio__watchdog *wd = calloc(1, sizeof(*wd));
	if (!wd)
		return -ENOMEM;
	wd->seen = calloc(rt->nworkers, sizeof(*wd->seen));
	if (!wd->seen) {
		free(wd);
		return -ENOMEM;
	}
	wd->rt = rt;
	wd->threshold = (uint64_t)ms * 1000000u;
	pthread_mutex_init(&wd->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wd->cv, &ca);
	pthread_condattr_destroy(&ca);
	int err = pthread_create(&wd->thread, NULL, wd_main, wd);
	if (err) {
		pthread_cond_destroy(&wd->cv);
		pthread_mutex_destroy(&wd->mu);
		free(wd->seen);
		free(wd);
		return -err;
	}
	rt->watchdog = wd;
	return 0;
}

void urio__watchdog_stop(urio_rt *rt)
{
	struct urio__watchdog *wd = rt->watchdog;
	if (!wd)
		return;
	pthread_mutex_lock(&wd->mu);
	wd->stop = true;
	pthread_cond_signal(&wd->cv);
	pthread_mutex_unlock(&wd->mu);
	pthread_join(wd->thread, NULL);
	pthread_cond_destroy(&wd->cv);
	pthread_mutex_destroy(&wd->mu);
	free(wd->seen);
	free(wd);
	rt->watchdog = NULL;
}
