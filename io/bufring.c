/* Provided buffer rings: each worker registers a ring of receive buffers
 * with its io_uring (Linux 5.19) the first time one of its tasks receives
 * into one, and a recv with IOSQE_BUFFER_SELECT takes a buffer only once
 * data is there. A buffer goes back to the ring of the worker whose op
 * took it, from whatever thread the consumer releases it on, so adding to
 * a ring takes its spinlock (the kernel is the only consumer).
 *
 * A dry ring fails the recv with -ENOBUFS before any byte is taken; the
 * call then receives into a buffer of its own. Multishot recv is not used:
 * urio_recv_buf is one call per receive with no per-connection record to
 * hold a multishot op's queue between calls. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <urio/io.h>
#include <urio/server.h>

#include "op.h"

#define BGID 0x75
#define MAX_COUNT 32768u
#define MAX_SIZE (1u << 20)

struct bufring {
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	char *mem;
	unsigned count, size;
	urio__spin lock; /* the ring's tail: adds from any thread */
	bool failed;     /* registration failed: plain recv on this worker */
};

static _Atomic unsigned cfg_count = 256, cfg_size = 4096;
static _Atomic uint64_t dry; /* a rare path: one shared counter will do */

uint64_t urio_buf_dry_count(void)
{
	return atomic_load_explicit(&dry, memory_order_relaxed);
}

int urio_buf_config(unsigned count, size_t size)
{
	if (!count || count > MAX_COUNT || (count & (count - 1)) || !size ||
	    size > MAX_SIZE)
		return -EINVAL;
	atomic_store(&cfg_count, count);
	atomic_store(&cfg_size, (unsigned)size);
	return 0;
}

static void ring_add(struct bufring *r, unsigned id)
{
	io_uring_buf_ring_add(r->br, r->mem + (size_t)id * r->size, r->size,
			      (unsigned short)id,
			      io_uring_buf_ring_mask(r->count), 0);
}

/* On the worker's own thread (registration, like submission, is the
 * SINGLE_ISSUER task's). NULL with r->failed when the kernel refuses. */
static struct bufring *ring_setup(struct urio__worker *w)
{
	struct bufring *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	w->bufring = r;
	r->failed = true;
	atomic_flag_clear(&r->lock.f);
	r->count = atomic_load(&cfg_count);
	r->size = atomic_load(&cfg_size);
	r->br_bytes = r->count * sizeof(struct io_uring_buf);
	void *br = mmap(NULL, r->br_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED)
		return NULL;
	r->br = br;
	r->mem = malloc((size_t)r->count * r->size);
	if (!r->mem)
		return NULL;
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)br,
		.ring_entries = r->count,
		.bgid = BGID,
	};
	if (io_uring_register_buf_ring(&w->ring, &reg, 0) < 0)
		return NULL;
	io_uring_buf_ring_init(r->br);
	for (unsigned i = 0; i < r->count; i++) {
		io_uring_buf_ring_add(r->br, r->mem + (size_t)i * r->size,
				      r->size, (unsigned short)i,
				      io_uring_buf_ring_mask(r->count), (int)i);
	}
	/* release store of the tail: the kernel reads it with acquire */
	io_uring_buf_ring_advance(r->br, (int)r->count);
	r->failed = false;
	return r;
}

void urio__bufring_free(struct urio__worker *w)
{
	struct bufring *r = w->bufring;
	if (!r)
		return;
	if (r->br)
		munmap(r->br, r->br_bytes);
	free(r->mem);
	free(r);
	w->bufring = NULL;
}

static ssize_t recv_plain(int fd, urio_buf *b, int flags, size_t size)
{
	char *p = malloc(size);
	if (!p)
		return -ENOMEM;
	ssize_t n = urio_recv(fd, p, size, flags);
	if (n <= 0) {
		free(p);
		return n;
	}
	b->data = p;
	b->len = (size_t)n;
	return n;
}

ssize_t urio_recv_buf(int fd, urio_buf *b, int flags)
{
	if (!b)
		return -EFAULT;
	*b = (urio_buf){0};
	struct urio__worker *w = urio__cur_worker();
	if (!w || !w->cur)
		return -EPERM;
	if (urio__no_ring(w))
		return recv_plain(fd, b, flags, atomic_load(&cfg_size));
	struct bufring *r = w->bufring;
	if (!r)
		r = ring_setup(w);
	if (!r || r->failed)
		return recv_plain(fd, b, flags, r ? r->size : cfg_size);
	struct urio__wait ow;
	int32_t res;
	do {
		struct io_uring_sqe *sqe =
			urio__op_start(&ow, IORING_OP_RECV, fd, &res);
		if (!sqe)
			return res;
		io_uring_prep_recv(sqe, fd, NULL, r->size, flags);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BGID;
		res = urio__op_finish(&ow, sqe);
	} while (res == -EINTR);
	/* the op's worker lent the buffer; we may run elsewhere by now */
	struct bufring *own = ow.owner->bufring;
	if (ow.cqe_flags & IORING_CQE_F_BUFFER) {
		unsigned id = ow.cqe_flags >> IORING_CQE_BUFFER_SHIFT;
		if (res <= 0) {
			b->owner = own;
			b->id = id;
			b->data = own->mem;
			urio_buf_release(b);
		} else {
			b->owner = own;
			b->id = id;
			b->data = own->mem + (size_t)id * own->size;
			b->len = (size_t)res;
		}
	}
	if (res == -ENOBUFS) { /* the ring is dry; nothing was taken */
		atomic_fetch_add_explicit(&dry, 1, memory_order_relaxed);
		return recv_plain(fd, b, flags, own->size);
	}
	return res;
}

void urio_buf_release(urio_buf *b)
{
	if (!b || !b->data)
		return;
	struct bufring *r = b->owner;
	if (!r) {
		free(b->data);
	} else {
		urio__spin_lock(&r->lock);
		ring_add(r, b->id);
		io_uring_buf_ring_advance(r->br, 1);
		urio__spin_unlock(&r->lock);
	}
	*b = (urio_buf){0};
}
