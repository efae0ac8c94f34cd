/* HTTP client against nginx started here (one process, a temp dir, a free
 * loopback port), on 1 and 2 workers: static files of several sizes
 * (Content-Length), chunked bodies (nginx's SSI filter drops the length),
 * streamed and whole, keep-alive reuse counted by nginx's connection
 * serial ($connection in a header), Connection: close after
 * keepalive_requests, HEAD / 204 / 304 without bodies, PUT bodies through
 * WebDAV read back, the size cap, a body left unread, timeouts mid-body
 * (limit_rate) from the request option and from a deadline scope, many
 * concurrent requests over a small pool, bad arguments. */
#include <errno.h>
#include <fcntl.h>
#include <urio.h>
#include <urio/http_client.h>

#include "http_server.h"

static const size_t sizes[] = {0, 1, 1000, 4096, 100000, 1000000};

/* Letters and newlines: nothing the SSI filter would take for a command. */
static char pattern(size_t i)
{
	return i % 64 == 63 ? '\n' : (char)('a' + (i * 7 + i / 13) % 26);
}

static bool is_pattern(const char *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern(off + i))
			return false;
	return true;
}

static void write_file(const char *name, size_t n)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/html/%s", nginx_dir, name);
	FILE *f = fopen(path, "w");
	ASSERT(f);
	for (size_t i = 0; i < n; i++)
		fputc(pattern(i), f);
	ASSERT_EQ(fclose(f), 0);
}

static void start_nginx(void)
{
	char path[256], locations[1024];
	nginx_prepare("httpc");
	snprintf(path, sizeof(path), "%s/dav", nginx_dir);
	ASSERT_EQ(mkdir(path, 0755), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%zu.html", sizes[i]);
		write_file(name, sizes[i]);
	}
	const char *d = nginx_dir;
	snprintf(locations, sizeof(locations),
		 "  location /chunked/ { ssi on; alias %s/html/; }\n"
		 "  location /slow/ { limit_rate 1k; alias %s/html/; }\n"
		 "  location /kr2/ { keepalive_requests 2; alias %s/html/; }\n"
		 "  location /dav/ { root %s; dav_methods PUT DELETE;\n"
		 "   client_max_body_size 10m; }\n"
		 "  location = /small { return 200 \"hello\\n\"; }\n"
		 "  location = /nc { return 204; }\n"
		 "  location = /nm { return 304; }\n",
		 d, d, d, d);
	nginx_start("text/html", locations);
}

static void url(char *out, size_t n, const char *path)
{
	snprintf(out, n, "http://127.0.0.1:%d%s", nginx_port, path);
}

/* nginx's serial number of the connection that served r. */
static long conn_of(urio_http_response *r)
{
	size_t n;
	const char *v = urio_http_response_header(r, "X-Conn", &n);
	ASSERT(v && n < 20);
	char b[24];
	memcpy(b, v, n);
	b[n] = 0;
	return atol(b);
}

static urio_http_stats stats(urio_http_session *s)
{
	urio_http_stats st;
	urio_http_session_stats(s, &st);
	return st;
}

/* GET path, the whole body checked against the file of n bytes. */
static long get_file(urio_http_session *s, const char *path, size_t n)
{
	char u[256];
	url(u, sizeof(u), path);
	urio_http_request req = {.url = u};
	urio_http_response *r;
	ASSERT_EQ(urio_http_fetch(s, &req, 2u << 20, &r), 200);
	urio_slice body;
	ASSERT_EQ(urio_http_response_read_all(r, 2u << 20, &body), 0);
	ASSERT_EQ(body.len, n);
	ASSERT(is_pattern(body.ptr, 0, n));
	long c = conn_of(r);
	urio_http_response_free(r);
	return c;
}

/* --- cases ------------------------------------------------------------------ */

