/* A listener's accept path (accept.c): multishot where the kernel has it,
 * one accept op at a time otherwise and on the poll backend. Internal. */
#ifndef URIO_IO_ACCEPT_H
#define URIO_IO_ACCEPT_H

#include "mshot.h"

struct urio__acceptor {
	int fd;
	bool multishot;   /* wanted, and the kernel has it */
	bool used_mshot;  /* an op was armed since the last stop */
	/* an op was ever armed: read by urio_server_stats_get from any task */
	atomic_bool ever_mshot;
	struct urio__mshot m;
};

void urio__acceptor_init(struct urio__acceptor *a, int fd, bool multishot);
/* The next accepted connection (close-on-exec), or -errno. */
int urio__acceptor_next(struct urio__acceptor *a);
/* Ends the multishot op and closes what it accepted and nobody took;
 * from the accept task, as it exits (shielded inside). */
void urio__acceptor_stop(struct urio__acceptor *a);
/* Closes the listening socket (after stop). */
void urio__acceptor_close(struct urio__acceptor *a);
bool urio__acceptor_multishot(const struct urio__acceptor *a);

#endif
