/* Provided buffer rings: a tiny ring (2 buffers of 64 bytes) shared by
 * many connections runs dry constantly, and no byte is lost or reordered
 * (checksums over every stream); buffers released on other workers and
 * from plain threads go back to their ring; bad input. On 1 and 2
 * workers, and on the poll backend (*_poll), which receives into plain
 * buffers. */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define NCONN 24
#else
#define NCONN 64
#endif
#define BYTES (48u << 10)

static unsigned workers;

/* Echoes, holding each buffer across a yield and the send, so buffers
 * stay out of the ring while other connections receive. */
static int echo_hold(int fd, void *arg)
{
	for (;;) {
		urio_buf b;
		ssize_t n = urio_recv_buf(fd, &b, 0);
		if (n <= 0) {
			ASSERT(!b.data);
			return (int)n;
		}
		ASSERT_EQ(b.len, n);
		urio_yield();
		n = urio_send_all(fd, b.data, b.len, 0);
		urio_buf_release(&b);
		ASSERT(!b.data);
		urio_buf_release(&b); /* twice: a no-op */
		if (n < 0)
			return (int)n;
	}
}

/* The same through a reader: a multishot recv kept armed, ended by the
 * ring running dry and armed again, across workers. */
static int echo_reader(int fd, void *arg)
{
	urio_reader *r = urio_reader_new(fd, 0);
	ASSERT(r);
	int ret;
	for (;;) {
		urio_buf b;
		ssize_t n = urio_reader_recv(r, &b);
		if (n <= 0) {
			ASSERT(!b.data);
			ret = (int)n;
			break;
		}
		ASSERT_EQ(b.len, n);
		urio_yield();
		n = urio_send_all(fd, b.data, b.len, 0);
		urio_buf_release(&b);
		if (n < 0) {
			ret = (int)n;
			break;
		}
	}
	urio_reader_free(r);
	return ret;
}

static uint64_t sum(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull; /* FNV-1a */
	return h;
}

struct stream {
	int port;
	unsigned id;
	uint64_t sent, got;
};

static intptr_t writer(void *arg)
{
	int *fd = arg;
	unsigned char chunk[1000];
	unsigned seed = (unsigned)*fd * 2654435761u;
	for (size_t off = 0; off < BYTES; off += sizeof(chunk)) {
		size_t n = BYTES - off < sizeof(chunk) ? BYTES - off : sizeof(chunk);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			chunk[i] = (unsigned char)(seed >> 16);
		}
		ASSERT_EQ(urio_send_all(*fd, chunk, n, 0), (long long)n);
	}
	ASSERT_EQ(shutdown(*fd, SHUT_WR), 0);
	return 0;
}

static intptr_t stream_client(void *arg)
{
	struct stream *st = arg;
	urio_deadline d;
	urio_timeout_enter(&d, 30000);
	int fd = urio_dial("127.0.0.1", (uint16_t)st->port, 0);
	ASSERT(fd >= 0);
	/* what the writer sends, recomputed here */
	unsigned seed = (unsigned)fd * 2654435761u;
	uint64_t want = 1469598103934665603ull;
	for (size_t i = 0; i < BYTES; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned char c = (unsigned char)(seed >> 16);
		want = sum(want, &c, 1);
	}
	urio_task *w = urio_spawn(writer, &fd);
	ASSERT(w);
	uint64_t h = 1469598103934665603ull, got = 0;
	for (;;) {
		unsigned char buf[1500];
		ssize_t n = urio_recv(fd, buf, sizeof(buf), 0);
		ASSERT(n >= 0);
		if (n == 0)
			break;
		h = sum(h, buf, (size_t)n);
		got += (uint64_t)n;
	}
	ASSERT_EQ(urio_join(w, NULL), 0);
	close(fd);
	ASSERT_EQ(urio_timeout_exit(&d), 0);
	ASSERT_EQ(got, BYTES);
	ASSERT(h == want);
	return 0;
}

static intptr_t dry_ring(void *arg)
{
	uint64_t dry0 = urio_buf_dry_count();
	urio_server_opts o = {.host = "127.0.0.1",
			      .conn = arg ? echo_reader : echo_hold,
			      .listeners = workers};
	urio_server *s = urio_server_new(&o);
	ASSERT(s);
	ASSERT_EQ(urio_server_start(s), 0);
	static struct stream sts[NCONN];
	urio_group g;
	urio_group_init(&g);
	for (unsigned i = 0; i < NCONN; i++) {
		sts[i] = (struct stream){.port = urio_server_port(s), .id = i};
		ASSERT(urio_group_spawn(&g, stream_client, &sts[i]));
	}
	ASSERT_EQ(urio_group_wait(&g), 0);
	ASSERT_EQ(urio_server_drain(s, 5000), 0);
	urio_server_stats st;
	urio_server_stats_get(s, &st);
	ASSERT_EQ(st.conn_errors, 0);
	urio_server_free(s);
	const char *b = getenv("URIO_BACKEND");
	if (!b || strcmp(b, "poll") != 0) /* the ring ran dry, often */
		ASSERT(urio_buf_dry_count() > dry0);
	fprintf(stderr, "  %llu receives found the ring dry\n",
		(unsigned long long)(urio_buf_dry_count() - dry0));
	return 0;
}

/* Buffers taken on one worker, released from a thread outside the
 * runtime: they go back to their ring (the next receives still work). */
static void *release_thread(void *arg)
{
	urio_buf *bs = arg;
	for (int i = 0; i < 2; i++)
		urio_buf_release(&bs[i]);
	return NULL;
}

