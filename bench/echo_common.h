/* What the comparison servers of bench/ share: a 127.0.0.1 listener, a
 * raised fd limit, and a stop flag set by SIGTERM, SIGINT or a 15-minute
 * alarm (so a forgotten server ends by itself). */
#ifndef URIO_BENCH_ECHO_COMMON_H
#define URIO_BENCH_ECHO_COMMON_H

#include <errno.h>
#include <stdlib.h>
#include <stdint.h>
#include <pthread.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_LIFETIME_S 900

static volatile sig_atomic_t echo_stopping;

static void echo_on_signal(int sig)
{
	(void)sig;
	echo_stopping = 1;
}

/* No SA_RESTART: a blocked accept or wait returns EINTR and sees the flag. */
static inline void echo_stop_on_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = echo_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm(ECHO_LIFETIME_S);
}

/* Listens on 127.0.0.1:port with the fd limit raised to its maximum;
 * returns the fd, or -1 after saying why. */
static inline int echo_listen(int port)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 4096) < 0) {
		fprintf(stderr, "listen on 127.0.0.1:%d: %s\n", port,
			strerror(errno));
		return -1;
	}
	return fd;
}

/* main() of a blocking thread-per-connection server: PORT from argv, a
 * detached thread running conn((void *)(intptr_t)fd) per accepted
 * connection, until SIGTERM/SIGINT. */
static inline int echo_thread_per_conn_main(const char *name, int argc,
					    char **argv,
					    void *(*conn)(void *))
{
	int port = argc == 2 ? atoi(argv[1]) : 0;
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: %s PORT\n", name);
		return 2;
	}
	int lfd = echo_listen(port);
	if (lfd < 0)
		return 1;
	echo_stop_on_signals();
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 << 10);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	while (!echo_stopping) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				usleep(10000);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_t t;
		if (pthread_create(&t, &at, conn, (void *)(intptr_t)fd) != 0)
			close(fd);
	}
	return 0;
}

#endif
