/* Internal interfaces shared across runtime/ and io/. Never installed. */
#ifndef URIO_INTERNAL_H
#define URIO_INTERNAL_H

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <urio/runtime.h>
#include <urio/scope.h>
#include <urio/group.h>
#include <string.h>

#include "fault.h"

#define URIO__RUNQ_SIZE 256u
#define URIO__LIFO_CAP 3       /* runnext runs in a row before the queue */
#define URIO__GLOBAL_EVERY 61  /* ticks between global-queue checks */
#define URIO__POLL_EVERY 31    /* ticks between ring polls while busy */
#define URIO__BATCH 32         /* SQEs worth a syscall while busy */
#define URIO__SPIN_ROUNDS 64   /* steal attempts before parking */
#define URIO__NAME_MAX 32
#define URIO__REG_NONE UINT32_MAX /* end of a registry's free-slot chain */

/* user_data tags that are not wait records (records are 8-aligned). */
#define URIO__UD_IGNORE 0u
#define URIO__UD_WAKE 1u /* the eventfd read completed */
#define URIO__UD_MSG 2u  /* a MSG_RING wake arrived */
/* A multishot op's record, tagged: its completions go to fn, on the
 * worker whose ring holds the op (io/mshot.c). */
#define URIO__UD_HANDLER 4u
struct urio__worker;
struct urio__cqe_handler {
	void (*fn)(struct urio__cqe_handler *h, struct urio__worker *w,
		   const struct io_uring_cqe *cqe);
};
/* The sender's own CQE of a MSG_RING wake: (uintptr_t)target | SENT
 * (workers are 64-aligned). Only a failed one is posted with CQE_SKIP. */
#define URIO__UD_SENT 3u
#define URIO__UD_TAG_MASK 7u

#define urio__unlikely(x) __builtin_expect(!!(x), 0)

/* The spin-wait hint: PAUSE on x86, YIELD on aarch64 (both tell the core
 * a sibling thread may have its resources), nothing elsewhere. */
static inline void urio__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

struct urio__worker;

/* A test-and-set spinlock for short critical sections that are mostly
 * uncontended; under contention it spins instead of sleeping in a futex,
 * which costs two syscalls on this kind of machine. */
typedef struct {
	atomic_flag f;
} urio__spin;

static inline void urio__spin_lock(urio__spin *l)
{
	/* acquire pairs with the release in urio__spin_unlock */
	while (atomic_flag_test_and_set_explicit(&l->f, memory_order_acquire))
		urio__cpu_relax();
}

static inline void urio__spin_unlock(urio__spin *l)
{
	atomic_flag_clear_explicit(&l->f, memory_order_release);
}

/* --- stacks (stack.c) --------------------------------------------------- */
#define URIO__POOL_MAX 1024 /* stacks in a worker's hot pool */
#define URIO__AWAY_MAX 32   /* stacks handed back to the cold list at once */

struct urio__stack {
	char *lo;                 /* lowest usable byte (just above the guard) */
	size_t size;              /* usable bytes below this header */
	char *map;                /* whole mapping, guard included */
	size_t map_size;
	size_t guard;
	unsigned vg_id; /* valgrind's stack id */
};
/* A pooled stack with its usable size, kept beside the pointer so picking
 * one reads no line of the stack (its header shares a line with the top
 * frames, last written wherever it ran). The header sits right above the
 * usable bytes: (char *)s is the stack's top. */
struct urio__stack_slot {
	struct urio__stack *s;
	size_t size;
};
/* A stack of about size bytes (its usable size in *got), or NULL. */
struct urio__stack *urio__stack_get(struct urio__worker *w, size_t size,
				    size_t *got);
void urio__stack_put(struct urio__worker *w, struct urio__stack *s,
		     size_t size);
struct urio__stack *urio__stack_swap(struct urio__worker *w,
				     struct urio__stack *s, size_t *size,
				     bool foreign);
void urio__stack_pool_free(struct urio__worker *w);
/* Gives back the touched pages of w's pooled stacks past the few it keeps
 * warm, and of the process-wide cold list; w is about to park. */
