/* urio HTTP/1.1 client (liburio-http, pkg-config urio-http): a session
 * keeps a pool of keep-alive connections per host:port; a request returns
 * once the response's headers are in, and its body is read as a stream of
 * chunks (an iterator of urio_slice *) or as one buffer up to a size cap.
 * Framing (Content-Length, chunked, read-until-close, bodiless HEAD, 1xx,
 * 204, 304 responses, Connection: close) is parsed by libhttp-parser.
 *
 * A connection goes back to its pool only when its response was read to
 * the end and both sides keep it alive; one left in an unknown state (an
 * error, a cancel or a timeout mid-response, a body the caller did not
 * read to the end) is closed. An idempotent request that finds its pooled
 * connection closed by the server (a keep-alive timeout) before any byte
 * of the response is retried once on a fresh connection.
 *
 * Pipelining (pipeline_depth > 1): urio_http_fetch calls of GET, HEAD and
 * OPTIONS without a body, nor a Connection, Upgrade, Expect or TE header,
 * share the host's connections with up to pipeline_depth requests in
 * flight on each, the requests of many tasks written in one send and the
 * responses read in order by a task per connection. A caller that is
 * cancelled or times out leaves at once; its response is still read and
 * dropped, so the connection stays in step. Requests left unanswered when
 * the server closes the connection (Connection: close, or the end of the
 * stream before their response's first byte) are sent once more on
 * another connection; the number of requests per connection after which
 * the server said Connection: close is remembered, and no connection is
 * given more. A malformed response fails it and every request behind it
 * on that connection (-EBADMSG, -EMSGSIZE). A connection whose next
 * response takes longer than idle_timeout_ms fails the requests on it
 * with -ETIMEDOUT. Other requests, and urio_http_send, go one at a time
 * on a connection of the pool as without pipelining; pipelined
 * connections are leases of the same pool while requests are in flight.
 *
 * Timeouts: every call below is inside the caller's deadline scopes
 * (<urio/scope.h>) like any suspension, and a request's timeout_ms bounds
 * the whole exchange, from connecting to the body's last byte. Only
 * http:// URLs: no TLS. Call the functions from tasks (-EPERM outside). */
#ifndef URIO_HTTP_CLIENT_H
#define URIO_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <urio/http.h>
#include <urio/iter.h>
#include <urio/lines.h>
#include <urio/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_http_session urio_http_session;
typedef struct urio_http_response urio_http_response;

/* Zero fields mean the defaults. */
typedef struct urio_http_session_opts {
	unsigned max_conns_per_host; /* connections per host:port; 32 */
	uint64_t idle_timeout_ms;    /* idle connections closed after; 30000 */
	uint64_t timeout_ms;         /* default per-request bound; none */
	size_t max_header_bytes;     /* status line + headers; 64 KiB (1 GiB at most) */
	unsigned max_headers;        /* 100 (65536 at most) */
	/* requests in flight per connection for urio_http_fetch of GET,
	 * HEAD, OPTIONS (see above); 0 or 1: no pipelining (1024 at most) */
	unsigned pipeline_depth;
} urio_http_session_opts;

/* A session; opts may be NULL. Call from a task. NULL with errno EPERM
 * (outside a task), EINVAL or ENOMEM. */
URIO_API urio_http_session *urio_http_session_new(
	const urio_http_session_opts *opts);
/* Closes every pooled connection and frees s; from a task. Free the
 * responses and let the requests end first: it waits for the connections
 * they still hold. */
URIO_API void urio_http_session_free(urio_http_session *s);

typedef struct urio_http_request {
	const char *method;          /* NULL: "GET" */
	const char *url;             /* "http://host[:port][/path][?query]" */
	const char *const *headers;  /* "Name: value" strings, NULL-ended; may be NULL */
	const void *body;            /* sent with a Content-Length */
	size_t body_len;
	uint64_t timeout_ms;         /* 0: the session's timeout_ms */
	/* or a body of urio_slice * items sent chunked as they come (body
	 * NULL); read to its end, not closed; such a request is not retried */
	urio_iter *body_iter;
} urio_http_request;

/* Sends req and waits for the response's status and headers: *resp set and
 * the status code (>= 200) returned, or -errno with *resp NULL: -EINVAL (a
 * bad URL, method or header with CR/LF), -EPROTONOSUPPORT (not http://),
 * -ECONNREFUSED and other connect errors, -EHOSTUNREACH, -ECONNRESET (the
 * server closed or reset the connection early), -EBADMSG (a malformed
 * response), -EMSGSIZE (headers past the limits), -ETIMEDOUT (the
 * request's timeout), -ECANCELED (cancelled, or the caller's deadline). */
URIO_API int urio_http_send(urio_http_session *s, const urio_http_request *req,
			    urio_http_response **resp);
/* urio_http_send, then urio_http_response_read_all with max_body: the
 * status code with *resp holding the whole body, or -errno (-E2BIG: the
 * body is longer than max_body) with *resp NULL. */
URIO_API int urio_http_fetch(urio_http_session *s, const urio_http_request *req,
			     size_t max_body, urio_http_response **resp);

/* The status code (200, 404, ...). */
URIO_API int urio_http_response_status(const urio_http_response *r);
/* The value of the first header called name (any case), not
 * NUL-terminated, length in *len (may be NULL); NULL when there is none. */
URIO_API const char *urio_http_response_header(const urio_http_response *r,
					       const char *name, size_t *len);
/* All the headers, in order, into *h (valid until the response is freed):
 * returns how many. */
URIO_API unsigned urio_http_response_headers(const urio_http_response *r,
					     const urio_http_header **h);
/* The Content-Length the server announced, or -1 (chunked, none). */
URIO_API long long urio_http_response_length(const urio_http_response *r);

/* The next piece of the body (de-chunked) into *chunk, valid until the next
 * call on r: 1, 0 at the end (the connection then goes back to the pool),
 * or -errno (sticky: -ECONNRESET if the server closed mid-body, -EBADMSG,
 * -ETIMEDOUT, -ECANCELED; the connection is then closed). */
URIO_API int urio_http_body_next(urio_http_response *r, urio_slice *chunk);
/* The body as an iterator of urio_slice * items (urio_http_body_next). It
 * is part of r: closing it (URIO_FOREACH does) leaves r alone. */
URIO_API urio_iter *urio_http_response_body(urio_http_response *r);
/* Reads the rest of the body into a buffer r owns: 0 and *body set (valid
 * until r is freed; a second call gives the same), -E2BIG once it would
 * pass max bytes, or an error of urio_http_body_next. body may be NULL. */
URIO_API int urio_http_response_read_all(urio_http_response *r, size_t max,
					 urio_slice *body);
/* Frees r (NULL is ignored). A connection whose body was not read to the
 * end is closed, not pooled. */
URIO_API void urio_http_response_free(urio_http_response *r);

/* Counters of the session, summed over its hosts. */
typedef struct urio_http_stats {
	uint64_t requests;    /* sent, retries included */
	uint64_t retries;     /* stale pooled connections retried */
	uint64_t connects;    /* connections opened */
	uint64_t reused;      /* requests on a connection used before */
	uint64_t discarded;   /* connections closed before their response ended */
	uint64_t pipelined;   /* requests sent pipelined, retries included */
} urio_http_stats;

/* A snapshot of s's counters (from any thread); out NULL does nothing. */
URIO_API void urio_http_session_stats(urio_http_session *s,
				      urio_http_stats *out);

#ifdef __cplusplus
}
#endif
#endif
