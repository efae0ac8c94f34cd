/* Listening and sending: urio_listen on IPv4 and IPv6 (port 0, reuseport,
 * bad addresses), urio_send_all over short sends, urio_sendmsg, zero-copy
 * send of a large buffer (its notification handled: the buffer is reused
 * at once), urio_connect_timeout against a listener that cannot take the
 * connection, urio_dial. On 1 and 2 workers, and the poll backend. */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static unsigned workers;

static intptr_t listen_bad(void *arg)
{
	ASSERT_EQ(urio_listen("localhost", 0, 0, 0), -EINVAL);
	ASSERT_EQ(urio_listen("1.2.3", 0, 0, 0), -EINVAL);
	ASSERT_EQ(urio_listen("[::1", 0, 0, 0), -EINVAL);
	ASSERT_EQ(urio_listen("127.0.0.1", 0, -1, 0), -EINVAL);
	ASSERT_EQ(urio_listen("127.0.0.1", 0, 0, 0x80), -EINVAL);
	ASSERT_EQ(urio_listen("192.0.2.1", 0, 0, 0), -EADDRNOTAVAIL);
	ASSERT_EQ(urio_local_port(-1), -EBADF);
	ASSERT_EQ(urio_dial(NULL, 1, 0), -EINVAL);
	ASSERT_EQ(urio_dial("nope", 1, 0), -EINVAL);
	ASSERT_EQ(urio_sendmsg(0, NULL, 0), -EFAULT);
	ASSERT_EQ(urio_send_all(0, NULL, 1, 0), -EFAULT);
	ASSERT_EQ(urio_send_zc(0, NULL, 1, 0), -EFAULT);
	/* two listeners on one port need SO_REUSEPORT on both */
	int a = urio_listen("127.0.0.1", 0, 0, URIO_LISTEN_REUSEPORT);
	ASSERT(a >= 0);
	int port = urio_local_port(a);
	int b = urio_listen("127.0.0.1", (uint16_t)port, 0,
			    URIO_LISTEN_REUSEPORT);
	ASSERT(b >= 0);
	ASSERT_EQ(urio_listen("127.0.0.1", (uint16_t)port, 0, 0), -EADDRINUSE);
	close(a);
	close(b);
	return 0;
}

/* One accepted connection per call, on fd *l. */
static int accept1(int l)
{
	int c = urio_accept(l, NULL, NULL, SOCK_CLOEXEC);
	ASSERT(c >= 0);
	return c;
}

static intptr_t v6(void *arg)
{
	int l = urio_listen("::1", 0, 0, URIO_LISTEN_V6ONLY);
	if (l == -EADDRNOTAVAIL || l == -EAFNOSUPPORT) {
		fprintf(stderr, "  no IPv6 loopback: skipped\n");
		return 0;
	}
	ASSERT(l >= 0);
	int port = urio_local_port(l);
	ASSERT(port > 0);
	int c = urio_dial("[::1]", (uint16_t)port, 5000);
	ASSERT(c >= 0);
	int s = accept1(l);
	ASSERT_EQ(urio_send_all(c, "six", 3, 0), 3);
	char buf[3];
	ASSERT_EQ(urio_recv(s, buf, 3, MSG_WAITALL), 3);
	ASSERT(memcmp(buf, "six", 3) == 0);
	close(c);
	close(s);
	close(l);
	return 0;
}

struct reader {
	int fd;
	size_t want;
	uint64_t sum;
};

static intptr_t drain_reader(void *arg)
{
	struct reader *r = arg;
	char *buf = malloc(65536);
	size_t got = 0;
	while (got < r->want) {
		ssize_t n = urio_recv(r->fd, buf, 65536, 0);
		ASSERT(n > 0);
		for (ssize_t i = 0; i < n; i++)
			r->sum = r->sum * 31 + (unsigned char)buf[i];
		got += (size_t)n;
	}
	free(buf);
	return 0;
}

static uint64_t sum_of(const char *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = h * 31 + (unsigned char)p[i];
	return h;
}