void urio__stack_trim(struct urio__worker *w);
/* +1 when a runtime starts, -1 when freed; the last one unmaps the pool. */
void urio__stacks_runtime(int delta);
bool urio__stack_guard_madvise(void);
void urio__stack_overflow_handler_install(void);

/* --- waits -------------------------------------------------------------- */
enum urio__wait_kind { URIO__WAIT_IO, URIO__WAIT_TIMER, URIO__WAIT_OTHER };

/* What a suspended task waits for. Lives on the task's stack; an io_uring
 * op's user_data points at it, so it must outlive the op's completion. */
struct urio__wait {
	enum urio__wait_kind kind;
	struct urio__worker *owner; /* whose ring / timer heap holds it */
	urio_task *task;
	int32_t res;
	uint32_t cqe_flags;
	/* Cancels the wait; runs with task->lock held, on any thread. */
	void (*cancel)(struct urio__wait *w);
	void *cancel_arg;
	bool cancel_sent;
	/* timers: fire(w) runs on the owner when due; NULL readies the task */
	void (*fire)(struct urio__wait *w);
	uint64_t when;
	size_t heap_idx; /* SIZE_MAX when not in the heap */
	/* ring ops: runs at the completion instead of readying the task, for
	 * ops whose task goes on running meanwhile (io/aop.c) */
	void (*done)(struct urio__wait *w);
	/* introspection: set before urio__wait_begin publishes the record */
	const char *what;
	int fd;
	short events; /* poll backend: what the fd must become ready for */
};

/* --- tasks (task.c) ----------------------------------------------------- */
enum { URIO__J_RUNNING, URIO__J_JOINER, URIO__J_DONE, URIO__J_FOREIGN };
/* Who holds a task's handle: the spawner until it joins or detaches, or
 * the group the task is a child of. Claimed by one CAS, so a second join
 * or detach is refused while the record is alive. */
enum { URIO__H_HELD, URIO__H_JOINED, URIO__H_DETACHED, URIO__H_GROUP };
struct urio__gcore;

struct urio_task {
	void *sp; /* saved stack pointer while switched out; NULL until run */
	struct urio__stack *stack;
	size_t stack_size;             /* stack->size (urio__stack_slot) */
	urio_fn fn;
	void *arg;
	intptr_t result;
	urio_rt *rt;
	urio_task *next;               /* global queue link */
	unsigned reg;                  /* registry shard (worker index) */
	uint32_t reg_slot;             /* index in the shard's slot array */
	_Atomic int refs;              /* handle, body, registry, messages */
	_Atomic int jstate;            /* URIO__J_* */
	_Atomic int handle;            /* URIO__H_* */
	urio_task *joiner;
	_Atomic bool cancelled;
	atomic_flag lock;              /* guards wait against cancel */
	struct urio__wait *wait;
	uint64_t id;
	char name[URIO__NAME_MAX];
	void *locals;                  /* task-local values (local.c) */
	struct urio_deadline *scopes;  /* cancel scopes, innermost first */
	void *deadlines;               /* their armed timers (scope.c), off
					* the stack: a task that returns in a
					* scope has them disarmed from here */
	struct urio__gcore *groups;    /* groups this task owns (under lock) */
	struct urio__gcore *group;     /* the group this task is a child of */
	urio_task *gnext, *gdone_next; /* group lists: spawn / done order */
	size_t gindex;
	bool gdone;
	/* a generator parked in urio_gen_yield or never started (gen.c) */
	_Atomic bool gen_idle;
	uint64_t parent_id;
	void *tsan_fiber;
	void *asan_fake;
};

/* True once t is cancelled. A primitive that registers a waiter after
 * urio__wait_begin must check this again under its own lock: a cancel that
 * ran in between found nothing to cancel. */
static inline bool urio__task_cancelled(urio_task *t)
{
	return atomic_load(&t->cancelled);
}

/* urio_deadline kinds (scope.c; read by introspect.c) */
enum { URIO__SCOPE_DEADLINE = 1, URIO__SCOPE_SHIELD = 2 };

