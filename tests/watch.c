/* Directory watch: creates, writes, deletes and renames (inside, out of
 * and into the tree) as batches; recursive watches following new and
 * renamed subdirectories; a kernel queue overflow reported as an event;
 * the root's deletion ending the iteration; stop and cancellation ending
 * a pending next; bad arguments. Every case on 1 and 2 workers; the _poll
 * ctest entry runs it on the poll(2) backend. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <urio.h>

#include "test.h"

static char base[64];       /* holds root/ and outside/ */
static char root[96], outside[96];
static const urio_watch_opts quick = {.step_ms = 20};
static const urio_watch_opts quick_rec = {.step_ms = 20, .recursive = true};

static void path_of(char *out, const char *name)
{
	snprintf(out, 256, "%s/%s", root, name);
}

static void put(const char *name, const char *data)
{
	char p[256];
	path_of(p, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, data, strlen(data)), (long)strlen(data));
	close(fd);
}

static void rm_rf(const char *p)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	ASSERT_EQ(system(cmd), 0);
}

static void fresh_dirs(void)
{
	rm_rf(root);
	rm_rf(outside);
	ASSERT_EQ(mkdir(root, 0700), 0);
	ASSERT_EQ(mkdir(outside, 0700), 0);
}

/* The event of kind for root/name (from: root/from or NULL) in b. */
static bool has(const urio_watch_batch *b, int kind, const char *name,
		const char *from)
{
	char p[256], f[256];
	path_of(p, name);
	if (from)
		path_of(f, from);
	for (size_t i = 0; i < b->n; i++) {
		const urio_watch_event *e = &b->events[i];
		if (e->kind == kind && !strcmp(e->path, name ? p : root) &&
		    (!from || (e->from && !strcmp(e->from, f))))
			return true;
	}
	return false;
}

static size_t count(const urio_watch_batch *b, int kind)
{
	size_t n = 0;
	for (size_t i = 0; i < b->n; i++)
		n += b->events[i].kind == kind;
	return n;
}

static void next1(urio_watch *w, urio_watch_batch *b)
{
	ASSERT_EQ(urio_watch_next(w, b), 1);
	ASSERT(b->n > 0);
}

static intptr_t flat(void *arg)
{
	fresh_dirs();
	urio_watch *w = urio_watch_open(root, &quick);
	ASSERT(w);
	urio_watch_batch b;

	put("a", "x");
	put("a", "y");
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_CREATED, "a", NULL));
	ASSERT_EQ(b.n, 1); /* the writes fold into the creation */

	for (int i = 0; i < 5; i++) {
		put("a", "z");
		put("b", "z");
	}
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_MODIFIED, "a", NULL));
	ASSERT(has(&b, URIO_WATCH_CREATED, "b", NULL));
	ASSERT_EQ(b.n, 2);

	char p[256], q[256];
	path_of(p, "a");
	path_of(q, "c");
	ASSERT_EQ(rename(p, q), 0);
	ASSERT_EQ(unlink(q), 0);
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_MOVED, "c", "a"));
	ASSERT(has(&b, URIO_WATCH_DELETED, "c", NULL));
	ASSERT_EQ(b.n, 2);

	/* out of the tree and into it: half a rename each */
	char out[256];
	snprintf(out, sizeof(out), "%s/b", outside);
	path_of(p, "b");
	ASSERT_EQ(rename(p, out), 0);
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_DELETED, "b", NULL));
	ASSERT_EQ(b.n, 1);
	path_of(p, "back");
	ASSERT_EQ(rename(out, p), 0);
	path_of(p, "sub");
	ASSERT_EQ(mkdir(p, 0700), 0);
	put("sub/f", "x"); /* not recursive: unseen */
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_CREATED, "back", NULL));
	ASSERT(has(&b, URIO_WATCH_CREATED, "sub", NULL));
	ASSERT_EQ(b.n, 2);
	for (size_t i = 0; i < b.n; i++)
		ASSERT_EQ(b.events[i].is_dir,
			  !strcmp(b.events[i].path + strlen(root), "/sub"));
	chmod(p, 0755);
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_MODIFIED, "sub", NULL));
	urio_watch_close(w);
	return 0;
}

