/* urio-httpd end to end: the built server on a free 127.0.0.1 port, driven
 * by plain blocking sockets (each with a 10 s receive bound), on 1 and 2
 * workers: keep-alive, pipelining in order, --root files (404, 403 for
 * escapes), 431, 413 and 400 then close, slowloris, the request deadline, resets
 * mid-response, fd exhaustion on accept, SIGTERM exiting 0 and fds not
 * leaking. The server's exit status also carries its sanitizer's verdict. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test.h"

#ifndef URIO_HTTPD_PATH
#error "URIO_HTTPD_PATH is set by tools/CMakeLists.txt"
#endif

struct server {
	pid_t pid;
	int port;
};

static char root[64];
static pid_t live[4]; /* killed if an assertion exits early */

static void remove_root(void);

static void kill_live(void)
{
	for (int i = 0; i < 4; i++)
		if (live[i] > 0)
			kill(live[i], SIGKILL);
	if (root[0])
		remove_root();
}

static void track(pid_t pid, pid_t old)
{
	for (int i = 0; i < 4; i++)
		if (live[i] == old) {
			live[i] = pid;
			return;
		}
}

/* Starts urio-httpd with args and reads the port from its first line. */
static struct server start(const char *workers, const char *const *extra,
			   rlim_t nofile)
{
	const char *argv[16] = { URIO_HTTPD_PATH, "--port", "0", "--workers",
				 workers };
	int argc = 5, out[2];
	for (; extra && *extra; extra++)
		argv[argc++] = *extra;
	argv[argc] = NULL;
	ASSERT(pipe(out) == 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		if (nofile) {
			struct rlimit rl = { nofile, nofile };
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(out[1]);
	track(pid, 0);
	char line[128];
	size_t n = 0;
	while (n < sizeof(line) - 1 && !memchr(line, '\n', n)) {
		struct pollfd pfd = { out[0], POLLIN, 0 };
		ASSERT(poll(&pfd, 1, 20000) == 1);
		ssize_t k = read(out[0], line + n, sizeof(line) - 1 - n);
		ASSERT(k > 0);
		n += (size_t)k;
	}
	line[n] = 0;
	close(out[0]);
	const char *colon = strrchr(line, ':');
	ASSERT(strncmp(line, "listening on 127.0.0.1:", 23) == 0 && colon);
	return (struct server){ pid, atoi(colon + 1) };
}

/* SIGTERM, then the exit status within a bound: 0 is the only pass. */
static void stop(struct server s)
{
	int st;
	ASSERT(kill(s.pid, SIGTERM) == 0);
	for (int i = 0;; i++) {
		pid_t r = waitpid(s.pid, &st, WNOHANG);
		if (r == s.pid)
			break;
		if (i == 30000) {
			kill(s.pid, SIGKILL);
			waitpid(s.pid, &st, 0);
			ASSERT(!"urio-httpd did not exit after SIGTERM");
		}
		usleep(1000);
	}
	track(0, s.pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "urio-httpd status %#x\n", st);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ASSERT(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

static void send_str(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
		ASSERT(k > 0);
		s += k;
		n -= (size_t)k;
	}
}

#define SEND(fd, s) send_str(fd, s, strlen(s))

struct resp {
	int status;
	bool close;
	char body[256];
	size_t body_len;
};

/* Reads one response (headers, then Content-Length bytes; bodies past the
 * buffer are read and dropped; none after HEAD). Returns 1, or 0 on EOF before any byte. */
static int read_resp_h(int fd, struct resp *r, bool head)
{
	static __thread char buf[16384];
	static __thread size_t have;
	char *end;
	memset(r, 0, sizeof(*r));
	while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
		ASSERT(have < sizeof(buf));
		ssize_t k = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (k == 0 && have == 0)
			return 0;
		ASSERT(k > 0);
		have += (size_t)k;
	}
	size_t hlen = (size_t)(end - buf) + 4;
	ASSERT(sscanf(buf, "HTTP/1.1 %d", &r->status) == 1);
	char *cl = memmem(buf, hlen, "Content-Length: ", 16);
	ASSERT(cl);
	size_t clen = head ? 0 : strtoul(cl + 16, NULL, 10), got = 0;
	r->close = memmem(buf, hlen, "Connection: close", 17) != NULL;
	memmove(buf, buf + hlen, have - hlen);
	have -= hlen;
	while (got < clen) {
		if (!have) {
			ssize_t k = recv(fd, buf, sizeof(buf), 0);
			ASSERT(k > 0);
			have = (size_t)k;
		}
		size_t take = clen - got < have ? clen - got : have;
		if (got < sizeof(r->body)) {
			size_t c = take < sizeof(r->body) - got
					   ? take
					   : sizeof(r->body) - got;
			memcpy(r->body + got, buf, c);
			r->body_len = got + c;
		}
		memmove(buf, buf + take, have - take);
		have -= take;
		got += take;
	}
	return 1;
}

static int read_resp(int fd, struct resp *r)
{
	return read_resp_h(fd, r, false);
}

/* The peer closed: EOF (or a reset) before any further byte. */
static void assert_closed(int fd)
{
	char b;
	ssize_t k = recv(fd, &b, 1, 0);
	ASSERT(k == 0 || (k < 0 && errno == ECONNRESET));
}

static void keepalive(int port)
{
	int fd = dial(port);
	struct resp r;
	for (int i = 0; i < 20; i++) {
		SEND(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
		ASSERT_EQ(read_resp(fd, &r), 1);
		ASSERT_EQ(r.status, 200);
		ASSERT(!r.close);
		ASSERT(r.body_len == 13 && memcmp(r.body, "Hello, World!", 13) == 0);
	}
	SEND(fd, "HEAD / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab");
	ASSERT_EQ(read_resp_h(fd, &r, true), 1); /* HEAD: a length, no body */
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(read_resp(fd, &r), 1);
	ASSERT_EQ(r.status, 405);
	ASSERT(!r.close);
	close(fd);
	/* HTTP/1.0 without keep-alive: answered, then closed */
	fd = dial(port);
	SEND(fd, "GET / HTTP/1.0\r\n\r\n");
	ASSERT_EQ(read_resp(fd, &r), 1);
	ASSERT(r.close);
	assert_closed(fd);
	close(fd);
}

static void make_root(void)
{
	snprintf(root, sizeof(root), "/tmp/urio-httpd-test-%d", getpid());
	ASSERT(mkdir(root, 0700) == 0);
	char p[128];
	for (int i = 0; i < 16; i++) {
		snprintf(p, sizeof(p), "%s/f%d.txt", root, i);
		FILE *f = fopen(p, "w");
		ASSERT(f);
		fprintf(f, "file %d\n", i);
		fclose(f);
	}
	snprintf(p, sizeof(p), "%s/big.bin", root);
	FILE *f = fopen(p, "w");
	ASSERT(f);
	static char chunk[65536];
	memset(chunk, 'z', sizeof(chunk));
	for (int i = 0; i < 128; i++) /* 8 MiB */
		ASSERT(fwrite(chunk, 1, sizeof(chunk), f) == sizeof(chunk));
	fclose(f);
	snprintf(p, sizeof(p), "%s/sub", root);
	ASSERT(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/sub/index.html", root);
	f = fopen(p, "w");
	ASSERT(f);
	fputs("<p>index</p>", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/out", root);
	ASSERT(symlink("/etc", p) == 0);
}

static void remove_root(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	root[0] = 0;
}

/* 16 files and a 404 asked for in one write come back in order. */
static void pipelined_files(int port)
{
	int fd = dial(port);
	char req[4096];
	size_t n = 0;
	for (int i = 0; i < 16; i++) {
		n += (size_t)snprintf(req + n, sizeof(req) - n,
				      "GET /f%d.txt HTTP/1.1\r\nHost: t\r\n\r\n", i);
		if (i == 7)
			n += (size_t)snprintf(req + n, sizeof(req) - n,
					      "GET /missing HTTP/1.1\r\n\r\n");
	}
	send_str(fd, req, n);
	struct resp r;
	for (int i = 0; i < 16; i++) {
		char want[32];
		ASSERT_EQ(read_resp(fd, &r), 1);
		ASSERT_EQ(r.status, 200);
		int wl = snprintf(want, sizeof(want), "file %d\n", i);
		ASSERT(r.body_len == (size_t)wl && memcmp(r.body, want, r.body_len) == 0);
		if (i == 7) {
			ASSERT_EQ(read_resp(fd, &r), 1);
			ASSERT_EQ(r.status, 404);
		}
	}
	static const struct {
		const char *target;
		int status;
	} cases[] = {
		{ "/sub/", 200 },		{ "/sub", 200 },
		{ "/../etc/passwd", 403 },	{ "/%2e%2e/etc/passwd", 403 },
		{ "/sub/../f1.txt", 403 },	{ "/out/passwd", 403 },
		{ "/nope/x", 404 },		{ "/f1.txt?q=1", 200 },
		{ "/%zz", 400 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[256];
		snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\n\r\n",
			 cases[i].target);
		SEND(fd, line);
		ASSERT_EQ(read_resp(fd, &r), 1);
		if (r.status != cases[i].status)
			fprintf(stderr, "%s: %d\n", cases[i].target, r.status);
		ASSERT_EQ(r.status, cases[i].status);
	}
	assert_closed(fd); /* the 400 closed it */
	close(fd);
}

static void oversized_and_malformed(int port)
{
	static char big[32768];
	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'a', sizeof(big) - (size_t)n);
	int fd = dial(port);
	send_str(fd, big, sizeof(big));
	struct resp r;
	ASSERT_EQ(read_resp(fd, &r), 1);
	ASSERT_EQ(r.status, 431);
	ASSERT(r.close);
	assert_closed(fd);
	close(fd);

	fd = dial(port); /* a body past the server's limit */
	SEND(fd, "POST / HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n");
	ASSERT_EQ(read_resp(fd, &r), 1);
	ASSERT_EQ(r.status, 413);
	ASSERT(r.close);
	assert_closed(fd);
	close(fd);

	static const char *bad[] = { "BAD\r\n\r\n", "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
				     "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n" };
	for (size_t i = 0; i < 3; i++) {
		fd = dial(port);
		SEND(fd, "GET / HTTP/1.1\r\n\r\n"); /* a good one first */
		SEND(fd, bad[i]);
		ASSERT_EQ(read_resp(fd, &r), 1);
		ASSERT_EQ(r.status, 200);
		ASSERT_EQ(read_resp(fd, &r), 1);
		ASSERT_EQ(r.status, 400);
		ASSERT(r.close);
		assert_closed(fd);
		close(fd);
	}
}

/* Partial requests held open by many slow clients (one byte at a time)
 * do not hold up a fast client. */
static void slowloris(int port)
{
	enum { SLOW = 40 };
	int slow[SLOW];
	static const char req[] = "GET / HTTP/1.1\r\nHost: slow\r\n\r\n";
	for (int i = 0; i < SLOW; i++) {
		slow[i] = dial(port);
		send_str(slow[i], req, 3);
	}
	int fast = dial(port);
	struct resp r;
	for (size_t k = 3; k < 12; k++) {
		for (int i = 0; i < SLOW; i++)
			send_str(slow[i], req + k, 1);
		for (int j = 0; j < 10; j++) {
			SEND(fast, "GET / HTTP/1.1\r\n\r\n");
			ASSERT_EQ(read_resp(fast, &r), 1);
			ASSERT_EQ(r.status, 200);
		}
	}
	close(fast);
	for (int i = 0; i < SLOW; i++) { /* they finish and are answered */
		send_str(slow[i], req + 12, sizeof(req) - 13);
		ASSERT_EQ(read_resp(slow[i], &r), 1);
		ASSERT_EQ(r.status, 200);
		close(slow[i]);
	}
}

/* With --timeout 300: a request still partial at its deadline gets 408
 * and a close; an idle keep-alive connection is closed. */
static void deadline(int port)
{
	int part = dial(port), idle = dial(port);
	struct resp r;
	SEND(idle, "GET / HTTP/1.1\r\n\r\n");
	ASSERT_EQ(read_resp(idle, &r), 1);
	SEND(part, "GET / HT");
	ASSERT_EQ(read_resp(part, &r), 1);
	ASSERT_EQ(r.status, 408);
	assert_closed(part);
	assert_closed(idle);
	close(part);
	close(idle);
}

/* Peers that reset while an 8 MiB file is on its way; the server lives on
 * and answers the next client. */
static void reset_mid_response(int port)
{
	for (int i = 0; i < 20; i++) {
		int fd = dial(port);
		SEND(fd, "GET /big.bin HTTP/1.1\r\n\r\n");
		char b[4096];
		ASSERT(recv(fd, b, sizeof(b), 0) > 0);
		struct linger lg = { 1, 0 }; /* close sends RST */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	int fd = dial(port);
	struct resp r;
	SEND(fd, "GET /f3.txt HTTP/1.1\r\n\r\n");
	ASSERT_EQ(read_resp(fd, &r), 1);
	ASSERT_EQ(r.status, 200);
	close(fd);
}

static int fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	return test_count_dir(path);
}

/* Connections come and go: the server's fd count comes back down. */
static void no_fd_leak(struct server s)
{
	int base = fd_count(s.pid);
	for (int i = 0; i < 50; i++) {
		int fd = dial(s.port);
		if (i % 2)
			SEND(fd, "GET / HTTP/1.1\r\n\r\n");
		close(fd);
	}
	POLL(fd_count(s.pid) <= base);
}

/* The server may hold only a few fds: accept fails with EMFILE while the
 * peers stay; once they leave, the backlog is served. */
static void fd_exhaustion(const char *workers)
{
	struct server s = start(workers, NULL, 40);
	enum { N = 60 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = dial(s.port);
	POLL(fd_count(s.pid) >= 38); /* at its limit: accept fails now */
	/* the first ones were accepted and answer */
	struct resp r;
	SEND(fds[0], "GET / HTTP/1.1\r\n\r\n");
	ASSERT_EQ(read_resp(fds[0], &r), 1);
	ASSERT_EQ(r.status, 200);
	for (int i = 0; i < N - 1; i++)
		close(fds[i]);
	/* the last one waited in the backlog and is served now */
	SEND(fds[N - 1], "GET / HTTP/1.1\r\n\r\n");
	ASSERT_EQ(read_resp(fds[N - 1], &r), 1);
	ASSERT_EQ(r.status, 200);
	close(fds[N - 1]);
	stop(s);
}

/* SIGTERM with an idle keep-alive connection open: it is closed and the
 * server exits 0 (stop() checks the status). */
static void sigterm_drains(const char *workers)
{
	struct server s = start(workers, NULL, 0);
	int fd = dial(s.port);
	struct resp r;
	SEND(fd, "GET / HTTP/1.1\r\n\r\n");
	ASSERT_EQ(read_resp(fd, &r), 1);
	stop(s);
	assert_closed(fd);
	close(fd);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	atexit(kill_live);
	make_root();
	const char *const rootargs[] = { "--root", root, NULL };
	const char *const shortargs[] = { "--timeout", "300", NULL };
	static const char *workers[] = { "1", "2" };
	for (int w = 0; w < 2; w++) {
		struct server s = start(workers[w], NULL, 0);
		keepalive(s.port);
		oversized_and_malformed(s.port);
		slowloris(s.port);
		no_fd_leak(s);
		stop(s);

		s = start(workers[w], rootargs, 0);
		pipelined_files(s.port);
		reset_mid_response(s.port);
		no_fd_leak(s);
		stop(s);

		s = start(workers[w], shortargs, 0);
		deadline(s.port);
		stop(s);

		fd_exhaustion(workers[w]);
		sigterm_drains(workers[w]);
	}
	remove_root();
	printf("httpd: ok\n");
	return 0;
}
