/* The directory watch: inotify events turned into batches of changes with
 * paths (urio/watch.h).
 *
 * A watch descriptor maps to its directory's path (wdmap.c); a batch is an array of events whose strings live in one arena (offsets
 * until the batch is handed out, as the arena may move), and a second
 * table keyed by path finds a path's latest event so repeated
 * modifications fold into one. Recursive watches add subdirectories as
 * they appear and scan them, since files made before the watch was in
 * place raise no event. Directory walks keep their stack on the heap: the
 * caller is a coroutine with a small stack. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <urio/scope.h>
#include <urio/watch.h>

#include "inotify.h"
#include "wdmap.h"

#define MASK                                                             \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM |  \
	 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK |    \
	 IN_ONLYDIR)
#define NONE SIZE_MAX

struct ev {
	int kind;
	bool is_dir;
	bool move_from; /* DELETED by a rename whose other half is unseen */
	uint32_t cookie;
	size_t path, from; /* arena offsets; from: NONE */
};

struct urio_watch {
	urio_iter iter; /* urio_watch_iter's view */
	urio_watch_batch item;
	struct urio__inotify in;
	urio_watch_opts o;
	char *root;
	int root_wd;
	bool ended;
	struct urio__wdmap map; /* wd -> its directory's path */
	struct ev *ev;
	size_t nev, ev_cap;
	char *arena;
	size_t alen, acap;
	uint32_t *idx; /* path -> 1 + index of its latest event; 0: empty */
	size_t idx_cap;
	urio_watch_event *out;
	size_t out_cap;
	/* a change this batch could not record for want of memory: the batch
	 * is one OVERFLOW event (lost_ev, no allocation), so the consumer
	 * rescans instead of waiting for a change it will never see */
	bool lost;
	urio_watch_event lost_ev;
};

/* --- the batch ---------------------------------------------------------- */

