/* An inotify instance whose events are read with urio_read, so a task
 * waiting for one parks like any other reader: on io_uring the read is
 * armed as a poll in the kernel (no io-wq thread is held), on the poll
 * backend the worker polls the fd. The fd stays blocking: with O_NONBLOCK
 * io_uring would complete the read with -EAGAIN instead of waiting.
 *
 * A wait with a deadline is a read inside a deadline scope. Stopping from
 * another thread removes one of the instance's watches: the kernel queues
 * IN_IGNORED for it, which completes the pending read, and the reader
 * sees the stop flag. */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/scope.h>

#include "inotify.h"

/* Whole events only are returned, so the buffer must hold the largest. */
#define BUF_SIZE (32u << 10)

int urio__inotify_init(struct urio__inotify *in)
{
	*in = (struct urio__inotify){.fd = -1};
	in->buf = urio__malloc(BUF_SIZE);
	if (!in->buf)
		return -ENOMEM;
	in->fd = inotify_init1(IN_CLOEXEC);
	if (in->fd < 0) {
		int err = -errno;
		free(in->buf);
		in->buf = NULL;
		return err;
	}
	return 0;
}

void urio__inotify_fini(struct urio__inotify *in)
{
	if (!in->buf)
		return;
	/* a stopper inside urio__inotify_stop finishes with the fd first */
	urio__spin_lock(&in->lock);
	close(in->fd);
	in->fd = -1;
	urio__spin_unlock(&in->lock);
	free(in->buf);
	in->buf = NULL;
}

int urio__inotify_add(struct urio__inotify *in, const char *path,
		      uint32_t mask)
{
	int wd = inotify_add_watch(in->fd, path, mask);
	if (wd < 0)
		return -errno;
	/* seq_cst, as the stop flag's store and load: a reader that missed
	 * the stop made its watches first, so the stopper sees the newest */
	if (wd > atomic_load(&in->max_wd))
		atomic_store(&in->max_wd, wd);
	return wd;
}

void urio__inotify_rm(struct urio__inotify *in, int wd)
{
	inotify_rm_watch(in->fd, wd);
}

void urio__inotify_stop(struct urio__inotify *in)
{
	urio__spin_lock(&in->lock);
	/* seq_cst pairs with the load in urio__inotify_next and with the
	 * max_wd store in urio__inotify_add (Dekker: one sees the other) */
	atomic_store(&in->stop, true);
	if (in->fd >= 0) {
		int max = atomic_load(&in->max_wd);
		for (int wd = max; wd > 0; wd--)
			if (inotify_rm_watch(in->fd, wd) == 0)
				break;
	}
	urio__spin_unlock(&in->lock);
}

/* Fills the buffer with one read: > 0 bytes, or -errno. */
static ssize_t fill(struct urio__inotify *in, uint64_t deadline_ns)
{
	if (!deadline_ns)
		return urio_read(in->fd, in->buf, BUF_SIZE, -1);
	/* events already queued are taken even when the deadline has passed */
	int queued = 0;
	if (ioctl(in->fd, FIONREAD, &queued) == 0 && queued > 0)
		return urio_read(in->fd, in->buf, BUF_SIZE, -1);
	if (urio_now_ns() >= deadline_ns)
		return -ETIMEDOUT;
	urio_deadline d;
	urio_timeout_enter_at(&d, deadline_ns);
	ssize_t n = urio_read(in->fd, in->buf, BUF_SIZE, -1);
	int t = urio_timeout_exit(&d);
	if (n > 0) /* the deadline fired as the read completed */
		return n;
	return t < 0 ? t : n;
}

int urio__inotify_next(struct urio__inotify *in,
		       const struct inotify_event **ev, uint64_t deadline_ns)
{
	for (;;) {
		if (atomic_load(&in->stop)) /* seq_cst: see urio__inotify_stop */
			return 0;
		if (in->pos < in->len) {
			const struct inotify_event *e =
				(const void *)(in->buf + in->pos);
			in->pos += sizeof(*e) + e->len;
			*ev = e;
			return 1;
		}
		ssize_t n = fill(in, deadline_ns);
		if (n == 0) /* inotify never reads 0 bytes into a full buffer */
			return -EIO;
		if (n < 0)
			return (int)n;
		in->pos = 0;
		in->len = (size_t)n;
	}
}