static intptr_t recursive(void *arg)
{
	fresh_dirs();
	char p[256], q[256];
	path_of(p, "old");
	ASSERT_EQ(mkdir(p, 0700), 0);
	put("old/f", "x");
	urio_watch *w = urio_watch_open(root, &quick_rec);
	ASSERT(w);
	urio_watch_batch b;

	put("old/f", "y"); /* a subdirectory that existed at open */
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_MODIFIED, "old/f", NULL));
	ASSERT_EQ(b.n, 1);

	/* made after the watch: files inside before its own watch was in
	 * place are found by the scan */
	path_of(p, "d");
	ASSERT_EQ(mkdir(p, 0700), 0);
	path_of(p, "d/e");
	ASSERT_EQ(mkdir(p, 0700), 0);
	put("d/e/f", "x");
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_CREATED, "d", NULL));
	ASSERT(has(&b, URIO_WATCH_CREATED, "d/e", NULL));
	ASSERT(has(&b, URIO_WATCH_CREATED, "d/e/f", NULL));
	ASSERT_EQ(b.n, 3);

	put("d/e/f", "y");
	put("d/e/g", "y");
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_MODIFIED, "d/e/f", NULL));
	ASSERT(has(&b, URIO_WATCH_CREATED, "d/e/g", NULL));
	ASSERT_EQ(b.n, 2);

	/* a renamed directory keeps its watches under its new name */
	path_of(p, "d");
	path_of(q, "d2");
	ASSERT_EQ(rename(p, q), 0);
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_MOVED, "d2", "d"));
	ASSERT_EQ(b.n, 1);
	put("d2/e/f", "z");
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_MODIFIED, "d2/e/f", NULL));
	ASSERT_EQ(b.n, 1);

	/* moved out: its watches go, so writes there are not reported */
	char out[256];
	snprintf(out, sizeof(out), "%s/d2", outside);
	ASSERT_EQ(rename(q, out), 0);
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_DELETED, "d2", NULL));
	ASSERT_EQ(b.n, 1);
	snprintf(out, sizeof(out), "%s/d2/e/f", outside);
	int fd = open(out, O_WRONLY | O_APPEND);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, "q", 1), 1);
	close(fd);
	put("marker", "x");
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_CREATED, "marker", NULL));
	ASSERT_EQ(b.n, 1);

	/* moved back in: a new subtree, scanned */
	snprintf(out, sizeof(out), "%s/d2", outside);
	path_of(p, "d3");
	ASSERT_EQ(rename(out, p), 0);
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_CREATED, "d3", NULL));
	ASSERT(has(&b, URIO_WATCH_CREATED, "d3/e", NULL));
	ASSERT(has(&b, URIO_WATCH_CREATED, "d3/e/f", NULL));
	ASSERT(has(&b, URIO_WATCH_CREATED, "d3/e/g", NULL));
	put("d3/e/f", "w");
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_MODIFIED, "d3/e/f", NULL));

	path_of(p, "d3");
	rm_rf(p);
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_DELETED, "d3/e/f", NULL));
	ASSERT(has(&b, URIO_WATCH_DELETED, "d3/e", NULL));
	ASSERT(has(&b, URIO_WATCH_DELETED, "d3", NULL));
	urio_watch_close(w);
	return 0;
}

