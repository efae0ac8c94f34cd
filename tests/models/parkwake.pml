/* Park/wake of urio's workers (runtime/sched.c park/unpark/find_work,
 * runtime/worker.c urio__wake_one/claim) and the "unlock after switch"
 * publication of a waiter (runtime/task.c urio__wait_end, sched.c
 * urio__run_post). Spin explores every interleaving (sequentially
 * consistent: the seq_cst operations of the C code).
 *
 * Checked:
 *  - no lost wakeup: the system never stops with a runnable task left and
 *    every worker asleep (the timeout assertion), and every task runs
 *    (ltl all_run, with weak fairness);
 *  - a published waiter is resumed only once its context is saved, and
 *    only once per wake (assertions in the worker).
 * -DBROKEN_PARK: the parker checks for work before publishing itself idle
 *    (the load moved above the stores, as a missing seq_cst fence allows):
 *    a wake is lost.
 * -DBROKEN_RECHECK: a wake that claims nobody gives the spinner count
 *    back without looking again (urio before this model): a waker that
 *    saw the count taken skipped its wake, and both workers sleep.
 * -DBROKEN_PUBLISH: the waiter is published before its switch completes:
 *    another worker resumes a context still in use. */
#define W 2
#define TASKS 2

byte queue;          /* runnable tasks (run queues and global queue) */
byte wq;             /* the waiter, when runnable (one more runnable task) */
byte nidle, nspinning;
bool parked[W];
bool token[W];       /* a wake sent (eventfd writes add up to one read) */
byte ran;            /* tasks run to completion */

/* the waiter: a task that suspends in one worker and is woken by another */
byte wstate;         /* 0 running, 1 switching out, 2 saved, 3 resumed */
bool published;      /* visible to the waker (e.g. on a mutex's list) */
byte readies;        /* times the waker readied it */

/* urio__wake_one: claims a parked worker on behalf of the spinner count.
 * A waker that saw the count taken skipped its wake, so a claim that
 * finds nobody looks again while work is queued and a worker is idle. */
inline wake_one() {
	again = true;
	do
	:: again ->
		again = false;
		if
		:: nidle == 0 -> skip
		:: else ->
			atomic {
				if
				:: nspinning == 0 -> nspinning = 1; ok = true
				:: else -> ok = false
				fi
			}
			if
			:: ok ->
				i = 0;
				claimed = false;
				do
				:: i < W && !claimed ->
					atomic {
						if
						:: parked[i] -> parked[i] = false;
							nidle--; claimed = true
						:: else -> skip
						fi
					}
					if
					:: claimed -> token[i] = true
					:: else -> i++
					fi
				:: else -> break
				od;
				if
				:: !claimed ->
					nspinning--;
#ifndef BROKEN_RECHECK
					again = nidle > 0 && queue + wq > 0
#endif
				:: else -> skip
				fi
			:: else -> skip
			fi
		fi
	:: else -> break
	od;
	i = 0; ok = false; claimed = false /* locals: no state of their own */
}

/* urio__ready: push, then (seq_cst) look for an idle worker */
inline ready(q) {
	q++;
	if
	:: nidle > 0 && nspinning == 0 -> wake_one()
	:: else -> skip
	fi
}

inline stop_spinning() {
	if
	:: spinning ->
		spinning = false;
		atomic { nspinning--; last = nspinning == 0 }
		if
		:: last -> last = false; wake_one()
		:: else -> skip
		fi
	:: else -> skip
	fi
}

/* Spawns the tasks from outside the workers (urio_rt_spawn). */
active proctype spawner()
{
	byte i, n;
	bool ok, claimed, again;
	do
	:: n < TASKS -> ready(queue); n++
	:: else -> break
	od;
	ready(wq)
}

/* The waiter's waker: readies it once it is published. */
active proctype waker()
{
	byte i;
	bool ok, claimed, again;
	published;
	readies++;
	ready(wq)
}

proctype worker(byte me)
{
	bool spinning, visible, ok, claimed, last, again, first;
	byte i;
loop:
	if
	:: atomic { queue > 0 -> queue-- } ->
		stop_spinning();
		ran++;
		goto loop
	:: atomic { wq > 0 -> wq--; first = wstate == 0;
		    if
		    :: first -> wstate = 1 /* runs, then switches out */
		    :: else -> skip
		    fi } ->
		stop_spinning();
		if
		:: first ->
			/* the waiter suspends: publish after the switch */
			first = false;
#ifdef BROKEN_PUBLISH
			published = true;
			wstate = 2;
#else
			wstate = 2; /* context saved: the post action runs */
			published = true;
#endif
		:: else ->
			/* resuming the waiter: its context must be saved */
			assert(wstate == 2 && readies == 1);
			wstate = 3;
			ran++
		fi;
		goto loop
	:: else -> skip
	fi;
	if
	:: !spinning && 2 * nspinning < W - nidle ->
		spinning = true; nspinning++
	:: else -> skip
	fi;
	if
	:: spinning ->
		if
		:: queue + wq > 0 -> goto loop /* a steal found work */
		:: else -> skip
		fi;
		spinning = false;
		nspinning--
	:: else -> skip
	fi;
	/* park */
#ifdef BROKEN_PARK
	visible = queue + wq > 0;
	parked[me] = true;
	nidle++;
#else
	parked[me] = true;
	nidle++;
	visible = queue + wq > 0; /* after the seq_cst stores: sees a racing push */
#endif
	if
	:: !visible ->
end_park:
		token[me] -> token[me] = false
	:: else -> visible = false
	fi;
	/* unpark: a worker claimed by a waker counts as spinning */
	atomic {
		if
		:: parked[me] -> parked[me] = false; nidle--
		:: else -> spinning = true
		fi
	}
	goto loop
}

init
{
	atomic {
		run worker(0);
		run worker(1)
	}
}

/* Nothing can move: every worker sleeps. No runnable task may be left. */
active proctype no_lost_wakeup()
{
	timeout -> assert(queue + wq == 0)
}

ltl all_run { <> (ran == TASKS + 1) }
