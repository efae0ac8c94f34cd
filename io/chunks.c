/* Chunks of a file, a pipe or stdin, read ahead through the ring.
 *
 * The reader owns nbuf buffers used as a ring: the caller holds the chunk
 * of one, the others have reads in flight, submitted without waiting
 * (aop.c), so the kernel fills the next chunks while the caller works on
 * this one. Regular files are read at explicit offsets, several reads at
 * once; pipes and terminals one read at a time at the file position, since
 * two reads in flight on a stream could complete in either order.
 *
 * A short read of a regular file (its end, or a file that grows) leaves
 * the reads issued after it at the wrong offsets: they are drained and
 * issued again from where the data ended ("realign"). The same recovers a
 * read the kernel cancelled. At a read of 0 the follow hook (chunks.h)
 * decides whether the stream ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/lines.h>
#include <urio/scope.h>

#include "chunks.h"
#include "follow.h"
#include "op.h"

#define DEFAULT_CHUNK (256u << 10)

int urio__chunks_init(urio_chunks *cs, int fd, const urio_lines_opts *opts)
{
	static const urio_lines_opts defaults;
	if (!opts)
		opts = &defaults;
	memset(cs, 0, sizeof(*cs));
	cs->fd = -1;
	if (fd < 0)
		return -EBADF;
	if (opts->readahead > URIO__CHUNKS_MAXBUF - 1 ||
	    opts->chunk_size > URIO__MAX_RW || opts->start < 0)
		return -EINVAL;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -urio__errno();
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -urio__errno();
	cs->fd = fd;
	cs->seekable = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
	cs->direct = cs->seekable && (fl & O_DIRECT);
	cs->chunk = opts->chunk_size ? opts->chunk_size : DEFAULT_CHUNK;
	if (cs->direct)
		cs->chunk = (cs->chunk + URIO__DIRECT_ALIGN - 1) &
			    ~(size_t)(URIO__DIRECT_ALIGN - 1);
	cs->nbuf = cs->seekable ? 1 + (opts->readahead ? opts->readahead : 2)
				: 2;
	for (unsigned i = 0; i < cs->nbuf; i++) {
		void *p;
		/* page-aligned for O_DIRECT, and a page per chunk start is
		 * no loss for the others */
		if (urio__memalign(&p, URIO__DIRECT_ALIGN, cs->chunk)) {
			urio__chunks_fini(cs);
			return -ENOMEM;
		}
		cs->buf[i].data = p;
	}
	cs->off = cs->seekable ? (uint64_t)opts->start : 0;
	cs->next_off = cs->off;
	cs->realign = true; /* the first fill aligns O_DIRECT offsets */
	return 0;
}

static void drain(urio_chunks *cs)
{
	for (unsigned i = 0; i < cs->nflight; i++)
		urio__aop_drain(&cs->buf[(cs->head + i) % cs->nbuf].op);
	cs->nflight = 0;
}

void urio__chunks_fini(urio_chunks *cs)
{
	drain(cs);
	urio__follow_detach(cs);
	for (unsigned i = 0; i < cs->nbuf; i++)
		free(cs->buf[i].data);
	if (cs->own_fd && cs->fd >= 0)
		close(cs->fd);
	cs->fd = -1;
	cs->nbuf = 0;
}

int urio__chunks_reopen(urio_chunks *cs, int fd, uint64_t off)
{
	if (fd < 0)
		return -EBADF;
	drain(cs);
	if (cs->own_fd && cs->fd >= 0)
		close(cs->fd);
	cs->fd = fd;
	cs->own_fd = true;
	cs->off = off;
	cs->realign = true;
	cs->ended = false;
	return 0;
}

/* Submits reads into the free buffers (all but the held one). */
static int fill(urio_chunks *cs)
{
	unsigned limit = cs->seekable ? cs->nbuf : 1;
	while (cs->nflight < limit) {
		struct urio__rbuf *b =
			&cs->buf[(cs->head + cs->nflight) % cs->nbuf];
		b->off = cs->next_off;
		int r = urio__aop_read(&b->op, cs->fd, b->data,
				       (unsigned)cs->chunk,
				       cs->seekable ? (off_t)b->off : -1);
		if (r < 0)
			return r;
		cs->nflight++;
		cs->next_off += cs->chunk;
	}
	return 0;
}

static void realign(urio_chunks *cs)
{
	drain(cs);
	cs->next_off = cs->off;
	if (cs->direct)
		cs->next_off &= ~(uint64_t)(URIO__DIRECT_ALIGN - 1);
	cs->realign = false;
}

/* EOF reached: the follow hook says whether more may come (1). */
static int at_eof(urio_chunks *cs)
{
	drain(cs);
	if (!cs->at_eof)
		return 0;
	int r = cs->at_eof(cs);
	if (r > 0)
		cs->realign = true;
	return r;
}

static int end(urio_chunks *cs, int err)
{
	drain(cs);
	cs->ended = true;
	return err;
}

/* A read of r > 0 bytes into the head buffer completed: 1 with a chunk, 0
 * if it held nothing new (an O_DIRECT re-read of bytes already returned). */
