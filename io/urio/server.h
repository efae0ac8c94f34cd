/* urio servers: listeners, an accept loop that runs a task per connection
 * and drains on shutdown, whole-buffer sends, connects with a deadline,
 * and recv into provided buffer rings.
 *
 * Every kernel feature used here (multishot accept, provided buffer rings,
 * zero-copy send) is probed at run time; without it, and on the poll(2)
 * backend, the same calls work through plain ops. Calls that suspend must
 * be made from a task; they return >= 0 or -errno. */
#ifndef URIO_SERVER_H
#define URIO_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- listeners ----------------------------------------------------------- */

/* SO_REUSEPORT: several listeners (one per worker) share the port and the
 * kernel spreads new connections across them. */
#define URIO_LISTEN_REUSEPORT (1u << 0)
/* An IPv6 listener takes IPv6 only (no IPv4-mapped peers). */
#define URIO_LISTEN_V6ONLY (1u << 1)

/* Binds and listens on host:port. host is a numeric IPv4 or IPv6 address
 * (NULL: 0.0.0.0); port 0 picks a free one (see urio_local_port). backlog
 * 0 means SOMAXCONN. Returns a non-blocking, close-on-exec listening fd or
 * -errno (-EINVAL for a host that is not a numeric address). No task needed. */
URIO_API int urio_listen(const char *host, uint16_t port, int backlog,
			 unsigned flags);
/* The port fd is bound to, or -errno. */
URIO_API int urio_local_port(int fd);

/* --- sending and connecting ----------------------------------------------- */

/* Sends all len bytes, looping over short sends, with MSG_NOSIGNAL (a
 * closed peer gives -EPIPE, not SIGPIPE). Returns len, or -errno (some of
 * the bytes may have been sent: -EPIPE, -ECONNRESET, -ECANCELED). */
URIO_API ssize_t urio_send_all(int fd, const void *buf, size_t len, int flags);
/* sendmsg(2) as one op; returns bytes sent (maybe short) or -errno. */
URIO_API ssize_t urio_sendmsg(int fd, const struct msghdr *msg, int flags);
/* Zero-copy send (IORING_OP_SEND_ZC, Linux 6.0+) of all len bytes: the
 * pages are lent to the network stack, and the call returns once the kernel
 * has let go of them, so buf may be reused at once. It pays for large
 * buffers (tens of KiB and up); without the op it is urio_send_all. */
URIO_API ssize_t urio_send_zc(int fd, const void *buf, size_t len, int flags);
/* Connects fd within timeout_ms (0: no deadline); 0, -ETIMEDOUT or -errno. */
URIO_API int urio_connect_timeout(int fd, const struct sockaddr *addr,
				  socklen_t addrlen, uint64_t timeout_ms);
/* A new TCP socket connected to host:port (numeric address) within
 * timeout_ms (0: no deadline), close-on-exec, TCP_NODELAY; fd or -errno. */
URIO_API int urio_dial(const char *host, uint16_t port, uint64_t timeout_ms);

/* --- provided buffer rings -------------------------------------------------
 * Each worker registers a ring of receive buffers with its io_uring the
 * first time one of its tasks calls urio_recv_buf; the kernel picks a
 * buffer only once data has arrived, so thousands of idle connections hold
 * no buffer. When the ring runs dry the call falls back to a plain recv
 * into a buffer of its own: no byte is ever lost. */
typedef struct urio_buf {
	char *data;  /* the bytes received */
	size_t len;  /* how many */
	/* private: */
	void *owner;
	unsigned id;
} urio_buf;

/* Receives into a buffer the kernel picks. Returns bytes (> 0, also in
 * b->len), 0 at end of stream, or -errno; after > 0, hand the buffer back
 * with urio_buf_release once done with its bytes. */
URIO_API ssize_t urio_recv_buf(int fd, urio_buf *b, int flags);
/* Gives b's buffer back to its ring (from any task or thread). */
URIO_API void urio_buf_release(urio_buf *b);
/* Receives, process-wide, that found their ring dry and fell back. */
URIO_API uint64_t urio_buf_dry_count(void);
/* Sizes the rings registered from now on: up to count buffers (a power of
 * two, 1 to 32768) of size bytes (1 to 1 MiB) per worker, allocated 256 at
 * a time as receives find the ring dry. Default 4096 x 4 KiB. 0 or -EINVAL. */
