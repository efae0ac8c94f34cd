/* I/O calls for runtimes without io_uring (fallback.c). Internal. */
#ifndef URIO_IO_FALLBACK_H
#define URIO_IO_FALLBACK_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "../runtime/internal.h"

int urio__fb_poll(int fd, short events);
/* -EPERM outside a task, -ECANCELED if the calling task is cancelled,
 * else 0: checked before a call that simply blocks (open, close, fsync,
 * statx, socket). */
int urio__fb_blocking_check(void);
ssize_t urio__fb_rw(int fd, void *buf, size_t len, off_t off, bool wr);
ssize_t urio__fb_rwv(int fd, const struct iovec *iov, int n, off_t off,
		     bool wr);
ssize_t urio__fb_sr(int fd, void *buf, size_t len, int flags, bool wr);
int urio__fb_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int urio__fb_connect(int fd, const struct sockaddr *addr, socklen_t len);

/* In each I/O call: on a ring-less runtime, return the fallback's result. */
#define URIO__FALLBACK(expr)                                     \
	do {                                                     \
		if (urio__no_ring(urio__cur_worker()))           \
			return (expr);                           \
	} while (0)

#endif