/* Would a suspension of t fail with -ECANCELED now? (scope.c) Walks t's
 * cancel scopes; only t itself, or a holder of t's lock while t is parked,
 * may call it. */
bool urio__scopes_cancelled(urio_task *t);
void urio__scopes_abandon(urio_task *t);
void urio__groups_cancel(urio_task *owner);
void urio__groups_abandon(urio_task *t);
void urio__group_child_done(urio_task *t);
/* Cancels what t waits in now, if its scopes let cancellation through. */
void urio__cancel_current_wait(urio_task *t);

static inline void urio__task_lock(urio_task *t)
{
	/* acquire pairs with the release in urio__task_unlock */
	while (atomic_flag_test_and_set_explicit(&t->lock,
						 memory_order_acquire))
		urio__cpu_relax();
}
static inline void urio__task_unlock(urio_task *t)
{
	atomic_flag_clear_explicit(&t->lock, memory_order_release);
}
void urio__task_unref(urio_task *t);
/* Tasks spawned and not yet finished. No shared counter is touched per
 * task (two CPUs bouncing one cache line per spawn and per finish cost
 * more than the tasks): workers count spawns and finishes separately and
 * this sums them, finishes first, so a task alive throughout is counted. */
uint64_t urio__live_tasks(urio_rt *rt);
/* Unlinks the tasks other workers finished from w's registry shard. */
void urio__registry_reap(struct urio__worker *w);
/* Hands w's batched finished tasks of other shards to their owners. */
void urio__registry_flush(struct urio__worker *w);
void urio__task_finish(struct urio__worker *w, urio_task *t);
void urio__task_first_run(struct urio__worker *w, urio_task *t);
#define URIO__MIN_STACK (16u << 10) /* smaller stacks are refused */
urio_task *urio__task_new(urio_rt *rt, struct urio__worker *w, urio_fn fn,
			  void *arg, size_t stack_size);

/* Task-local value blocks (local.c), shared by reference with the calls a
 * task offloads. */
struct urio__locals;
struct urio__locals *urio__locals_ref(void); /* the caller's, +1 ref */
void urio__locals_unref(struct urio__locals *l);
/* Makes l the pool thread's view; returns the previous view. */
struct urio__locals *urio__locals_enter(struct urio__locals *l);
/* Drops the finishing task t's block. */
void urio__locals_release(urio_task *t);
void urio__task_entry(urio_task *t) __attribute__((noreturn));

/* --- run queue (runq.c): Go/tokio layout, single producer, stealable --- */
struct urio__runq {
	_Atomic uint32_t head; /* consumers CAS it */
	_Atomic uint32_t tail; /* only the owner stores it */
	bool solo; /* a runtime of one worker has no thieves: no CAS in pop */
	_Atomic(urio_task *) buf[URIO__RUNQ_SIZE];
};
bool urio__runq_push(struct urio__runq *q, urio_task *t);
urio_task *urio__runq_pop(struct urio__runq *q);
/* Moves about half of victim's tasks into q; returns one of them or NULL. */
urio_task *urio__runq_steal(struct urio__runq *q, struct urio__runq *victim);
/* Takes half the tasks out of a full queue, for the global queue. */
unsigned urio__runq_take_half(struct urio__runq *q, urio_task **out);
uint32_t urio__runq_len(struct urio__runq *q);

/* --- messages to a worker (cross-thread requests for its ring) -------- */
/* CANCEL: cancel what task waits in if it is cancelled; CANCEL_OP: cancel
 * op whatever task's state, if task still waits in it (urio__wait_cancel_now) */
enum urio__msg_kind { URIO__MSG_CANCEL, URIO__MSG_CANCEL_OP };
struct urio__msg {
	struct urio__msg *next;
	enum urio__msg_kind kind;
	urio_task *task; /* holds a reference */
	struct urio__wait *op;
};

/* A counter only its worker writes: a plain load and store (no locked
 * instruction), atomic so readers on other threads see whole values. The
 * release store pairs with the acquire loads of urio__live_tasks. */
