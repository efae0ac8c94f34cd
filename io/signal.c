/* Waiting for signals in a task: a signalfd read as any other fd (through
 * the ring, or the poll backend's readiness wait). A signalfd per wait: a
 * signal that arrives between two waits stays pending, as it is blocked,
 * and the next wait takes it, so nothing is lost and no fd outlives a
 * cancelled wait. Out of fds, a wait pauses and retries. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/scope.h>
#include <urio/signal.h>

#include "op.h"

int urio_signal_block(const sigset_t *set)
{
	if (!set)
		return -EINVAL;
	return -pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Is every signal of set blocked in the calling thread? */
static bool all_blocked(const sigset_t *set)
{
	sigset_t cur;
	if (pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0)
		return false;
	for (int s = 1; s < NSIG; s++)
		if (sigismember(set, s) == 1 && sigismember(&cur, s) != 1)
			return false;
	return true;
}

int urio_signal_wait(const sigset_t *set, struct signalfd_siginfo *info)
{
	if (!set)
		return -EINVAL;
	if (!urio_self())
		return -EPERM;
	if (!all_blocked(set))
		return -EINVAL;
	/* Through the ring the fd must block: io_uring fails a read of an
	 * O_NONBLOCK file with -EAGAIN instead of waiting for it. The poll
	 * backend reads once poll(2) says ready, and must not block if
	 * another thread took the signal in between. */
	bool ring = !urio__no_ring(urio__cur_worker());
	int fd;
	/* a server at its fd limit must still hear SIGTERM: the signal
	 * stays pending while we pause and try again */
	while ((fd = signalfd(-1, set,
			      SFD_CLOEXEC | (ring ? 0 : SFD_NONBLOCK))) < 0) {
		int err = errno;
		if (err != EMFILE && err != ENFILE && err != ENOMEM)
			return -err;
		int r = urio_sleep_ms(10);
		if (r < 0)
			return r;
	}
	struct signalfd_siginfo si;
	ssize_t n;
	do
		n = urio_read(fd, &si, sizeof(si), -1);
	while (n == -EAGAIN); /* another reader took it first: wait again */
	close(fd);
	if (n < 0)
		return (int)n;
	if (n != sizeof(si))
		return -EIO;
	if (info)
		*info = si;
	return (int)si.ssi_signo;
}
