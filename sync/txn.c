/* Transactions (the generic scope) and the atomic file rewrite.
 *
 * The file rewrite is the classic temp-file-and-rename: rename(2) replaces
 * the target atomically, so readers and a crash see the old inode or the
 * new one. The temp file is fsynced before the rename, or a crash after
 * the rename could leave a renamed but empty file (the ext4 delayed
 * allocation lesson); the directory is fsynced after it, or the rename
 * itself may not survive a power loss. The temp file lives in the target's
 * directory because rename cannot cross filesystems. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/scope.h>
#include <urio/txn.h>

/* --- the generic scope --------------------------------------------------- */

int urio_txn_begin(urio_txn *t)
{
	if (!t || !t->ops)
		return -EINVAL;
	return t->ops->begin ? t->ops->begin(t) : 0;
}

/* Commit or roll back; the caller shields. */
static int finish(urio_txn *t, int err)
{
	if (err >= 0) {
		int c = t->ops->commit ? t->ops->commit(t) : 0;
		if (c >= 0)
			return err;
		err = c;
	}
	if (t->ops->rollback)
		t->ops->rollback(t, err);
	return err;
}

int urio_txn_end(urio_txn *t, int err)
{
	if (!t || !t->ops)
		return -EINVAL;
	if (err >= 0 && urio_cancelled())
		err = -ECANCELED; /* as urio_with: a cancelled body never commits */
	urio_shield sh;
	urio_shield_enter(&sh);
	err = finish(t, err);
	urio_shield_exit(&sh);
	return err;
}

static int scope_enter(void *res)
{
	return urio_txn_begin(res);
}

static int scope_exit(void *res, int err)
{
	return finish(res, err); /* urio_with shields exit */
}

const urio_scope_ops urio_txn_scope = {scope_enter, scope_exit};

/* --- atomic file rewrite ------------------------------------------------- */

enum { IDLE, OPEN };

static _Atomic unsigned tmp_seq;

/* Closes fd even in a cancelled task (cleanup must not leak it). */
static void close_shielded(int fd)
{
	urio_shield sh;
	urio_shield_enter(&sh);
	urio_close(fd);
	urio_shield_exit(&sh);
}

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Opens the directory path lives in; returns the fd or -errno. */
static int open_dir(const char *path)
{
	const char *base = base_of(path);
	if (base == path)
		return urio_open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	size_t n = (size_t)(base - path) - 1;
	if (n == 0)
		return urio_open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	char *dir = strndup(path, n);
	if (!dir)
		return -ENOMEM;
	int fd = urio_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	free(dir);
	return fd;
}

/* Creates a temp file in dirfd with a name no other process or
 * transaction uses; returns its fd or -errno. */
static int create_tmp(urio_file_txn *t, const char *base)
{
	for (int tries = 0; tries < 64; tries++) {
		unsigned seq = atomic_fetch_add(&tmp_seq, 1);
		snprintf(t->tmp, sizeof(t->tmp), ".%.200s.%x-%x.tmp", base,
			 (unsigned)getpid(), seq);
		int fd = urio_openat(t->dirfd, t->tmp,
				     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				     t->mode);
		if (fd != -EEXIST) /* a killed process's leftover */
			return fd;
	}
	return -EEXIST;
}

static int file_begin(urio_txn *txn)
{
	urio_file_txn *t = (urio_file_txn *)txn;
	if (!t->path)
		return -EFAULT;
	if (t->state != IDLE)
		return -EBUSY;
	const char *base = base_of(t->path);
	if (!*t->path)
		return -ENOENT;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EISDIR;
	if (strlen(base) > NAME_MAX)
		return -ENAMETOOLONG;
	t->dirfd = open_dir(t->path);
	if (t->dirfd < 0)
		return t->dirfd;
	t->fd = create_tmp(t, base);
	if (t->fd < 0) {
		int err = t->fd;
		close_shielded(t->dirfd);
		t->dirfd = -1;
		return err;
	}
	t->size = 0;
	t->state = OPEN;
	return 0;
}

static int file_commit(urio_txn *txn)
{
	urio_file_txn *t = (urio_file_txn *)txn;
	int r = urio_fsync(t->fd, 0);
	if (r < 0)
		return r;
	r = urio_close(t->fd);
	t->fd = -1;
	if (r < 0)
		return r;
	r = urio_renameat(t->dirfd, t->tmp, t->dirfd, base_of(t->path), 0);
	if (r < 0)
		return r;
	/* the temp name is gone: from here on there is nothing to undo */
	t->state = IDLE;
	r = urio_fsync(t->dirfd, 0);
	urio_close(t->dirfd);
	t->dirfd = -1;
	return r;
}

static void file_rollback(urio_txn *txn, int err)
{
	urio_file_txn *t = (urio_file_txn *)txn;
	if (t->fd >= 0)
		urio_close(t->fd);
	t->fd = -1;
	if (t->state == OPEN)
		urio_unlinkat(t->dirfd, t->tmp, 0);
	if (t->dirfd >= 0)
		urio_close(t->dirfd);
	t->dirfd = -1;
	t->state = IDLE;
}

static const urio_txn_ops file_ops = {file_begin, file_commit,
				      file_rollback};

void urio_file_txn_init(urio_file_txn *t, const char *path, mode_t mode)
{
	if (!t)
		return;
	memset(t, 0, sizeof(*t));
	t->txn.ops = &file_ops;
	t->path = path;
	t->mode = mode;
	t->dirfd = -1;
	t->fd = -1;
	t->state = IDLE;
}

ssize_t urio_file_txn_write(urio_file_txn *t, const void *buf, size_t len)
{
	if (!t || t->state != OPEN || t->fd < 0)
		return -EBADF;
	if (!buf && len)
		return -EFAULT;
	if (len > SSIZE_MAX)
		return -EINVAL;
	size_t done = 0;
	while (done < len) {
		ssize_t n = urio_write(t->fd, (const char *)buf + done,
				       len - done, t->size);
		if (n < 0)
			return n;
		if (n == 0)
			return -EIO; /* a regular file that takes nothing */
		done += (size_t)n;
		t->size += n;
	}
	return (ssize_t)len;
}

int urio_file_txn_fd(const urio_file_txn *t)
{
	return t && t->state == OPEN && t->fd >= 0 ? t->fd : -EBADF;
}
