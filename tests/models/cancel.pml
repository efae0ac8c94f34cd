/* Cancel vs completion (runtime/task.c urio__wait_begin / urio_cancel,
 * runtime/sched.c drain_msgs, runtime/ring.c reap). A task waits in an op
 * that completes only when cancelled (a read on an idle socket), then in
 * a shielded op that completes by itself (a cleanup close); another thread
 * cancels it at any moment. The owner worker reaps CQEs and serves cancel
 * messages; the kernel completes each op exactly once, with its result or
 * -ECANCELED after an ASYNC_CANCEL.
 *
 * Checked:
 *  - the task resumes once per op, and only after that op's CQE (its wait
 *    record lives on its stack until then);
 *  - a cancel message touches the current wait under the task lock, and
 *    cancels only a live, cancellable record (never the shielded one);
 *  - no lost cancel: the task always finishes (timeout assertion, and
 *    ltl done under weak fairness).
 * -DBROKEN_LOCK: urio_cancel reads the task's wait before setting the
 *    cancelled flag, outside the task lock: the cancel is lost and the
 *    task waits forever. */
bool lock;
bool cancelled;
byte wait;           /* 0 none, 1 the cancellable op, 2 the shielded op */
bool cancel_sent;
bool live[3];        /* wait records alive on the task's stack */
byte op[3];          /* 0 idle, 1 in flight, 2 CQE posted, 3 reaped */
byte msgs;           /* cancel messages to the owner worker */
byte cancel_sqe;     /* ASYNC_CANCEL for op 1 in flight */
byte ready;          /* the task's wakes (reaped CQEs) */
bool done;
bool data;           /* op 1 may complete by itself (chosen at start) */

inline acquire() { atomic { !lock -> lock = true } }
inline release() { lock = false }

/* urio__wait_begin, submit, urio__wait_end for op k */
inline wait_op(k, cancellable) {
	acquire();
	if
	:: cancellable && cancelled -> release(); res = 1 /* -ECANCELED */
	:: else ->
		wait = k; live[k] = true; cancel_sent = false;
		/* the op's SQE goes on the owner's ring before the task
		 * suspends, and the owner serves messages only between tasks:
		 * a cancel SQE always follows it in the SQ */
		op[k] = 1;
		release();
		/* suspended until the owner readies it */
		ready > 0 -> ready--;
		assert(op[k] == 3); /* resumed by its own CQE, once */
		acquire();
		wait = 0;
		release();
		live[k] = false;
		res = 0
	fi
}

active proctype task()
{
	byte res;
	if
	:: data = true
	:: data = false
	fi;
	wait_op(1, true);
	wait_op(2, false);
	done = true
}

active [2] proctype canceller() /* two threads cancel at once */
{
	bool w;
#ifdef BROKEN_LOCK
	w = wait == 1 && !cancel_sent;
	cancelled = true;
	if
	:: w -> cancel_sent = true; msgs++
	:: else -> skip
	fi
#else
	cancelled = true;
	acquire();
	if
	:: wait == 1 && !cancel_sent -> cancel_sent = true; msgs++
	:: else -> skip
	fi;
	release()
#endif
}

active proctype owner()
{
end_owner:
	do
	:: atomic { op[1] == 2 -> op[1] = 3 } -> ready++
	:: atomic { op[2] == 2 -> op[2] = 3 } -> ready++
	:: msgs > 0 ->
		msgs--;
		/* drain_msgs: the wait may be a newer, shielded one by now */
		acquire();
		if
		:: wait == 1 && cancelled ->
			assert(live[1]);
			cancel_sqe++
		:: else -> skip
		fi;
		release()
	od
}

active proctype kernel()
{
end_kernel:
	do
	:: op[2] == 1 -> op[2] = 2 /* the shielded op completes by itself */
	:: data && op[1] == 1 -> op[1] = 2 /* data: a race with the cancel */
	:: cancel_sqe > 0 ->
		cancel_sqe--;
		if
		:: op[1] == 1 -> op[1] = 2 /* -ECANCELED */
		:: else -> skip /* -ENOENT: it had completed */
		fi
	od
}

active proctype no_lost_cancel()
{
	timeout -> assert(done)
}

ltl finishes { <> done }
