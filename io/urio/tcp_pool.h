/* A pool of TCP connections to one host:port, on the generic pool
 * (<urio/pool.h>): create is a socket and urio_connect (TCP_NODELAY set),
 * destroy a close, and the check before reusing an idle connection a
 * non-blocking peek: a connection the peer closed (EOF), reset, or with
 * unread bytes (a reply nobody read: the stream is out of step) is
 * destroyed and replaced. A refused connection reaches the acquirer as
 * -ECONNREFUSED. */
#ifndef URIO_TCP_POOL_H
#define URIO_TCP_POOL_H

#include <stdint.h>
#include <urio/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_tcp_pool urio_tcp_pool;

/* Connections to host (a numeric IPv4 / IPv6 address, or a name resolved
 * once, here, on the offload pool; each address it has is tried in turn)
 * and port, with opts as urio_pool_new (may be NULL). Call from a task.
 * NULL with errno EINVAL, EPERM, ENOMEM, or EHOSTUNREACH (no address). */
URIO_API urio_tcp_pool *urio_tcp_pool_new(const char *host, uint16_t port,
					  const urio_pool_opts *opts);
/* Leases a connected socket into *fd: 0, or as urio_pool_acquire
 * (-ECONNREFUSED, -ETIMEDOUT, -ECANCELED, ...). */
URIO_API int urio_tcp_pool_acquire(urio_tcp_pool *tp, int *fd);
/* Returns fd; err < 0 (a failed or interrupted exchange) closes it. */
URIO_API void urio_tcp_pool_release(urio_tcp_pool *tp, int fd, int err);
/* As urio_pool_free: waits for the leases still out, closes everything. */
URIO_API void urio_tcp_pool_free(urio_tcp_pool *tp);
/* The generic pool underneath, for stats and urio_pool_lease_scope. */
URIO_API urio_pool *urio_tcp_pool_pool(urio_tcp_pool *tp);
/* The socket a lease of urio_tcp_pool_pool(tp) holds, or -EBADF. */
URIO_API int urio_tcp_pool_fd(const urio_pool_lease *l);

#ifdef __cplusplus
}
#endif
#endif
