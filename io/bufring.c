/* Provided buffer rings: each worker registers a ring of receive buffers
 * with its io_uring (Linux 5.19) the first time one of its tasks receives
 * into one, and a recv with IOSQE_BUFFER_SELECT takes a buffer only once
 * data is there. A buffer goes back to the ring of the worker whose op
 * took it, from whatever thread the consumer releases it on, so adding to
 * a ring takes its spinlock (the kernel is the only consumer).
 *
 * The ring is registered with room for the configured count but starts
 * with one chunk of buffers; a recv that finds it dry (-ENOBUFS, before
 * any byte is taken) adds chunks, doubling what is there, so memory
 * follows the peak of buffers held at once (a server's connection count)
 * instead of being sized up front. At the configured count the call
 * receives into a buffer of its own. urio_recv_buf is one op per receive;
 * urio_reader (reader.c) keeps a multishot recv armed. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <urio/io.h>
#include <urio/server.h>

#include "bufring.h"
#include "op.h"

#define BGID URIO__BGID
#define MAX_COUNT 32768u
#define MAX_SIZE (1u << 20)
#define CHUNK 256u /* buffers per chunk of memory */
#define MAX_CHUNKS (MAX_COUNT / CHUNK)

struct bufring {
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	/* chunk k holds buffer ids [k * chunk, (k + 1) * chunk); published
	 * before its ids reach the ring, read by whoever takes an id */
	char *_Atomic mem[MAX_CHUNKS];
	unsigned count, chunk, size; /* count: the ring's room */
	unsigned nchunks;            /* under lock */
	urio__spin lock; /* the ring's tail: adds from any thread */
	bool failed;     /* registration failed: plain recv on this worker */
};

static _Atomic unsigned cfg_count = 4096, cfg_size = 4096;
static _Atomic uint64_t dry; /* a rare path: one shared counter will do */

uint64_t urio_buf_dry_count(void)
{
	return atomic_load_explicit(&dry, memory_order_relaxed);
}

void urio__bufring_dry(void)
{
	atomic_fetch_add_explicit(&dry, 1, memory_order_relaxed);
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

static char *buf_addr(struct bufring *r, unsigned id)
{
	char *m = atomic_load_explicit(&r->mem[id / r->chunk],
				       memory_order_acquire);
	return m + (size_t)(id % r->chunk) * r->size;
}

/* Under r->lock: makes buffer id available again. */
static void ring_add(struct bufring *r, unsigned id, int offset)
{
	io_uring_buf_ring_add(r->br, buf_addr(r, id), r->size,
			      (unsigned short)id,
			      io_uring_buf_ring_mask(r->count), offset);
}

/* Under r->lock: adds up to n chunks of buffers to the ring. Returns the
 * chunks added (0 when the ring is full or memory is short). */
static unsigned add_chunks(struct bufring *r, unsigned n)
{
	unsigned added = 0;
	while (added < n && (r->nchunks + 1) * r->chunk <= r->count) {
		char *m = urio__malloc((size_t)r->chunk * r->size);
		if (!m)
			break;
		unsigned k = r->nchunks++;
		atomic_store_explicit(&r->mem[k], m, memory_order_release);
		for (unsigned i = 0; i < r->chunk; i++)
			ring_add(r, k * r->chunk + i, (int)(added * r->chunk + i));
		added++;
	}
	/* release store of the tail: the kernel reads it with acquire */
	if (added)
		io_uring_buf_ring_advance(r->br, (int)(added * r->chunk));
	return added;
}

bool urio__bufring_grow(struct urio__worker *w)
{
	struct bufring *r = w ? w->bufring : NULL;
	if (!r || r->failed)
		return false;
	urio__spin_lock(&r->lock);
	unsigned n = add_chunks(r, r->nchunks ? r->nchunks : 1);
	urio__spin_unlock(&r->lock);
	return n > 0;
}

/* On the worker's own thread (registration, like submission, is the
 * SINGLE_ISSUER task's). NULL with r->failed when the kernel refuses. */
static struct bufring *ring_setup(struct urio__worker *w)
{
	struct bufring *r = urio__calloc(1, sizeof(*r));
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
	r->chunk = r->count < CHUNK ? r->count : CHUNK;
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)br,
		.ring_entries = r->count,
		.bgid = BGID,
	};
	if (io_uring_register_buf_ring(&w->ring, &reg, 0) < 0)
		return NULL;
	io_uring_buf_ring_init(r->br);
	if (!add_chunks(r, 1)) {
		io_uring_unregister_buf_ring(&w->ring, BGID);
		return NULL;
	}
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
	for (unsigned k = 0; k < r->nchunks; k++)
		free(atomic_load_explicit(&r->mem[k], memory_order_relaxed));
	free(r);
	w->bufring = NULL;
}

void *urio__bufring_get(struct urio__worker *w)
{
	struct bufring *r = w->bufring;
	if (!r)
		r = ring_setup(w);
	return r && !r->failed ? r : NULL;
}

void urio__bufring_take(urio_buf *b, struct urio__worker *w, int32_t res,
			uint32_t flags)
{
	struct bufring *r = w->bufring;
	*b = (urio_buf){0};
	if (!(flags & IORING_CQE_F_BUFFER))
		return;
	b->owner = r;
	b->id = flags >> IORING_CQE_BUFFER_SHIFT;
	b->data = buf_addr(r, b->id);
	if (res <= 0)
		urio_buf_release(b);
	else
		b->len = (size_t)res;
}

ssize_t urio__recv_plain(int fd, urio_buf *b, int flags)
{
	struct urio__worker *w = urio__cur_worker();
	struct bufring *r = w ? w->bufring : NULL;
	size_t size = r ? r->size : atomic_load(&cfg_size);
	char *p = urio__malloc(size);
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
	struct bufring *r = urio__no_ring(w) ? NULL : urio__bufring_get(w);
	if (!r)
		return urio__recv_plain(fd, b, flags);
	struct urio__wait ow;
	int32_t res;
	for (;;) {
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
		/* the op's worker lent the buffer; we may run elsewhere now */
		urio__bufring_take(b, ow.owner, res, ow.cqe_flags);
		if (res != -ENOBUFS)
			return res;
		/* the ring is dry; nothing was taken */
		urio__bufring_dry();
		if (!urio__bufring_grow(ow.owner))
			return urio__recv_plain(fd, b, flags);
	}
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
		ring_add(r, b->id, 0);
		io_uring_buf_ring_advance(r->br, 1);
		urio__spin_unlock(&r->lock);
	}
	*b = (urio_buf){0};
}