URIO_API int urio_buf_config(unsigned count, size_t size);

/* A connection's receiver with a multishot recv (Linux 6.0) kept armed:
 * one SQE serves many receives, each into a buffer of the worker's ring.
 * Where multishot recv is missing, and on the poll backend, it makes one
 * urio_recv_buf per call. Use it from one task at a time. */
typedef struct urio_reader urio_reader;

/* A reader of fd, recv flags as for recv(2) (MSG_WAITALL is refused).
 * NULL with errno (EINVAL, ENOMEM). Needs no task. */
URIO_API urio_reader *urio_reader_new(int fd, int flags);
/* As urio_recv_buf: bytes (> 0) in *b to release, 0 at end of stream,
 * or -errno. When the ring runs dry the data waits in the socket and is
 * received into a plain buffer: no byte is lost or reordered. */
URIO_API ssize_t urio_reader_recv(urio_reader *r, urio_buf *b);
/* Ends the multishot op (the socket's read side may be shut down for
 * that), gives back buffers received and not returned, frees r. Call
 * from a task while the runtime runs. r may be NULL. */
URIO_API void urio_reader_free(urio_reader *r);

/* --- servers: an accept loop with a task per connection ------------------- */

/* A connection's body: fd is the accepted socket, closed by the server
 * when the body returns. Its result is only counted (stats.conn_errors). */
typedef int (*urio_conn_fn)(int fd, void *arg);

typedef struct urio_server_opts {
	const char *host;   /* numeric address; NULL: 0.0.0.0 */
	uint16_t port;      /* 0: a free port (urio_server_port) */
	int backlog;        /* 0: SOMAXCONN */
	unsigned listeners; /* > 1: that many SO_REUSEPORT listeners, each
			     * with its accept task (one per worker) */
	urio_conn_fn conn;  /* required */
	void *arg;          /* passed to conn */
	size_t stack_size;  /* per connection task; 0: the runtime's */
	unsigned flags;     /* URIO_SERVER_* */
} urio_server_opts;

/* Accept one connection per op even where multishot accept exists. */
#define URIO_SERVER_SINGLE_ACCEPT (1u << 0)

typedef struct urio_server urio_server;

typedef struct urio_server_stats {
	uint64_t accepted, active, conn_errors;
	uint64_t accept_errors;  /* failed accepts, EMFILE/ENFILE included */
	uint64_t fd_backoffs;    /* pauses taken for EMFILE/ENFILE/ENOBUFS */
	unsigned listeners;
	bool multishot;          /* accepts came from a multishot op */
} urio_server_stats;

/* Binds and listens (so the port is known), accepting nothing yet.
 * Needs no task. NULL with errno (EINVAL, EADDRINUSE, ...). */
URIO_API urio_server *urio_server_new(const urio_server_opts *opts);
/* Starts the accept tasks on the calling task's runtime: each accepted
 * connection runs opts->conn in a task of its own. 0 or -errno. */
URIO_API int urio_server_start(urio_server *s);
/* The bound port. */
URIO_API int urio_server_port(const urio_server *s);
/* Stops accepting (closes the listeners), lets the connections finish for
 * up to grace_ms, cancels those still running and waits for them. Call
 * from a task, once. Returns 0, -ECANCELED if the caller was cancelled
 * (the connections were still cancelled and waited for), or -ENOMEM with
 * nothing done (call it again). */
URIO_API int urio_server_drain(urio_server *s, uint64_t grace_ms);
/* Frees s: 0, or -EBUSY (nothing freed) while its accept or connection
 * tasks still run, i.e. before urio_server_drain or the end of the
 * runtime, which cancels them. s may be NULL. */
URIO_API int urio_server_free(urio_server *s);
URIO_API void urio_server_stats_get(const urio_server *s,
				    urio_server_stats *out);

#ifdef __cplusplus
}
#endif
#endif
