/* Provided buffer rings (bufring.c), shared with the multishot reader
 * (reader.c). Internal. */
#ifndef URIO_IO_BUFRING_H
#define URIO_IO_BUFRING_H

#include <urio/server.h>

#include "../runtime/internal.h"

#define URIO__BGID 0x75 /* the buffer group of every worker's ring */

/* w's ring, registered on first use (on w's thread); NULL when the kernel
 * refused it (the caller receives into plain buffers). */
void *urio__bufring_get(struct urio__worker *w);
/* Fills b from a completion of an op w's ring served (IORING_CQE_F_BUFFER
 * in flags); with res <= 0 the buffer goes straight back. */
void urio__bufring_take(urio_buf *b, struct urio__worker *w, int32_t res,
			uint32_t flags);
/* A plain recv into a buffer of its own (the ring is dry or missing). */
ssize_t urio__recv_plain(int fd, urio_buf *b, int flags);
/* Adds buffers to w's ring after a receive found it dry: false when it
 * holds the configured count already (or memory is short). Any thread. */
bool urio__bufring_grow(struct urio__worker *w);
/* Counts a receive that found the ring dry. */
void urio__bufring_dry(void);

#endif