static size_t str_hash(const char *s)
{
	size_t h = 1469598103934665603u; /* FNV-1a */
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

/* Copies the join of dir and name into the arena: its offset, or NONE. */
static size_t intern(urio_watch *w, const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = name ? strlen(name) : 0;
	size_t need = dl + 1 + nl + 1;
	if (w->alen + need > w->acap) {
		size_t cap = w->acap ? w->acap : 4096;
		while (w->alen + need > cap)
			cap *= 2;
		char *a = urio__realloc(w->arena, cap);
		if (!a)
			return NONE;
		w->arena = a;
		w->acap = cap;
	}
	size_t off = w->alen;
	char *p = w->arena + off;
	memcpy(p, dir, dl);
	if (name) {
		p[dl++] = '/';
		memcpy(p + dl, name, nl);
		dl += nl;
	}
	p[dl] = 0;
	w->alen += dl + 1;
	return off;
}

/* The slot of path's entry in the index (occupied or the empty one). */
static uint32_t *idx_slot(urio_watch *w, const char *path)
{
	size_t mask = w->idx_cap - 1;
	for (size_t i = str_hash(path) & mask;; i = (i + 1) & mask) {
		uint32_t e = w->idx[i];
		if (!e || !strcmp(w->arena + w->ev[e - 1].path, path))
			return &w->idx[i];
	}
}

static int idx_grow(urio_watch *w)
{
	size_t cap = w->idx_cap ? w->idx_cap * 2 : 1024;
	uint32_t *n = urio__calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	free(w->idx);
	w->idx = n;
	w->idx_cap = cap;
	for (size_t i = 0; i < w->nev; i++) /* the latest event wins */
		*idx_slot(w, w->arena + w->ev[i].path) = (uint32_t)i + 1;
	return 0;
}

static struct ev *ev_add(urio_watch *w, int kind, bool is_dir, size_t path)
{
	if (path == NONE)
		return NULL;
	if (w->nev == w->ev_cap) {
		size_t cap = w->ev_cap ? w->ev_cap * 2 : 64;
		struct ev *e = urio__realloc(w->ev, cap * sizeof(*e));
		if (!e)
			return NULL;
		w->ev = e;
		w->ev_cap = cap;
	}
	if ((w->nev + 1) * 2 > w->idx_cap && idx_grow(w) < 0)
		return NULL;
	struct ev *e = &w->ev[w->nev];
	*e = (struct ev){.kind = kind, .is_dir = is_dir, .path = path,
			 .from = NONE};
	*idx_slot(w, w->arena + path) = (uint32_t)++w->nev;
	return e;
}

/* Adds an event for dir/name (name may be NULL); a repeat of the path's
 * latest event, or a modification of a path just created, folds into it.
 * Returns the arena offset of the path, or NONE without memory. */
static size_t report(urio_watch *w, int kind, bool is_dir, const char *dir,
		     const char *name)
{
	size_t mark = w->alen, off = intern(w, dir, name);
	if (off == NONE) {
		w->lost = true;
		return NONE;
	}
	uint32_t e = *idx_slot(w, w->arena + off);
	if (e) {
		int last = w->ev[e - 1].kind;
		if (last == kind || (kind == URIO_WATCH_MODIFIED &&
				     last == URIO_WATCH_CREATED)) {
			w->alen = mark;
			return w->ev[e - 1].path;
		}
	}
	if (ev_add(w, kind, is_dir, off))
		return off;
	w->lost = true;
	return NONE;
}

static void batch_reset(urio_watch *w)
{
	w->nev = 0;
	w->alen = 0;
	w->lost = false;
	if (w->idx)
		memset(w->idx, 0, w->idx_cap * sizeof(*w->idx));
}

/* --- directory walks ---------------------------------------------------- */

static bool is_dir_at(int dfd, const struct dirent *d)
{
	if (d->d_type != DT_UNKNOWN)
		return d->d_type == DT_DIR;
	struct stat st;
	return fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

/* Watches top and, if recursive, the directories under it, reporting
 * what it finds as CREATED when asked. A directory that vanished meanwhile
 * is skipped; a watch the kernel refuses (no watch left) is an OVERFLOW:
 * changes under it would be missed. */
static int add_tree(urio_watch *w, const char *top, bool announce)
{
	char **stack = NULL, *dir = urio__strdup(top);
	size_t n = 0, cap = 0;
	int err = dir ? 0 : -ENOMEM;
	/* the root may be a symlink to a directory; nothing under it is followed */
	uint32_t flags = MASK | (strcmp(top, w->root) ? IN_DONT_FOLLOW : 0);
	while (dir) {
		int wd = urio__inotify_add(&w->in, dir, flags);
		flags = MASK | IN_DONT_FOLLOW;
		if (wd < 0 && wd != -ENOENT && wd != -ENOTDIR) {
			report(w, URIO_WATCH_OVERFLOW, true, w->root, NULL);
			err = err ? err : wd;
		}
		DIR *d = wd >= 0 && w->o.recursive ? opendir(dir) : NULL;
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			bool sub = is_dir_at(dirfd(d), e);
			if (announce)
				report(w, URIO_WATCH_CREATED, sub, dir, e->d_name);
			if (!sub)
				continue;
			if (n == cap) {
				size_t c = cap ? cap * 2 : 16;
				char **s = urio__realloc(stack, c * sizeof(*s));
				if (s) {
					stack = s;
					cap = c;
				}
			}
			char *p = n < cap ? urio__malloc(strlen(dir) +
						   strlen(e->d_name) + 2)
					  : NULL;
			if (!p) {
				report(w, URIO_WATCH_OVERFLOW, true, w->root, NULL);
				err = err ? err : -ENOMEM;
				continue;
			}
			strcpy(stpcpy(stpcpy(p, dir), "/"), e->d_name);
			stack[n++] = p;
		}
		if (d)
			closedir(d);
		if (wd >= 0) {
			int r = urio__wdmap_put(&w->map, wd, dir);
			err = err ? err : r;
		} else {
			free(dir);
		}
		dir = n ? stack[--n] : NULL;
	}
	free(stack);
	return err;
}

/* Watches a directory that appeared at the arena offset off. */
static void add_subtree(urio_watch *w, size_t off)
{
	if (off == NONE)
		return;
	/* a copy: the arena moves as it grows */
	char *p = urio__strdup(w->arena + off);
	if (!p) {
		report(w, URIO_WATCH_OVERFLOW, true, w->root, NULL);
		return;
	}
	if (add_tree(w, p, true) < 0)
		w->lost = true; /* a directory left unwatched or unmapped */
	free(p);
}

/* --- events ------------------------------------------------------------- */

static void moved_to(urio_watch *w, const struct inotify_event *e,
		     const char *dir, bool is_dir)
{
	for (size_t i = w->nev; i-- > 0;) {
		struct ev *m = &w->ev[i];
		if (!m->move_from || m->cookie != e->cookie)
			continue;
		size_t to = intern(w, dir, e->name);
		if (to == NONE) {
			w->lost = true;
			return;
		}
		m->move_from = false;
		m->kind = URIO_WATCH_MOVED;
		m->from = m->path;
		m->path = to;
		*idx_slot(w, w->arena + to) = (uint32_t)i + 1;
		if (is_dir && w->o.recursive &&
		    urio__wdmap_rename(&w->map, w->arena + m->from,
				       w->arena + to) < 0)
			w->lost = true; /* stale names under the new one */
		return;
	}
	size_t off = report(w, URIO_WATCH_CREATED, is_dir, dir, e->name);
	if (is_dir && w->o.recursive)
		add_subtree(w, off);
}

static void root_gone(urio_watch *w)
{
	report(w, URIO_WATCH_DELETED, true, w->root, NULL);
	w->ended = true;
}

static void handle(urio_watch *w, const struct inotify_event *e)
{
	if (e->mask & IN_Q_OVERFLOW) {
		report(w, URIO_WATCH_OVERFLOW, true, w->root, NULL);
		if (w->o.recursive) /* directories made meanwhile */
			add_tree(w, w->root, false);
		return;
	}
	struct urio__wdslot *s = urio__wdmap_find(&w->map, e->wd);
	if (!s)
		return; /* a watch already dropped */
	if (e->mask & IN_IGNORED) {
		if (e->wd == w->root_wd && !w->ended)
			root_gone(w);
		if (e->wd != w->root_wd)
			urio__wdmap_del(&w->map, s);
		return;
	}
	if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		if (e->wd == w->root_wd && !w->ended)
			root_gone(w);
		return; /* a subdirectory: its parent's event said it */
	}
	if (!e->len)
		return;
	const char *dir = s->path;
	bool is_dir = e->mask & IN_ISDIR;
	if (e->mask & IN_CREATE) {
		size_t off = report(w, URIO_WATCH_CREATED, is_dir, dir, e->name);
		if (is_dir && w->o.recursive)
			add_subtree(w, off);
	} else if (e->mask & (IN_MODIFY | IN_ATTRIB)) {
		report(w, URIO_WATCH_MODIFIED, is_dir, dir, e->name);
	} else if (e->mask & IN_DELETE) {
		report(w, URIO_WATCH_DELETED, is_dir, dir, e->name);
	} else if (e->mask & IN_MOVED_FROM) {
		size_t n = w->nev;
		report(w, URIO_WATCH_DELETED, is_dir, dir, e->name);
		if (w->nev > n) {
			w->ev[n].move_from = true;
			w->ev[n].cookie = e->cookie;
		}
	} else if (e->mask & IN_MOVED_TO) {
		moved_to(w, e, dir, is_dir);
	}
}

