/* Directory watch (watchfiles' awatch): an iterator of debounced batches
 * of changes under a directory, read from inotify through the ring.
 *
 *	urio_watch *w = urio_watch_open("conf", &(urio_watch_opts){
 *		.recursive = true});
 *	urio_watch_batch b;
 *	while (urio_watch_next(w, &b) > 0)
 *		for (size_t i = 0; i < b.n; i++)
 *			reload(b.events[i].path);
 *	urio_watch_close(w);
 *
 * A batch starts with the first change and is handed out once no change
 * came for step_ms, or debounce_ms after it started, or when it holds
 * max_events. Within a batch a path is reported modified at most once,
 * and not at all after it was reported created; a rename seen whole is one
 * MOVED event (a rename out of the tree is DELETED, into it CREATED). When
 * the kernel's queue overflowed, the batch holds an OVERFLOW event: changes
 * were lost and the consumer should rescan. A change that could not be
 * recorded for want of memory makes the batch that one OVERFLOW event. */
#ifndef URIO_WATCH_H
#define URIO_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <urio/iter.h>
#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_watch urio_watch;

enum urio_watch_kind {
	URIO_WATCH_CREATED = 1,
	URIO_WATCH_MODIFIED, /* contents or metadata (chmod, touch) */
	URIO_WATCH_DELETED,
	URIO_WATCH_MOVED,    /* path is the new name, from the old one */
	URIO_WATCH_OVERFLOW, /* changes were lost; path is the root */
};

typedef struct urio_watch_event {
	int kind;         /* enum urio_watch_kind */
	bool is_dir;
	const char *path; /* the root joined with the name: "root/a/b" */
	const char *from; /* MOVED: the old path; otherwise NULL */
} urio_watch_event;

/* Valid until the next urio_watch_next or urio_watch_close. */
typedef struct urio_watch_batch {
	const urio_watch_event *events;
	size_t n;
} urio_watch_batch;

typedef struct urio_watch_opts { /* zero = default */
	bool recursive;      /* watch subdirectories, also ones made later */
	unsigned debounce_ms; /* longest a batch gathers: 1600 */
	unsigned step_ms;     /* quiet time that ends a batch: 50 */
	unsigned max_events;  /* a batch this full is handed out: 4096 */
} urio_watch_opts;

/* Watches the directory path (opts may be NULL). NULL with errno: ENOTDIR,
 * ENOENT, EACCES, EMFILE (no inotify instance left), ENOSPC (no watch
 * left, see fs.inotify.max_user_watches), ENOMEM, EINVAL. */
URIO_API urio_watch *urio_watch_open(const char *path,
				     const urio_watch_opts *opts);
/* Waits for the next batch (call from a task): 1 and *batch; 0 once the
 * watch was stopped or its root deleted or moved away (after a last batch
 * saying so); -ECANCELED if the task was cancelled; other -errno. */
URIO_API int urio_watch_next(urio_watch *w, urio_watch_batch *batch);
/* From any task or thread, before urio_watch_close: the pending and every
 * later urio_watch_next return 0. */
URIO_API void urio_watch_stop(urio_watch *w);
/* Frees w and its watches; w may be NULL. */
URIO_API void urio_watch_close(urio_watch *w);
/* w as an iterator of urio_watch_batch * items (owned by w); closing the
 * iterator closes w. NULL (errno EINVAL) if w is NULL. */
URIO_API urio_iter *urio_watch_iter(urio_watch *w);

#ifdef __cplusplus
}
#endif
#endif
