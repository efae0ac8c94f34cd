/* urio_reader: a multishot recv kept armed for one connection.
 *
 * The op posts a completion per chunk received, each in a buffer of the
 * ring of the worker that armed it, into the record's queue (mshot.c); a
 * call pops the next. The op ends on end of stream, errors and, when the
 * ring is dry, -ENOBUFS: no data was taken then, so the call receives the
 * next chunk into a plain buffer and the one after arms the op again, on
 * whatever worker the task runs by then. Queued chunks are always popped
 * before any new receive, so the stream keeps its order. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <urio/scope.h>
#include <urio/server.h>

#include "bufring.h"
#include "mshot.h"

struct urio_reader {
	struct urio__mshot m; /* first: tagged as the op's user_data */
	int flags;
	bool multishot; /* the kernel has it (and did not refuse it) */
	bool got_data;  /* a chunk arrived: an -EINVAL is then not a refusal */
	int lost;       /* -ENOMEM once received bytes were dropped */
};

/* On the op's owner, in its reap loop: the buffer goes back to its ring. */
static void drop_buf(struct urio__mshot *m, const struct io_uring_cqe *cqe)
{
	urio_buf b;
	urio__bufring_take(&b, m->owner, cqe->res, cqe->flags);
	urio_buf_release(&b);
}

urio_reader *urio_reader_new(int fd, int flags)
{
	if (fd < 0 || (flags & MSG_WAITALL)) {
		errno = EINVAL;
		return NULL;
	}
	urio_reader *r = urio__aligned_alloc(8, sizeof(*r));
	if (!r)
		return NULL;
	urio__mshot_init(&r->m, "recv", fd, drop_buf);
	r->flags = flags;
	r->multishot = urio__kernel_at_least(6, 0) &&
		       urio__op_supported(IORING_OP_RECV);
	r->got_data = false;
	r->lost = 0;
	return r;
}

static void prep_recv(struct io_uring_sqe *sqe, struct urio__mshot *m)
{
	urio_reader *r = (urio_reader *)m;
	io_uring_prep_recv_multishot(sqe, m->fd, NULL, 0, r->flags);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = URIO__BGID;
}

ssize_t urio_reader_recv(urio_reader *r, urio_buf *b)
{
	if (!r || !b)
		return -EFAULT;
	*b = (urio_buf){0};
	struct urio__worker *w = urio__cur_worker();
	if (!w || !w->cur)
		return -EPERM;
	if (r->lost)
		return r->lost;
	for (;;) {
		if (!r->multishot || urio__no_ring(w))
			return urio_recv_buf(r->m.fd, b, r->flags);
		struct urio__mshot_cqe c;
		int k = urio__mshot_pop(&r->m, &c);
		if (k == -ENOMEM)
			r->lost = k; /* bytes were dropped: the stream is cut */
		if (k < 0)
			return k;
		if (k == 1) {
			/* queued chunks came from the ring of the op's owner */
			urio__bufring_take(b, r->m.owner, c.res, c.flags);
			if (c.res == -ENOBUFS) { /* the multishot ended */
				urio__bufring_dry();
				if (urio__bufring_grow(r->m.owner))
					continue;
				return urio__recv_plain(r->m.fd, b, r->flags);
			}
			if (c.res == -EINVAL && !r->got_data) {
				r->multishot = false; /* refused: before 6.0 */
				continue;
			}
			r->got_data |= c.res > 0;
			return c.res;
		}
		w = urio__cur_worker();
		if (!urio__bufring_get(w)) {
			r->multishot = false;
			continue;
		}
		k = urio__mshot_arm(&r->m, prep_recv);
		if (k < 0)
			return k;
	}
}

static void end_by_shutdown(struct urio__mshot *m)
{
	shutdown(m->fd, SHUT_RD);
}

void urio_reader_free(urio_reader *r)
{
	if (!r)
		return;
	if (!urio_self()) {
		urio__spin_lock(&r->m.lock);
		bool armed = r->m.armed;
		urio__spin_unlock(&r->m.lock);
		if (armed)
			return; /* cannot wait for the op here: leave it */
	}
	urio_shield sh;
	urio_shield_enter(&sh);
	urio__mshot_end(&r->m, end_by_shutdown);
	struct urio__mshot_cqe c;
	int k;
	while ((k = urio__mshot_pop(&r->m, &c)) != 0) {
		if (k < 0)
			continue; /* a loss reported: wait for the op's end */
		urio_buf b;
		urio__bufring_take(&b, r->m.owner, c.res, c.flags);
		urio_buf_release(&b);
	}
	urio_shield_exit(&sh);
	urio__mshot_fini(&r->m);
	free(r);
}
