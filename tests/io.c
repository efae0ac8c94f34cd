#define _GNU_SOURCE /* struct statx */
/* Every I/O call: results, short reads, offsets and the file position,
 * sockets over 127.0.0.1, poll, concurrency with data checked (also on a
 * 4-entry ring, whose SQ fills and CQ overflows), and bad arguments
 * returning -errno (never a crash), also outside any task. Runs on
 * io_uring and, via the *_poll ctest entry, on the poll(2) fallback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/runtime.h>

#include "test.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define POLLERS 1000 /* TSan: a shadow stack per live fiber */
#else
#define POLLERS 3000 /* more completions at once than a default CQ holds */
#endif

static char path[64], path2[64];

static void tmp_paths(void)
{
	strcpy(path, "/tmp/urio-io-XXXXXX");
	int fd = mkstemp(path);
	ASSERT(fd >= 0);
	close(fd);
	/* a name for urio_open(O_CREAT) to create: made, then removed */
	strcpy(path2, "/tmp/urio-io-XXXXXX");
	fd = mkstemp(path2);
	ASSERT(fd >= 0);
	close(fd);
	unlink(path2);
}

static intptr_t file_ops(void *arg)
{
	ASSERT_EQ(urio_nop(), 0);
	int fd = urio_open(path, O_RDWR | O_TRUNC, 0);
	ASSERT(fd >= 0);
	ASSERT_EQ(urio_write(fd, "hello world", 11, 0), 11);
	char buf[64] = {0};
	ASSERT_EQ(urio_read(fd, buf, 5, 6), 5);
	ASSERT(memcmp(buf, "world", 5) == 0);
	/* short read at EOF, then 0; a zero-length read is 0 */
	ASSERT_EQ(urio_read(fd, buf, sizeof(buf), 6), 5);
	ASSERT_EQ(urio_read(fd, buf, sizeof(buf), 11), 0);
	ASSERT_EQ(urio_read(fd, buf, sizeof(buf), 1000), 0);
	ASSERT_EQ(urio_read(fd, buf, 0, 0), 0);
	/* huge length on a small file: a short read, not an error */
	ASSERT_EQ(urio_read(fd, buf, SIZE_MAX, 0), 11);
	/* -1: the file position, which the call advances */
	ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
	ASSERT_EQ(urio_read(fd, buf, 6, -1), 6);
	ASSERT_EQ(urio_read(fd, buf, 5, -1), 5);
	ASSERT(memcmp(buf, "world", 5) == 0);
	ASSERT_EQ(urio_read(fd, buf, 5, -1), 0);
	ASSERT_EQ(urio_write(fd, "!!", 2, -1), 2);
	ASSERT_EQ(lseek(fd, 0, SEEK_CUR), 13);
	/* vectors, at an offset (leaving a hole) and at the position */
	struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
	ASSERT_EQ(urio_writev(fd, iov, 2, 20), 4);
	char a[2], b[2];
	struct iovec riov[2] = {{a, 2}, {b, 2}};
	ASSERT_EQ(urio_readv(fd, riov, 2, 20), 4);
	ASSERT(memcmp(a, "ab", 2) == 0 && memcmp(b, "cd", 2) == 0);
	ASSERT_EQ(urio_writev(fd, iov, 2, -1), 4); /* at 13 */
	ASSERT_EQ(lseek(fd, 11, SEEK_SET), 11);
	char c[6];
	struct iovec one = {c, sizeof(c)};
	ASSERT_EQ(urio_readv(fd, &one, 1, -1), 6);
	ASSERT(memcmp(c, "!!abcd", 6) == 0);
	ASSERT_EQ(urio_readv(fd, riov, 0, 0), 0);
	ASSERT_EQ(urio_fsync(fd, 0), 0);
	ASSERT_EQ(urio_fsync(fd, 1), 0);
	struct statx st;
	ASSERT_EQ(urio_statx(AT_FDCWD, path, 0, STATX_SIZE, &st), 0);
	ASSERT_EQ(st.stx_size, 24);
	ASSERT_EQ(urio_close(fd), 0);
	ASSERT_EQ(fcntl(fd, F_GETFD), -1); /* really closed */
	return 0;
}

