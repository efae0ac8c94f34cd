/* Async reads: submitted now, waited for later. Internal.
 *
 * A suspending call keeps its op record on the task's stack and waits at
 * once; read-ahead needs the op to stay in flight while its task goes on,
 * so the record lives in the object that owns the buffer (a chunk
 * iterator) and the completion only marks it done, readying the task just
 * when it already waits for it. Whoever submits must wait (urio__aop_wait
 * or urio__aop_drain) before freeing the record or the buffer: a buffer
 * handed to the kernel is never freed before its completion.
 *
 * On a runtime without a ring (poll backend) the read is made at wait
 * time instead (a plain urio_read); nothing is ever in flight then. */
#ifndef URIO_IO_AOP_H
#define URIO_IO_AOP_H

#include <stdatomic.h>
#include <sys/types.h>

#include "../runtime/internal.h"

enum { URIO__AOP_IDLE, URIO__AOP_INFLIGHT, URIO__AOP_WAITING, URIO__AOP_DONE };

struct urio__aop {
	struct urio__wait w; /* user_data of the ring op; owner: its ring */
	_Atomic int state;   /* URIO__AOP_* */
	bool deferred;       /* poll backend: read at wait time */
	int fd;
	void *buf;
	unsigned len;
	off_t off;
};

/* Submits a read of len bytes at off (-1: the file position) into buf.
 * 0, or -EPERM outside a task. The op is idle again after its wait. */
int urio__aop_read(struct urio__aop *a, int fd, void *buf, unsigned len,
		   off_t off);
/* True while a submitted read has not been waited for. */
static inline bool urio__aop_busy(struct urio__aop *a)
{
	return atomic_load_explicit(&a->state, memory_order_relaxed) !=
	       URIO__AOP_IDLE;
}
/* Waits for the read: its result (bytes or -errno), the op idle again. In
 * a cancelled task: -ECANCELED at once and the op stays in flight (wait
 * again, or drain). */
int32_t urio__aop_wait(struct urio__aop *a);
/* Cancels the read if in flight and waits for it, shielded from
 * cancellation; the op is idle afterwards. Its result, or 0 if idle. */
int32_t urio__aop_drain(struct urio__aop *a);

#endif
