/* HTTP client against a misbehaving server run here as urio tasks (its
 * requests parsed by urio-http's own parser), on 1 and 2 workers: a body
 * cut short (Content-Length and chunked) gives -ECONNRESET and the pool
 * stays healthy; chunk framing split across segments, trailers, 1xx
 * before the answer, a 304 with a Content-Length, a body that runs to the
 * close, bytes past the response (the connection is not reused),
 * malformed and oversized heads, a host name; a pooled connection the server closes as
 * the next request arrives is retried once for GET, not for POST; POST
 * bodies (a buffer, or an iterator's pieces sent chunked) echoed back
 * chunked; a server that never answers, under the
 * request's timeout, a deadline scope and a cancel; all of these at once
 * from many tasks over 2 connections. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <urio.h>
#include <urio/http_client.h>

#include "http_server.h"

static int lfd;
static uint16_t port;
static atomic_int accepted, hanging, oneshot;

/* --- the server ------------------------------------------------------------- */

static bool say(int fd, const char *s, size_t n)
{
	return urio_send_all(fd, s, n, MSG_NOSIGNAL) == (ssize_t)n;
}

static bool says(int fd, const char *s)
{
	return say(fd, s, strlen(s));
}

/* One chunk of a chunked body (none when n is 0: that would end it). */
static bool chunk(int fd, const char *p, size_t n)
{
	char size[32];
	int k = snprintf(size, sizeof(size), "%zx\r\n", n);
	return !n || (say(fd, size, (size_t)k) && say(fd, p, n) &&
		      says(fd, "\r\n"));
}

static bool is(const urio_http_req *q, const char *path)
{
	return q->target_len == strlen(path) &&
	       !memcmp(q->target, path, q->target_len);
}

/* Pieces sent one by one, framing split mid-line. */
static const char *const trickle[] = {
	"HTTP/1.1 200 OK\r\nTransfer-Enc", "oding: chunked\r\n\r\n5\r",
	"\nhel", "lo\r\n6;ext=1\r\n wo", "rld\r\n0\r\nX-Trailer: 1\r\n", "\r\n",
};

