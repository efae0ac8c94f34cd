/* Cross-worker wake through IORING_OP_MSG_RING (5.18+): the waking worker
 * posts a CQE straight into the target's ring from its own ring, so the
 * target needs no eventfd read to re-arm (ClickHouse/silk#106 made the same
 * switch). Only a worker can send one: it needs a ring of its own. The
 * probe checked at start-up that a message reaches a ring made with our
 * flags, so a failure here means the target is gone. */
#include "internal.h"

bool urio__wake_msgring_post(struct urio__worker *from,
			     struct urio__worker *target)
{
	struct io_uring_sqe *sqe = urio__sqe(from);
	io_uring_prep_msg_ring(sqe, target->ring.ring_fd, 0, URIO__UD_MSG, 0);
	io_uring_sqe_set_data64(sqe, URIO__UD_IGNORE);
	if (urio__feat.features & IORING_FEAT_CQE_SKIP)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	/* Sent now: a wake waiting for the next batch could wait long. */
	return io_uring_submit(&from->ring) >= 0;
}
