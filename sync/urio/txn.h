/* Transactions as scopes: begin, then commit when the body succeeds, or
 * roll back when it fails, is cancelled or runs past a deadline.
 *
 * A transaction is any struct whose first member is a urio_txn (its ops
 * table), so one scope, urio_txn_scope, runs them all under urio_with:
 *
 *	urio_file_txn ft;
 *	urio_file_txn_init(&ft, "app.conf", 0644);
 *	int err = urio_with(&urio_txn_scope, &ft, write_config, cfg);
 *
 * Commit and rollback run shielded: a cancelled task still finishes them.
 * The built-in transaction is the atomic file rewrite (urio_file_txn): a
 * crash at any instant leaves the old file or the new one, never a torn or
 * missing one. */
#ifndef URIO_TXN_H
#define URIO_TXN_H

#include <sys/types.h>
#include <urio/with.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_txn urio_txn;

typedef struct urio_txn_ops {
	int (*begin)(urio_txn *t);  /* < 0: the body does not run */
	int (*commit)(urio_txn *t); /* < 0: rolled back, the error propagates */
	/* Undoes what begin and the body did; err says why (< 0). */
	void (*rollback)(urio_txn *t, int err);
} urio_txn_ops;

struct urio_txn {
	const urio_txn_ops *ops;
};

/* The scope for urio_with; its res is a urio_txn * (or a struct starting
 * with one). exit commits on err >= 0 and returns err, or commit's error
 * after rolling back; on err < 0 it rolls back and returns err. */
URIO_API extern const urio_scope_ops urio_txn_scope;

/* Without urio_with: urio_txn_begin(t), the work, then urio_txn_end(t, err)
 * with the work's result, which commits or rolls back (shielded) and
 * returns what urio_txn_scope's exit returns. begin returns 0 or -errno
 * (-EINVAL for a NULL t or ops); after a failed begin, do not call end. */
URIO_API int urio_txn_begin(urio_txn *t);
URIO_API int urio_txn_end(urio_txn *t, int err);

/* --- atomic file rewrite --------------------------------------------------
 * begin creates a temp file beside the target (same directory, so rename
 * stays within one filesystem); the body writes the new content with
 * urio_file_txn_write; commit fsyncs the temp file, renames it over the
 * target and fsyncs the directory; rollback unlinks the temp file. Every
 * step goes through the ring. A commit that fails before the rename rolls
 * back; one whose last step (the directory's fsync) fails returns its
 * error with the new content already in place, its durability unknown.
 * A process killed mid-transaction leaves its temp file
 * (".<name>.<id>.tmp") behind; the target is never affected. */
typedef struct urio_file_txn {
	urio_txn txn; /* first */
	/* private: */
	const char *path;
	mode_t mode;
	int dirfd, fd, state;
	off_t size;
	char tmp[256];
} urio_file_txn;

/* Prepares t to rewrite path (kept by pointer until the transaction ends)
 * with a file of mode (before the umask). Makes no syscall. */
URIO_API void urio_file_txn_init(urio_file_txn *t, const char *path,
				 mode_t mode);
/* Appends len bytes to the new content (short writes are continued).
 * Returns len or -errno; -EBADF if t is not between begin and end. */
URIO_API ssize_t urio_file_txn_write(urio_file_txn *t, const void *buf,
				     size_t len);
/* The temp file's fd, for positioned writes of one's own (urio_writev,
 * ...), or -EBADF outside the transaction. urio_file_txn_write keeps
 * appending after the last byte it wrote itself. */
URIO_API int urio_file_txn_fd(const urio_file_txn *t);

#ifdef __cplusplus
}
#endif
#endif
