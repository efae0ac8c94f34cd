/* Accepting connections. Multishot accept (Linux 5.19) keeps one op in the
 * ring that posts a completion per connection, so a busy listener costs
 * no SQE per accept; it ends on errors (EMFILE) and is armed again by the
 * next call. Ending it for good: shutdown(2) of the listener, which makes
 * the kernel post its last completion (-EINVAL). The kernel reads
 * RLIMIT_NOFILE when it prepares the op, so a limit changed later applies
 * from the next arming on (seen on 6.18: fds above a lowered limit). */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/scope.h>

#include "accept.h"

/* On the op's owner, in its reap loop: a connection nobody can queue. */
static void drop_fd(struct urio__mshot *m, const struct io_uring_cqe *cqe)
{
	if (cqe->res >= 0)
		close(cqe->res);
}

void urio__acceptor_init(struct urio__acceptor *a, int fd, bool multishot)
{
	a->fd = fd;
	/* the flag has no opcode of its own to probe, and kernels before
	 * 5.19 fail it with -EINVAL, as for a closed listener */
	a->multishot = multishot && urio__kernel_at_least(5, 19) &&
		       urio__op_supported(IORING_OP_ACCEPT);
	a->used_mshot = false;
	atomic_init(&a->ever_mshot, false);
	urio__mshot_init(&a->m, "accept", fd, drop_fd);
}

static void prep_accept(struct io_uring_sqe *sqe, struct urio__mshot *m)
{
	io_uring_prep_multishot_accept(sqe, m->fd, NULL, NULL, SOCK_CLOEXEC);
}

int urio__acceptor_next(struct urio__acceptor *a)
{
	if (!a->multishot || urio__no_ring(urio__cur_worker()))
		return urio_accept(a->fd, NULL, NULL, SOCK_CLOEXEC);
	for (;;) {
		struct urio__mshot_cqe c;
		int r = urio__mshot_pop(&a->m, &c);
		if (r < 0)
			return r;
		if (r == 1)
			return c.res;
		r = urio__mshot_arm(&a->m, prep_accept);
		if (r < 0)
			return r;
		a->used_mshot = true;
		atomic_store_explicit(&a->ever_mshot, true, memory_order_relaxed);
	}
}

void urio__acceptor_stop(struct urio__acceptor *a)
{
	if (!a->used_mshot)
		return;
	urio_shield sh;
	urio_shield_enter(&sh);
	shutdown(a->fd, SHUT_RD);
	struct urio__mshot_cqe c;
	int k;
	while ((k = urio__mshot_pop(&a->m, &c)) != 0)
		if (k == 1 && c.res >= 0)
			close(c.res);
	urio_shield_exit(&sh);
	urio__mshot_fini(&a->m);
	a->used_mshot = false;
}

void urio__acceptor_close(struct urio__acceptor *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}

bool urio__acceptor_multishot(const struct urio__acceptor *a)
{
	return atomic_load_explicit(&a->ever_mshot, memory_order_relaxed);
}
