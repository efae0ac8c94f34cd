/* HTTP/1.1 pipelining against a misbehaving server run here as urio tasks
 * (its requests parsed by urio-http's own parser), on 1 and 2 workers. The
 * server holds its first connection's answers until several requests are
 * in, so they are pipelined there in a known order, then: closes after two
 * responses without a word (the three behind are sent again, once, on a
 * new connection, and each caller gets its own response); answers one
 * request with garbage (that request and the one behind it fail with
 * -EBADMSG, the one before is answered); says Connection: close after
 * every second response (every caller still gets its own response); never
 * answers (the caller times out, the session is freed with the reader
 * still waiting). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <urio.h>
#include <urio/http_client.h>

#include "http_server.h"

enum mode { PLAIN, EOF_FIRST, CLOSE_EVERY, HANG };

static int lfd;
static uint16_t port;
static atomic_int mode, hold, limit, conns;

/* --- the server --------------------------------------------------------------- */

static bool says(int fd, const char *s)
{
	size_t n = strlen(s);
	return urio_send_all(fd, s, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* Answers the served-th request of connection idx; false: close now. */
static bool respond(int fd, int idx, int served, const char *path)
{
	int m = atomic_load(&mode), lim = atomic_load(&limit);
	if (!strcmp(path, "/bad")) {
		says(fd, "HELLO WORLD\r\n\r\n");
		return false;
	}
	if (m == EOF_FIRST && idx == 0 && served == lim)
		return false;
	bool last = m == CLOSE_EVERY && served + 1 == lim;
	char b[256];
	snprintf(b, sizeof(b), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%s\r\n%s",
		 strlen(path), last ? "Connection: close\r\n" : "", path);
	return says(fd, b) && !last;
}

#define HELD 16

static intptr_t serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	int idx = atomic_fetch_add(&conns, 1), got = 0, served = 0, n = 0;
	char paths[HELD][64];
	urio_http_parser *p = urio_http_parser_new(NULL);
	while (p) {
		size_t room;
		void *at = urio_http_space(p, &room);
		ssize_t k = urio_recv(fd, at, room, 0);
		if (k <= 0 || urio_http_commit(p, (size_t)k) < 0)
			break;
		urio_http_req q;
		int r;
		while (n < HELD && (r = urio_http_next(p, &q)) == 1) {
			snprintf(paths[n++], sizeof(paths[0]), "%.*s",
				 (int)q.target_len, q.target);
			got++;
		}
		if (atomic_load(&mode) == HANG ||
		    (idx == 0 && got < atomic_load(&hold)))
			continue;
		for (int i = 0; i < n; i++)
			if (!respond(fd, idx, served++, paths[i]))
				goto out;
		n = 0;
	}
out:
	urio_http_parser_free(p);
	urio_close(fd);
	return 0;
}

static intptr_t server(void *arg)
{
	loopback_serve(lfd, serve_conn, NULL);
	return 0;
}

static void listen_once(void)
{
	lfd = loopback_listen(&port);
}

/* --- helpers ------------------------------------------------------------------- */

static urio_http_session *shared;

static urio_http_stats stats(void)
{
	urio_http_stats st;
	urio_http_session_stats(shared, &st);
	return st;
}

/* GET /p/<arg> (or /bad for -1): the status, the body checked. */
static intptr_t get(void *arg)
{
	int i = (int)(intptr_t)arg;
	char path[32], u[128];
	if (i < 0)
		snprintf(path, sizeof(path), "/bad");
	else
		snprintf(path, sizeof(path), "/p/%d", i);
	snprintf(u, sizeof(u), "http://127.0.0.1:%u%s", (unsigned)port, path);
	urio_http_request req = {.url = u, .timeout_ms = 10000};
	urio_http_response *r;
	int st = urio_http_fetch(shared, &req, 100, &r);
	if (st < 0)
		return st;
	urio_slice b;
	ASSERT_EQ(urio_http_response_read_all(r, 100, &b), 0);
	ASSERT(b.len == strlen(path) && !memcmp(b.ptr, path, b.len));
	urio_http_response_free(r);
	return st;
}

/* The server's first connection holds its answers until n requests are
 * in; they are queued there one by one, in the order of ids. */
static void pipeline(const int *ids, int n, urio_task **t)
{
	atomic_store(&hold, n);
	for (int i = 0; i < n; i++) {
		t[i] = urio_spawn(get, (void *)(intptr_t)ids[i]);
		ASSERT(t[i]);
		POLL(stats().pipelined >= (uint64_t)i + 1);
	}
}

static intptr_t result(urio_task *t)
{
	intptr_t r = 0;
	ASSERT_EQ(urio_join(t, &r), 0);
	return r;
}

/* Runs case fn with the server up and a fresh session of one connection,
 * then takes both down. */
static intptr_t with_server(void *fn)
{
	atomic_store(&conns, 0);
	atomic_store(&hold, 0);
	urio_task *srv = urio_spawn(server, NULL);
	ASSERT(srv);
	urio_http_session_opts o = {.max_conns_per_host = 1,
				    .pipeline_depth = 8};
	shared = urio_http_session_new(&o);
	ASSERT(shared);
	intptr_t r = ((intptr_t (*)(void))fn)();
	urio_http_session_free(shared);
	urio_cancel(srv);
	urio_join(srv, NULL);
	return r;
}

/* --- cases ----------------------------------------------------------------------- */

static intptr_t eof_mid(void)
{
	atomic_store(&mode, EOF_FIRST);
	atomic_store(&limit, 2);
	static const int ids[] = {0, 1, 2, 3, 4};
	urio_task *t[5];
	pipeline(ids, 5, t);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(result(t[i]), 200);
	urio_http_stats st = stats();
	ASSERT_EQ(st.retries, 3);
	ASSERT_EQ(st.connects, 2);
	ASSERT_EQ(st.requests, 8);
	return 0;
}

static intptr_t malformed_mid(void)
{
	atomic_store(&mode, PLAIN);
	static const int ids[] = {0, -1, 2};
	urio_task *t[3];
	pipeline(ids, 3, t);
	ASSERT_EQ(result(t[0]), 200);
	ASSERT_EQ(result(t[1]), -EBADMSG);
	ASSERT_EQ(result(t[2]), -EBADMSG);
	ASSERT_EQ(stats().retries, 0);
	ASSERT_EQ(get((void *)7), 200); /* on a new connection */
	ASSERT_EQ(stats().connects, 2);
	return 0;
}

#define USERS 40

static intptr_t close_every(void)
{
	atomic_store(&mode, CLOSE_EVERY);
	atomic_store(&limit, 2);
	urio_task *t[USERS];
	for (int i = 0; i < USERS; i++)
		ASSERT((t[i] = urio_spawn(get, (void *)(intptr_t)i)));
	for (int i = 0; i < USERS; i++)
		ASSERT_EQ(result(t[i]), 200);
	urio_http_stats st = stats();
	ASSERT(st.connects >= USERS / 2);
	ASSERT_EQ(st.requests, USERS + st.retries);
	return 0;
}

/* A server that never answers: the caller times out; freeing the session
 * ends the reader still waiting for the response. */
static intptr_t hang(void)
{
	atomic_store(&mode, HANG);
	char u[128];
	snprintf(u, sizeof(u), "http://127.0.0.1:%u/p/1", (unsigned)port);
	urio_http_request req = {.url = u, .timeout_ms = 50};
	urio_http_response *r = (void *)1;
	ASSERT_EQ(urio_http_fetch(shared, &req, 100, &r), -ETIMEDOUT);
	ASSERT(!r);
	int err = 0;
	req.timeout_ms = 0;
	URIO_TIMEOUT(err, 50)
	ASSERT_EQ(urio_http_fetch(shared, &req, 100, &r), -ECANCELED);
	ASSERT_EQ(err, -ETIMEDOUT);
	ASSERT_EQ(stats().connects, 1);
	return 0;
}

int main(void)
{
	listen_once();
	intptr_t (*cases[])(void) = {eof_mid, malformed_mid, close_every,
				      hang};
	for (unsigned w = 1; w <= 2; w++)
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			urio_config cfg = {.workers = w};
			intptr_t r = -1;
			ASSERT_EQ(urio_run(&cfg, with_server, (void *)cases[i],
					   &r), 0);
			ASSERT_EQ(r, 0);
		}
	close(lfd);
	puts("http_client_pipe_faults: ok");
	return 0;
}