static intptr_t sizes_keepalive(void *arg)
{
	urio_http_session_opts o = {.max_conns_per_host = 1};
	urio_http_session *s = urio_http_session_new(&o);
	ASSERT(s);
	long first = -1;
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			char p[64];
			snprintf(p, sizeof(p), "/%sf%zu.html",
				 round ? "chunked/" : "", sizes[i]);
			long c = get_file(s, p, sizes[i]);
			if (first < 0)
				first = c;
			ASSERT_EQ(c, first); /* one connection throughout */
		}
	/* no Content-Length when chunked; a body left unread closes its
	 * connection (a megabyte cannot have come with the headers) */
	char u[256];
	url(u, sizeof(u), "/chunked/f1000000.html");
	urio_http_request req = {.url = u};
	urio_http_response *r;
	ASSERT_EQ(urio_http_send(s, &req, &r), 200);
	ASSERT_EQ(urio_http_response_length(r), -1);
	size_t n;
	const char *te = urio_http_response_header(r, "transfer-encoding", &n);
	ASSERT(te && n == 7 && !memcmp(te, "chunked", 7));
	urio_http_response_free(r);
	url(u, sizeof(u), "/f4096.html");
	ASSERT_EQ(urio_http_fetch(s, &req, 4096, &r), 200);
	ASSERT_EQ(urio_http_response_length(r), 4096);
	ASSERT(conn_of(r) != first);
	urio_http_response_free(r);
	urio_http_stats st = stats(s);
	ASSERT_EQ(st.connects, 2);
	ASSERT_EQ(st.discarded, 1);
	ASSERT_EQ(st.requests, 2 * sizeof(sizes) / sizeof(sizes[0]) + 2);
	urio_http_session_free(s);
	return 0;
}

/* The body as a stream of chunks: all of it in order, and a loop left
 * early closes that connection, not the next request's. */
static intptr_t stream(void *arg)
{
	urio_http_session *s = urio_http_session_new(NULL);
	ASSERT(s);
	const char *paths[] = {"/f1000000.html", "/chunked/f1000000.html"};
	for (int k = 0; k < 2; k++) {
		char u[256];
		url(u, sizeof(u), paths[k]);
		urio_http_request req = {.url = u};
		urio_http_response *r;
		ASSERT_EQ(urio_http_send(s, &req, &r), 200);
		size_t off = 0, chunks = 0;
		int e;
		urio_slice *c;
		URIO_FOREACH(e, c, urio_http_response_body(r)) {
			ASSERT_EQ(e, 1);
			ASSERT(is_pattern(c->ptr, off, c->len));
			off += c->len;
			chunks++;
		}
		ASSERT_EQ(off, 1000000);
		ASSERT(chunks > 1);
		ASSERT_EQ(urio_http_body_next(r, &(urio_slice){0}), 0);
		urio_http_response_free(r);
		ASSERT_EQ(urio_http_send(s, &req, &r), 200);
		URIO_FOREACH(e, c, urio_http_response_body(r))
			break;
		urio_http_response_free(r);
	}
	urio_http_stats st = stats(s);
	ASSERT_EQ(st.discarded, 2);
	get_file(s, "/f1000.html", 1000);
	urio_http_session_free(s);
	return 0;
}

/* keepalive_requests 2: nginx says Connection: close on every second
 * request, and the client opens a new connection for the next. */
static intptr_t conn_close(void *arg)
{
	urio_http_session *s = urio_http_session_new(NULL);
	ASSERT(s);
	long conns[6];
	for (int i = 0; i < 6; i++)
		conns[i] = get_file(s, "/kr2/f1000.html", 1000);
	for (int i = 0; i < 6; i += 2) {
		ASSERT_EQ(conns[i], conns[i + 1]);
		if (i)
			ASSERT(conns[i] != conns[i - 1]);
	}
	urio_http_stats st = stats(s);
	ASSERT_EQ(st.connects, 3);
	ASSERT_EQ(st.discarded, 0);
	urio_http_session_free(s);
	return 0;
}

/* HEAD, 204 and 304 have no body whatever their headers say; each leaves
 * its connection reusable. */
static intptr_t no_body(void *arg)
{
	urio_http_session_opts o = {.max_conns_per_host = 1};
	urio_http_session *s = urio_http_session_new(&o);
	ASSERT(s);
	char u[256];
	url(u, sizeof(u), "/f100000.html");
	urio_http_request head = {.method = "HEAD", .url = u};
	urio_http_response *r;
	ASSERT_EQ(urio_http_send(s, &head, &r), 200);
	ASSERT_EQ(urio_http_response_length(r), 100000);
	urio_slice b = {"x", 1};
	ASSERT_EQ(urio_http_response_read_all(r, 10, &b), 0);
	ASSERT_EQ(b.len, 0);
	long c = conn_of(r);
	urio_http_response_free(r);
	const char *paths[] = {"/nc", "/nm"};
	const int codes[] = {204, 304};
	for (int i = 0; i < 2; i++) {
		url(u, sizeof(u), paths[i]);
		urio_http_request req = {.url = u};
		ASSERT_EQ(urio_http_fetch(s, &req, 0, &r), codes[i]);
		ASSERT_EQ(conn_of(r), c);
		urio_http_response_free(r);
	}
	ASSERT_EQ(get_file(s, "/f1.html", 1), c);
	ASSERT_EQ(stats(s).connects, 1);
	urio_http_session_free(s);
	return 0;
}

