/* An inotify instance read through the ring (inotify.c). Internal: the
 * directory watch (watch.c) and follow mode (follow.c) build on it. */
#ifndef URIO_IO_INOTIFY_H
#define URIO_IO_INOTIFY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/inotify.h>

#include "../runtime/internal.h"

struct urio__inotify {
	int fd;
	_Atomic int max_wd; /* highest wd handed out, for urio__inotify_stop */
	_Atomic bool stop;
	urio__spin lock; /* stop against fini */
	char *buf;
	size_t len, pos; /* events read and not yet handed out: [pos, len) */
};

/* 0 or -errno (-EMFILE: the user's inotify instances are used up). */
int urio__inotify_init(struct urio__inotify *in);
void urio__inotify_fini(struct urio__inotify *in);
/* inotify_add_watch: the wd, or -errno. */
int urio__inotify_add(struct urio__inotify *in, const char *path,
		      uint32_t mask);
void urio__inotify_rm(struct urio__inotify *in, int wd);
/* The next event, valid until the next call: 1; 0 once stopped;
 * -ETIMEDOUT if none came before deadline_ns (CLOCK_MONOTONIC, 0: no
 * deadline); -ECANCELED, -EPERM outside a task, other -errno. */
int urio__inotify_next(struct urio__inotify *in,
		       const struct inotify_event **ev, uint64_t deadline_ns);
/* From any thread, before fini: the pending and every later
 * urio__inotify_next return 0. */
void urio__inotify_stop(struct urio__inotify *in);

#endif