/* Answers q; false: close the connection now. */
static bool respond(int fd, const urio_http_req *q)
{
	char buf[4096];
	if (is(q, "/ok"))
		return says(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	if (is(q, "/early")) {
		memset(buf, 'x', 100);
		says(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
		say(fd, buf, 100);
		return false;
	}
	if (is(q, "/early-chunked")) {
		says(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "5\r\nhello\r\n");
		return false;
	}
	if (is(q, "/hang")) {
		atomic_fetch_add(&hanging, 1);
		while (urio_recv(fd, buf, sizeof(buf), 0) > 0)
			;
		return false;
	}
	if (is(q, "/trickle")) {
		for (size_t i = 0; i < sizeof(trickle) / sizeof(*trickle); i++) {
			if (!says(fd, trickle[i]))
				return false;
			urio_sleep_ms(2); /* separate segments, most likely */
		}
		return true;
	}
	if (is(q, "/extra"))
		return says(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokXX");
	if (is(q, "/eof")) {
		says(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil ");
		says(fd, "the close");
		return false;
	}
	if (is(q, "/100"))
		return says(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
				"Content-Length: 2\r\n\r\nok");
	if (is(q, "/304"))
		return says(fd, "HTTP/1.1 304 Not Modified\r\n"
				"Content-Length: 1234\r\n\r\n");
	if (is(q, "/bad")) {
		says(fd, "HELLO WORLD\r\n\r\n");
		return false;
	}
	if (is(q, "/bighdr")) {
		memset(buf, 'a', 3000);
		says(fd, "HTTP/1.1 200 OK\r\nX-Big: ");
		say(fd, buf, 3000);
		return says(fd, "\r\nContent-Length: 0\r\n\r\n");
	}
	if (is(q, "/manyhdr")) {
		says(fd, "HTTP/1.1 200 OK\r\n");
		for (int i = 0; i < 20; i++)
			says(fd, "X-H: 1\r\n");
		return says(fd, "Content-Length: 0\r\n\r\n");
	}
	if (is(q, "/echo")) { /* the body back in two chunks */
		size_t half = q->body_len / 2;
		return says(fd, "HTTP/1.1 200 OK\r\n"
				"Transfer-Encoding: chunked\r\n\r\n") &&
		       chunk(fd, q->body, half) &&
		       chunk(fd, q->body + half, q->body_len - half) &&
		       says(fd, "0\r\n\r\n");
	}
	says(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	return true;
}

static intptr_t serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	urio_http_limits lim = {.max_body_bytes = 4u << 20};
	urio_http_parser *p = urio_http_parser_new(&lim);
	for (int served = 0; p; served++) {
		urio_http_req q;
		int k;
		while ((k = urio_http_next(p, &q)) == 0) {
			size_t room;
			void *at = urio_http_space(p, &room);
			ssize_t n = urio_recv(fd, at, room, 0);
			if (n <= 0 || urio_http_commit(p, (size_t)n) < 0)
				goto out;
		}
		/* oneshot: as if a keep-alive timeout closed it right then */
		if (k < 0 || (served && atomic_load(&oneshot)) ||
		    !respond(fd, &q))
			break;
	}
out:
	urio_http_parser_free(p);
	urio_close(fd);
	return 0;
}

static intptr_t server(void *arg)
{
	loopback_serve(lfd, serve_conn, &accepted);
	return 0;
}

static void listen_once(void)
{
	lfd = loopback_listen(&port);
}

/* --- helpers ---------------------------------------------------------------- */

static const char *url(const char *path)
{
	static __thread char u[128]; /* used before the next suspension */
	snprintf(u, sizeof(u), "http://127.0.0.1:%u%s", (unsigned)port, path);
	return u;
}

static urio_http_stats stats(urio_http_session *s)
{
	urio_http_stats st;
	urio_http_session_stats(s, &st);
	return st;
}

/* GET path: the status, the body copied into out (NUL-terminated). */
static int get(urio_http_session *s, const char *path, char *out, size_t cap)
{
	char u[128];
	snprintf(u, sizeof(u), "%s", url(path));
	urio_http_request req = {.url = u};
	urio_http_response *r;
	int st = urio_http_fetch(s, &req, cap - 1, &r);
	if (st < 0)
		return st;
	urio_slice b;
	ASSERT_EQ(urio_http_response_read_all(r, cap - 1, &b), 0);
	memcpy(out, b.ptr, b.len);
	out[b.len] = 0;
	urio_http_response_free(r);
	return st;
}

static void get_ok(urio_http_session *s)
{
	char b[8];
	ASSERT_EQ(get(s, "/ok", b, sizeof(b)), 200);
	ASSERT(!strcmp(b, "ok"));
}

/* Runs case fn with the server up, then takes the server down. */
static intptr_t with_server(void *fn)
{
	urio_task *srv = urio_spawn(server, NULL);
	ASSERT(srv);
	urio_http_session_opts o = {.max_conns_per_host = 2,
				    .max_header_bytes = 1024,
				    .max_headers = 10};
	urio_http_session *s = urio_http_session_new(&o);
	ASSERT(s);
	intptr_t r = ((intptr_t (*)(urio_http_session *))fn)(s);
	urio_http_session_free(s);
	urio_cancel(srv);
	urio_join(srv, NULL);
	return r;
}

/* --- cases ------------------------------------------------------------------ */

static intptr_t early_close(urio_http_session *s)
{
	char u[128];
	snprintf(u, sizeof(u), "%s", url("/early"));
	urio_http_request req = {.url = u};
	urio_http_response *r;
	ASSERT_EQ(urio_http_send(s, &req, &r), 200);
	ASSERT_EQ(urio_http_response_read_all(r, 4096, NULL), -ECONNRESET);
	urio_http_response_free(r);
	ASSERT_EQ(urio_http_fetch(s, &req, 4096, &r), -ECONNRESET);
	snprintf(u, sizeof(u), "%s", url("/early-chunked"));
	ASSERT_EQ(urio_http_send(s, &req, &r), 200);
	int e, items = 0, errs = 0;
	urio_slice *c;
	URIO_FOREACH(e, c, urio_http_response_body(r)) {
		if (e == 1) {
			ASSERT(c->len == 5 && !memcmp(c->ptr, "hello", 5));
			items++;
		} else {
			ASSERT_EQ(e, -ECONNRESET);
			errs++;
			break; /* the error is sticky */
		}
	}
	ASSERT_EQ(items, 1);
	ASSERT_EQ(errs, 1);
	urio_http_response_free(r);
	ASSERT_EQ(stats(s).discarded, 3);
	get_ok(s); /* the pool is healthy */
	return 0;
}

static intptr_t framing(urio_http_session *s)
{
	char b[64];
	ASSERT_EQ(get(s, "/trickle", b, sizeof(b)), 200);
	ASSERT(!strcmp(b, "hello world"));
	ASSERT_EQ(get(s, "/100", b, sizeof(b)), 200);
	ASSERT(!strcmp(b, "ok"));
	ASSERT_EQ(get(s, "/304", b, sizeof(b)), 304);
	ASSERT(!strcmp(b, ""));
	ASSERT_EQ(get(s, "/eof", b, sizeof(b)), 200);
	ASSERT(!strcmp(b, "until the close"));
	int before = atomic_load(&accepted);
	ASSERT_EQ(get(s, "/ok", b, sizeof(b)), 200); /* on a new connection */
	ASSERT_EQ(atomic_load(&accepted), before + 1);
	ASSERT_EQ(get(s, "/ok", b, sizeof(b)), 200); /* on the same */
	ASSERT_EQ(atomic_load(&accepted), before + 1);
	ASSERT_EQ(get(s, "/extra", b, sizeof(b)), 200); /* out of step */
	ASSERT(!strcmp(b, "ok"));
	ASSERT_EQ(get(s, "/ok", b, sizeof(b)), 200);
	ASSERT_EQ(atomic_load(&accepted), before + 2);
	ASSERT_EQ(get(s, "/bad", b, sizeof(b)), -EBADMSG);
	ASSERT_EQ(get(s, "/bighdr", b, sizeof(b)), -EMSGSIZE);
	ASSERT_EQ(get(s, "/manyhdr", b, sizeof(b)), -EMSGSIZE);
	ASSERT_EQ(get(s, "/nowhere", b, sizeof(b)), 404);
	get_ok(s);
	/* a name, resolved on the offload pool: its addresses in turn */
	char u[128];
	snprintf(u, sizeof(u), "http://localhost:%u/ok", (unsigned)port);
	urio_http_request req = {.url = u, .timeout_ms = UINT64_MAX};
	urio_http_response *r; /* a timeout past the clock's end: none */
	ASSERT_EQ(urio_http_fetch(s, &req, 16, &r), 200);
	urio_http_response_free(r);
	return 0;
}

static intptr_t stale(urio_http_session *s)
{
	get_ok(s);
	int before = atomic_load(&accepted);
	atomic_store(&oneshot, 1);
	get_ok(s); /* the pooled one is closed on it; the retry's is new */
	ASSERT_EQ(atomic_load(&accepted), before + 1);
	ASSERT_EQ(stats(s).retries, 1);
	char u[128];
	snprintf(u, sizeof(u), "%s", url("/ok"));
	urio_http_request post = {.method = "POST", .url = u,
				  .body = "x", .body_len = 1};
	urio_http_response *r;
	ASSERT_EQ(urio_http_fetch(s, &post, 16, &r), -ECONNRESET);
	ASSERT_EQ(stats(s).retries, 1); /* not idempotent: not sent again */
	atomic_store(&oneshot, 0);
	get_ok(s);
	return 0;
}

static intptr_t echo(urio_http_session *s)
{
	size_t sizes[] = {1, 5000, 200000};
	for (int k = 0; k < 3; k++) {
		size_t n = sizes[k];
		char *data = malloc(n);
		ASSERT(data);
		for (size_t i = 0; i < n; i++)
			data[i] = (char)(i * 31 + k);
		char u[128];
		snprintf(u, sizeof(u), "%s", url("/echo"));
		urio_http_request post = {.method = "POST", .url = u,
					  .body = data, .body_len = n};
		urio_http_response *r;
		ASSERT_EQ(urio_http_fetch(s, &post, n, &r), 200);
		urio_slice b;
		ASSERT_EQ(urio_http_response_read_all(r, n, &b), 0);
		ASSERT_EQ(b.len, n);
		ASSERT(!memcmp(b.ptr, data, n));
		urio_http_response_free(r);
		free(data);
	}
	ASSERT_EQ(stats(s).discarded, 0);
	return 0;
}

/* An iterator over n pieces of data; fails with -EIO at piece fail_at. */
struct pieces {
	urio_iter it;
	const char *data;
	size_t n, size, at, fail_at;
	urio_slice item;
};

static int pieces_next(urio_iter *it, void **item)
{
	struct pieces *p = (struct pieces *)it;
	if (p->at == p->n)
		return 0;
	if (p->at++ == p->fail_at)
		return -EIO;
	urio_yield(); /* pieces that come one at a time */
	p->item = (urio_slice){p->data + (p->at - 1) * p->size, p->size};
	*item = &p->item;
	return 1;
}

static void pieces_close(urio_iter *it)
{
	(void)it;
}

static const urio_iter_ops pieces_ops = {pieces_next, pieces_close};

/* A body from an iterator goes out chunked and comes back whole; one that
 * fails half-way fails the request with its error, and only that
 * connection is lost. */
static intptr_t streamed(urio_http_session *s)
{
	static char data[64 * 1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 13);
	char u[128];
	snprintf(u, sizeof(u), "%s", url("/echo"));
	struct pieces p = {{&pieces_ops}, data, 64, 1000, 0, (size_t)-1, {0}};
	urio_http_request post = {.method = "POST", .url = u,
				  .body_iter = &p.it};
	urio_http_response *r;
	ASSERT_EQ(urio_http_fetch(s, &post, sizeof(data), &r), 200);
	urio_slice b;
	ASSERT_EQ(urio_http_response_read_all(r, sizeof(data), &b), 0);
	ASSERT_EQ(b.len, sizeof(data));
	ASSERT(!memcmp(b.ptr, data, sizeof(data)));
	urio_http_response_free(r);
	p = (struct pieces){{&pieces_ops}, data, 64, 1000, 0, 10, {0}};
	ASSERT_EQ(urio_http_fetch(s, &post, sizeof(data), &r), -EIO);
	ASSERT(!r);
	ASSERT_EQ(stats(s).discarded, 1);
	post.body = "x"; /* one body or the other */
	ASSERT_EQ(urio_http_send(s, &post, &r), -EINVAL);
	get_ok(s);
	return 0;
}

static urio_http_session *hang_s;

static intptr_t hang_get(void *arg)
{
	char u[128];
	snprintf(u, sizeof(u), "%s", url("/hang"));
	urio_http_request req = {.url = u};
	urio_http_response *r;
	return urio_http_send(hang_s, &req, &r);
}

static intptr_t never_answers(urio_http_session *s)
{
	char u[128];
	snprintf(u, sizeof(u), "%s", url("/hang"));
	urio_http_request req = {.url = u, .timeout_ms = 100};
	urio_http_response *r;
	ASSERT_EQ(urio_http_send(s, &req, &r), -ETIMEDOUT);
	ASSERT(!r);
	req.timeout_ms = 0;
	int err = 0, got = 0;
	URIO_TIMEOUT(err, 100) {
		got = urio_http_send(s, &req, &r);
	}
	ASSERT_EQ(got, -ECANCELED);
	ASSERT_EQ(err, -ETIMEDOUT);
	/* cancelled once the server holds the request */
	hang_s = s;
	int h0 = atomic_load(&hanging);
	urio_task *t = urio_spawn(hang_get, NULL);
	ASSERT(t);
	POLL(atomic_load(&hanging) > h0);
	urio_cancel(t);
	intptr_t res = 0;
	int j = urio_join(t, &res);
	ASSERT(j == -ECANCELED || res == -ECANCELED);
	ASSERT_EQ(stats(s).discarded, 3);
	get_ok(s);
	return 0;
}

/* Tasks mixing good answers with cut bodies, bytes past the response and
 * no answer at all over 2 connections: each gets its own outcome, and
 * nothing hangs or leaks. */
#define MIXERS 60
static urio_http_session *mix_s;

static intptr_t mixer(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int k = 0; k < 4; k++) {
		char b[2048];
		switch ((id + k) % 5) {
		case 0:
		case 1:
			ASSERT_EQ(get(mix_s, "/ok", b, sizeof(b)), 200);
			ASSERT(!strcmp(b, "ok"));
			break;
		case 2:
			ASSERT_EQ(get(mix_s, "/early", b, sizeof(b)),
				  -ECONNRESET);
			break;
		case 3:
			ASSERT_EQ(get(mix_s, "/extra", b, sizeof(b)), 200);
			break;
		default: {
			char u[128];
			snprintf(u, sizeof(u), "%s", url("/hang"));
			urio_http_request req = {.url = u, .timeout_ms = 50};
			urio_http_response *r;
			ASSERT_EQ(urio_http_send(mix_s, &req, &r), -ETIMEDOUT);
		}
		}
	}
	return 0;
}

static intptr_t mixed(urio_http_session *s)
{
	mix_s = s;
	urio_group g;
	urio_group_init(&g);
	for (intptr_t i = 0; i < MIXERS; i++)
		ASSERT(urio_group_spawn(&g, mixer, (void *)i));
	ASSERT_EQ(urio_group_wait(&g), 0);
	/* a request that timed out waiting for a connection was never sent */
	ASSERT(stats(s).requests <= MIXERS * 4);
	get_ok(s);
	return 0;
}

int main(void)
{
	listen_once();
	urio_config one = {.workers = 1}, two = {.workers = 2};
	intptr_t (*cases[])(urio_http_session *) = {
		early_close, framing, stale, echo, streamed, never_answers, mixed};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_run(&one, with_server, (void *)cases[i], &r), 0);
		ASSERT_EQ(r, 0);
		r = -1;
		ASSERT_EQ(urio_run(&two, with_server, (void *)cases[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	close(lfd);
	puts("http_client_faults: ok");
	return 0;
}