static intptr_t create_and_dirs(void *arg)
{
	int fd = urio_open(path2, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT(fd >= 0);
	ASSERT_EQ(urio_open(path2, O_RDWR | O_CREAT | O_EXCL, 0600), -EEXIST);
	struct statx st;
	ASSERT_EQ(urio_statx(AT_FDCWD, path2, 0, STATX_MODE | STATX_SIZE, &st),
		  0);
	ASSERT_EQ(st.stx_mode & 0777, 0600);
	ASSERT_EQ(st.stx_size, 0);
	ASSERT_EQ(urio_close(fd), 0);
	ASSERT_EQ(unlink(path2), 0);
	ASSERT_EQ(urio_statx(AT_FDCWD, path2, 0, STATX_SIZE, &st), -ENOENT);
	int dir = urio_open("/tmp", O_RDONLY | O_DIRECTORY, 0);
	ASSERT(dir >= 0);
	char buf[8];
	ASSERT_EQ(urio_read(dir, buf, sizeof(buf), 0), -EISDIR);
	ASSERT_EQ(urio_close(dir), 0);
	return 0;
}

static intptr_t bad_args(void *arg)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	int closed = p[0];
	close(p[0]);
	close(p[1]);
	char buf[8];
	struct iovec iov = {buf, 1};
	ASSERT_EQ(urio_read(closed, buf, 1, -1), -EBADF);
	ASSERT_EQ(urio_write(closed, buf, 1, -1), -EBADF);
	ASSERT_EQ(urio_readv(closed, &iov, 1, -1), -EBADF);
	ASSERT_EQ(urio_writev(closed, &iov, 1, -1), -EBADF);
	ASSERT_EQ(urio_fsync(closed, 0), -EBADF);
	ASSERT_EQ(urio_recv(closed, buf, 1, 0), -EBADF);
	ASSERT_EQ(urio_send(closed, buf, 1, 0), -EBADF);
	ASSERT_EQ(urio_poll(closed, POLLIN), -EBADF);
	ASSERT_EQ(urio_poll(-1, POLLIN), -EBADF);
	ASSERT_EQ(urio_accept(closed, NULL, NULL, 0), -EBADF);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	ASSERT_EQ(urio_connect(closed, (struct sockaddr *)&sin, sizeof(sin)),
		  -EBADF);
	struct statx st;
	ASSERT_EQ(urio_statx(closed, "x", 0, STATX_SIZE, &st), -EBADF);
	ASSERT_EQ(urio_close(closed), -EBADF);
	ASSERT_EQ(urio_close(-1), -EBADF);

	int fd = urio_open(path, O_RDWR, 0);
	ASSERT(fd >= 0);
	ASSERT_EQ(urio_read(fd, NULL, 10, 0), -EFAULT);
	ASSERT_EQ(urio_write(fd, NULL, 10, 0), -EFAULT);
	ASSERT_EQ(urio_recv(fd, NULL, 10, 0), -EFAULT);
	ASSERT_EQ(urio_send(fd, NULL, 10, 0), -EFAULT);
	ASSERT_EQ(urio_readv(fd, NULL, 2, 0), -EFAULT);
	ASSERT_EQ(urio_writev(fd, NULL, 2, 0), -EFAULT);
	ASSERT_EQ(urio_readv(fd, NULL, -1, 0), -EINVAL);
	ASSERT_EQ(urio_writev(fd, &iov, 100000, 0), -EINVAL);
	ASSERT_EQ(urio_readv(fd, &iov, IOV_MAX + 1, 0), -EINVAL);
	ASSERT_EQ(urio_fsync(fd, 0x80), -EINVAL);
	ASSERT_EQ(urio_fsync(fd, ~0u), -EINVAL);
	ASSERT_EQ(urio_open(NULL, O_RDONLY, 0), -EFAULT);
	ASSERT_EQ(urio_open("/nonexistent/urio", O_RDONLY, 0), -ENOENT);
	ASSERT_EQ(urio_open("", O_RDONLY, 0), -ENOENT);
	ASSERT_EQ(urio_statx(AT_FDCWD, NULL, 0, 0, NULL), -EFAULT);
	ASSERT_EQ(urio_statx(AT_FDCWD, path, 0, STATX_SIZE, NULL), -EFAULT);
	ASSERT_EQ(urio_accept(fd, (struct sockaddr *)buf, NULL, 0), -EFAULT);
	ASSERT_EQ(urio_connect(fd, NULL, 0), -EFAULT);
	ASSERT_EQ(urio_accept(fd, NULL, NULL, 0), -ENOTSOCK);
	ASSERT_EQ(urio_recv(fd, buf, 1, 0), -ENOTSOCK);
	ASSERT(urio_socket(-1, SOCK_STREAM, 0) < 0);
	ASSERT_EQ(urio_close(fd), 0);

	/* fsync of a pipe: the syscall's -EINVAL */
	ASSERT_EQ(pipe(p), 0);
	ASSERT_EQ(urio_fsync(p[1], 0), -EINVAL);
	close(p[0]);
	close(p[1]);
	return 0;
}