/* Large sends: the socket buffer takes a part per op, so send_all loops;
 * the zero-copy buffer is rewritten right after each call returns, which
 * would corrupt the stream if the kernel still held its pages. */
static intptr_t big_sends(void *arg)
{
	int l = urio_listen("127.0.0.1", 0, 0, 0);
	ASSERT(l >= 0);
	int c = urio_dial("127.0.0.1", (uint16_t)urio_local_port(l), 5000);
	ASSERT(c >= 0);
	int s = accept1(l);
	size_t n = 4u << 20;
	char *buf = malloc(n);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(i * 7 + 3);
	struct reader r = {.fd = s, .want = 3 * n + 10};
	urio_task *t = urio_spawn(drain_reader, &r);
	ASSERT(t);
	uint64_t h = 0;
	ASSERT_EQ(urio_send_all(c, buf, n, 0), (long long)n);
	h = sum_of(buf, n, h);
	ASSERT_EQ(urio_send_zc(c, buf, n, 0), (long long)n);
	h = sum_of(buf, n, h);
	memset(buf, 0x5a, n); /* reused at once */
	ASSERT_EQ(urio_send_zc(c, buf, n, 0), (long long)n);
	h = sum_of(buf, n, h);
	struct iovec iov[2] = {{"hello", 5}, {"world", 5}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	ASSERT_EQ(urio_sendmsg(c, &m, 0), 10);
	h = sum_of("helloworld", 10, h);
	ASSERT_EQ(urio_join(t, NULL), 0);
	ASSERT(r.sum == h);
	/* the peer is gone: -EPIPE or -ECONNRESET, never SIGPIPE */
	close(s);
	ssize_t e = 0;
	for (int i = 0; i < 100 && e >= 0; i++)
		e = urio_send_all(c, buf, 65536, 0);
	ASSERT(e == -EPIPE || e == -ECONNRESET);
	e = 0;
	for (int i = 0; i < 100 && e >= 0; i++)
		e = urio_send_zc(c, buf, 65536, 0);
	ASSERT(e == -EPIPE || e == -ECONNRESET);
	free(buf);
	close(c);
	close(l);
	return 0;
}

/* A listener with backlog 0 takes one connection into its queue and
 * drops the SYNs of the next: connecting then waits, and the deadline
 * ends it. */
static intptr_t connect_deadline(void *arg)
{
	int l = urio_listen("127.0.0.1", 0, 0, 0);
	ASSERT(l >= 0);
	ASSERT_EQ(listen(l, 0), 0);
	int port = urio_local_port(l);
	int fds[4], n = 0, r = 0;
	for (; n < 4; n++) {
		r = urio_dial("127.0.0.1", (uint16_t)port, 200);
		if (r < 0)
			break;
		fds[n] = r;
	}
	ASSERT_EQ(r, -ETIMEDOUT);
	ASSERT(n >= 1);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(l);
	/* a refused connection is an error, not a timeout */
	int l2 = urio_listen("127.0.0.1", 0, 0, 0);
	int p2 = urio_local_port(l2);
	close(l2);
	ASSERT_EQ(urio_dial("127.0.0.1", (uint16_t)p2, 1000), -ECONNREFUSED);
	return 0;
}

static void run(const char *name, urio_fn fn)
{
	urio_config cfg = {.workers = workers};
	intptr_t res = -1;
	fprintf(stderr, "%s, %u worker(s)\n", name, workers);
	ASSERT_EQ(urio_run(&cfg, fn, NULL, &res), 0);
	ASSERT_EQ(res, 0);
}

int main(void)
{
	ASSERT_EQ(urio_dial("127.0.0.1", 1, 0), -EPERM);
	int l = urio_listen("127.0.0.1", 0, 0, 0); /* needs no task */
	ASSERT(l >= 0);
	close(l);
	for (workers = 1; workers <= 2; workers++) {
		run("listen_bad", listen_bad);
		run("v6", v6);
		run("big_sends", big_sends);
		run("connect_deadline", connect_deadline);
	}
	return 0;
}
