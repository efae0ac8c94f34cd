/* Internal to the HTTP client: the session's hosts and pooled connections
 * (client.c), requests (request.c) and the response being read off one of
 * them (response.c). */
#ifndef URIO_HTTP_CLIENT_INT_H
#define URIO_HTTP_CLIENT_INT_H

#include <http_parser.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <urio/http_client.h>
#include <urio/scope.h>
#include <urio/sync.h>

#define HOST_MAX_ADDRS 4

struct http_host {
	struct http_host *next; /* the session's list; immutable once published */
	urio_http_session *s;
	char *name;             /* as in the URL, brackets of IPv6 dropped */
	uint16_t port;
	char *host_hdr;         /* "Host: name[:port]\r\n" */
	size_t host_hdr_len;
	urio_pool *pool;
	struct http_pipe *pipe; /* pipelined requests (pipe.c); NULL: off */
	unsigned naddr;
	socklen_t addr_len[HOST_MAX_ADDRS];
	struct sockaddr_storage addr[HOST_MAX_ADDRS];
};

/* A pooled connection. */
struct http_conn {
	int fd;
	unsigned uses;           /* requests sent on it */
	uint64_t released_ns;    /* when it last went back to the pool */
	struct http_host *h;
};

struct urio_http_session {
	urio_http_session_opts o;
	struct http_host *_Atomic hosts; /* pairs with the release in host_add */
	urio_mutex adding;
	atomic_uint_fast64_t requests, retries, connects, reused, discarded;
	atomic_uint_fast64_t pipelined;
};

struct hdr_off {
	uint32_t name, name_len, value, value_len;
};

struct urio_http_response {
	urio_iter it;            /* urio_http_response_body */
	urio_http_session *s;
	struct http_conn *c;     /* NULL once back in the pool or closed */
	http_parser hp;
	int status;
	int err;                 /* sticky */
	bool head;               /* a HEAD request: no body follows */
	bool piped;              /* read by a pipelined connection's reader,
				    which keeps the connection */
	bool nobody;             /* HEAD, 204, 304: none whatever the headers */
	bool headers_done, complete, keep_alive;
	uint64_t deadline_ns;    /* 0: none of the request's own */
	long long length;        /* Content-Length, or -1 */
	/* buf holds the status line and headers from 0 to hend, then one
	 * round of received body bytes, de-chunked in place from hend */
	char *buf;
	size_t cap, len, parsed, hend, out;
	size_t got;              /* response bytes received in all */
	unsigned nhdr, max_hdr;
	bool in_value;
	struct hdr_off *hoff;
	urio_http_header *hdrs;
	urio_slice item;         /* the iterator's current item */
	char *all;               /* urio_http_response_read_all's buffer */
	size_t all_len, all_cap;
	urio_slice whole;        /* its result, returned again when asked */
	bool have_whole;
};

struct http_target {
	const char *host, *path; /* path: with the query, without a fragment */
	size_t host_len, path_len;
	uint16_t port;
};

/* request.c: url taken apart into *t (0, -EINVAL, -EPROTONOSUPPORT); an
 * HTTP token; a method that may be sent twice; the head (and a small
 * body) of req written into r->buf (0, -EINVAL, -ENOMEM); the head and
 * the body sent on r's connection (0 or -errno). */
int urio__http_parse_url(const char *url, struct http_target *t);
bool urio__http_token(const char *s, size_t n);
bool urio__http_idempotent(const char *m);
int urio__http_build(urio_http_response *r, const urio_http_request *req,
		     const char *method, const struct http_target *t,
		     struct http_host *h);
int urio__http_write(urio_http_response *r, const urio_http_request *req,
		     size_t head_len);
int urio__http_send_all(int fd, const char *p, size_t n, int flags);

/* client.c: a connection of h's pool; after a stale one failed at fail_ns
 * (0: none), one idle since before then is closed rather than tried. */
int urio__http_acquire(struct http_host *h, uint64_t fail_ns,
		       struct http_conn **c);
void urio__http_bump(atomic_uint_fast64_t *counter);

/* pipe.c: the pipelining state of h (depth > 1), or NULL with errno; its
 * end, once no request is in it (cancels and waits for its readers; from
 * a task); whether req may be pipelined; a built request (its head in
 * r->buf, head_len bytes) sent pipelined and its response read whole (up
 * to max_body): the status with *resp set, or -errno. r is consumed. */
struct http_pipe *urio__http_pipe_new(struct http_host *h, unsigned depth);
void urio__http_pipe_free(struct http_pipe *p);
bool urio__http_pipelinable(const urio_http_request *req, const char *method);
int urio__http_pipe_fetch(struct http_pipe *p, urio_http_response *r,
			  size_t head_len, size_t max_body,
			  urio_http_response **resp);

/* Reads until the response's status and headers are in: 0 or -errno;
 * -ECONNRESET with r->got 0 means the server closed before answering. */
int urio__http_read_head(urio_http_response *r);
/* Gives r's connection back: to the pool when reusable, else closed. */
void urio__http_release(urio_http_response *r, bool reusable);
/* Allocates r with a buffer of at least cap bytes (NULL: ENOMEM). */
urio_http_response *urio__http_response_new(urio_http_session *s, size_t cap);
/* Makes room for n bytes in r->buf: 0 or -ENOMEM. */
int urio__http_reserve(urio_http_response *r, size_t n);
/* Enters r's own deadline scope (if any) / exits it, turning err into
 * -ETIMEDOUT when that scope fired. */
void urio__http_enter(urio_http_response *r, urio_deadline *d);
int urio__http_exit(urio_http_response *r, urio_deadline *d, int err);

#endif
