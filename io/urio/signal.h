/* Signals as something a task awaits: a signalfd read through the ring.
 *
 * A signal goes to the signalfd only if no thread of the process would take
 * it the ordinary way, so block the signals in every thread: call
 * urio_signal_block before the runtime starts, and its workers and offload
 * threads inherit the mask. */
#ifndef URIO_SIGNAL_H
#define URIO_SIGNAL_H

#include <signal.h>
#include <sys/signalfd.h>
#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks the signals of set in the calling thread (threads it starts later
 * inherit that). Returns 0 or -errno. */
URIO_API int urio_signal_block(const sigset_t *set);
/* Waits until one of the signals of set is pending and takes it; returns
 * its number and fills info (may be NULL). -EINVAL if the calling worker
 * has one of them unblocked (it would never arrive here), -ECANCELED, or
 * -errno. Out of fds (EMFILE), it pauses and retries until it can wait. */
URIO_API int urio_signal_wait(const sigset_t *set,
			      struct signalfd_siginfo *info);

#ifdef __cplusplus
}
#endif
#endif
