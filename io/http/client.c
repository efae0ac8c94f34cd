/* HTTP/1.1 client session: hosts, their connection pools, sending.
 *
 * A session keeps one urio_pool of connections per host:port. Hosts are
 * added under a mutex (resolution may suspend) and published on an
 * append-only list that requests walk without a lock: a session talks to
 * few hosts, and the lookup is on every request.
 *
 * The request (request.c) is written into the response's buffer, which
 * then receives the response: one allocation per exchange. Stale connections:
 * the pool's check (a non-blocking peek) finds most connections the server
 * closed while they idled; the rest fail at once with EOF or a reset and
 * no response byte, and an idempotent request is then sent once more. The
 * pool hands out the most recently released connection first, so every
 * other connection idle since before the failure idled longer than the
 * one the server just closed: the retry closes those instead of trying
 * them. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/offload.h>

#include "client.h"

#define DEF_MAX_CONNS 32u
#define DEF_IDLE_MS 30000u
#define DEF_MAX_HEADER_BYTES (64u << 10)
#define DEF_MAX_HEADERS 100u
#define HEAD_CAP 4096u     /* request head, then the response's start */
#define TRUST_NS 50000000u /* pooled connections idle less are not peeked at */

void urio__http_bump(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

#define bump urio__http_bump

/* --- connections ----------------------------------------------------------- */

static void close_fd(int fd)
{
	if (urio_close(fd) == -EPERM) /* not in a task */
		close(fd);
}

static int conn_create(void *ctx, void **res)
{
	struct http_host *h = ctx;
	int err = -EHOSTUNREACH;
	for (unsigned i = 0; i < h->naddr; i++) {
		int fd = urio_socket(h->addr[i].ss_family,
				     SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fd;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		err = urio_connect(fd, (struct sockaddr *)&h->addr[i],
				   h->addr_len[i]);
		if (err == 0) {
			struct http_conn *c = calloc(1, sizeof(*c));
			if (!c) {
				close_fd(fd);
				return -ENOMEM;
			}
			c->fd = fd;
			c->h = h;
			bump(&h->s->connects);
			*res = c;
			return 0;
		}
		close_fd(fd); /* the pool shields destroy, not create */
		if (err == -ECANCELED)
			return err;
	}
	return err;
}

static void conn_destroy(void *ctx, void *res)
{
	struct http_conn *c = res;
	close_fd(c->fd);
	free(c);
}

/* A connection the server closed (EOF), reset, or that holds bytes nobody
 * asked for is broken. One back from a request moments ago is taken as it
 * is: servers close idle connections after seconds, a peek is a syscall
 * per request under load, and the retry covers the rare early close. */
static int conn_check(void *ctx, void *res)
{
	struct http_conn *c = res;
	if (urio_now_ns() - c->released_ns < TRUST_NS)
		return 0;
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return -EPIPE;
	if (n > 0)
		return -EPROTO;
	return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
}

static const urio_pool_ops conn_ops = {conn_create, conn_destroy, conn_check};

void urio__http_release(urio_http_response *r, bool reusable)
{
	struct http_conn *c = r->c;
	if (!c || r->piped) /* a pipelined one is its reader's to give back */
		return;
	r->c = NULL;
	if (!r->complete)
		bump(&r->s->discarded);
	c->released_ns = urio_now_ns();
	urio_pool_release(c->h->pool, c, reusable ? 0 : -EPIPE);
}

/* --- hosts ----------------------------------------------------------------- */

static void add_addr(struct http_host *h, const void *sa, socklen_t len)
{
	if (h->naddr < HOST_MAX_ADDRS && len <= sizeof(h->addr[0])) {
		memcpy(&h->addr[h->naddr], sa, len);
		h->addr_len[h->naddr++] = len;
	}
}

/* Runs on the offload pool: getaddrinfo blocks. */
static intptr_t resolve(void *arg)
{
	struct http_host *h = arg;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai;
	char port[8];
	snprintf(port, sizeof(port), "%u", (unsigned)h->port);
	if (getaddrinfo(h->name, port, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	for (struct addrinfo *a = ai; a; a = a->ai_next)
		add_addr(h, a->ai_addr, a->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static int lookup(struct http_host *h)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET,
				 .sin_port = htons(h->port)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6,
				  .sin6_port = htons(h->port)};
	if (inet_pton(AF_INET, h->name, &v4.sin_addr) == 1)
		add_addr(h, &v4, sizeof(v4));
	else if (inet_pton(AF_INET6, h->name, &v6.sin6_addr) == 1)
		add_addr(h, &v6, sizeof(v6));
	else {
		intptr_t err = urio_offload(resolve, h);
		if (err < 0)
			return (int)err;
	}
	return h->naddr ? 0 : -EHOSTUNREACH;
}

static void host_free(struct http_host *h)
{
	urio__http_pipe_free(h->pipe);
	if (h->pool)
		urio_pool_free(h->pool);
	free(h->host_hdr);
	free(h->name);
	free(h);
}

static struct http_host *host_find(urio_http_session *s, const char *name,
				   size_t len, uint16_t port)
{
	struct http_host *h = atomic_load_explicit(&s->hosts,
						   memory_order_acquire);
	for (; h; h = h->next)
		if (h->port == port && !strncasecmp(h->name, name, len) &&
		    !h->name[len])
			return h;
	return NULL;
}

/* "Host: name[:port]\r\n", an IPv6 address in brackets. */
static int host_header(struct http_host *h)
{
	bool v6 = strchr(h->name, ':') != NULL;
	int n = asprintf(&h->host_hdr,
			 h->port == 80 ? "Host: %s%s%s\r\n" : "Host: %s%s%s:%u\r\n",
			 v6 ? "[" : "", h->name, v6 ? "]" : "",
			 (unsigned)h->port);
	if (n < 0) {
		h->host_hdr = NULL;
		return -ENOMEM;
	}
	h->host_hdr_len = (size_t)n;
	return 0;
}

static int host_make(urio_http_session *s, const char *name, size_t len,
		     uint16_t port, struct http_host **out)
{
	struct http_host *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->s = s;
	h->port = port;
	h->name = strndup(name, len);
	int err = h->name ? host_header(h) : -ENOMEM;
	if (err == 0)
		err = lookup(h);
	if (err < 0)
		goto fail;
	urio_pool_opts po = {.max_size = s->o.max_conns_per_host,
			     .idle_timeout_ms = s->o.idle_timeout_ms};
	h->pool = urio_pool_new(&conn_ops, h, &po);
	if (!h->pool) {
		err = -errno;
		goto fail;
	}
	if (s->o.pipeline_depth > 1 &&
	    !(h->pipe = urio__http_pipe_new(h, s->o.pipeline_depth))) {
		err = -errno;
		goto fail;
	}
	*out = h;
	return 0;
fail:
	host_free(h);
	return err;
}

/* The host name:port of s, added on first use. */
static int host_get(urio_http_session *s, const char *name, size_t len,
		    uint16_t port, struct http_host **out)
{
	*out = host_find(s, name, len, port);
	if (*out)
		return 0;
	int err = urio_mutex_lock(&s->adding);
	if (err < 0)
		return err;
	*out = host_find(s, name, len, port);
	if (!*out) {
		err = host_make(s, name, len, port, out);
		if (err == 0) {
			(*out)->next = atomic_load_explicit(
				&s->hosts, memory_order_relaxed);
			/* pairs with the acquire in host_find */
			atomic_store_explicit(&s->hosts, *out,
					      memory_order_release);
		}
	}
	urio_mutex_unlock(&s->adding);
	return err;
}

/* --- session --------------------------------------------------------------- */

urio_http_session *urio_http_session_new(const urio_http_session_opts *opts)
{
	if (!urio_self()) {
		errno = EPERM;
		return NULL;
	}
	urio_http_session *s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	if (opts)
		s->o = *opts;
	/* header offsets are 32 bits; the limits are for abuse, not size */
	if (s->o.max_header_bytes > (1u << 30) || s->o.max_headers > 65536 ||
	    s->o.pipeline_depth > 1024) {
		free(s);
		errno = EINVAL;
		return NULL;
	}
	if (!s->o.max_conns_per_host)
		s->o.max_conns_per_host = DEF_MAX_CONNS;
	if (!s->o.idle_timeout_ms)
		s->o.idle_timeout_ms = DEF_IDLE_MS;
	if (!s->o.max_header_bytes)
		s->o.max_header_bytes = DEF_MAX_HEADER_BYTES;
	if (!s->o.max_headers)
		s->o.max_headers = DEF_MAX_HEADERS;
	urio_mutex_init(&s->adding);
	return s;
}

void urio_http_session_free(urio_http_session *s)
{
	if (!s)
		return;
	struct http_host *h = atomic_load(&s->hosts);
	while (h) {
		struct http_host *next = h->next;
		host_free(h);
		h = next;
	}
	free(s);
}

void urio_http_session_stats(urio_http_session *s, urio_http_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->requests = atomic_load_explicit(&s->requests, memory_order_relaxed);
	out->retries = atomic_load_explicit(&s->retries, memory_order_relaxed);
	out->connects = atomic_load_explicit(&s->connects, memory_order_relaxed);
	out->reused = atomic_load_explicit(&s->reused, memory_order_relaxed);
	out->discarded = atomic_load_explicit(&s->discarded,
					      memory_order_relaxed);
	out->pipelined = atomic_load_explicit(&s->pipelined,
					      memory_order_relaxed);
}

/* --- sending ---------------------------------------------------------------- */

int urio__http_acquire(struct http_host *h, uint64_t fail_ns,
		       struct http_conn **c)
{
	unsigned tries = h->s->o.max_conns_per_host + 1;
	for (;;) {
		void *res;
		int err = urio_pool_acquire(h->pool, &res);
		if (err < 0)
			return err;
		*c = res;
		if (!fail_ns || !(*c)->uses || (*c)->released_ns > fail_ns ||
		    !--tries)
			return 0;
		urio_pool_release(h->pool, res, -ESTALE);
	}
}

/* One attempt: a connection, the request, the response's head. */
static int exchange(urio_http_response *r, struct http_host *h,
		    const urio_http_request *req, size_t head_len,
		    uint64_t fail_ns, bool *stale)
{
	*stale = false;
	int err = urio__http_acquire(h, fail_ns, &r->c);
	if (err < 0)
		return err;
	bool reused = r->c->uses++ > 0;
	bump(&r->s->requests);
	if (reused)
		bump(&r->s->reused);
	err = urio__http_write(r, req, head_len);
	if (err == 0) {
		r->len = r->parsed = 0;
		err = urio__http_read_head(r);
	}
	/* the server closed it as the request went out: nothing of it was
	 * taken in hand, as far as HTTP can tell */
	*stale = reused && !r->got &&
		 (err == -EPIPE || err == -ECONNRESET);
	return err;
}

/* Checks req and makes the record of its exchange, with the deadline of
 * its timeout: 0 and *rp, or -errno. */
static int prepare(urio_http_session *s, const urio_http_request *req,
		   const char **method, struct http_target *t,
		   urio_http_response **rp)
{
	if (!s || !req || (req->body_len && !req->body) ||
	    (req->body_iter && req->body))
		return -EINVAL;
	if (!urio_self())
		return -EPERM;
	*method = req->method ? req->method : "GET";
	if (!urio__http_token(*method, strlen(*method)))
		return -EINVAL;
	int err = urio__http_parse_url(req->url, t);
	if (err < 0)
		return err;
	urio_http_response *r = urio__http_response_new(s, HEAD_CAP);
	if (!r)
		return -ENOMEM;
	r->head = !strcmp(*method, "HEAD");
	uint64_t ms = req->timeout_ms ? req->timeout_ms : s->o.timeout_ms;
	uint64_t now = urio_now_ns();
	if (ms && ms < (UINT64_MAX - now) / 1000000u) /* else: never */
		r->deadline_ns = now + ms * 1000000u;
	*rp = r;
	return 0;
}

int urio_http_send(urio_http_session *s, const urio_http_request *req,
		   urio_http_response **resp)
{
	if (resp)
		*resp = NULL;
	if (!resp)
		return -EINVAL;
	const char *method;
	struct http_target t;
	urio_http_response *r;
	int err = prepare(s, req, &method, &t, &r);
	if (err < 0)
		return err;
	urio_deadline d;
	urio__http_enter(r, &d);
	struct http_host *h;
	err = host_get(s, t.host, t.host_len, t.port, &h);
	if (err == 0)
		err = urio__http_build(r, req, method, &t, h);
	size_t head_len = r->len;
	uint64_t fail_ns = 0;
	for (int attempt = 0; err == 0; attempt++) {
		bool stale;
		err = exchange(r, h, req, head_len, fail_ns, &stale);
		if (err == 0 || !stale || attempt || req->body_iter ||
		    !urio__http_idempotent(method))
			break;
		urio__http_release(r, false);
		fail_ns = urio_now_ns();
		bump(&s->retries);
		/* the head again: the failed attempt received over it */
		r->len = 0;
		err = urio__http_build(r, req, method, &t, h);
	}
	err = urio__http_exit(r, &d, err);
	if (err < 0) {
		r->err = err;
		urio_http_response_free(r);
		return err;
	}
	*resp = r;
	return r->status;
}

/* urio_http_fetch of a request that may be pipelined, on a session that
 * pipelines: the reader of a connection reads the response, so the
 * deadline is the caller's alone (r may be gone when it fires). */
static int fetch_piped(urio_http_session *s, const urio_http_request *req,
		       size_t max_body, urio_http_response **resp)
{
	const char *method;
	struct http_target t;
	urio_http_response *r;
	int err = prepare(s, req, &method, &t, &r);
	if (err < 0)
		return err;
	uint64_t dl = r->deadline_ns;
	r->deadline_ns = 0;
	urio_deadline d;
	if (dl)
		urio_timeout_enter_at(&d, dl);
	struct http_host *h;
	err = host_get(s, t.host, t.host_len, t.port, &h);
	if (err == 0)
		err = urio__http_build(r, req, method, &t, h);
	if (err == 0)
		err = urio__http_pipe_fetch(h->pipe, r, r->len, max_body, resp);
	else
		urio_http_response_free(r);
	if (dl) {
		int te = urio_timeout_exit(&d);
		if (err < 0 && te == -ETIMEDOUT)
			err = -ETIMEDOUT;
	}
	return err;
}

int urio_http_fetch(urio_http_session *s, const urio_http_request *req,
		    size_t max_body, urio_http_response **resp)
{
	if (resp)
		*resp = NULL;
	if (s && req && resp && s->o.pipeline_depth > 1 &&
	    urio__http_pipelinable(req, req->method ? req->method : "GET"))
		return fetch_piped(s, req, max_body, resp);
	int status = urio_http_send(s, req, resp);
	if (status < 0)
		return status;
	int err = urio_http_response_read_all(*resp, max_body, NULL);
	if (err < 0) {
		urio_http_response_free(*resp);
		*resp = NULL;
		return err;
	}
	return status;
}
