/* File streaming: chunks and lines of a file, a pipe or stdin, in bounded
 * memory, with the next reads already in flight while the caller works on
 * the current chunk.
 *
 * A chunk is a zero-copy view of the iterator's read buffer, valid until
 * the next call on the iterator. Lines are views into the chunk; a line
 * crossing a chunk border is joined into a buffer of max_line bytes; a
 * longer line is an -E2BIG item and iteration goes on after it. */
#ifndef URIO_LINES_H
#define URIO_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <urio/iter.h>
#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_slice {
	const char *ptr;
	size_t len;
} urio_slice;

/* Options of the chunk and line iterators; zero fields mean defaults. */
typedef struct urio_lines_opts {
	size_t chunk_size;  /* bytes per read; 0 = 256 KiB (O_DIRECT: rounded
			       up to the 4 KiB alignment) */
	size_t max_line;    /* longest line; 0 = 1 MiB; longer: -E2BIG */
	unsigned readahead; /* reads in flight beyond the current chunk, 1 or
			       2; 0 = 2 (pipes and stdin: always 1) */
	bool direct;        /* O_DIRECT reads into aligned buffers, where the
			       file system allows them (else buffered) */
	bool follow;        /* tail -F: at EOF wait for more (inotify), also
			       across rotation by rename or copy + truncate;
			       ended by urio_lines_stop / urio_chunks_stop,
			       cancellation or a deadline */
	off_t start;        /* first byte read (regular files) */
	bool no_lineno;     /* urio_lines_lineno is not kept (0): blocks are
			       not scanned for their line count, a pass over
			       the data that scanners never asking save */
} urio_lines_opts;

/* --- chunks --------------------------------------------------------------- */
typedef struct urio_chunks urio_chunks;

/* Opens path ("-": stdin) for chunked reading. NULL with errno: EINVAL
 * (bad opts), ESPIPE (follow on a pipe), ENOMEM, EPERM (not in a task), or
 * open's error. Call from a task; errno is set after the open's last
 * suspension, on the thread the task resumed on. */
URIO_API urio_chunks *urio_chunks_open(const char *path,
				       const urio_lines_opts *opts);
/* The same over fd, which the iterator does not close. */
URIO_API urio_chunks *urio_chunks_open_fd(int fd, const urio_lines_opts *opts);
/* 1 with the next chunk (never empty; valid until the next call), 0 at EOF,
 * < 0 a read error (reported once, then 0) or -ECANCELED. */
URIO_API int urio_chunks_next(urio_chunks *cs, urio_slice *chunk);
/* Offset in the file just past the last chunk returned. */
URIO_API uint64_t urio_chunks_offset(const urio_chunks *cs);
/* Ends a follower (opts.follow) from any task or thread: its next returns
 * what is left up to the end of the file (a last line not yet ended by a
 * newline is a line, as at any end), then 0, also waking one waiting at
 * EOF (at once with inotify; within a quarter second when it polls). No
 * effect without follow mode. Call it before cs is closed; the consumer
 * may close cs once its next returned, even while stop is returning. */
URIO_API void urio_chunks_stop(urio_chunks *cs);
/* Waits for the reads in flight (cancelling them) and frees cs. Call it
 * from the task that iterates cs, not while a next runs (see stop). */
URIO_API void urio_chunks_close(urio_chunks *cs);
/* cs as an iterator of urio_slice * items (owned by it). */
URIO_API urio_iter *urio_chunks_iter(urio_chunks *cs);

/* --- lines ---------------------------------------------------------------- */
typedef struct urio_lines urio_lines;

/* As urio_chunks_open, for line iteration. */
URIO_API urio_lines *urio_lines_open(const char *path,
				     const urio_lines_opts *opts);
URIO_API urio_lines *urio_lines_open_fd(int fd, const urio_lines_opts *opts);
/* 1 with the next line (without its \n or \r\n; valid until the next call),
 * 0 at EOF, -E2BIG for a line longer than max_line (skipped; the next call
 * goes on after it), other < 0: a read error (reported once, then 0). A
 * last line without a final newline is a line. */
URIO_API int urio_lines_next(urio_lines *ls, urio_slice *line);
/* A block of whole lines: every line in it ends with \n, except the last
 * block's last line if the file has no final newline (nothing stripped),
 * valid until the next call. Same results as urio_lines_next; a block ends
 * before a line longer than max_line, which is an -E2BIG item of its own.
 * Do not mix with urio_lines_next on one iterator. For scanners that
 * search a block first and find line bounds only around matches. */
URIO_API int urio_lines_next_block(urio_lines *ls, urio_slice *block);
/* 1-based number of the last line returned or reported -E2BIG (after a
 * block: its last line's). */
URIO_API uint64_t urio_lines_lineno(const urio_lines *ls);
/* As urio_chunks_stop: a follower's next returns the lines left, then 0. */
URIO_API void urio_lines_stop(urio_lines *ls);
/* As urio_chunks_close. */
URIO_API void urio_lines_close(urio_lines *ls);
/* ls as an iterator of urio_slice * items (owned by it). */
URIO_API urio_iter *urio_lines_iter(urio_lines *ls);

#ifdef __cplusplus
}
#endif
#endif
