/* How io/ turns one io_uring op into a suspending call. Internal. */
#ifndef URIO_IO_OP_H
#define URIO_IO_OP_H

#include "../runtime/internal.h"

/* Registers the current task as waiting for an op and returns a free SQE,
 * or NULL with *err = -EPERM (not in a task) / -ECANCELED. */
struct io_uring_sqe *urio__op_start(struct urio__wait *w, int opcode, int fd,
				    int32_t *err);
/* Tags sqe with w, suspends until its completion, returns cqe->res. */
int32_t urio__op_finish(struct urio__wait *w, struct io_uring_sqe *sqe);
const char *urio__op_name(int opcode);

/* Runs the op `prep` prepares on `sqe`; an -EINTR completion is submitted
 * again (the kernel was interrupted, the caller was not). Evaluates to the
 * completion's result. */
#define URIO__OP(opcode, fd, prep)                                           \
	({                                                                   \
		int32_t op_res_;                                             \
		do {                                                         \
			struct urio__wait op_w_;                             \
			struct io_uring_sqe *sqe =                           \
				urio__op_start(&op_w_, opcode, fd, &op_res_); \
			if (!sqe)                                            \
				break;                                       \
			prep;                                                \
			op_res_ = urio__op_finish(&op_w_, sqe);              \
		} while (op_res_ == -EINTR);                                 \
		op_res_;                                                     \
	})

/* The result of an op that makes an fd. One that completed as the task was
 * cancelled is closed and -ECANCELED returned: the code being cancelled
 * would drop it on the floor (tokio and tokio-uring both shipped that
 * leak). */
int urio__fd_result(int r);

/* read(2) and write(2) never move more than this in one call. */
#define URIO__MAX_RW 0x7ffff000u

#endif