static long max_queued(void)
{
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	long n = -1;
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* Writes to two files in turn (the kernel merges only an event equal to
 * the last queued one) until the queue must have overflowed. */
static intptr_t overflow(void *arg)
{
	long q = max_queued();
	if (q <= 0 || q > (1 << 20))
		return T_SKIP;
	fresh_dirs();
	urio_watch *w = urio_watch_open(root, arg ? &quick_rec : &quick);
	ASSERT(w);
	char pa[256], pb[256];
	path_of(pa, "a");
	path_of(pb, "b");
	int a = open(pa, O_WRONLY | O_CREAT, 0600);
	int b = open(pb, O_WRONLY | O_CREAT, 0600);
	ASSERT(a >= 0 && b >= 0);
	for (long i = 0; i < q / 2 + 100; i++) {
		ASSERT_EQ(pwrite(a, "x", 1, 0), 1);
		ASSERT_EQ(pwrite(b, "x", 1, 0), 1);
	}
	close(a);
	close(b);
	urio_watch_batch bt;
	bool seen = false;
	for (long i = 0; i < q / 4096 + 8 && !seen; i++) {
		next1(w, &bt);
		seen = has(&bt, URIO_WATCH_OVERFLOW, NULL, NULL);
		ASSERT(count(&bt, URIO_WATCH_OVERFLOW) <= 1);
	}
	ASSERT(seen);
	/* still watching afterwards */
	put("c", "x");
	for (int i = 0; i < 8; i++) {
		next1(w, &bt);
		if (has(&bt, URIO_WATCH_CREATED, "c", NULL))
			break;
		ASSERT(i < 7);
	}
	urio_watch_close(w);
	return 0;
}

static intptr_t root_deleted(void *arg)
{
	fresh_dirs();
	urio_watch *w = urio_watch_open(root, &quick_rec);
	ASSERT(w);
	put("f", "x");
	rm_rf(root);
	urio_watch_batch b;
	bool gone = false;
	int r;
	for (int i = 0; i < 8 && (r = urio_watch_next(w, &b)) == 1; i++)
		gone |= has(&b, URIO_WATCH_DELETED, NULL, NULL);
	ASSERT_EQ(r, 0);
	ASSERT(gone);
	ASSERT_EQ(urio_watch_next(w, &b), 0);
	ASSERT_EQ(b.n, 0);
	urio_watch_close(w);
	ASSERT_EQ(mkdir(root, 0700), 0);
	return 0;
}

struct waiter {
	urio_watch *w;
	atomic_int started;
	int r;
};

static intptr_t wait_next(void *arg)
{
	struct waiter *x = arg;
	urio_watch_batch b;
	atomic_store(&x->started, 1);
	x->r = urio_watch_next(x->w, &b);
	return x->r;
}

static intptr_t stop_and_cancel(void *arg)
{
	fresh_dirs();
	for (int how = 0; how < 2; how++) {
		struct waiter x = {.w = urio_watch_open(root, &quick_rec)};
		ASSERT(x.w);
		urio_task *t = urio_spawn(wait_next, &x);
		ASSERT(t);
		POLL(atomic_load(&x.started));
		urio_sleep_ms(5); /* most often it waits in the read by now */
		intptr_t res = 1;
		if (how == 0) {
			urio_watch_stop(x.w);
			ASSERT_EQ(urio_join(t, &res), 0);
			ASSERT_EQ(res, 0);
		} else {
			ASSERT_EQ(urio_cancel(t), 0);
			ASSERT_EQ(urio_join(t, &res), -ECANCELED);
			ASSERT_EQ(x.r, -ECANCELED);
		}
		urio_watch_close(x.w);
	}
	return 0;
}

/* The watch as a urio_iter: URIO_FOREACH closes it on break. */
static intptr_t as_iter(void *arg)
{
	fresh_dirs();
	urio_watch *w = urio_watch_open(root, &quick);
	ASSERT(w);
	put("x", "1");
	int r, n = 0;
	urio_watch_batch *b;
	URIO_FOREACH(r, b, urio_watch_iter(w)) {
		ASSERT_EQ(r, 1);
		ASSERT(has(b, URIO_WATCH_CREATED, n ? "y" : "x", NULL));
		if (++n == 2)
			break;
		put("y", "2");
	}
	ASSERT_EQ(n, 2);
	errno = 0;
	ASSERT(!urio_watch_iter(NULL) && errno == EINVAL);
	return 0;
}

static intptr_t bad_args(void *arg)
{
	fresh_dirs();
	errno = 0;
	ASSERT(!urio_watch_open(NULL, NULL) && errno == EINVAL);
	ASSERT(!urio_watch_open("", NULL) && errno == EINVAL);
	char p[256];
	snprintf(p, sizeof(p), "%s/none", root);
	ASSERT(!urio_watch_open(p, NULL) && errno == ENOENT);
	put("file", "x");
	path_of(p, "file");
	ASSERT(!urio_watch_open(p, NULL) && errno == ENOTDIR);
	urio_watch_batch b;
	ASSERT_EQ(urio_watch_next(NULL, &b), -EINVAL);
	urio_watch *w = urio_watch_open(root, NULL);
	ASSERT(w);
	ASSERT_EQ(urio_watch_next(w, NULL), -EINVAL);
	urio_watch_close(w);
	urio_watch_close(NULL);
	urio_watch_stop(NULL);
	/* a trailing slash names the same root */
	snprintf(p, sizeof(p), "%s//", root);
	w = urio_watch_open(p, &quick);
	ASSERT(w);
	put("g", "x");
	next1(w, &b);
	ASSERT(has(&b, URIO_WATCH_CREATED, "g", NULL));
	urio_watch_close(w);
	return 0;
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/urio-watch-%d", (int)getpid());
	ASSERT_EQ(mkdir(base, 0700), 0);
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);

	/* outside a task: no read can be made */
	ASSERT_EQ(mkdir(root, 0700), 0);
	urio_watch *w = urio_watch_open(root, NULL);
	ASSERT(w);
	urio_watch_batch b;
	ASSERT_EQ(urio_watch_next(w, &b), -EPERM);
	urio_watch_close(w);
	int fds = test_count_dir("/proc/self/fd");

	struct {
		urio_fn fn;
		void *arg;
	} cases[] = {{flat, NULL},         {recursive, NULL},
		     {overflow, NULL},     {overflow, (void *)1},
		     {root_deleted, NULL}, {stop_and_cancel, NULL},
		     {as_iter, NULL},     {bad_args, NULL}};
	int skipped = 0;
	for (unsigned workers = 1; workers <= 2; workers++) {
		urio_config cfg = {.workers = workers};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			intptr_t r = -1;
			ASSERT_EQ(urio_run(&cfg, cases[i].fn, cases[i].arg, &r), 0);
			if (r == T_SKIP) {
				skipped++;
				continue;
			}
			ASSERT_EQ(r, 0);
		}
	}
	ASSERT_EQ(test_count_dir("/proc/self/fd"), fds);
	rm_rf(base);
	printf("watch: ok%s\n", skipped ? " (overflow skipped)" : "");
	return 0;
}
