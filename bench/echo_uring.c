/* echo-uring: the floor for urio-echo, a hand-written liburing echo loop.
 *
 *   echo-uring [--oneshot] PORT
 *
 * One thread, one ring made with SINGLE_ISSUER | DEFER_TASKRUN (falling
 * back to COOP_TASKRUN, then none), one multishot accept, a multishot recv
 * per connection into a provided buffer ring, a send per received buffer,
 * the buffer handed back when its send completes, and every SQE of a pass
 * submitted with the next wait (io_uring_submit_and_wait). SIGTERM or
 * SIGINT ends it (exit 0); it also ends by itself after 15 minutes.
 *
 * --oneshot receives as urio's recv does: one plain recv at a time into a
 * buffer of the connection's own, submitted again once the echo is sent
 * (so the kernel arms a poll for every message, where a multishot recv
 * stays armed). It is a reference: the same kernel path without urio. */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "echo_common.h"

#define ENTRIES 4096
#define NBUFS 4096
#define BUF_SIZE 2048
#define BGID 1

enum { ACCEPT, RECV, SEND };

/* user_data: kind (4 bits) | fd (24) | buffer id (12) | bytes sent (12) |
 * bytes to send (12); NBUFS and BUF_SIZE fit */
static uint64_t ud(unsigned kind, int fd, unsigned bid, unsigned off,
		   unsigned len)
{
	return (uint64_t)kind << 60 | (uint64_t)(unsigned)fd << 36 |
	       (uint64_t)bid << 24 | (uint64_t)off << 12 | (len & 0xfff);
}

static struct io_uring ring;
static bool oneshot;
static char **conn_buf; /* --oneshot: each connection's buffer, by fd */
static int max_fd;
static struct io_uring_buf_ring *br;
static char *bufs;

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (!sqe) { /* SQ full: push what is queued */
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

static char *buf_of(int fd, unsigned bid)
{
	return oneshot ? conn_buf[fd] : bufs + (size_t)bid * BUF_SIZE;
}

static void arm_recv(int fd)
{
	struct io_uring_sqe *sqe = sqe_get();
	if (oneshot) {
		io_uring_prep_recv(sqe, fd, conn_buf[fd], BUF_SIZE, 0);
	} else {
		io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BGID;
	}
	io_uring_sqe_set_data64(sqe, ud(RECV, fd, 0, 0, 0));
}

static void send_buf(int fd, unsigned bid, unsigned off, unsigned len)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_send(sqe, fd, buf_of(fd, bid) + off, len - off,
			   MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud(SEND, fd, bid, off, len));
}

static void give_back(unsigned bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUF_SIZE, BUF_SIZE,
			      (unsigned short)bid,
			      io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(br, 1);
}

static int setup_ring(void)
{
	struct io_uring_params p = { 0 };
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_CQSIZE;
	p.cq_entries = ENTRIES * 4;
	int r = io_uring_queue_init_params(ENTRIES, &ring, &p);
	if (r == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
		p.cq_entries = ENTRIES * 4;
		r = io_uring_queue_init_params(ENTRIES, &ring, &p);
	}
	if (r == -EINVAL)
		r = io_uring_queue_init(ENTRIES, &ring, 0);
	if (r < 0)
		return r;
	size_t rsz = NBUFS * sizeof(struct io_uring_buf);
	br = mmap(NULL, rsz, PROT_READ | PROT_WRITE,
		  MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	bufs = malloc((size_t)NBUFS * BUF_SIZE);
	if (br == MAP_FAILED || !bufs)
		return -ENOMEM;
	io_uring_buf_ring_init(br);
	struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)br,
					.ring_entries = NBUFS,
					.bgid = BGID };
	r = io_uring_register_buf_ring(&ring, &reg, 0);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * BUF_SIZE,
				      BUF_SIZE, (unsigned short)i,
				      io_uring_buf_ring_mask(NBUFS), (int)i);
	io_uring_buf_ring_advance(br, NBUFS);
	return 0;
}

static void on_cqe(int lfd, struct io_uring_cqe *cqe)
{
	uint64_t d = io_uring_cqe_get_data64(cqe);
	unsigned kind = (unsigned)(d >> 60);
	int fd = (int)((d >> 36) & 0xffffff);
	int res = cqe->res;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	switch (kind) {
	case ACCEPT:
		if (res >= 0 && oneshot && (res >= max_fd ||
			     !(conn_buf[res] = malloc(BUF_SIZE)))) {
			close(res);
		} else if (res >= 0) {
			int one = 1;
			setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			arm_recv(res);
		}
		if (!more) { /* re-arm (EMFILE and the like end it) */
			struct io_uring_sqe *sqe = sqe_get();
			io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, 0);
			io_uring_sqe_set_data64(sqe, ud(ACCEPT, lfd, 0, 0, 0));
		}
		break;
	case RECV:
		if (res > 0) {
			unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			send_buf(fd, bid, 0, (unsigned)res);
		}
		if (res == 0 || (res < 0 && res != -ENOBUFS)) {
			close(fd); /* the peer left (or broke) */
			if (oneshot) {
				free(conn_buf[fd]);
				conn_buf[fd] = NULL;
			}
		} else if (!more && !oneshot) {
			arm_recv(fd); /* the ring ran dry, or the kernel ended it */
		}
		break;
	case SEND: {
		unsigned bid = (unsigned)(d >> 24) & 0xfff;
		unsigned off = (unsigned)(d >> 12) & 0xfff;
		unsigned len = (unsigned)d & 0xfff;
		if (res > 0 && off + (unsigned)res < len)
			send_buf(fd, bid, off + (unsigned)res, len); /* short */
		else if (!oneshot)
			give_back(bid);
		else if (res > 0)
			arm_recv(fd); /* echoed: the next message */
		break;
	}
	}
}

int main(int argc, char **argv)
{
	oneshot = argc == 3 && strcmp(argv[1], "--oneshot") == 0;
	int port = argc == 2 + oneshot ? atoi(argv[argc - 1]) : 0;
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: echo-uring [--oneshot] PORT\n");
		return 2;
	}
	int lfd = echo_listen(port);
	if (lfd < 0)
		return 1;
	max_fd = 1 << 16;
	conn_buf = calloc((size_t)max_fd, sizeof(*conn_buf));
	int r = conn_buf ? setup_ring() : -ENOMEM;
	if (r < 0) {
		fprintf(stderr, "echo-uring: ring: %s\n", strerror(-r));
		return 1;
	}
	echo_stop_on_signals();
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, ud(ACCEPT, lfd, 0, 0, 0));
	while (!echo_stopping) {
		r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			fprintf(stderr, "echo-uring: %s\n", strerror(-r));
			return 1;
		}
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			on_cqe(lfd, cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
	}
	return 0;
}