static int take(urio_chunks *cs, struct urio__rbuf *b, int32_t r,
		urio_slice *chunk)
{
	cs->head = (cs->head + 1) % cs->nbuf;
	cs->nflight--;
	if (!cs->seekable) {
		chunk->ptr = b->data;
		chunk->len = (size_t)r;
		cs->off += (uint64_t)r;
		cs->held = true;
		return 1;
	}
	if ((size_t)r < cs->chunk)
		cs->realign = true; /* the later reads start past a hole */
	uint64_t stop = b->off + (uint64_t)r;
	if (stop <= cs->off)
		return 0;
	chunk->ptr = b->data + (cs->off - b->off);
	chunk->len = (size_t)(stop - cs->off);
	cs->off = stop;
	cs->held = true;
	return 1;
}

static int next_chunk(urio_chunks *cs, urio_slice *chunk)
{
	cs->held = false; /* the caller is done with the last chunk */
	if (cs->ended)
		return 0;
	for (;;) {
		if (cs->realign)
			realign(cs);
		int r = fill(cs);
		if (r < 0)
			return r;
		struct urio__rbuf *b = &cs->buf[cs->head];
		r = urio__aop_wait(&b->op);
		if (r < 0 && urio__aop_busy(&b->op))
			return r; /* cancelled caller; the read goes on */
		if (r == -EAGAIN && !cs->seekable) {
			/* an O_NONBLOCK pipe: wait until it has data */
			cs->head = (cs->head + 1) % cs->nbuf;
			cs->nflight--;
			int p = urio_poll(cs->fd, POLLIN);
			if (p < 0)
				return p;
			continue;
		}
		if (r == -EINTR || r == -ECANCELED || r == -EAGAIN) {
			cs->realign = true; /* that read never happened */
			if (r == -ECANCELED && urio_cancelled())
				return r;
			continue;
		}
		if (r < 0)
			return end(cs, r);
		if (r > 0 && take(cs, b, r, chunk))
			return 1;
		if (r == 0) { /* the head read is spent; the rest drained */
			cs->head = (cs->head + 1) % cs->nbuf;
			cs->nflight--;
		}
		/* a read of 0, or a re-read with nothing new: the end */
		r = at_eof(cs);
		if (r <= 0)
			return end(cs, r);
	}
}

int urio__chunks_open_path(const char *path, const urio_lines_opts *opts,
			   bool *own)
{
	*own = false;
	if (!path)
		return -EFAULT;
	if (!urio_self())
		return -EPERM;
	if (strcmp(path, "-") == 0)
		return STDIN_FILENO;
	int flags = O_RDONLY | O_CLOEXEC;
	int fd = -EINVAL;
	if (opts && opts->direct)
		fd = urio_open(path, flags | O_DIRECT, 0);
	if (fd == -EINVAL) /* no O_DIRECT here (tmpfs): buffered reads */
		fd = urio_open(path, flags, 0);
	*own = fd >= 0;
	return fd;
}

/* --- public chunk iterator ------------------------------------------------ */

static int iter_next(urio_iter *it, void **item)
{
	urio_chunks *cs = (urio_chunks *)it;
	int r = urio_chunks_next(cs, &cs->item);
	if (r > 0)
		*item = &cs->item;
	return r;
}

static void iter_close(urio_iter *it)
{
	urio_chunks_close((urio_chunks *)it);
}

static const urio_iter_ops chunk_iter_ops = {iter_next, iter_close};

static urio_chunks *open_fd(int fd, bool own, const urio_lines_opts *opts)
{
	urio_chunks *cs = urio__malloc(sizeof(*cs));
	int r = cs ? urio__chunks_init(cs, fd, opts) : -ENOMEM;
	if (r < 0) {
		if (own)
			close(fd);
		free(cs);
		urio__errno_set(-r);
		return NULL;
	}
	cs->own_fd = own;
	cs->iter.ops = &chunk_iter_ops;
	return cs;
}

urio_chunks *urio_chunks_open(const char *path, const urio_lines_opts *opts)
{
	bool own;
	int fd = urio__chunks_open_path(path, opts, &own);
	if (fd < 0) {
		urio__errno_set(-fd);
		return NULL;
	}
	urio_chunks *cs = open_fd(fd, own, opts);
	int r = cs ? urio__follow_opt(cs, opts, path) : 0;
	if (r < 0) {
		urio_chunks_close(cs);
		urio__errno_set(-r);
		return NULL;
	}
	return cs;
}

urio_chunks *urio_chunks_open_fd(int fd, const urio_lines_opts *opts)
{
	if (!urio_self()) {
		urio__errno_set(EPERM);
		return NULL;
	}
	urio_chunks *cs = open_fd(fd, false, opts);
	int r = cs ? urio__follow_opt(cs, opts, NULL) : 0;
	if (r < 0) {
		urio_chunks_close(cs);
		urio__errno_set(-r);
		return NULL;
	}
	return cs;
}

int urio_chunks_next(urio_chunks *cs, urio_slice *chunk)
{
	if (!cs || !chunk)
		return -EINVAL;
	return next_chunk(cs, chunk);
}

uint64_t urio_chunks_offset(const urio_chunks *cs)
{
	return cs ? cs->off : 0;
}

void urio_chunks_stop(urio_chunks *cs)
{
	if (cs)
		urio__follow_stop(cs);
}

void urio_chunks_close(urio_chunks *cs)
{
	if (!cs)
		return;
	urio__chunks_fini(cs);
	free(cs);
}

urio_iter *urio_chunks_iter(urio_chunks *cs)
{
	if (!cs) {
		urio__errno_set(EINVAL);
		return NULL;
	}
	return &cs->iter;
}