/* PUT a body (one small, one past the size sent with the head), GET it
 * back; then the size cap on the way in. */
static intptr_t bodies(void *arg)
{
	urio_http_session *s = urio_http_session_new(NULL);
	ASSERT(s);
	size_t n[] = {10, 300000};
	char *data = malloc(300000);
	ASSERT(data);
	for (size_t i = 0; i < 300000; i++)
		data[i] = pattern(i);
	for (int k = 0; k < 2; k++) {
		char u[256], p[64];
		snprintf(p, sizeof(p), "/dav/w%d-%d", urio_worker_index(), k);
		url(u, sizeof(u), p);
		const char *hdrs[] = {"Content-Type: text/plain", NULL};
		urio_http_request put = {.method = "PUT", .url = u,
					 .headers = hdrs, .body = data,
					 .body_len = n[k]};
		urio_http_response *r;
		int st = urio_http_fetch(s, &put, 4096, &r);
		ASSERT(st == 201 || st == 204);
		urio_http_response_free(r);
		urio_http_request get = {.url = u};
		ASSERT_EQ(urio_http_fetch(s, &get, n[k], &r), 200);
		urio_slice body;
		ASSERT_EQ(urio_http_response_read_all(r, n[k], &body), 0);
		ASSERT_EQ(body.len, n[k]);
		ASSERT(!memcmp(body.ptr, data, n[k]));
		urio_http_response_free(r);
		ASSERT_EQ(urio_http_fetch(s, &get, n[k] - 1, &r), -E2BIG);
		ASSERT(!r);
	}
	free(data);
	/* chunked, so the cap is found on the way */
	char u[256];
	url(u, sizeof(u), "/chunked/f100000.html");
	urio_http_request get = {.url = u};
	urio_http_response *r;
	ASSERT_EQ(urio_http_send(s, &get, &r), 200);
	ASSERT_EQ(urio_http_response_read_all(r, 50000, NULL), -E2BIG);
	ASSERT_EQ(urio_http_body_next(r, &(urio_slice){0}), -E2BIG);
	urio_http_response_free(r);
	get_file(s, "/chunked/f100000.html", 100000);
	urio_http_session_free(s);
	return 0;
}

/* limit_rate 1k: the headers come at once, the body would take minutes. */
static intptr_t timeouts(void *arg)
{
	urio_http_session *s = urio_http_session_new(NULL);
	ASSERT(s);
	char u[256];
	url(u, sizeof(u), "/slow/f1000000.html");
	urio_http_request req = {.url = u, .timeout_ms = 1000};
	urio_http_response *r;
	ASSERT_EQ(urio_http_send(s, &req, &r), 200);
	ASSERT_EQ(urio_http_response_read_all(r, 2u << 20, NULL), -ETIMEDOUT);
	urio_http_response_free(r);
	/* the caller's deadline scope */
	req.timeout_ms = 0;
	int err = 0, got = 0;
	URIO_TIMEOUT(err, 1000) {
		got = urio_http_fetch(s, &req, 2u << 20, &r);
	}
	ASSERT_EQ(got, -ECANCELED);
	ASSERT_EQ(err, -ETIMEDOUT);
	ASSERT(!r);
	ASSERT_EQ(stats(s).discarded, 2);
	get_file(s, "/f100000.html", 100000); /* the pool is fine */
	urio_http_session_free(s);
	return 0;
}

/* Many tasks over a pool of 4: every body right, never more than 4
 * connections. */
#define USERS 200
#define ROUNDS 5
static urio_http_session *shared;

