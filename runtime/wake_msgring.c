/* Cross-worker wake through IORING_OP_MSG_RING (5.18+): the waking worker
 * posts a CQE straight into the target's ring from its own ring, so the
 * target needs no eventfd read to re-arm (ClickHouse/silk#106 made the same
 * switch). Only a worker can send one: it needs a ring of its own. The
 * probe checked at start-up that a message reaches a ring made with our
 * flags; one that fails anyway falls back to the target's eventfd. */
#include <stdlib.h>

#include "internal.h"

/* URIO_TEST_MSG_RING_FAIL=1 aims every wake at fd -1, so the kernel fails
 * it (-EBADF) the way it fails a wake it cannot deliver: tests/wake.c. */
static int fail_for_test(void)
{
	static _Atomic int mode = -1;
	int m = atomic_load_explicit(&mode, memory_order_relaxed);
	if (m < 0) {
		const char *e = getenv("URIO_TEST_MSG_RING_FAIL");
		m = e && *e == '1';
		atomic_store_explicit(&mode, m, memory_order_relaxed);
	}
	return m;
}

bool urio__wake_msgring_post(struct urio__worker *from,
			     struct urio__worker *target)
{
	struct io_uring_sqe *sqe = urio__sqe(from);
	int fd = urio__unlikely(fail_for_test()) ? -1 : target->ring.ring_fd;
	io_uring_prep_msg_ring(sqe, fd, 0, URIO__UD_MSG, 0);
	/* a wake the kernel cannot deliver comes back here (ring.c) and
	 * goes through the eventfd: the target was claimed, so no other
	 * waker will try it */
	io_uring_sqe_set_data64(sqe, (uintptr_t)target | URIO__UD_SENT);
	if (urio__feat.features & IORING_FEAT_CQE_SKIP)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	/* Sent now: a wake waiting for the next batch could wait long. */
	return io_uring_submit(&from->ring) >= 0;
}