#define URIO__STAT(w, f, n)                                                   \
	atomic_store_explicit(                                                \
		&(w)->st.f,                                                   \
		atomic_load_explicit(&(w)->st.f, memory_order_relaxed) + (n), \
		memory_order_release)

/* --- workers (worker.c, sched.c) --------------------------------------- */
struct urio__worker {
	/* --- private to the worker's thread --- */
	urio_rt *rt;
	unsigned index;
	pthread_t thread;
	void *sched_sp;
	_Atomic(urio_task *) cur; /* stored relaxed; introspect.c reads it */
	/* the tick of the last switch to a task, stored relaxed on each;
	 * the watchdog (watchdog.c) reads it with cur */
	_Atomic uint64_t beat;
	/* What runs right after a task switched out, on whatever context
	 * comes next (the scheduler or, with a direct switch, the next task):
	 * post_task is that task, NULL when nothing is pending. */
	urio_task *post_task;
	int post;
	void (*post_fn)(void *);
	void *post_arg;

	struct io_uring ring;
	unsigned inflight;  /* ops submitted or prepared, not yet reaped */
	bool sq_waited;     /* SQEs were left pending by the last busy poll */
	/* the CQE loop runs: what needs an SQE waits until it is done */
	bool reaping, efd_rearm, wake_deferred;
	unsigned lifo_streak;
	uint64_t tick;
	uint32_t rng;
	bool fuzz;          /* seeded random scheduling decisions (fuzz.c) */
	uint64_t fuzz_rng;
	bool spinning;
	void *bufring;      /* provided receive buffers (io/bufring.c) */
	int efd;            /* eventfd wake fallback */
	uint64_t efd_buf;

	struct urio__wait **heap; /* timer min-heap on when */
	size_t nheap, heap_cap;

	/* hot stack pool (stack.c): pointers, so moving a stack between
	 * pools writes nothing into it, and its header stays read-only */
	struct urio__stack_slot pool[URIO__POOL_MAX];
	unsigned npool;
	struct urio__stack_slot away[URIO__AWAY_MAX]; /* see urio__stack_swap */
	unsigned naway;
	bool stacks_dirty; /* pages to give back past the warm set (trim) */

	struct pollfd *pollfds;    /* poll backend: [0] is the wake eventfd */
	struct urio__wait **pollv; /* ops waiting for readiness */
	size_t npoll, poll_cap;

	uint64_t id_next, id_end; /* a block of task ids taken at once */
	/* finished tasks of other registry shards, batched per shard */
	urio_task **gone;
	unsigned *ngone;

	/* watchdog.c: when the running task was seen stuck (0: it is not),
	 * and the pcs the stuck thread records on its signal */
	int tid;
	_Atomic uint64_t stuck_since;
	_Atomic bool wd_want;
	_Atomic unsigned wd_npcs;
#define URIO__WD_PCS 16
	uintptr_t wd_pcs[URIO__WD_PCS];

	void *tsan_fiber;
	void *asan_fake;
	const void *stack_bottom;
	size_t stack_size;
	void *altstack;

	/* --- shared: each group on its own cache line, so a thief, a waker
	 * and a registry user do not bounce the owner's private lines --- */
	_Alignas(64) struct urio__runq runq;
	_Alignas(64) _Atomic(urio_task *) runnext;
	_Atomic(struct urio__msg *) msgs; /* MPSC: Treiber push, owner takes all */
	_Atomic int parked;               /* 1 while parked and not yet claimed */
	/* MSG_RING wakes aimed at this ring right now, and whether it is
	 * closing: it is closed only once no sender can still name its fd */
	_Atomic unsigned msg_senders;
	_Atomic bool ring_closing;

	/* live-task registry shard: a slot array, so adding or removing a
	 * task writes no other task (a linked list wrote its neighbours,
	 * often just stolen by another CPU); a slot holds a task or, odd,
	 * the next free slot's index << 1 */
	_Alignas(64) urio__spin reg_lock;
	uintptr_t *reg;
	uint32_t nreg, reg_cap, reg_free; /* reg_free: URIO__REG_NONE if none */
	/* tasks of this shard that finished on other workers, to unlink;
	 * apart from reg_lock, which the owner takes on every spawn */
	_Alignas(64) _Atomic(urio_task *) graveyard;

