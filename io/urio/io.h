/* urio I/O: each call submits one io_uring operation on the calling task's
 * worker ring, suspends the task and returns the completion's result:
 * >= 0 on success, -errno on failure (never errno). Call from a task; outside
 * one they return -EPERM. Short reads and writes are returned as they are.
 * Ops the running kernel lacks fall back to the blocking syscall. */
#ifndef URIO_IO_H
#define URIO_IO_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

struct statx;

/* Completes at once with 0 after a round trip through the ring. */
URIO_API int urio_nop(void);
/* Opens path relative to the cwd; returns the fd or -errno. */
URIO_API int urio_open(const char *path, int flags, mode_t mode);
/* Opens path relative to the directory dirfd (AT_FDCWD: the cwd). */
URIO_API int urio_openat(int dirfd, const char *path, int flags, mode_t mode);
/* Reads up to len bytes at off (-1: the file position); bytes read or -errno. */
URIO_API ssize_t urio_read(int fd, void *buf, size_t len, off_t off);
/* Writes up to len bytes at off (-1: the file position); bytes written. */
URIO_API ssize_t urio_write(int fd, const void *buf, size_t len, off_t off);
URIO_API ssize_t urio_readv(int fd, const struct iovec *iov, int iovcnt,
			    off_t off);
URIO_API ssize_t urio_writev(int fd, const struct iovec *iov, int iovcnt,
			     off_t off);
/* Flags: 0 or IORING_FSYNC_DATASYNC (1). */
URIO_API int urio_fsync(int fd, unsigned flags);
/* Closes fd: 0 or -errno. Shielded: it closes in a cancelled task too
 * (cleanup code after a cancel leaks nothing). -EPERM outside a task. */
URIO_API int urio_close(int fd);
/* statx(2) relative to dirfd; returns 0 or -errno. */
URIO_API int urio_statx(int dirfd, const char *path, int flags,
			unsigned mask, struct statx *out);
/* renameat2(2): 0 or -errno; flags 0 or RENAME_NOREPLACE / _EXCHANGE. */
URIO_API int urio_renameat(int olddirfd, const char *oldpath, int newdirfd,
			   const char *newpath, unsigned flags);
/* unlinkat(2): 0 or -errno; flags 0 or AT_REMOVEDIR. */
URIO_API int urio_unlinkat(int dirfd, const char *path, int flags);
/* Returns a new socket fd (close-on-exec is the caller's flag) or -errno. */
URIO_API int urio_socket(int domain, int type, int protocol);
/* Returns the accepted fd or -errno; addr/addrlen may be NULL. As for
 * urio_open and urio_socket, a cancelled task gets -ECANCELED, never an fd. */
URIO_API int urio_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
			 int flags);
URIO_API int urio_connect(int fd, const struct sockaddr *addr,
			  socklen_t addrlen);
URIO_API ssize_t urio_recv(int fd, void *buf, size_t len, int flags);
URIO_API ssize_t urio_send(int fd, const void *buf, size_t len, int flags);
/* Waits until fd has one of events (POLLIN, POLLOUT, ...); returns the
 * revents mask or -errno. For foreign libraries that own their sockets. */
URIO_API int urio_poll(int fd, short events);

#ifdef __cplusplus
}
#endif
#endif
