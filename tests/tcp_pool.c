/* TCP connection pool against a loopback echo server run as a task: many
 * tasks share a few connections (never more than max_size), each reply
 * checked; with the server down, acquire fails with -ECONNREFUSED at once
 * (no hang) and recovers when the server comes up; connections the server
 * closed while idle are found by the check and replaced; min_idle warms
 * connections up; the lease scope; bad arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <urio.h>
#include <urio/tcp_pool.h>

#include "test.h"

/* --- the echo server --------------------------------------------------------- */

static atomic_int accepted;

static intptr_t echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[512];
	for (;;) {
		ssize_t n = urio_recv(fd, buf, sizeof(buf), 0);
		if (n <= 0 || urio_send(fd, buf, (size_t)n, 0) != n)
			break;
	}
	urio_shield sh;
	urio_shield_enter(&sh);
	urio_close(fd);
	urio_shield_exit(&sh);
	return 0;
}

/* Accepts on the listener arg until cancelled; its connections close
 * with it. */
static intptr_t echo_server(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	urio_group g;
	urio_group_init(&g);
	for (;;) {
		int fd = urio_accept(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			break;
		atomic_fetch_add(&accepted, 1);
		if (!urio_group_spawn(&g, echo_conn, (void *)(intptr_t)fd))
			close(fd);
	}
	urio_group_cancel(&g);
	urio_group_wait(&g);
	return 0;
}

/* A listener on 127.0.0.1:port (0: any free port); its port in *port. */
static int listen_on(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0);
	int one = 1;
	ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)),
		  0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(*port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ASSERT_EQ(listen(fd, 128), 0);
	socklen_t len = sizeof(sin);
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* One request and its echo over fd; 0 or -errno. */
static int exchange(int fd, int i)
{
	char req[32], rep[32];
	int n = snprintf(req, sizeof(req), "ping %d", i);
	if (urio_send(fd, req, (size_t)n, 0) != n)
		return -EIO;
	int got = 0;
	while (got < n) {
		ssize_t r = urio_recv(fd, rep + got, sizeof(rep) - (size_t)got, 0);
		if (r <= 0)
			return r < 0 ? (int)r : -EPIPE;
		got += (int)r;
	}
	return got == n && !memcmp(req, rep, (size_t)n) ? 0 : -EPROTO;
}

static urio_pool_stats stats(urio_tcp_pool *tp)
{
	urio_pool_stats st;
	urio_pool_get_stats(urio_tcp_pool_pool(tp), &st);
	return st;
}

/* --- shared connections ------------------------------------------------------ */

#define USERS 200
static urio_tcp_pool *tp;

static intptr_t user(void *arg)
{
	for (int k = 0; k < 5; k++) {
		int fd;
		int err = urio_tcp_pool_acquire(tp, &fd);
		if (err < 0)
			return err;
		err = exchange(fd, (int)(intptr_t)arg * 10 + k);
		urio_tcp_pool_release(tp, fd, err);
		if (err < 0)
			return err;
	}
	return 0;
}

static intptr_t shared(void *arg)
{
	uint16_t port = 0;
	int lfd = listen_on(&port);
	urio_task *srv = urio_spawn(echo_server, (void *)(intptr_t)lfd);
	ASSERT(srv);
	atomic_store(&accepted, 0);
	urio_pool_opts o = {.max_size = 4};
	tp = urio_tcp_pool_new("127.0.0.1", port, &o);
	ASSERT(tp);
	urio_group g;
	urio_group_init(&g);
	for (intptr_t i = 0; i < USERS; i++)
		ASSERT(urio_group_spawn(&g, user, (void *)i));
	ASSERT_EQ(urio_group_wait(&g), 0);
	urio_pool_stats st = stats(tp);
	ASSERT(st.created <= 4);
	ASSERT(atomic_load(&accepted) <= 4);
	ASSERT_EQ(st.acquires, USERS * 5);
	ASSERT_EQ(st.broken, 0);
	urio_tcp_pool_free(tp);
	urio_cancel(srv);
	urio_join(srv, NULL);
	close(lfd);
	return 0;
}

/* --- server down, then up; closed while idle ------------------------------- */

static intptr_t down_then_up(void *arg)
{
	/* a port nobody listens on: taken, then given back */
	uint16_t port = 0;
	close(listen_on(&port));
	urio_pool_opts o = {.max_size = 2, .acquire_timeout_ms = 10000};
	urio_tcp_pool *p = urio_tcp_pool_new("127.0.0.1", port, &o);
	ASSERT(p);
	int fd = 7;
	uint64_t t0 = now_ms();
	ASSERT_EQ(urio_tcp_pool_acquire(p, &fd), -ECONNREFUSED);
	ASSERT(now_ms() - t0 < 10000); /* refused, not timed out */
	ASSERT_EQ(fd, -1);
	ASSERT_EQ(urio_tcp_pool_acquire(p, &fd), -ECONNREFUSED);
	urio_pool_stats st = stats(p);
	ASSERT_EQ(st.create_errors, 2);
	ASSERT_EQ(st.in_use + st.idle + st.creating, 0);

	/* the server comes up on that port */
	int lfd = listen_on(&port);
	urio_task *srv = urio_spawn(echo_server, (void *)(intptr_t)lfd);
	ASSERT(srv);
	ASSERT_EQ(urio_tcp_pool_acquire(p, &fd), 0);
	ASSERT_EQ(exchange(fd, 1), 0);
	urio_tcp_pool_release(p, fd, 0);
	ASSERT_EQ(stats(p).idle, 1);

	/* it restarts: the idle connection was closed by the peer; the
	 * check on reuse finds it and a new one is made */
	urio_cancel(srv);
	urio_join(srv, NULL);
	srv = urio_spawn(echo_server, (void *)(intptr_t)lfd);
	ASSERT(srv);
	ASSERT_EQ(urio_tcp_pool_acquire(p, &fd), 0);
	ASSERT_EQ(exchange(fd, 2), 0);
	urio_tcp_pool_release(p, fd, 0);
	st = stats(p);
	ASSERT_EQ(st.broken, 1);
	ASSERT_EQ(st.created, 2);
	ASSERT_EQ(st.destroyed, 1);

	/* a reply left unread: the stream is out of step, not reused */
	ASSERT_EQ(urio_tcp_pool_acquire(p, &fd), 0);
	ASSERT_EQ(urio_send(fd, "x", 1, 0), 1);
	char c;
	ASSERT_EQ(urio_recv(fd, &c, 1, MSG_PEEK), 1);
	urio_tcp_pool_release(p, fd, 0);
	ASSERT_EQ(urio_tcp_pool_acquire(p, &fd), 0);
	ASSERT_EQ(exchange(fd, 3), 0);
	urio_tcp_pool_release(p, fd, 0);
	ASSERT_EQ(stats(p).broken, 2);

	urio_tcp_pool_free(p);
	urio_cancel(srv);
	urio_join(srv, NULL);
	close(lfd);
	return 0;
}

/* --- warm-up, lease scope, names ---------------------------------------------- */

static int lease_body(void *res, void *ctx)
{
	return exchange(urio_tcp_pool_fd(res), 9);
}

static intptr_t warm_and_lease(void *arg)
{
	uint16_t port = 0;
	int lfd = listen_on(&port);
	atomic_store(&accepted, 0);
	urio_task *srv = urio_spawn(echo_server, (void *)(intptr_t)lfd);
	ASSERT(srv);
	urio_pool_opts o = {.max_size = 3, .min_idle = 2};
	urio_tcp_pool *p = urio_tcp_pool_new("localhost", port, &o);
	ASSERT(p);
	POLL(stats(p).idle == 2 && atomic_load(&accepted) == 2);
	urio_pool_lease l = {.pool = urio_tcp_pool_pool(p)};
	ASSERT_EQ(urio_with(&urio_pool_lease_scope, &l, lease_body, NULL), 0);
	ASSERT_EQ(urio_tcp_pool_fd(&l), -EBADF);
	ASSERT_EQ(stats(p).acquires, 1);
	urio_tcp_pool_free(p);

	/* IPv6 loopback, where the machine has it */
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (s6 >= 0) {
		close(s6);
		p = urio_tcp_pool_new("::1", port, &o);
		ASSERT(p); /* made; connections to it are refused */
		int fd;
		ASSERT(urio_tcp_pool_acquire(p, &fd) < 0);
		urio_tcp_pool_free(p);
	}
	urio_cancel(srv);
	urio_join(srv, NULL);
	close(lfd);
	return 0;
}

static intptr_t bad_args(void *arg)
{
	errno = 0;
	ASSERT(!urio_tcp_pool_new(NULL, 1, NULL));
	ASSERT_EQ(errno, EINVAL);
	ASSERT(!urio_tcp_pool_new("", 1, NULL));
	urio_pool_opts bad = {.max_size = 1, .min_idle = 2};
	errno = 0;
	ASSERT(!urio_tcp_pool_new("127.0.0.1", 1, &bad));
	ASSERT_EQ(errno, EINVAL);
	int fd;
	ASSERT_EQ(urio_tcp_pool_acquire(NULL, &fd), -EINVAL);
	urio_tcp_pool *p = urio_tcp_pool_new("127.0.0.1", 1, NULL);
	ASSERT(p);
	ASSERT_EQ(urio_tcp_pool_acquire(p, NULL), -EINVAL);
	urio_tcp_pool_release(p, -1, 0);
	urio_tcp_pool_release(p, 12345, 0); /* not leased: ignored */
	urio_tcp_pool_release(NULL, 3, 0);
	urio_tcp_pool_free(p);
	urio_tcp_pool_free(NULL);
	ASSERT(urio_tcp_pool_pool(NULL) == NULL);
	ASSERT_EQ(urio_tcp_pool_fd(NULL), -EBADF);
	return 0;
}

int main(void)
{
	errno = 0;
	ASSERT(!urio_tcp_pool_new("127.0.0.1", 1, NULL)); /* not in a task */
	ASSERT_EQ(errno, EPERM);
	urio_fn cases[] = {shared, down_then_up, warm_and_lease, bad_args};
	test_run_each(cases, sizeof(cases) / sizeof(cases[0]));
	puts("tcp_pool: ok");
	return 0;
}