	/* Written by this worker only (wakes: by any sender, atomically);
	 * read by urio_rt_stats from other threads, hence atomics. */
	_Alignas(64) struct {
		_Atomic uint64_t spawned, finished, steals, stolen, parks, wakes;
		_Atomic uint64_t submits, ops, overflow_flushes;
		_Atomic uint64_t stuck; /* by the watchdog thread */
	} st;
} __attribute__((aligned(64)));

struct urio_rt {
	urio_config cfg;
	unsigned nworkers;
	struct urio__worker *workers;
	unsigned ring_flags;
	bool msg_ring;
	bool no_ring; /* io_uring missing or refused: poll backend */

	pthread_mutex_t gq_mu; /* global injection queue */
	urio_task *gq_head, *gq_tail;
	_Atomic uint32_t gq_len;

	_Atomic unsigned nidle, nspinning;
	_Atomic uint64_t foreign_spawned; /* tasks spawned outside workers */
	/* threads outside the workers inside urio__ready or urio_cancel: the
	 * woken task may finish and urio_rt_free start before they return */
	_Atomic unsigned foreign_callers;
	_Atomic bool shutdown;
	struct urio__watchdog *watchdog; /* NULL when off */
	/* the worker threads alive and urio_rt_free's caller: the last one
	 * frees rt (a worker stuck in a call that ignores cancellation may
	 * outlive urio_rt_free) */
	_Atomic unsigned refs;
	pthread_mutex_t start_mu;
	pthread_cond_t start_cv;
	unsigned started;
	int start_err;
};

/* The task in slot k of w's registry shard, or NULL for a free slot;
 * under w->reg_lock, for k < w->nreg. */
static inline urio_task *urio__reg_at(struct urio__worker *w, uint32_t k)
{
	return w->reg[k] & 1 ? NULL : (urio_task *)w->reg[k];
}

void urio__set_cur_worker(struct urio__worker *w);
/* errno of the thread running now, read / set afresh: for code that may
 * have suspended (and resumed on another thread) since it last used errno
 * (worker.c says why plain errno is not enough). */
int urio__errno(void);
void urio__errno_set(int err);
#if defined(__x86_64__)
extern __thread struct urio__worker *urio__tls_worker
	__attribute__((tls_model("initial-exec"), visibility("hidden")));
/* The worker running this code. A task may resume on another thread, so
 * the compiler must not reuse a thread pointer computed before a switch
 * (ClickHouse/silk#66, QEMU coroutine-tls.h): the asm is volatile, reads
 * %fs afresh each time, and is inlined (a call per use cost ~3 ns of a
 * 36 ns yield). */
static inline __attribute__((always_inline)) struct urio__worker *
urio__cur_worker(void)
{
	struct urio__worker *w;
	__asm__ volatile("movq urio__tls_worker@gottpoff(%%rip), %0\n\t"
			 "movq %%fs:(%0), %0"
			 : "=r"(w)::"memory");
	return w;
}
#else
struct urio__worker *urio__cur_worker(void);
#endif
void *urio__worker_main(void *arg);
/* Drops a reference to rt (see refs); the last one frees it. */
void urio__rt_unref(urio_rt *rt);
/* Makes t runnable. On a worker it goes to that worker's LIFO slot (a wake)
 * or queue tail (a spawn); elsewhere to the global queue. */
void urio__ready(urio_task *t, bool lifo);
void urio__global_push(urio_rt *rt, urio_task *first, urio_task *last,
		       unsigned n);
/* Brackets a call that may touch rt from a thread that is not one of its
 * workers; urio_rt_free waits until no such call is inside. */
