/* A local push and its idle check (runtime/sched.c urio__ready,
 * urio__wake_deferred; runtime/worker.c urio__wake_one) against a worker
 * that gives up spinning and parks (sched.c find_work, spin, park,
 * work_visible, unpark), under x86-TSO rather than sequential consistency:
 * a thread's store goes to its own FIFO store buffer and reaches memory
 * later (a drainer process per thread, at any moment); its loads read its
 * own newest buffered store of a location first, memory otherwise; a fence
 * (mfence, lock or), a locked read-modify-write (xchg, lock xadd, lock
 * cmpxchg) and a seq_cst store (mov+mfence, or xchg) first wait for the
 * buffer to drain. Release stores and every load are plain movs.
 *
 * Worker P runs a task that readies another (a local push) and then runs
 * on without yielding (tests/wake.c parked_worker_sees_push: a spawner that
 * never yields), so worker B is the only one that can run the pushed task.
 * Checked: the system never comes to rest (every drainer idle, B asleep in
 * io_wait with no wake pending) with the task not run (the timeout
 * assertion).
 * -DNO_FENCE: urio__ready without its atomic_thread_fence: the tail store
 *    waits in P's buffer while P reads nidle == 0 (or nspinning == 1) and
 *    skips the wake, and B, parking, reads the old tail: the Dekker lost
 *    wakeup. The LIFO path (a seq_cst exchange) needs no fence and is
 *    checked in both variants.
 *
 * Left constant (zero) as no store of this scenario touches them:
 * gq_len, msgs, shutdown, B's own run queue and runnext. A runq cell is
 * stored before the tail and drains first (FIFO), so only the tail is
 * modelled. */
#define W 2       /* workers: P and B */
#define P 0
#define B 1
#define BN 2      /* store buffer entries (P buffers at most one store) */

/* memory locations */
#define HEAD 0    /* P's runq head: consumers CAS it */
#define TAIL 1    /* P's runq tail: only P stores it */
#define RUNNEXT 2 /* P's LIFO slot */
#define NIDLE 3   /* rt->nidle */
#define NSPIN 4   /* rt->nspinning */
#define PARKED 5  /* B's w->parked (P never parks here) */
#define NV 6

typedef sbuf {
	byte var[BN];
	byte val[BN];
	byte n
};

byte mem[NV];
sbuf sb[W];
bool tok;   /* B's wake (eventfd write or MSG_RING), pending until read */
bool ran;   /* B ran the pushed task */

/* The oldest buffered store of thread t reaches memory. */
inline drain_one(t)
{
	mem[sb[t].var[0]] = sb[t].val[0];
	j = 1;
	do
	:: j < sb[t].n ->
		sb[t].var[j - 1] = sb[t].var[j];
		sb[t].val[j - 1] = sb[t].val[j];
		j++
	:: else ->
		sb[t].var[j - 1] = 0;
		sb[t].val[j - 1] = 0;
		break
	od;
	sb[t].n--;
	j = 0
}

/* waits until t's buffer is empty (drains may also happen before) */
inline flush(t)
{
	do
	:: sb[t].n > 0 -> drain_one(t)
	:: else -> break
	od
}

inline st(t, x, v)
{
	atomic {
		assert(sb[t].n < BN);
		sb[t].var[sb[t].n] = x;
		sb[t].val[sb[t].n] = v;
		sb[t].n++
	}
}

inline ld(t, x, r)
{
	atomic {
		r = mem[x];
		k = sb[t].n;
		do
		:: k > 0 && sb[t].var[k - 1] == x -> r = sb[t].val[k - 1]; break
		:: k > 0 && sb[t].var[k - 1] != x -> k--
		:: k == 0 -> break
		od;
		k = 0
	}
}

inline fence(t)
{
	atomic { flush(t) }
}

inline xchg(t, x, v, old)
{
	atomic { flush(t); old = mem[x]; mem[x] = v }
}

