/* The directory watch's map of watch descriptors to paths (wdmap.h):
 * linear probing on a power-of-two table kept at most half full, deletion
 * by moving later members of the probe chain up (no tombstones, as wds
 * come and go with the directories). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wdmap.h"

static size_t wd_hash(int wd, size_t cap)
{
	return ((uint32_t)wd * 2654435761u) & (cap - 1);
}

struct urio__wdslot *urio__wdmap_find(struct urio__wdmap *w, int wd)
{
	if (!w->cap)
		return NULL;
	for (size_t i = wd_hash(wd, w->cap);; i = (i + 1) & (w->cap - 1)) {
		if (w->slot[i].wd == wd)
			return &w->slot[i];
		if (!w->slot[i].wd)
			return NULL;
	}
}

static int grow(struct urio__wdmap *w)
{
	size_t cap = w->cap ? w->cap * 2 : 64;
	struct urio__wdslot *m = urio__calloc(cap, sizeof(*m));
	if (!m)
		return -ENOMEM;
	struct urio__wdslot *old = w->slot;
	size_t ocap = w->cap;
	w->slot = m;
	w->cap = cap;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].wd)
			continue;
		size_t j = wd_hash(old[i].wd, cap);
		while (m[j].wd)
			j = (j + 1) & (cap - 1);
		m[j] = old[i];
	}
	free(old);
	return 0;
}

int urio__wdmap_put(struct urio__wdmap *w, int wd, char *path)
{
	struct urio__wdslot *s = urio__wdmap_find(w, wd);
	if (s) { /* the same directory again (a rescan) or a reused wd */
		free(s->path);
		s->path = path;
		return 0;
	}
	if ((w->n + 1) * 2 > w->cap && grow(w) < 0) {
		free(path);
		return -ENOMEM;
	}
	size_t i = wd_hash(wd, w->cap);
	while (w->slot[i].wd)
		i = (i + 1) & (w->cap - 1);
	w->slot[i] = (struct urio__wdslot){wd, path};
	w->n++;
	return 0;
}

/* Linear probing's deletion: later members of the probe chain move up. */
void urio__wdmap_del(struct urio__wdmap *w, struct urio__wdslot *s)
{
	size_t mask = w->cap - 1, i = (size_t)(s - w->slot);
	free(s->path);
	w->slot[i].wd = 0;
	w->n--;
	for (size_t j = (i + 1) & mask; w->slot[j].wd; j = (j + 1) & mask) {
		size_t h = wd_hash(w->slot[j].wd, w->cap);
		/* j stays if its home lies cyclically in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		w->slot[i] = w->slot[j];
		w->slot[j].wd = 0;
		i = j;
	}
}

static bool under(const char *path, const char *dir, size_t dlen)
{
	return !strncmp(path, dir, dlen) && (!path[dlen] || path[dlen] == '/');
}

/* A directory renamed inside the tree: its watches (and its subtree's)
 * follow the inodes, so only their paths change. -ENOMEM when a path kept
 * its old name (events under it then name it stale). */
int urio__wdmap_rename(struct urio__wdmap *w, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to);
	int err = 0;
	for (size_t i = 0; i < w->cap; i++) {
		char *p = w->slot[i].path;
		if (!w->slot[i].wd || !under(p, from, flen))
			continue;
		size_t rest = strlen(p + flen);
		char *np = urio__malloc(tlen + rest + 1);
		if (!np) {
			err = -ENOMEM;
			continue;
		}
		memcpy(np, to, tlen);
		memcpy(np + tlen, p + flen, rest + 1);
		free(p);
		w->slot[i].path = np;
	}
	return err;
}

/* A directory moved out of the tree: drop the watches under it. */
void urio__wdmap_drop(struct urio__wdmap *w, const char *dir,
		      struct urio__inotify *in)
{
	size_t dlen = strlen(dir);
	for (size_t i = 0; i < w->cap;) {
		if (w->slot[i].wd && under(w->slot[i].path, dir, dlen)) {
			urio__inotify_rm(in, w->slot[i].wd);
			urio__wdmap_del(w, &w->slot[i]); /* may move a later slot to i */
			continue;
		}
		i++;
	}
}

void urio__wdmap_free(struct urio__wdmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slot[i].wd)
			free(m->slot[i].path);
	free(m->slot);
	*m = (struct urio__wdmap){0};
}