/* --- sockets ------------------------------------------------------------ */
struct srv {
	int lfd;
	struct sockaddr_in addr;
};

static intptr_t echo_once(void *arg)
{
	struct srv *s = arg;
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int c = urio_accept(s->lfd, (struct sockaddr *)&peer, &len,
			    SOCK_CLOEXEC);
	if (c < 0)
		return c;
	if (len != sizeof(peer) || peer.sin_family != AF_INET ||
	    peer.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
		return -EPROTO;
	char buf[64];
	ssize_t n = urio_recv(c, buf, sizeof(buf), 0);
	if (n > 0)
		n = urio_send(c, buf, (size_t)n, 0);
	urio_close(c);
	return n;
}

static intptr_t client(void *arg)
{
	struct srv *s = arg;
	int fd = urio_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0);
	ASSERT_EQ(urio_connect(fd, (struct sockaddr *)&s->addr,
			       sizeof(s->addr)), 0);
	ASSERT_EQ(urio_send(fd, "ping", 4, 0), 4);
	char buf[8] = {0};
	ssize_t got = 0;
	while (got < 4) {
		ssize_t n = urio_recv(fd, buf + got, sizeof(buf) - got, 0);
		ASSERT(n > 0);
		got += n;
	}
	ASSERT(memcmp(buf, "ping", 4) == 0);
	ASSERT_EQ(urio_recv(fd, buf, sizeof(buf), 0), 0); /* peer closed */
	return urio_close(fd);
}

