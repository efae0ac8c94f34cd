/* Cross-thread wake through an eventfd: the worker keeps an 8-byte read of
 * its eventfd in flight on its ring, so a write from any thread (a foreign
 * spawner included) completes it and ends the worker's io_uring_enter.
 * Always set up: it is also the fallback when MSG_RING is missing. The
 * eventfd is blocking on purpose: io_uring returns -EAGAIN for reads of a
 * non-blocking fd instead of waiting on it. */
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

int urio__wake_eventfd_init(struct urio__worker *w)
{
	w->efd = eventfd(0, EFD_CLOEXEC);
	if (w->efd < 0)
		return -errno;
	urio__wake_eventfd_arm(w);
	return 0;
}

void urio__wake_eventfd_arm(struct urio__worker *w)
{
	struct io_uring_sqe *sqe = urio__sqe(w);
	io_uring_prep_read(sqe, w->efd, &w->efd_buf, sizeof(w->efd_buf), 0);
	io_uring_sqe_set_data64(sqe, URIO__UD_WAKE);
}

void urio__wake_eventfd_post(struct urio__worker *target)
{
	uint64_t one = 1;
	ssize_t r;
	do
		r = write(target->efd, &one, sizeof(one));
	while (r < 0 && errno == EINTR);
}