static intptr_t user(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int k = 0; k < ROUNDS; k++) {
		size_t i = (size_t)(id + k) % (sizeof(sizes) / sizeof(sizes[0]) - 1);
		char p[64];
		snprintf(p, sizeof(p), "/%sf%zu.html", (id + k) % 3 ? "" : "chunked/",
			 sizes[i]);
		get_file(shared, p, sizes[i]);
	}
	return 0;
}

static intptr_t concurrent(void *arg)
{
	urio_http_session_opts o = {.max_conns_per_host = 4};
	shared = urio_http_session_new(&o);
	ASSERT(shared);
	urio_group g;
	urio_group_init(&g);
	for (intptr_t i = 0; i < USERS; i++)
		ASSERT(urio_group_spawn(&g, user, (void *)i));
	ASSERT_EQ(urio_group_wait(&g), 0);
	urio_http_stats st = stats(shared);
	ASSERT(st.connects <= 4);
	ASSERT_EQ(st.requests, USERS * ROUNDS);
	ASSERT_EQ(st.discarded, 0);
	urio_http_session_free(shared);
	return 0;
}

static intptr_t bad_args(void *arg)
{
	urio_http_session *s = urio_http_session_new(NULL);
	ASSERT(s);
	urio_http_response *r = (void *)1;
	char u[256];
	url(u, sizeof(u), "/small");
	const char *crlf[] = {"X-A: b\r\nX-Evil: 1", NULL};
	const char *cl[] = {"Content-Length: 5", NULL};
	const char *noname[] = {": x", NULL};
	struct {
		urio_http_request req;
		int err;
	} bad[] = {
		{{.url = NULL}, -EINVAL},
		{{.url = "/relative"}, -EINVAL},
		{{.url = "https://127.0.0.1/"}, -EPROTONOSUPPORT},
		{{.url = "http://u:p@127.0.0.1/"}, -EINVAL},
		{{.url = u, .method = "GE T"}, -EINVAL},
		{{.url = u, .method = ""}, -EINVAL},
		{{.url = u, .headers = crlf}, -EINVAL},
		{{.url = u, .headers = cl}, -EINVAL},
		{{.url = u, .headers = noname}, -EINVAL},
		{{.url = u, .body_len = 3}, -EINVAL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(urio_http_send(s, &bad[i].req, &r), bad[i].err);
		ASSERT(!r);
	}
	urio_http_request ok = {.url = u};
	ASSERT_EQ(urio_http_send(NULL, &ok, &r), -EINVAL);
	ASSERT_EQ(urio_http_send(s, NULL, &r), -EINVAL);
	ASSERT_EQ(urio_http_send(s, &ok, NULL), -EINVAL);
	/* nothing listens on port 1 */
	urio_http_request refused = {.url = "http://127.0.0.1:1/"};
	ASSERT_EQ(urio_http_send(s, &refused, &r), -ECONNREFUSED);
	ASSERT_EQ(urio_http_fetch(s, &ok, 100, &r), 200);
	urio_slice b;
	ASSERT_EQ(urio_http_response_read_all(r, 100, &b), 0);
	ASSERT(b.len == 6 && !memcmp(b.ptr, "hello\n", 6));
	ASSERT_EQ(urio_http_response_status(r), 200);
	const urio_http_header *h;
	ASSERT(urio_http_response_headers(r, &h) >= 4);
	ASSERT(h[0].name_len == 6 && !strncasecmp(h[0].name, "Server", 6));
	ASSERT(!urio_http_response_header(r, "X-None", NULL));
	urio_http_response_free(r);
	ASSERT_EQ(urio_http_body_next(NULL, &b), -EINVAL);
	ASSERT_EQ(urio_http_response_read_all(NULL, 1, &b), -EINVAL);
	ASSERT(!urio_http_response_body(NULL));
	urio_http_response_free(NULL);
	urio_http_session_free(NULL);
	urio_http_session_stats(NULL, NULL);
	urio_http_session_free(s);
	return 0;
}

int main(void)
{
	errno = 0;
	ASSERT(!urio_http_session_new(NULL)); /* not in a task */
	ASSERT_EQ(errno, EPERM);
	start_nginx();
	urio_fn cases[] = {sizes_keepalive, stream, conn_close, no_body,
			   bodies, timeouts, concurrent, bad_args};
	test_run_each(cases, sizeof(cases) / sizeof(cases[0]));
	puts("http_client: ok");
	return 0;
}
