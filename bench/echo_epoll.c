/* echo-epoll: a single-threaded epoll echo loop (level-triggered), the
 * readiness-based peer of urio-echo.
 *
 *   echo-epoll PORT
 *
 * Non-blocking sockets; a read is echoed at once, and only what the socket
 * would not take waits for EPOLLOUT. SIGTERM or SIGINT ends it (exit 0). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "echo_common.h"

#define MAX_EVENTS 512
#define BUF_SIZE 16384

struct conn {
	char *pending; /* bytes the socket would not take yet */
	size_t len;
};

static struct conn *conns;
static int max_fd;

static void drop(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	free(conns[fd].pending);
	conns[fd] = (struct conn){ 0 };
	close(fd);
}

/* Writes buf; keeps what is left and waits for EPOLLOUT. 0 or -1 (drop). */
static int put(int ep, int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -1;
		struct conn *c = &conns[fd];
		char *p = realloc(c->pending, c->len + len);
		if (!p)
			return -1;
		memcpy(p + c->len, buf, len);
		c->pending = p;
		c->len += len;
		struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };
		return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
	}
	return 0;
}

static void on_out(int ep, int fd)
{
	struct conn *c = &conns[fd];
	char *p = c->pending;
	size_t len = c->len;
	c->pending = NULL;
	c->len = 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
	if (put(ep, fd, p, len) < 0)
		drop(ep, fd);
	free(p);
}

static void on_in(int ep, int fd, char *buf)
{
	ssize_t n = read(fd, buf, BUF_SIZE);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		drop(ep, fd);
		return;
	}
	if (n > 0 && put(ep, fd, buf, (size_t)n) < 0)
		drop(ep, fd);
}

static void on_accept(int ep, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or EMFILE and the like: next event */
		if (fd >= max_fd) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			close(fd);
	}
}

int main(int argc, char **argv)
{
	int port = argc == 2 ? atoi(argv[1]) : 0;
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: echo-epoll PORT\n");
		return 2;
	}
	int lfd = echo_listen(port);
	if (lfd < 0)
		return 1;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	max_fd = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
	conns = calloc((size_t)max_fd, sizeof(*conns));
	static char buf[BUF_SIZE];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int one = 1;
	if (!conns || ep < 0 || ioctl(lfd, FIONBIO, &one) < 0) {
		perror("echo-epoll");
		return 1;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	echo_stop_on_signals();
	struct epoll_event evs[MAX_EVENTS];
	while (!echo_stopping) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd)
				on_accept(ep, lfd);
			else if (evs[i].events & EPOLLOUT)
				on_out(ep, fd);
			else
				on_in(ep, fd, buf);
		}
	}
	return 0;
}
