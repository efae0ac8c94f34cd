/* Multishot ops (mshot.c): one SQE, many completions, queued for a task.
 * Internal. */
#ifndef URIO_IO_MSHOT_H
#define URIO_IO_MSHOT_H

#include "../runtime/internal.h"

struct urio__mshot_cqe {
	int32_t res;
	uint32_t flags;
};

struct urio__mshot {
	struct urio__cqe_handler h; /* first: the op's user_data, tagged */
	urio__spin lock;            /* everything below */
	struct urio__worker *owner; /* whose ring holds the op */
	bool armed;                 /* in the kernel: its last CQE not seen */
	struct urio__mshot_cqe *q;  /* completions not yet popped: a ring */
	unsigned qhead, qlen, qcap;
	struct urio__wait *wait;    /* the task waiting in pop, if any */
	/* a completion the queue had no memory for: dropped, and every one
	 * after it until pop has reported the loss (order is kept) */
	bool lost;
	/* gives back what a dropped completion holds (a buffer, an fd) */
	void (*drop)(struct urio__mshot *m, const struct io_uring_cqe *cqe);
	const char *what;
	int fd;
};

void urio__mshot_init(struct urio__mshot *m, const char *what, int fd,
		      void (*drop)(struct urio__mshot *m,
				   const struct io_uring_cqe *cqe));
/* Arms the op prep() lays out on an SQE of the calling task's worker, which
 * then owns it. 0, or -EPERM / -ECANCELED. */
int urio__mshot_arm(struct urio__mshot *m,
		    void (*prep)(struct io_uring_sqe *sqe, struct urio__mshot *m));
/* Ends the op if it is armed: an ASYNC_CANCEL on the owner's ring when the
 * caller runs there, else end(m) (shutdown(2) of the socket, say). The
 * last completion still has to be popped. */
void urio__mshot_end(struct urio__mshot *m, void (*end)(struct urio__mshot *m));
/* Is the running kernel at least maj.min? For flags no opcode probe sees
 * (multishot accept 5.19, multishot recv 6.0). */
bool urio__kernel_at_least(unsigned maj, unsigned min);
/* Waits for the next completion: 1 with *c filled, 0 when the op ended and
 * nothing is queued (arm it again, or stop), -ECANCELED, or -ENOMEM once
 * after the queued ones when completions were dropped for want of memory
 * (the op may still be armed). */
int urio__mshot_pop(struct urio__mshot *m, struct urio__mshot_cqe *c);
/* Frees the queue; the op must have ended (pop returned 0). */
void urio__mshot_fini(struct urio__mshot *m);

#endif
