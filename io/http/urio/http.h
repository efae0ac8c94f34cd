/* urio HTTP/1.x request parsing (liburio-http, pkg-config urio-http): bytes
 * in, requests out, over libhttp-parser. Pure parsing, no I/O: a server
 * receives into the parser's buffer (or feeds it), then takes every
 * complete request with urio_http_next, in order (pipelining).
 *
 * A request's pointers point into the parser's buffer and stay valid until
 * the next call on the parser. Limits turn abuse into an error the caller
 * answers and closes on: urio_http_status maps each to its status code. */
#ifndef URIO_HTTP_H
#define URIO_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef URIO_API
#define URIO_API __attribute__((visibility("default")))
#endif

typedef struct urio_http_parser urio_http_parser;

typedef struct urio_http_header {
	const char *name, *value; /* not NUL-terminated */
	size_t name_len, value_len;
} urio_http_header;

typedef struct urio_http_req {
	const char *method;   /* "GET", "POST", ... (NUL-terminated) */
	const char *target;   /* the request target as sent ("/a?b") */
	size_t target_len;
	const urio_http_header *headers;
	unsigned nheaders;
	const char *body;     /* de-chunked; NULL when there is none */
	size_t body_len;
	unsigned char version_major, version_minor;
	bool keep_alive;      /* HTTP/1.1 default or Connection: keep-alive */
	bool head;            /* a HEAD request: answer without a body */
} urio_http_req;

/* Zero fields mean the defaults. */
typedef struct urio_http_limits {
	size_t max_header_bytes; /* request line + headers; 8 KiB */
	unsigned max_headers;    /* 64 */
	size_t max_body_bytes;   /* 1 MiB */
} urio_http_limits;

/* A parser for one connection's requests; lim may be NULL. NULL with errno
 * ENOMEM on failure. */
URIO_API urio_http_parser *urio_http_parser_new(const urio_http_limits *lim);
URIO_API void urio_http_parser_free(urio_http_parser *p);

/* Room to receive into: returns where the next bytes go and sets *room (at
 * least 1 unless a limit is already exceeded, which urio_http_next reports).
 * Follow with urio_http_commit of the bytes received there. */
URIO_API void *urio_http_space(urio_http_parser *p, size_t *room);
/* Records n bytes received at urio_http_space. 0, or -EINVAL past the room. */
URIO_API int urio_http_commit(urio_http_parser *p, size_t n);
/* Copies len bytes in. 0, or the error urio_http_next would give once the
 * bytes exceed a limit. */
URIO_API int urio_http_feed(urio_http_parser *p, const void *data, size_t len);

/* The next complete request: 1 and *req filled, 0 when more bytes are
 * needed, or a sticky error: -EBADMSG malformed (400), -EFBIG body too
 * large (413), -EMSGSIZE headers too large or too many (431),
 * -EOPNOTSUPP an upgrade or CONNECT (501), -EPROTONOSUPPORT not HTTP/1.x
 * (505). */
URIO_API int urio_http_next(urio_http_parser *p, urio_http_req *req);
/* True when bytes of an unfinished request are buffered. */
URIO_API bool urio_http_partial(const urio_http_parser *p);

/* The status code answering an urio_http_next error (500 for others). */
URIO_API int urio_http_status(int err);
/* The reason phrase of a status code ("Not Found"); "" when unknown. */
URIO_API const char *urio_http_reason(int status);

#ifdef __cplusplus
}
#endif
#endif
