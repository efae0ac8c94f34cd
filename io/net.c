/* Socket ops and readiness polling. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio/io.h>

#include "fallback.h"
#include "op.h"

static int socket_op(int domain, int type, int protocol)
{
	if (urio__no_ring(urio__cur_worker()) ||
	    !urio__op_supported(IORING_OP_SOCKET)) { /* before 5.19 */
		int r = urio__fb_blocking_check();
		if (r < 0)
			return r;
		int fd = socket(domain, type, protocol);
		return fd < 0 ? -errno : fd;
	}
	return URIO__OP(IORING_OP_SOCKET, -1,
			io_uring_prep_socket(sqe, domain, type, protocol, 0));
}

int urio_socket(int domain, int type, int protocol)
{
	return urio__fd_result(socket_op(domain, type, protocol));
}

static int accept_op(int fd, struct sockaddr *addr, socklen_t *addrlen,
		     int flags)
{
	URIO__FALLBACK(urio__fb_accept(fd, addr, addrlen, flags));
	return URIO__OP(IORING_OP_ACCEPT, fd,
			io_uring_prep_accept(sqe, fd, addr, addrlen, flags));
}

int urio_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	if (addr && !addrlen)
		return -EFAULT;
	return urio__fd_result(accept_op(fd, addr, addrlen, flags));
}

int urio_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	if (!addr)
		return -EFAULT;
	URIO__FALLBACK(urio__fb_connect(fd, addr, addrlen));
	return URIO__OP(IORING_OP_CONNECT, fd,
			io_uring_prep_connect(sqe, fd, addr, addrlen));
}

ssize_t urio_recv(int fd, void *buf, size_t len, int flags)
{
	if (!buf && len)
		return -EFAULT;
	if (len > URIO__MAX_RW)
		len = URIO__MAX_RW;
	URIO__FALLBACK(urio__fb_sr(fd, buf, len, flags, false));
	return URIO__OP(IORING_OP_RECV, fd,
			io_uring_prep_recv(sqe, fd, buf, len, flags));
}

ssize_t urio_send(int fd, const void *buf, size_t len, int flags)
{
	if (!buf && len)
		return -EFAULT;
	if (len > URIO__MAX_RW)
		len = URIO__MAX_RW;
	URIO__FALLBACK(urio__fb_sr(fd, (void *)buf, len, flags, true));
	return URIO__OP(IORING_OP_SEND, fd,
			io_uring_prep_send(sqe, fd, buf, len, flags));
}

int urio_poll(int fd, short events)
{
	if (fd < 0)
		return -EBADF;
	URIO__FALLBACK(urio__fb_poll(fd, events));
	return URIO__OP(IORING_OP_POLL_ADD, fd,
			io_uring_prep_poll_add(sqe, fd, (unsigned)events));
}
