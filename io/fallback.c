/* The I/O calls on a runtime without io_uring (runtime/poll_backend.c):
 * wait until the fd is ready, then make the plain syscall. A ready check
 * with poll(2) comes first so an fd that is already ready (always, for a
 * regular file) costs no suspension. Cancellation stays level-triggered:
 * a cancelled task gets -ECANCELED before any call. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio/io.h>

#include "fallback.h"
#include "fault.h"

int urio__fb_poll(int fd, short events)
{
	struct urio__wait w = {.what = "poll", .fd = fd, .events = events};
	int r = urio__wait_begin(&w, URIO__WAIT_IO);
	if (r < 0)
		return r;
	r = urio__pb_add(w.owner, &w);
	if (r < 0) {
		urio__wait_abort(&w);
		return r;
	}
	return urio__wait_end(&w, NULL, NULL);
}

/* 0 once fd is ready for events, or -errno (-ECANCELED, -EBADF). */
static int ready(int fd, short events)
{
	if (urio_cancelled())
		return -ECANCELED;
	struct pollfd p = {.fd = fd, .events = events};
	int n = poll(&p, 1, 0);
	if (n < 0)
		return -errno;
	if (n == 0) {
		n = urio__fb_poll(fd, events);
		if (n < 0)
			return n;
		p.revents = (short)n;
	}
	return p.revents & POLLNVAL ? -EBADF : 0;
}

static ssize_t ret(ssize_t r)
{
	return r < 0 ? -errno : r;
}

int urio__fb_blocking_check(void)
{
	if (!urio_self()) /* as on the ring: I/O calls are for tasks */
		return -EPERM;
	return urio_cancelled() ? -ECANCELED : 0;
}

/* Test builds: a short transfer now and then, as the kernel may make. */
static size_t fault_len(size_t len)
{
	return len > 1 && urio__fault(URIO__FAULT_SHORT_IO) ? len / 2 : len;
}

ssize_t urio__fb_rw(int fd, void *buf, size_t len, off_t off, bool wr)
{
	ssize_t r = ready(fd, wr ? POLLOUT : POLLIN);
	if (r < 0)
		return r;
	len = fault_len(len);
	if (wr)
		return ret(off < 0 ? write(fd, buf, len) : pwrite(fd, buf, len, off));
	return ret(off < 0 ? read(fd, buf, len) : pread(fd, buf, len, off));
}

ssize_t urio__fb_rwv(int fd, const struct iovec *iov, int n, off_t off,
		     bool wr)
{
	ssize_t r = ready(fd, wr ? POLLOUT : POLLIN);
	if (r < 0)
		return r;
	if (wr)
		return ret(off < 0 ? writev(fd, iov, n) : pwritev(fd, iov, n, off));
	return ret(off < 0 ? readv(fd, iov, n) : preadv(fd, iov, n, off));
}

/* recv/send: MSG_DONTWAIT, so readiness lost to another reader means
 * waiting again, not blocking the worker. */
ssize_t urio__fb_sr(int fd, void *buf, size_t len, int flags, bool wr)
{
	for (;;) {
		ssize_t r = ready(fd, wr ? POLLOUT : POLLIN);
		if (r < 0)
			return r;
		size_t n = fault_len(len);
		r = wr ? send(fd, buf, n, flags | MSG_DONTWAIT)
		       : recv(fd, buf, n, flags | MSG_DONTWAIT);
		if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return ret(r);
	}
}

int urio__fb_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	for (;;) {
		int r = ready(fd, POLLIN);
		if (r < 0)
			return r;
		/* the listener may be blocking: a lost race must not block */
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		r = accept4(fd, addr, len, flags);
		int err = errno;
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fl);
		if (r >= 0)
			return r;
		if (err != EAGAIN && err != EWOULDBLOCK)
			return -err;
	}
}

int urio__fb_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int r = urio__fb_blocking_check();
	if (r < 0)
		return r;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	r = connect(fd, addr, len) < 0 ? -errno : 0;
	if (r == -EINPROGRESS) {
		r = ready(fd, POLLOUT);
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0)
			r = -soerr;
	}
	if (!(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl);
	return r;
}
