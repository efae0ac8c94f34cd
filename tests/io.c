#define _GNU_SOURCE /* struct statx */
/* Every I/O call: results, short reads, offsets and the file position,
 * sockets over 127.0.0.1, poll, concurrency with data checked, and bad
 * arguments returning -errno (never a crash). Runs on io_uring and, via
 * the *_poll ctest entry, on the poll(2) fallback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static char path[64];

static int tmpfile_path(void)
{
	strcpy(path, "/tmp/urio-io-XXXXXX");
	int fd = mkstemp(path);
	ASSERT(fd >= 0);
	return fd;
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
	/* short read at EOF, then 0 */
	ASSERT_EQ(urio_read(fd, buf, sizeof(buf), 6), 5);
	ASSERT_EQ(urio_read(fd, buf, sizeof(buf), 11), 0);
	/* huge length on a small file: a short read, not an error */
	ASSERT_EQ(urio_read(fd, buf, SIZE_MAX, 0), 11);
	/* -1: the file position advances */
	ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
	ASSERT_EQ(urio_read(fd, buf, 6, -1), 6);
	ASSERT_EQ(urio_read(fd, buf, 5, -1), 5);
	ASSERT(memcmp(buf, "world", 5) == 0);
	struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
	ASSERT_EQ(urio_writev(fd, iov, 2, 20), 4);
	char a[2], b[2];
	struct iovec riov[2] = {{a, 2}, {b, 2}};
	ASSERT_EQ(urio_readv(fd, riov, 2, 20), 4);
	ASSERT(memcmp(a, "ab", 2) == 0 && memcmp(b, "cd", 2) == 0);
	ASSERT_EQ(urio_fsync(fd, 0), 0);
	ASSERT_EQ(urio_fsync(fd, 1), 0);
	struct statx st;
	ASSERT_EQ(urio_statx(AT_FDCWD, path, 0, STATX_SIZE, &st), 0);
	ASSERT_EQ(st.stx_size, 24);
	ASSERT_EQ(urio_close(fd), 0);
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
	ASSERT_EQ(urio_read(closed, buf, 1, -1), -EBADF);
	ASSERT_EQ(urio_write(closed, buf, 1, -1), -EBADF);
	ASSERT_EQ(urio_fsync(closed, 0), -EBADF);
	ASSERT_EQ(urio_recv(closed, buf, 1, 0), -EBADF);
	ASSERT_EQ(urio_send(closed, buf, 1, 0), -EBADF);
	ASSERT_EQ(urio_close(closed), -EBADF);
	ASSERT_EQ(urio_close(-1), -EBADF);
	ASSERT_EQ(urio_poll(-1, POLLIN), -EBADF);
	int fd = urio_open(path, O_RDWR, 0);
	ASSERT(fd >= 0);
	ASSERT_EQ(urio_read(fd, NULL, 10, 0), -EFAULT);
	ASSERT_EQ(urio_write(fd, NULL, 10, 0), -EFAULT);
	ASSERT_EQ(urio_recv(fd, NULL, 10, 0), -EFAULT);
	ASSERT_EQ(urio_readv(fd, NULL, 2, 0), -EFAULT);
	ASSERT_EQ(urio_readv(fd, NULL, -1, 0), -EINVAL);
	struct iovec iov = {buf, 1};
	ASSERT_EQ(urio_writev(fd, &iov, 100000, 0), -EINVAL);
	ASSERT_EQ(urio_fsync(fd, 0x80), -EINVAL);
	ASSERT_EQ(urio_open(NULL, O_RDONLY, 0), -EFAULT);
	ASSERT_EQ(urio_open("/nonexistent/urio", O_RDONLY, 0), -ENOENT);
	ASSERT_EQ(urio_statx(AT_FDCWD, NULL, 0, 0, NULL), -EFAULT);
	ASSERT_EQ(urio_accept(fd, (struct sockaddr *)buf, NULL, 0), -EFAULT);
	ASSERT_EQ(urio_connect(fd, NULL, 0), -EFAULT);
	ASSERT_EQ(urio_accept(fd, NULL, NULL, 0), -ENOTSOCK);
	ASSERT(urio_socket(-1, SOCK_STREAM, 0) < 0);
	ASSERT_EQ(urio_close(fd), 0);
	return 0;
}

struct srv {
	int lfd;
	struct sockaddr_in addr;
};

static intptr_t echo_once(void *arg)
{
	struct srv *s = arg;
	int c = urio_accept(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return c;
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

static intptr_t sockets(void *arg)
{
	struct srv s = {0};
	s.lfd = urio_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(s.lfd >= 0);
	s.addr.sin_family = AF_INET;
	s.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(bind(s.lfd, (struct sockaddr *)&s.addr, sizeof(s.addr)), 0);
	socklen_t len = sizeof(s.addr);
	ASSERT_EQ(getsockname(s.lfd, (struct sockaddr *)&s.addr, &len), 0);
	ASSERT_EQ(listen(s.lfd, 64), 0);
	enum { N = 20 };
	urio_task *srv[N], *cli[N];
	for (int i = 0; i < N; i++) {
		srv[i] = urio_spawn(echo_once, &s);
		cli[i] = urio_spawn(client, &s);
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

static intptr_t polling(void *arg)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	ASSERT_EQ(urio_poll(p[1], POLLOUT) & POLLOUT, POLLOUT);
	ASSERT_EQ(urio_write(p[1], "x", 1, -1), 1);
	ASSERT_EQ(urio_poll(p[0], POLLIN) & POLLIN, POLLIN);
	close(p[0]);
	close(p[1]);
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
	if (urio_write(fd, out, sizeof(out), i * 512) != 512 ||
	    urio_read(fd, in, sizeof(in), i * 512) != 512 ||
	    memcmp(in, out, sizeof(in)) != 0)
		r = -EIO;
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

int main(void)
{
	int fd = tmpfile_path();
	close(fd);
	char buf[4];
	/* outside any task */
	ASSERT_EQ(urio_read(0, buf, 1, 0), -EPERM);
	ASSERT_EQ(urio_nop(), -EPERM);
	ASSERT_EQ(urio_sleep_ms(1), -EPERM);

	urio_fn cases[] = {file_ops, bad_args, sockets, polling, concurrent,
			   pipe_stream};
	for (unsigned w = 1; w <= 2; w++) {
		urio_config cfg = {.workers = w};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			intptr_t r = -1;
			ASSERT_EQ(urio_run(&cfg, cases[i], NULL, &r), 0);
			ASSERT_EQ(r, 0);
		}
	}
	unlink(path);
	puts("io: ok");
	return 0;
}
