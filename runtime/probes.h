/* USDT probes (<sys/sdt.h>) for perf, bpftrace and SystemTap, provider
 * "urio". Each is one nop in the code plus an ELF note naming it and where
 * its arguments live; the arguments are values already in registers, so a
 * probe costs next to nothing until a tracer puts a breakpoint on it.
 * Built with -DURIO_USDT=ON (the default where sys/sdt.h exists).
 *
 *   task_spawn(id, parent_id)   task_switch(worker, id)
 *   task_finish(id, result)     op_submit(worker, opcode, fd)
 *   op_complete(worker, res)    worker_park(worker)
 *   worker_wake(worker)         steal(thief, victim, tasks)
 *
 * Internal. */
#ifndef URIO_PROBES_H
#define URIO_PROBES_H

#ifdef URIO_USDT
#include <sys/sdt.h>
#define URIO_PROBE1(name, a) DTRACE_PROBE1(urio, name, a)
#define URIO_PROBE2(name, a, b) DTRACE_PROBE2(urio, name, a, b)
#define URIO_PROBE3(name, a, b, c) DTRACE_PROBE3(urio, name, a, b, c)
#else
#define URIO_PROBE1(name, a) ((void)0)
#define URIO_PROBE2(name, a, b) ((void)0)
#define URIO_PROBE3(name, a, b, c) ((void)0)
#endif

#endif
