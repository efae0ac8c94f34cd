/* TCP connection pool: the generic pool with connect, close and a peek.
 *
 * A resource is the socket's fd + 1 cast to a pointer (never NULL), so a
 * lease costs no allocation and release needs no lookup of our own. The
 * peek on reuse is one non-blocking syscall: cheaper than the exchange a
 * dead connection would fail, and it catches a server that closed an idle
 * connection (keep-alive timeouts), the usual way pooled connections go
 * stale. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/offload.h>
#include <urio/tcp_pool.h>
#include "../runtime/internal.h"

#include "../runtime/internal.h"

#define MAX_ADDRS 8

struct urio_tcp_pool {
	urio_pool *pool;
	unsigned naddr;
	socklen_t len[MAX_ADDRS];
	struct sockaddr_storage addr[MAX_ADDRS];
};

static void *res_of(int fd)
{
	return (void *)(intptr_t)(fd + 1);
}

static int fd_of(void *res)
{
	return (int)((intptr_t)res - 1);
}

static void close_fd(int fd)
{
	if (urio_close(fd) == -EPERM) /* not in a task */
		close(fd);
}

static int tcp_create(void *ctx, void **res)
{
	urio_tcp_pool *tp = ctx;
	int err = -EHOSTUNREACH;
	for (unsigned i = 0; i < tp->naddr; i++) {
		int fd = urio_socket(tp->addr[i].ss_family,
				     SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fd;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		err = urio_connect(fd, (struct sockaddr *)&tp->addr[i],
				   tp->len[i]);
		if (err == 0) {
			*res = res_of(fd);
			return 0;
		}
		close_fd(fd); /* the pool shields destroy, not create */
		if (err == -ECANCELED)
			return err;
	}
	return err;
}

static void tcp_destroy(void *ctx, void *res)
{
	close_fd(fd_of(res));
}

static int tcp_check(void *ctx, void *res)
{
	char c;
	ssize_t n = recv(fd_of(res), &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return -EPIPE; /* the peer closed it */
	if (n > 0)
		return -EPROTO; /* bytes nobody asked for */
	return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
}

static const urio_pool_ops tcp_ops = {tcp_create, tcp_destroy, tcp_check};

/* --- resolution ------------------------------------------------------------ */

struct lookup {
	const char *host;
	uint16_t port;
	urio_tcp_pool *tp;
};

static void add_addr(urio_tcp_pool *tp, const void *sa, socklen_t len)
{
	if (tp->naddr < MAX_ADDRS && len <= sizeof(tp->addr[0])) {
		memcpy(&tp->addr[tp->naddr], sa, len);
		tp->len[tp->naddr++] = len;
	}
}

/* Runs on the offload pool: getaddrinfo blocks. */
static intptr_t resolve(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai;
	char port[8];
	snprintf(port, sizeof(port), "%u", (unsigned)l->port);
	if (getaddrinfo(l->host, port, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	for (struct addrinfo *a = ai; a; a = a->ai_next)
		add_addr(l->tp, a->ai_addr, a->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static int lookup(urio_tcp_pool *tp, const char *host, uint16_t port)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6,
				  .sin6_port = htons(port)};
	if (inet_pton(AF_INET, host, &v4.sin_addr) == 1)
		add_addr(tp, &v4, sizeof(v4));
	else if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1)
		add_addr(tp, &v6, sizeof(v6));
	else {
		struct lookup l = {host, port, tp};
		intptr_t r = urio_offload(resolve, &l);
		if (r < 0)
			return (int)r;
	}
	return tp->naddr ? 0 : -EHOSTUNREACH;
}

/* --- public API ------------------------------------------------------------ */

urio_tcp_pool *urio_tcp_pool_new(const char *host, uint16_t port,
				 const urio_pool_opts *opts)
{
	if (!host || !*host) {
		errno = EINVAL;
		return NULL;
	}
	if (!urio_self()) {
		errno = EPERM;
		return NULL;
	}
	urio_tcp_pool *tp = urio__calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	int err = lookup(tp, host, port);
	if (err < 0) {
		free(tp);
		errno = -err;
		return NULL;
	}
	tp->pool = urio_pool_new(&tcp_ops, tp, opts);
	if (!tp->pool) {
		err = urio__errno(); /* urio_pool_new may have suspended */
		free(tp);
		urio__errno_set(err);
		return NULL;
	}
	return tp;
}

int urio_tcp_pool_acquire(urio_tcp_pool *tp, int *fd)
{
	if (!tp || !fd)
		return -EINVAL;
	void *res;
	int err = urio_pool_acquire(tp->pool, &res);
	*fd = err < 0 ? -1 : fd_of(res);
	return err;
}

void urio_tcp_pool_release(urio_tcp_pool *tp, int fd, int err)
{
	if (tp && fd >= 0)
		urio_pool_release(tp->pool, res_of(fd), err);
}

void urio_tcp_pool_free(urio_tcp_pool *tp)
{
	if (!tp)
		return;
	urio_pool_free(tp->pool);
	free(tp);
}

urio_pool *urio_tcp_pool_pool(urio_tcp_pool *tp)
{
	return tp ? tp->pool : NULL;
}

int urio_tcp_pool_fd(const urio_pool_lease *l)
{
	return l && l->res ? fd_of(l->res) : -EBADF;
}