/* Renames whose other half never came moved out of the tree. */
static void batch_finish(urio_watch *w, urio_watch_batch *b)
{
	for (size_t i = 0; i < w->nev; i++) {
		struct ev *e = &w->ev[i];
		if (e->move_from && e->is_dir && w->o.recursive)
			urio__wdmap_drop(&w->map, w->arena + e->path, &w->in);
	}
	if (w->nev > w->out_cap) {
		urio_watch_event *o =
			urio__realloc(w->out, w->nev * sizeof(*o));
		if (o) {
			w->out = o;
			w->out_cap = w->nev;
		} else {
			w->lost = true;
		}
	}
	if (w->lost) {
		w->lost_ev = (urio_watch_event){.kind = URIO_WATCH_OVERFLOW,
						.is_dir = true,
						.path = w->root};
		b->events = &w->lost_ev;
		b->n = 1;
		return;
	}
	for (size_t i = 0; i < w->nev; i++) {
		struct ev *e = &w->ev[i];
		w->out[i] = (urio_watch_event){
			.kind = e->kind,
			.is_dir = e->is_dir,
			.path = w->arena + e->path,
			.from = e->from == NONE ? NULL : w->arena + e->from,
		};
	}
	b->events = w->out;
	b->n = w->nev;
}

int urio_watch_next(urio_watch *w, urio_watch_batch *batch)
{
	if (!w || !batch)
		return -EINVAL;
	*batch = (urio_watch_batch){0};
	batch_reset(w);
	if (w->ended)
		return 0;
	uint64_t start = 0, deadline = 0;
	for (;;) {
		const struct inotify_event *e;
		int r = urio__inotify_next(&w->in, &e, deadline);
		if (r == -ETIMEDOUT)
			break;
		if (r <= 0) {
			if (r == 0)
				w->ended = true;
			batch_reset(w);
			return r;
		}
		handle(w, e);
		if (!w->nev && !w->lost)
			continue; /* nothing to report yet: no deadline */
		uint64_t now = urio_now_ns();
		if (!start)
			start = now;
		deadline = now + (uint64_t)w->o.step_ms * 1000000u;
		uint64_t last = start + (uint64_t)w->o.debounce_ms * 1000000u;
		if (deadline > last)
			deadline = last;
		if (w->nev >= w->o.max_events || w->ended)
			break;
	}
	batch_finish(w, batch);
	return 1;
}