bool urio__foreign_enter(urio_rt *rt);
void urio__foreign_exit(urio_rt *rt, bool entered);
void urio__wake_one(urio_rt *rt);
/* Some queue of rt holds a runnable task (seq_cst loads). */
bool urio__work_queued(urio_rt *rt);
/* The wake urio__ready skipped while w reaped completions (ring.c). */
void urio__wake_deferred(struct urio__worker *w);
void urio__wake_worker(struct urio__worker *target);
void urio__worker_msg(struct urio__worker *target, struct urio__msg *m);
/* Frees w's undelivered messages, once its thread has exited. */
void urio__msgs_discard(struct urio__worker *w);
void urio__sched_loop(struct urio__worker *w);
/* Runs the pending post-switch action of w, if any (see post_task). */
void urio__run_post(struct urio__worker *w);

/* wake_eventfd.c / wake_msgring.c: one tiny interface, picked at start */
int urio__wake_eventfd_init(struct urio__worker *w);
void urio__wake_eventfd_arm(struct urio__worker *w);
void urio__wake_eventfd_post(struct urio__worker *target);
bool urio__wake_msgring_post(struct urio__worker *from,
			     struct urio__worker *target);

/* --- ring (ring.c) ------------------------------------------------------ */
/* Picks rt->ring_flags: the first rung of the set-up ladder the kernel
 * accepts, or -errno (the caller falls back to poll(2)). */
int urio__ring_choose(urio_rt *rt);
int urio__ring_init(struct urio__worker *w);
/* A free SQE on the current worker's ring; submits to make room if full. */
struct io_uring_sqe *urio__sqe(struct urio__worker *w);
/* Submits pending SQEs and reaps completions without blocking. busy: other
 * tasks are runnable, so a partial batch may wait (see ring.c). */
void urio__ring_poll(struct urio__worker *w, bool busy);
bool urio__ring_ready(struct urio__worker *w);
/* Blocks until a completion, a wake, or the next timer. */
void urio__ring_wait(struct urio__worker *w);
void urio__ring_cancel(struct urio__worker *w, struct urio__wait *op);

/* --- generators (gen.c) ------------------------------------------------ */
/* At shutdown: when every live task of rt is a generator parked in yield
 * (or never started), nobody can close them any more; reports each and
 * ends it (its yield returns -ECANCELED, its cleanup runs, it frees
 * itself). Called from urio_rt_free's thread; false when it ended none. */
bool urio__gens_end_abandoned(urio_rt *rt);

/* --- schedule fuzzing (fuzz.c) ----------------------------------------- */
/* Turns it on for rt's workers when URIO_FUZZ_SEED is set. */
void urio__fuzz_init(urio_rt *rt);
/* A seeded 1-in-one_in decision of a fuzzing worker. */
bool urio__fuzz_coin(struct urio__worker *w, unsigned one_in);
/* Maybe yields the task that just resumed from a wait (no lock held). */
void urio__fuzz_after_wait(void);

/* --- stuck-worker watchdog (watchdog.c) ------------------------------- */
struct urio__watchdog;
/* Starts rt's watchdog thread unless it is off; 0 or -errno. */
int urio__watchdog_start(urio_rt *rt);
void urio__watchdog_stop(urio_rt *rt);

/* --- introspection (introspect.c): runtimes register for urio-ps ----- */
void urio__introspect_rt_add(urio_rt *rt);
void urio__introspect_rt_del(urio_rt *rt);

/* --- the I/O backend of a worker (backend.c): its io_uring (ring.c) or,
 * where io_uring is missing, poll(2) (poll_backend.c) ------------------ */
int urio__io_init(struct urio__worker *w);
void urio__io_fini(struct urio__worker *w);
void urio__io_poll(struct urio__worker *w, bool busy);
void urio__io_wait(struct urio__worker *w);
/* Completions of w's own ops are waiting to be reaped (io_uring only). */
bool urio__io_ready(struct urio__worker *w);
/* Cancels op (owned by w): a timer, a ring op or a readiness wait. */
void urio__io_cancel(struct urio__worker *w, struct urio__wait *op);
/* Frees w's provided buffer ring (io/bufring.c), once its ring is gone. */
void urio__bufring_free(struct urio__worker *w);
int urio__pb_init(struct urio__worker *w);
void urio__pb_fini(struct urio__worker *w);
int urio__pb_add(struct urio__worker *w, struct urio__wait *op);
void urio__pb_poll(struct urio__worker *w, bool busy);
void urio__pb_wait(struct urio__worker *w);
void urio__pb_cancel(struct urio__worker *w, struct urio__wait *op);
/* True when the calling task's runtime has no ring (io/ falls back). */
static inline bool urio__no_ring(struct urio__worker *w)
{
	return w && w->rt->no_ring;
}

