/* Follow mode: at EOF the chunk reader waits here for more data (tail -F).
 *
 * The wait is an inotify read through the ring (inotify.c) on two watches:
 * the file being read (IN_MODIFY, also raised by a truncation, and its
 * own move or deletion), reached through /proc/self/fd so it is the inode
 * we hold and not whatever the path names by then; and its directory, for
 * a new file appearing at the path (IN_CREATE, IN_MOVED_TO). Every wake
 * re-checks the state rather than trusting the event, so merged or missed
 * events cost nothing but a wake. Without an inotify instance (the user's
 * are limited, fs.inotify.max_user_instances) the same checks run every
 * POLL_MS.
 *
 * What a check decides, in order:
 * - the file shrank below our offset (copy + truncate): read again from 0;
 * - the bytes just before our offset changed (truncated and already
 *   written past our offset again): read again from 0;
 * - the file grew: read on;
 * - the path names another file (rename + new file): once the old file is
 *   read to its end, switch to the new one from offset 0.
 * Data written to the old file after the new one appeared, or a file
 * rotated twice before we looked, is lost, as with tail -F.
 *
 * Stopping (urio__follow_stop, from any thread) sets a flag every EOF
 * checks first and wakes a wait in progress the way urio__inotify_stop
 * does; so a wait never starts without a watch to remove (else it has a
 * deadline, as the polling does). The stopper holds the follow's lock
 * throughout, and detach takes it before freeing: a follower that ends at
 * once and is closed cannot free what the stopper still touches. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/scope.h>

#include "follow.h"
#include "inotify.h"

#define POLL_MS 250
#define FP_MAX 64 /* bytes before the offset compared to spot a rewrite */
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
#define DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

struct follow {
	struct urio__inotify in;
	bool have_in;
	urio__spin lock; /* a stopper against detach */
	_Atomic bool stop;
	char *path; /* NULL: growth and truncation only */
	int dir_wd, file_wd;
	dev_t dev;
	ino_t ino;
	uint64_t fp_off; /* fp holds the nfp bytes before fp_off */
	size_t nfp;
	char fp[FP_MAX];
};

static void watch_file(struct follow *f, int fd)
{
	if (!f->have_in)
		return;
	if (f->file_wd > 0)
		urio__inotify_rm(&f->in, f->file_wd);
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	f->file_wd = urio__inotify_add(&f->in, p, FILE_MASK);
	if (f->file_wd < 0 && f->path) /* no /proc: the path, racily */
		f->file_wd = urio__inotify_add(&f->in, f->path, FILE_MASK);
}

static void watch_dir(struct follow *f)
{
	if (!f->have_in || !f->path || f->dir_wd > 0)
		return;
	char *copy = urio__strdup(f->path);
	if (!copy)
		return;
	f->dir_wd = urio__inotify_add(&f->in, dirname(copy), DIR_MASK);
	free(copy);
}

/* The fingerprint bytes before off, read now into out: their count. */
static ssize_t read_fp(int fd, uint64_t off, char *out)
{
	size_t n = off < FP_MAX ? (size_t)off : FP_MAX;
	if (!n)
		return 0;
	ssize_t r = urio_read(fd, out, n, (off_t)(off - n));
	return r < 0 ? r : (r == (ssize_t)n ? r : -EIO);
}

/* True when the bytes before cs->off are not those we returned. A file
 * that refuses the small read (O_DIRECT wants aligned ones) goes
 * unchecked: nfp is 0 then. */
static bool rewritten(struct follow *f, urio_chunks *cs)
{
	char now[FP_MAX];
	if (f->fp_off != cs->off) { /* first wait at this offset */
		ssize_t n = read_fp(cs->fd, cs->off, f->fp);
		f->nfp = n > 0 ? (size_t)n : 0;
		f->fp_off = cs->off;
		return false;
	}
	if (!f->nfp)
		return false;
	ssize_t n = read_fp(cs->fd, cs->off, now);
	return n >= 0 && (n != (ssize_t)f->nfp || memcmp(now, f->fp, f->nfp));
}

static int restart(struct follow *f, urio_chunks *cs)
{
	cs->off = 0;
	f->fp_off = UINT64_MAX;
	return 1;
}

/* The path names a file other than ours: 1 and it open in *fd. */
static int replaced(struct follow *f, int *fd)
{
	struct statx st;
	if (!f->path ||
	    urio_statx(AT_FDCWD, f->path, 0, STATX_INO, &st) < 0 ||
	    (makedev(st.stx_dev_major, st.stx_dev_minor) == f->dev &&
	     st.stx_ino == f->ino))
		return 0;
	*fd = urio_open(f->path, O_RDONLY | O_CLOEXEC, 0);
	return *fd >= 0 ? 1 : 0; /* gone again: wait for the next one */
}