void urio_watch_stop(urio_watch *w)
{
	if (w)
		urio__inotify_stop(&w->in);
}

void urio_watch_close(urio_watch *w)
{
	if (!w)
		return;
	urio__inotify_fini(&w->in);
	urio__wdmap_free(&w->map);
	free(w->root);
	free(w->ev);
	free(w->arena);
	free(w->idx);
	free(w->out);
	free(w);
}

static int iter_next(urio_iter *it, void **item)
{
	urio_watch *w = (urio_watch *)it;
	int r = urio_watch_next(w, &w->item);
	if (r > 0)
		*item = &w->item;
	return r;
}

static void iter_close(urio_iter *it)
{
	urio_watch_close((urio_watch *)it);
}

static const urio_iter_ops watch_iter_ops = {iter_next, iter_close};

urio_iter *urio_watch_iter(urio_watch *w)
{
	if (!w) {
		errno = EINVAL;
		return NULL;
	}
	return &w->iter;
}

static char *root_path(const char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	return strndup(path, n);
}

urio_watch *urio_watch_open(const char *path, const urio_watch_opts *opts)
{
	if (!path || !*path) {
		errno = EINVAL;
		return NULL;
	}
	urio_watch *w = urio__calloc(1, sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	w->iter.ops = &watch_iter_ops;
	int err = urio__inotify_init(&w->in);
	if (err < 0) {
		free(w);
		errno = -err;
		return NULL;
	}
	if (opts)
		w->o = *opts;
	if (!w->o.debounce_ms)
		w->o.debounce_ms = 1600;
	if (!w->o.step_ms)
		w->o.step_ms = 50;
	if (!w->o.max_events)
		w->o.max_events = 4096;
	w->root = root_path(path);
	if (!w->root || idx_grow(w) < 0) {
		err = -ENOMEM;
		goto fail;
	}
	/* the root's own watch first, so a refusal names the real cause */
	w->root_wd = urio__inotify_add(&w->in, w->root, MASK);
	if (w->root_wd < 0) {
		err = w->root_wd;
		goto fail;
	}
	err = add_tree(w, w->root, false); /* the root's wd comes back again */
	if (err < 0)
		goto fail;
	batch_reset(w);
	return w;
fail:
	urio_watch_close(w);
	urio__errno_set(-err); /* after suspensions: see urio__errno */
	return NULL;
}
