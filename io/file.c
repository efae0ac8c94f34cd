/* File ops. Arguments are checked before submission so bad input gets the
 * same -errno the syscall would give, without a trip through the ring. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/scope.h>

#include "fallback.h"
#include "op.h"

/* A blocking syscall's result as -errno, unless the task is cancelled:
 * for ops the kernel lacks and for ring-less runtimes. */
#define BLOCKING(call)                                 \
	({                                             \
		long b_ = urio__fb_blocking_check();   \
		if (b_ == 0) {                         \
			b_ = (long)(call);             \
			b_ = b_ < 0 ? -errno : b_;     \
		}                                      \
		b_;                                    \
	})

static bool no_ring(void)
{
	return urio__no_ring(urio__cur_worker());
}

int urio_nop(void)
{
	if (no_ring()) {
		int r = urio__fb_blocking_check();
		if (r == 0)
			urio_yield();
		return r;
	}
	return URIO__OP(IORING_OP_NOP, -1, io_uring_prep_nop(sqe));
}

static int open_op(int dirfd, const char *path, int flags, mode_t mode)
{
	if (no_ring() || !urio__op_supported(IORING_OP_OPENAT))
		return (int)BLOCKING(openat(dirfd, path, flags, mode));
	return URIO__OP(IORING_OP_OPENAT, dirfd,
			io_uring_prep_openat(sqe, dirfd, path, flags, mode));
}

int urio_open(const char *path, int flags, mode_t mode)
{
	return urio_openat(AT_FDCWD, path, flags, mode);
}

int urio_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (!path)
		return -EFAULT;
	return urio__fd_result(open_op(dirfd, path, flags, mode));
}

static size_t clamp(size_t len)
{
	return len > URIO__MAX_RW ? URIO__MAX_RW : len;
}

ssize_t urio_read(int fd, void *buf, size_t len, off_t off)
{
	if (!buf && len)
		return -EFAULT;
	len = clamp(len);
	URIO__FALLBACK(urio__fb_rw(fd, buf, len, off, false));
	return URIO__OP(IORING_OP_READ, fd,
			io_uring_prep_read(sqe, fd, buf, (unsigned)len,
					   (uint64_t)off));
}

ssize_t urio_write(int fd, const void *buf, size_t len, off_t off)
{
	if (!buf && len)
		return -EFAULT;
	len = clamp(len);
	URIO__FALLBACK(urio__fb_rw(fd, (void *)buf, len, off, true));
	return URIO__OP(IORING_OP_WRITE, fd,
			io_uring_prep_write(sqe, fd, buf, (unsigned)len,
					    (uint64_t)off));
}

static int check_iov(const struct iovec *iov, int iovcnt)
{
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	if (!iov && iovcnt)
		return -EFAULT;
	return 0;
}

ssize_t urio_readv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	int r = check_iov(iov, iovcnt);
	if (r < 0)
		return r;
	URIO__FALLBACK(urio__fb_rwv(fd, iov, iovcnt, off, false));
	return URIO__OP(IORING_OP_READV, fd,
			io_uring_prep_readv(sqe, fd, iov, (unsigned)iovcnt,
					    (uint64_t)off));
}

ssize_t urio_writev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	int r = check_iov(iov, iovcnt);
	if (r < 0)
		return r;
	URIO__FALLBACK(urio__fb_rwv(fd, iov, iovcnt, off, true));
	return URIO__OP(IORING_OP_WRITEV, fd,
			io_uring_prep_writev(sqe, fd, iov, (unsigned)iovcnt,
					     (uint64_t)off));
}

int urio_fsync(int fd, unsigned flags)
{
	if (flags & ~IORING_FSYNC_DATASYNC)
		return -EINVAL;
	if (no_ring())
		return (int)BLOCKING(flags ? fdatasync(fd) : fsync(fd));
	return URIO__OP(IORING_OP_FSYNC, fd,
			io_uring_prep_fsync(sqe, fd, flags));
}

/* Shielded: cleanup after a cancel closes fds like any other, and a
 * cancel landing while the close is queued in the kernel (io-wq, for
 * files with a flush method) cannot stop it half-way. */
int urio_close(int fd)
{
	if (fd < 0)
		return -EBADF;
	urio_shield s;
	urio_shield_enter(&s);
	int r;
	if (no_ring() || !urio__op_supported(IORING_OP_CLOSE))
		r = (int)BLOCKING(close(fd));
	else
		r = URIO__OP(IORING_OP_CLOSE, fd,
			     io_uring_prep_close(sqe, fd));
	urio_shield_exit(&s);
	return r;
}

int urio_statx(int dirfd, const char *path, int flags, unsigned mask,
	       struct statx *out)
{
	if (!path || !out)
		return -EFAULT;
	if (no_ring() || !urio__op_supported(IORING_OP_STATX))
		return (int)BLOCKING(statx(dirfd, path, flags, mask, out));
	return URIO__OP(IORING_OP_STATX, dirfd,
			io_uring_prep_statx(sqe, dirfd, path, flags, mask,
					    out));
}

int urio_renameat(int olddirfd, const char *oldpath, int newdirfd,
		  const char *newpath, unsigned flags)
{
	if (!oldpath || !newpath)
		return -EFAULT;
	if (no_ring() || !urio__op_supported(IORING_OP_RENAMEAT))
		return (int)BLOCKING(renameat2(olddirfd, oldpath, newdirfd,
					       newpath, flags));
	return URIO__OP(IORING_OP_RENAMEAT, olddirfd,
			io_uring_prep_renameat(sqe, olddirfd, oldpath,
					       newdirfd, newpath, flags));
}

int urio_unlinkat(int dirfd, const char *path, int flags)
{
	if (!path)
		return -EFAULT;
	if (no_ring() || !urio__op_supported(IORING_OP_UNLINKAT))
		return (int)BLOCKING(unlinkat(dirfd, path, flags));
	return URIO__OP(IORING_OP_UNLINKAT, dirfd,
			io_uring_prep_unlinkat(sqe, dirfd, path, flags));
}