/* --- kernel features (probe.c) ---------------------------------------- */
struct urio__features {
	bool probed;
	unsigned ring_flags;  /* accepted IORING_SETUP_* extras */
	unsigned features;    /* IORING_FEAT_* */
	bool msg_ring;
	bool guard_madvise;
	unsigned char op[IORING_OP_LAST]; /* supported ops */
};
extern struct urio__features urio__feat;
void urio__probe(void);
bool urio__op_supported(int op);

/* --- timers (timer.c) ---------------------------------------------------- */
uint64_t urio__now_ns(void);
int urio__timer_add(struct urio__worker *w, struct urio__wait *t);
void urio__timer_del(struct urio__worker *w, struct urio__wait *t);
/* Fires due timers; returns 0 if any fired (work may be ready), else ns
 * until the next one, or UINT64_MAX. */
uint64_t urio__timers_run(struct urio__worker *w);
void urio__timers_drop(struct urio__worker *w);

/* --- suspension (task.c) -------------------------------------------------
 * urio__wait_begin registers w as what the current task waits for, or
 * returns -ECANCELED when the task is cancelled; urio__wait_end suspends
 * until someone readies the task and returns w->res. after(arg) runs on the
 * scheduler once the task has fully switched out ("unlock after switch"). */
int urio__wait_begin(struct urio__wait *w, enum urio__wait_kind kind);
int32_t urio__wait_end(struct urio__wait *w, void (*after)(void *),
		       void *arg);
/* Withdraws a wait begun but never suspended in (registration failed). */
void urio__wait_abort(struct urio__wait *w);
/* Switches from the current task to the next one or the scheduler. */
void urio__suspend(int post, void (*after)(void *), void *arg);
/* Switches from the current task straight to `to`, a switched-out task
 * that nobody else may resume meanwhile (a generator and its consumer hand
 * the worker to each other); the current one parks as urio__suspend's
 * POST_PARK, after(arg) running once it has switched out. */
void urio__switch_direct(urio_task *to, void (*after)(void *), void *arg);
/* Cancels the op the calling task waits in (its published t->wait, w) now,
 * cancelled or not: on its owner's ring, or by a message to the owner. */
void urio__wait_cancel_now(struct urio__wait *w);
/* The cancel of ops on a ring (what urio__wait_begin sets for IO waits). */
void urio__wait_cancel_owned(struct urio__wait *w);
enum { URIO__POST_PARK, URIO__POST_YIELD, URIO__POST_EXIT };

/* Allocation in io/ and sync/ (and the runtime's records): malloc and
 * friends, failing with ENOMEM when fault injection arms its alloc point
 * (test builds; plain calls otherwise, the check compiles to false). */
static inline bool urio__alloc_fails(void)
{
	if (!urio__fault(URIO__FAULT_ALLOC))
		return false;
	errno = ENOMEM;
	return true;
}

static inline void *urio__malloc(size_t n)
{
	return urio__alloc_fails() ? NULL : malloc(n);
}

static inline void *urio__calloc(size_t n, size_t size)
{
	return urio__alloc_fails() ? NULL : calloc(n, size);
}

static inline void *urio__realloc(void *p, size_t n)
{
	return urio__alloc_fails() ? NULL : realloc(p, n);
}

static inline void *urio__aligned_alloc(size_t align, size_t n)
{
	return urio__alloc_fails() ? NULL : aligned_alloc(align, n);
}

static inline char *urio__strdup(const char *s)
{
	return urio__alloc_fails() ? NULL : strdup(s);
}

/* posix_memalign's contract: an error number, *p untouched on failure */
static inline int urio__memalign(void **p, size_t align, size_t n)
{
	return urio__alloc_fails() ? ENOMEM : posix_memalign(p, align, n);
}

#endif