/* One look at the file: 1 to read on (cs may now read another file or
 * from 0), 0 nothing new, -errno. */
static int check(struct follow *f, urio_chunks *cs)
{
	struct stat st;
	if (fstat(cs->fd, &st) < 0)
		return -urio__errno();
	if ((uint64_t)st.st_size < cs->off || rewritten(f, cs))
		return restart(f, cs);
	if ((uint64_t)st.st_size > cs->off)
		return 1;
	int fd;
	if (!replaced(f, &fd))
		return 0;
	/* the writer finished the old file before the new one appeared, so
	 * a look now sees all of it */
	if (fstat(cs->fd, &st) == 0 && (uint64_t)st.st_size > cs->off) {
		close(fd);
		return 1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	int r = urio__chunks_reopen(cs, fd, 0);
	if (r < 0) {
		close(fd);
		return r;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->fp_off = UINT64_MAX;
	watch_file(f, fd);
	return 1;
}

/* Waits for the next event (or POLL_MS without inotify): 1, 0 stopped,
 * -errno. Events already queued are taken together: one check covers
 * them all. */
static int wait_change(struct follow *f)
{
	if (!f->have_in) {
		int r = urio_sleep_ms(POLL_MS);
		return r < 0 ? r : 1;
	}
	/* no directory watch (it was removed, or refused): poll for a new
	 * file at the path as well; no watch at all: nothing would wake a
	 * stop either */
	bool poll = (f->path && f->dir_wd <= 0) ||
		    (f->dir_wd <= 0 && f->file_wd <= 0);
	uint64_t deadline = poll ? urio_now_ns() + POLL_MS * 1000000ull : 0;
	const struct inotify_event *e;
	int r = urio__inotify_next(&f->in, &e, deadline);
	while (r > 0) {
		if (e->mask & IN_IGNORED) {
			if (e->wd == f->dir_wd)
				f->dir_wd = -1;
			if (e->wd == f->file_wd)
				f->file_wd = -1;
		}
		if (f->in.pos >= f->in.len)
			break;
		r = urio__inotify_next(&f->in, &e, 0);
	}
	return r == -ETIMEDOUT ? 1 : r;
}

static int at_eof(urio_chunks *cs)
{
	struct follow *f = cs->follow;
	for (;;) {
		if (atomic_load(&f->stop))
			return 0;
		watch_dir(f);
		int r = check(f, cs);
		if (r != 0)
			return r;
		r = wait_change(f);
		if (r <= 0)
			return r;
	}
}

int urio__follow_attach(urio_chunks *cs, const char *path)
{
	if (!cs->seekable)
		return -ESPIPE;
	struct stat st;
	if (fstat(cs->fd, &st) < 0)
		return -urio__errno();
	struct follow *f = urio__calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->dir_wd = f->file_wd = -1;
	atomic_flag_clear(&f->lock.f);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->fp_off = UINT64_MAX;
	if (path && !(f->path = urio__strdup(path))) {
		free(f);
		return -ENOMEM;
	}
	/* without an instance the checks poll instead */
	f->have_in = urio__inotify_init(&f->in) == 0;
	watch_file(f, cs->fd);
	watch_dir(f);
	cs->follow = f;
	cs->at_eof = at_eof;
	return 0;
}

int urio__follow_opt(urio_chunks *cs, const urio_lines_opts *opts,
		     const char *path)
{
	if (!opts || !opts->follow)
		return 0;
	return urio__follow_attach(cs, path && strcmp(path, "-") ? path : NULL);
}

void urio__follow_stop(urio_chunks *cs)
{
	struct follow *f = cs->follow;
	if (!f)
		return;
	urio__spin_lock(&f->lock);
	atomic_store(&f->stop, true);
	if (f->have_in)
		urio__inotify_stop(&f->in);
	urio__spin_unlock(&f->lock); /* the stopper's last touch of f */
}

void urio__follow_detach(urio_chunks *cs)
{
	struct follow *f = cs->follow;
	if (!f)
		return;
	/* a stopper still inside urio__follow_stop finishes first */
	urio__spin_lock(&f->lock);
	urio__spin_unlock(&f->lock);
	if (f->have_in)
		urio__inotify_fini(&f->in);
	free(f->path);
	free(f);
	cs->follow = NULL;
	cs->at_eof = NULL;
}