inline cas(t, x, e, v, ok)
{
	atomic {
		flush(t);
		if
		:: mem[x] == e -> mem[x] = v; ok = true
		:: else -> ok = false
		fi
	}
}

inline fetch_add(t, x, d, old)
{
	atomic { flush(t); old = mem[x]; mem[x] = mem[x] + d }
}

inline fetch_sub(t, x, d, old)
{
	atomic { flush(t); old = mem[x]; mem[x] = mem[x] - d }
}

/* urio__work_queued: gq_len (0), then per worker
 *	if (urio__runq_len(&v->runq) || atomic_load(&v->runnext))
 * with urio__runq_len loading head, then tail (acquire: plain movs). */
inline work_queued(t, r)
{
	ld(t, HEAD, h);
	ld(t, TAIL, tl);
	r = tl != h;
	if
	:: !r -> ld(t, RUNNEXT, rn); r = rn != 0
	:: else -> skip
	fi;
	h = 0; tl = 0; rn = 0
}

/* urio__wake_one; the scan over workers claims B (P is running: its
 * parked load reads 0 and claims nothing). */
inline wake_one(t)
{
	do
	:: true ->
		/* if (!atomic_load(&rt->nidle)) return; */
		ld(t, NIDLE, ni);
		if
		:: ni == 0 -> break
		:: else -> skip
		fi;
		/* atomic_compare_exchange_strong(&rt->nspinning, &zero, 1) */
		cas(t, NSPIN, 0, 1, ok);
		if
		:: !ok -> break
		:: else -> skip
		fi;
		/* claim(): atomic_load(&target->parked), then
		 * atomic_compare_exchange_strong(&target->parked, &exp, 0) */
		ld(t, PARKED, old);
		claimed = false;
		if
		:: old == 1 -> cas(t, PARKED, 1, 0, claimed)
		:: else -> skip
		fi;
		if
		:: claimed ->
			/* atomic_fetch_sub(&target->rt->nidle, 1); send_wake */
			fetch_sub(t, NIDLE, 1, old);
			tok = true;
			break
		:: else -> skip
		fi;
		/* atomic_fetch_sub(&rt->nspinning, 1);
		 * } while (urio__work_queued(rt)); */
		fetch_sub(t, NSPIN, 1, old);
		work_queued(t, ok);
		if
		:: !ok -> break
		:: else -> skip
		fi
	od;
	ni = 0; ok = false; claimed = false; old = 0
}

/* P: urio__ready(t, lifo) from a task of a runtime of two workers */
active proctype pusher()
{
	byte h, tl, rn, ni, ns, old, j, k;
	bool ok, claimed;
	if
	:: /* if (lifo) { t = atomic_exchange(&w->runnext, t);
	    *	if (!t) goto wake; } (the slot was empty) */
		xchg(P, RUNNEXT, 1, old)
	:: /* push_local -> urio__runq_push:
	    *	h = atomic_load_explicit(&q->head, memory_order_acquire);
	    *	tl = atomic_load_explicit(&q->tail, memory_order_relaxed);
	    *	atomic_store_explicit(&q->tail, tl + 1,
	    *			      memory_order_release); */
		ld(P, HEAD, h);
		ld(P, TAIL, tl);
		st(P, TAIL, tl + 1);
#ifndef NO_FENCE
		/* atomic_thread_fence(memory_order_seq_cst); */
		fence(P)
#else
		skip
#endif
	fi;
	h = 0; tl = 0; old = 0;
	/* wake: urio__wake_deferred:
	 *	if (atomic_load(&rt->nidle) && !atomic_load(&rt->nspinning))
	 *		urio__wake_one(rt); */
	ld(P, NIDLE, ni);
	if
	:: ni > 0 ->
		ld(P, NSPIN, ns);
		if
		:: ns == 0 -> wake_one(P)
		:: else -> skip
		fi
	:: else -> skip
	fi
	/* the task runs on without yielding */
}

