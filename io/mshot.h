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
	const char *what;
	int fd;
};

void urio__mshot_init(struct urio__mshot *m, const char *what, int fd);
/* Arms the op prep() lays out on an SQE of the calling task's worker, which
 * then owns it. 0, or -EPERM / -ECANCELED. */
int urio__mshot_arm(struct urio__mshot *m,
		    void (*prep)(struct io_uring_sqe *sqe, int fd));
/* Waits for the next completion: 1 with *c filled, 0 when the op ended and
 * nothing is queued (arm it again, or stop), -ECANCELED. */
int urio__mshot_pop(struct urio__mshot *m, struct urio__mshot_cqe *c);
/* Frees the queue; the op must have ended (pop returned 0). */
void urio__mshot_fini(struct urio__mshot *m);

#endif
