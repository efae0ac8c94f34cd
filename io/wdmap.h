/* Watch descriptors to directory paths for the directory watch
 * (watch.c): an open-addressing hash table. Internal. */
#ifndef URIO_IO_WDMAP_H
#define URIO_IO_WDMAP_H

#include <stddef.h>

#include "inotify.h"

struct urio__wdslot {
	int wd; /* 0: empty */
	char *path;
};

struct urio__wdmap {
	struct urio__wdslot *slot;
	size_t cap, n; /* cap: 0 or a power of two */
};

/* The slot of wd, or NULL. */
struct urio__wdslot *urio__wdmap_find(struct urio__wdmap *m, int wd);
/* Maps wd to path (malloc'd; taken in every case, also on failure),
 * replacing a path it had. 0 or -ENOMEM. */
int urio__wdmap_put(struct urio__wdmap *m, int wd, char *path);
/* Removes a slot found by urio__wdmap_find (later slots may move). */
void urio__wdmap_del(struct urio__wdmap *m, struct urio__wdslot *s);
/* A directory renamed: paths at or under from now start with to. 0, or
 * -ENOMEM when some kept the old name. */
int urio__wdmap_rename(struct urio__wdmap *m, const char *from,
		       const char *to);
/* A directory gone from the tree: its watches and those under it are
 * removed from in and from m. */
void urio__wdmap_drop(struct urio__wdmap *m, const char *dir,
		      struct urio__inotify *in);
void urio__wdmap_free(struct urio__wdmap *m);

#endif