/* B: find_work's loop once its own queue, ring and the global queue came
 * up empty */
active proctype parker()
{
	byte h, tl, rn, ni, ns, old, j, k;
	bool ok, claimed, spinning, visible;
loop:
	/* if (!w->spinning && 2 * atomic_load(&rt->nspinning) <
	 *	rt->nworkers - atomic_load(&rt->nidle)) {
	 *	w->spinning = true; atomic_fetch_add(&rt->nspinning, 1); } */
	if
	:: !spinning ->
		ld(B, NSPIN, ns);
		ld(B, NIDLE, ni);
		if
		:: 2 * ns < W - ni ->
			spinning = true;
			fetch_add(B, NSPIN, 1, old)
		:: else -> skip
		fi;
		ns = 0; ni = 0; old = 0
	:: else -> skip
	fi;
	/* if (w->spinning && (t = spin(w))) return t; spin() steals a
	 * bounded number of rounds: here any number of looks */
	do
	:: spinning ->
		if
		:: /* urio__runq_steal -> grab():
		    *	h = atomic_load_explicit(&victim->head, acquire);
		    *	tl = atomic_load_explicit(&victim->tail, acquire);
		    *	... atomic_compare_exchange_weak_explicit(
		    *		&victim->head, &h, h + n, release, relaxed) */
			ld(B, HEAD, h);
			ld(B, TAIL, tl);
			if
			:: tl != h -> cas(B, HEAD, h, h + 1, ok)
			:: else -> ok = false
			fi;
			h = 0; tl = 0;
			if
			:: ok -> ok = false; goto got
			:: else -> skip
			fi
		:: /* steal's last round:
		    *	t = atomic_exchange(&v->runnext, NULL); */
			xchg(B, RUNNEXT, 0, old);
			if
			:: old != 0 -> old = 0; goto got
			:: else -> skip
			fi
		fi
	:: else -> break
	:: spinning -> break /* the rounds ran out */
	od;
	/* if (w->spinning) { w->spinning = false;
	 *	atomic_fetch_sub(&rt->nspinning, 1); } */
	if
	:: spinning ->
		spinning = false;
		fetch_sub(B, NSPIN, 1, old);
		old = 0
	:: else -> skip
	fi;
	/* park():
	 *	atomic_store(&w->parked, 1);
	 *	atomic_fetch_add(&rt->nidle, 1);
	 *	if (!work_visible(w)) { ... urio__io_wait(w); ... } */
	st(B, PARKED, 1);
	fence(B);
	fetch_add(B, NIDLE, 1, old);
	old = 0;
	work_queued(B, visible);
	if
	:: !visible ->
end_park:
		atomic { tok -> tok = false }
	:: else -> visible = false
	fi;
	/* unpark():
	 *	if (atomic_exchange(&w->parked, 0))
	 *		atomic_fetch_sub(&w->rt->nidle, 1);
	 *	else
	 *		w->spinning = true; */
	xchg(B, PARKED, 0, old);
	if
	:: old == 1 -> fetch_sub(B, NIDLE, 1, old)
	:: else -> spinning = true
	fi;
	old = 0;
	goto loop;
got:
	ran = true;
	/* stop_spinning():
	 *	if (atomic_fetch_sub(&w->rt->nspinning, 1) == 1)
	 *		urio__wake_one(w->rt); */
	spinning = false;
	fetch_sub(B, NSPIN, 1, old);
	if
	:: old == 1 -> wake_one(B)
	:: else -> skip
	fi;
	old = 0;
	goto loop
}

proctype drainer(byte t)
{
	byte j;
end:
	do
	:: atomic { sb[t].n > 0 -> drain_one(t) }
	od
}

init
{
	atomic {
		run drainer(P);
		run drainer(B)
	}
}

/* At rest (nothing can move: buffers drained, B asleep with no wake
 * pending), the pushed task has run. */
active proctype no_lost_wakeup()
{
	timeout -> assert(ran)
}