/* A loopback socket bound to port 0; listening or not. */
static int bound_socket(struct sockaddr_in *addr, int backlog)
{
	int fd = urio_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0);
	*addr = (struct sockaddr_in){.sin_family = AF_INET,
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ASSERT_EQ(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	socklen_t len = sizeof(*addr);
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	if (backlog)
		ASSERT_EQ(listen(fd, backlog), 0);
	return fd;
}

static intptr_t sockets(void *arg)
{
	struct srv s;
	s.lfd = bound_socket(&s.addr, 64);
	enum { N = 20 };
	urio_task *srv[N], *cli[N];
	for (int i = 0; i < N; i++) {
		ASSERT((srv[i] = urio_spawn(echo_once, &s)));
		ASSERT((cli[i] = urio_spawn(client, &s)));
	}
	for (int i = 0; i < N; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(srv[i], &r), 0);
		ASSERT_EQ(r, 4);
		ASSERT_EQ(urio_join(cli[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	return urio_close(s.lfd);
}

static intptr_t refused(void *arg)
{
	/* bound, not listening (and kept open, so the port stays ours) */
	struct sockaddr_in addr;
	int quiet = bound_socket(&addr, 0);
	int fd = urio_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0);
	ASSERT_EQ(urio_connect(fd, (struct sockaddr *)&addr, sizeof(addr)),
		  -ECONNREFUSED);
	ASSERT_EQ(urio_close(fd), 0);
	return urio_close(quiet);
}

/* --- pipes and poll ------------------------------------------------------ */
static intptr_t polling(void *arg)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	ASSERT_EQ(urio_poll(p[1], POLLOUT) & POLLOUT, POLLOUT);
	ASSERT_EQ(urio_write(p[1], "x", 1, -1), 1);
	ASSERT_EQ(urio_poll(p[0], POLLIN) & POLLIN, POLLIN);
	/* EOF: the write end closed, the byte read, then 0 */
	close(p[1]);
	char c;
	ASSERT_EQ(urio_read(p[0], &c, 1, -1), 1);
	ASSERT_EQ(urio_read(p[0], &c, 1, -1), 0);
	ASSERT(urio_poll(p[0], POLLIN) & POLLHUP);
	close(p[0]);
	return 0;
}

static int poll_pipe[2];
static atomic_int pollers_in;

static intptr_t poller(void *arg)
{
	atomic_fetch_add(&pollers_in, 1);
	return urio_poll(poll_pipe[0], POLLIN);
}

/* Thousands of tasks wait on one fd; one write completes them all at once
 * (more completions than the CQ holds on a small ring). */
static intptr_t many_pollers(void *arg)
{
	ASSERT_EQ(pipe(poll_pipe), 0);
	atomic_store(&pollers_in, 0);
	urio_task **t = calloc(POLLERS, sizeof(*t));
	ASSERT(t);
	for (int i = 0; i < POLLERS; i++)
		ASSERT((t[i] = urio_spawn(poller, NULL)));
	while (atomic_load(&pollers_in) < POLLERS)
		urio_sleep_ms(1);
	/* so that most are parked when the byte comes (not needed for
	 * correctness: it stays unread, POLLIN is level-triggered) */
	urio_sleep_ms(10);
	ASSERT_EQ(urio_write(poll_pipe[1], "x", 1, -1), 1);
	for (int i = 0; i < POLLERS; i++) {
		intptr_t r = 0;
		ASSERT_EQ(urio_join(t[i], &r), 0);
		ASSERT_EQ(r & POLLIN, POLLIN);
	}
	free(t);
	close(poll_pipe[0]);
	close(poll_pipe[1]);
	return 0;
}

/* Many tasks writing and reading back their own blocks of one file. */
static intptr_t block_rw(void *arg)
{
	intptr_t i = (intptr_t)arg;
	int fd = urio_open(path, O_RDWR, 0);
	if (fd < 0)
		return fd;
	char out[512], in[512];
	memset(out, (int)('A' + i % 26), sizeof(out));
	intptr_t r = 0;
	for (int k = 0; k < 4 && r == 0; k++) {
		out[0] = (char)k;
		if (urio_write(fd, out, sizeof(out), i * 512) != 512 ||
		    urio_read(fd, in, sizeof(in), i * 512) != 512 ||
		    memcmp(in, out, sizeof(in)) != 0)
			r = -EIO;
	}
	urio_close(fd);
	return r;
}

static intptr_t concurrent(void *arg)
{
	enum { N = 500 };
	static urio_task *t[N];
	for (intptr_t i = 0; i < N; i++)
		ASSERT((t[i] = urio_spawn(block_rw, (void *)i)));
	for (int i = 0; i < N; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(t[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	return 0;
}

/* A pipe carried between tasks in chunks: every byte arrives, in order. */
static intptr_t pipe_writer(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char buf[1000];
	for (int k = 0; k < 200; k++) {
		for (int i = 0; i < 1000; i++)
			buf[i] = (unsigned char)(k * 1000 + i);
		size_t off = 0;
		while (off < sizeof(buf)) {
			ssize_t n = urio_write(fd, buf + off, sizeof(buf) - off, -1);
			if (n <= 0)
				return -EIO;
			off += (size_t)n;
		}
	}
	return 0;
}

static intptr_t pipe_stream(void *arg)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	urio_task *w = urio_spawn(pipe_writer, (void *)(intptr_t)p[1]);
	ASSERT(w);
	unsigned char buf[777];
	long total = 0;
	while (total < 200000) {
		ssize_t n = urio_read(p[0], buf, sizeof(buf), -1);
		ASSERT(n > 0);
		for (ssize_t i = 0; i < n; i++)
			ASSERT_EQ(buf[i], (unsigned char)(total + i));
		total += n;
	}
	intptr_t r = -1;
	ASSERT_EQ(urio_join(w, &r), 0);
	ASSERT_EQ(r, 0);
	close(p[0]);
	close(p[1]);
	return 0;
}

/* Every call outside a task: -EPERM, with nothing done (the fd stays
 * open, no socket is made). Argument checks may answer first. */
static void outside_tasks(void)
{
	int fd = open(path, O_RDWR);
	ASSERT(fd >= 0);
	char buf[4];
	struct iovec iov = {buf, 1};
	struct statx st;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	ASSERT_EQ(urio_nop(), -EPERM);
	ASSERT_EQ(urio_open(path, O_RDONLY, 0), -EPERM);
	ASSERT_EQ(urio_read(fd, buf, 1, 0), -EPERM);
	ASSERT_EQ(urio_write(fd, buf, 1, 0), -EPERM);
	ASSERT_EQ(urio_readv(fd, &iov, 1, 0), -EPERM);
	ASSERT_EQ(urio_writev(fd, &iov, 1, 0), -EPERM);
	ASSERT_EQ(urio_fsync(fd, 0), -EPERM);
	ASSERT_EQ(urio_statx(AT_FDCWD, path, 0, STATX_SIZE, &st), -EPERM);
	ASSERT_EQ(urio_socket(AF_INET, SOCK_STREAM, 0), -EPERM);
	ASSERT_EQ(urio_accept(fd, NULL, NULL, 0), -EPERM);
	ASSERT_EQ(urio_connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
		  -EPERM);
	ASSERT_EQ(urio_recv(fd, buf, 1, 0), -EPERM);
	ASSERT_EQ(urio_send(fd, buf, 1, 0), -EPERM);
	ASSERT_EQ(urio_poll(fd, POLLIN), -EPERM);
	ASSERT_EQ(urio_close(fd), -EPERM);
	ASSERT_EQ(urio_sleep_ms(1), -EPERM);
	ASSERT(fcntl(fd, F_GETFD) >= 0);
	ASSERT_EQ(close(fd), 0);
}

int main(void)
{
	tmp_paths();
	outside_tasks();
	int fd0 = open("/dev/null", O_RDONLY); /* the next free fd number */
	ASSERT(fd0 >= 0);
	close(fd0);

	urio_fn cases[] = {file_ops, create_and_dirs, bad_args, sockets,
			   refused, polling, many_pollers, concurrent,
			   pipe_stream};
	/* one worker, two, and two whose tiny rings fill up and overflow */
	urio_config cfgs[] = {{.workers = 1}, {.workers = 2},
			      {.workers = 2, .ring_entries = 4}};
	for (size_t c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			intptr_t r = -1;
			ASSERT_EQ(urio_run(&cfgs[c], cases[i], NULL, &r), 0);
			ASSERT_EQ(r, 0);
		}
	}
	/* no fd left open by any case (accepted, opened, sockets) */
	int fd1 = open("/dev/null", O_RDONLY);
	ASSERT_EQ(fd1, fd0);
	close(fd1);
	unlink(path);
	puts("io: ok");
	return 0;
}
