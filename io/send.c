/* Sending whole buffers (short sends looped over), sendmsg, zero-copy
 * send, and connecting with a deadline. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/scope.h>
#include <urio/server.h>

#include "op.h"
#include "sockaddr.h"

ssize_t urio_send_all(int fd, const void *buf, size_t len, int flags)
{
	if (!buf && len)
		return -EFAULT;
	const char *p = buf;
	size_t left = len;
	while (left) {
		ssize_t n = urio_send(fd, p, left, flags | MSG_NOSIGNAL);
		if (n < 0)
			return n;
		if (n == 0)
			return -EPIPE; /* a stream that takes nothing is gone */
		p += n;
		left -= (size_t)n;
	}
	return (ssize_t)len;
}

/* The poll backend: wait for room, then a non-blocking sendmsg. */
static ssize_t sendmsg_fallback(int fd, const struct msghdr *msg, int flags)
{
	for (;;) {
		ssize_t n = sendmsg(fd, msg, flags | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int r = urio_poll(fd, POLLOUT);
		if (r < 0)
			return r;
	}
}

ssize_t urio_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!msg)
		return -EFAULT;
	if (urio__no_ring(urio__cur_worker())) {
		if (urio_cancelled())
			return -ECANCELED;
		if (!urio_self())
			return -EPERM;
		return sendmsg_fallback(fd, msg, flags);
	}
	return URIO__OP(IORING_OP_SENDMSG, fd,
			io_uring_prep_sendmsg(sqe, fd, msg, (unsigned)flags));
}

/* One SEND_ZC: the ring reports the bytes sent in a first completion and,
 * once the network stack let go of the pages, a notification; the wait
 * ends with the notification (ring.c), so buf is free again. */
static ssize_t send_zc_once(int fd, const void *buf, size_t len, int flags)
{
	return URIO__OP(IORING_OP_SEND_ZC, fd,
			io_uring_prep_send_zc(sqe, fd, buf, len, flags, 0));
}

ssize_t urio_send_zc(int fd, const void *buf, size_t len, int flags)
{
	if (!buf && len)
		return -EFAULT;
	if (urio__no_ring(urio__cur_worker()) ||
	    !urio__op_supported(IORING_OP_SEND_ZC))
		return urio_send_all(fd, buf, len, flags);
	const char *p = buf;
	size_t left = len;
	while (left) {
		size_t chunk = left > URIO__MAX_RW ? URIO__MAX_RW : left;
		ssize_t n = send_zc_once(fd, p, chunk, flags | MSG_NOSIGNAL);
		if (n == -EOPNOTSUPP) /* a socket type without zero copy */
			return p == buf ? urio_send_all(fd, buf, len, flags)
					: -EOPNOTSUPP;
		if (n < 0)
			return n;
		if (n == 0)
			return -EPIPE;
		p += n;
		left -= (size_t)n;
	}
	return (ssize_t)len;
}

int urio_connect_timeout(int fd, const struct sockaddr *addr,
			 socklen_t addrlen, uint64_t timeout_ms)
{
	if (!timeout_ms)
		return urio_connect(fd, addr, addrlen);
	urio_deadline d;
	urio_timeout_enter(&d, timeout_ms);
	int r = urio_connect(fd, addr, addrlen);
	int t = urio_timeout_exit(&d);
	return t == -ETIMEDOUT ? -ETIMEDOUT : r;
}

int urio_dial(const char *host, uint16_t port, uint64_t timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (!host)
		return -EINVAL;
	int r = urio__sockaddr(host, port, &ss, &len);
	if (r < 0)
		return r;
	int fd = urio_socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	r = urio_connect_timeout(fd, (struct sockaddr *)&ss, len, timeout_ms);
	if (r < 0) {
		close(fd);
		return r;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}