static intptr_t foreign_release(void *arg)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	for (int round = 0; round < 50; round++) {
		urio_buf bs[2];
		for (int i = 0; i < 2; i++) {
			ASSERT_EQ(urio_send_all(sv[0], "hello", 5, 0), 5);
			ASSERT_EQ(urio_recv_buf(sv[1], &bs[i], 0), 5);
			ASSERT(memcmp(bs[i].data, "hello", 5) == 0);
		}
		pthread_t th;
		ASSERT_EQ(pthread_create(&th, NULL, release_thread, bs), 0);
		ASSERT_EQ(pthread_join(th, NULL), 0);
	}
	ASSERT_EQ(shutdown(sv[0], SHUT_WR), 0);
	urio_buf b;
	ASSERT_EQ(urio_recv_buf(sv[1], &b, 0), 0);
	ASSERT(!b.data && !b.len);
	close(sv[0]);
	ASSERT_EQ(urio_recv_buf(sv[0], &b, 0), -EBADF);
	ASSERT_EQ(urio_recv_buf(sv[1], NULL, 0), -EFAULT);
	close(sv[1]);
	return 0;
}

/* A reader freed with chunks still queued gives their buffers back (the
 * ring has 2: a leak would leave every later receive dry), also when it
 * is freed on another worker than the one its op runs on. */
static intptr_t reader_free_queued(void *arg)
{
	uint64_t dry0 = urio_buf_dry_count();
	int sv[2];
	for (int round = 0; round < 20; round++) {
		/* a socket per reader: freeing one may shut its read side */
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			  0);
		urio_reader *r = urio_reader_new(sv[1], 0);
		ASSERT(r);
		urio_buf b;
		ASSERT_EQ(urio_send_all(sv[0], "abc", 3, 0), 3);
		ASSERT_EQ(urio_reader_recv(r, &b), 3);
		ASSERT(memcmp(b.data, "abc", 3) == 0);
		urio_buf_release(&b);
		ASSERT_EQ(urio_send_all(sv[0], "def", 3, 0), 3);
		urio_sleep_ms(1); /* a chunk may be queued now, or not */
		urio_reader_free(r);
		close(sv[0]);
		close(sv[1]);
	}
	ASSERT_EQ(urio_buf_dry_count(), dry0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	urio_reader_free(NULL);
	ASSERT(!urio_reader_new(-1, 0) && errno == EINVAL);
	ASSERT(!urio_reader_new(sv[1], MSG_WAITALL) && errno == EINVAL);
	urio_buf b;
	ASSERT_EQ(urio_reader_recv(NULL, &b), -EFAULT);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

/* The ring starts small and grows as receives find it dry, up to the
 * configured count: NPAIRS buffers held at once all come from the ring
 * when the count allows it; past the count the rest are plain buffers. */
#define NPAIRS 300
static intptr_t ring_grows(void *arg)
{
	unsigned cap = (unsigned)(uintptr_t)arg;
	static int sv[NPAIRS][2];
	static urio_buf b[NPAIRS];
	unsigned from_ring = 0;
	for (int i = 0; i < NPAIRS; i++) {
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     sv[i]), 0);
		ASSERT_EQ(urio_send_all(sv[i][0], "x", 1, 0), 1);
		ASSERT_EQ(urio_recv_buf(sv[i][1], &b[i], 0), 1);
		ASSERT_EQ(((char *)b[i].data)[0], 'x');
		from_ring += b[i].owner != NULL;
	}
	const char *be = getenv("URIO_BACKEND");
	if (from_ring && !(be && !strcmp(be, "poll"))) {
		if (cap >= NPAIRS)
			ASSERT_EQ(from_ring, NPAIRS);
		else if (workers == 1)
			ASSERT_EQ(from_ring, cap);
	}
	for (int i = 0; i < NPAIRS; i++) {
		urio_buf_release(&b[i]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	return 0;
}

static void run(const char *name, urio_fn fn, void *arg)
{
	urio_config cfg = {.workers = workers};
	intptr_t res = -1;
	fprintf(stderr, "%s, %u worker(s)\n", name, workers);
	ASSERT_EQ(urio_run(&cfg, fn, arg, &res), 0);
	ASSERT_EQ(res, 0);
}

int main(void)
{
	urio_buf b;
	ASSERT_EQ(urio_recv_buf(0, &b, 0), -EPERM);
	urio_buf_release(NULL);
	/* the default serves a few hundred connections from the ring */
	workers = 1;
	run("ring_grows_default", ring_grows, (void *)4096);
	ASSERT_EQ(urio_buf_config(0, 64), -EINVAL);
	ASSERT_EQ(urio_buf_config(3, 64), -EINVAL);
	ASSERT_EQ(urio_buf_config(65536, 64), -EINVAL);
	ASSERT_EQ(urio_buf_config(2, 0), -EINVAL);
	ASSERT_EQ(urio_buf_config(2, (2u << 20)), -EINVAL);
	ASSERT_EQ(urio_buf_config(2, 64), 0);
	for (workers = 1; workers <= 2; workers++) {
		run("dry_ring", dry_ring, NULL);
		run("dry_ring_reader", dry_ring, "reader");
		run("foreign_release", foreign_release, NULL);
		run("reader_free_queued", reader_free_queued, NULL);
	}
	for (workers = 1; workers <= 2; workers++) {
		ASSERT_EQ(urio_buf_config(512, 64), 0);
		run("ring_grows", ring_grows, (void *)512);
		ASSERT_EQ(urio_buf_config(256, 64), 0);
		run("ring_grows_to_count", ring_grows, (void *)256);
	}
	return 0;
}
