/* The chunk reader behind urio_chunks_* and urio_lines_*. Internal: the
 * follow mode (tail -F) plugs in here.
 *
 * Follow hook: when a read returns 0 (EOF), the reader calls
 * cs->at_eof(cs) if it is set. It returns 1 when more data may have
 * arrived (the reader then reads again from cs->off, the offset just past
 * the last byte returned), 0 to end the stream, or -errno to report an
 * error and end. It may suspend (wait for inotify through the ring) and may
 * switch the reader to another file (rotation) with urio__chunks_reopen.
 * No read of the reader is in flight while it runs. urio_lines embeds its
 * urio_chunks as its first member (lines.c), so one hook serves both;
 * the open calls set it through urio__follow_opt (follow.c). */
#ifndef URIO_IO_CHUNKS_H
#define URIO_IO_CHUNKS_H

#include <urio/lines.h>

#include "aop.h"

#define URIO__CHUNKS_MAXBUF 3 /* the chunk being read plus two in flight */
#define URIO__DIRECT_ALIGN 4096u

struct urio__rbuf {
	char *data;
	struct urio__aop op;
	uint64_t off; /* where the read was issued (seekable files) */
};

struct urio_chunks {
	urio_iter iter;        /* urio_chunks_iter's view */
	urio_slice item;
	int fd;
	bool own_fd;
	bool seekable;         /* a regular file: explicit offsets, reads in
				  parallel; else one read at a time */
	bool direct;           /* fd has O_DIRECT */
	size_t chunk;          /* bytes per read */
	unsigned nbuf;         /* buffers: 1 + reads in flight */
	struct urio__rbuf buf[URIO__CHUNKS_MAXBUF];
	unsigned head;         /* buffer of the next chunk to return */
	unsigned nflight;      /* reads submitted, head first, in order */
	bool held;             /* buffer head-1 is the caller's chunk */
	uint64_t off;          /* offset past the last byte returned */
	uint64_t next_off;     /* offset of the next read to submit */
	bool realign;          /* reads in flight were issued at wrong offsets */
	bool ended;            /* an error or EOF was returned: 0 from now */
	int (*at_eof)(struct urio_chunks *cs); /* follow mode, NULL: end */
	void *follow;          /* the follow mode's state */
};

/* Makes cs read fd (owned: closed by cs) from offset off on, waiting for
 * (and cancelling) the reads in flight on the old fd, which cs closes if
 * it owned it. For the follow mode's rotation. 0 or -errno. */
int urio__chunks_reopen(urio_chunks *cs, int fd, uint64_t off);
/* Sets cs up over fd (in place, e.g. inside a line iterator); the caller
 * sets own_fd. 0 or -errno (EINVAL, ENOMEM, EOPNOTSUPP). */
int urio__chunks_init(urio_chunks *cs, int fd, const urio_lines_opts *opts);
void urio__chunks_fini(urio_chunks *cs);
/* Opens path for cs's reads ("-": stdin, not owned); the fd, or -errno. */
int urio__chunks_open_path(const char *path, const urio_lines_opts *opts,
			   bool *own);

#endif
