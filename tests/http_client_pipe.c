/* HTTP/1.1 pipelining against nginx started here, on 1 and 2 workers:
 * many tasks fetching distinct paths (nginx answers each with its own URI)
 * through a pipelined session, each getting its own response, HEAD and
 * POST mixed in (POST goes one at a time); nginx closing every connection
 * after 3 requests (keepalive_requests) in mid-pipeline, every caller still
 * getting exactly its response; a caller cancelled, and one timed out,
 * behind a slow response on the one connection: the others are answered
 * and the connection stays in use (in step); a body past the caller's cap
 * (-E2BIG) with the connection kept. */
#include <errno.h>
#include <urio.h>
#include <urio/http_client.h>

#include "http_server.h"

static void start_nginx(void)
{
	char path[256], locations[1024];
	nginx_prepare("httpp");
	snprintf(path, sizeof(path), "%s/html/big", nginx_dir);
	FILE *f = fopen(path, "w");
	ASSERT(f);
	for (int i = 0; i < 3000; i++)
		fputc('a' + i % 26, f);
	ASSERT_EQ(fclose(f), 0);
	snprintf(locations, sizeof(locations),
		 "  location /t/ { return 200 \"$request_method $uri\\n\"; }\n"
		 "  location /kr3/ { keepalive_requests 3;\n"
		 "   return 200 \"$uri\\n\"; }\n"
		 "  location /slow/ { limit_rate 1k; alias %s/html/; }\n",
		 nginx_dir);
	nginx_start("text/plain", locations);
}

static urio_http_stats stats(urio_http_session *s)
{
	urio_http_stats st;
	urio_http_session_stats(s, &st);
	return st;
}

/* method path: the status, and the body checked to be "method path\n"
 * (just "path\n" when bare), none for HEAD. */
static int fetch_path(urio_http_session *s, const char *method,
		      const char *path, bool bare)
{
	char u[256], want[256];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", nginx_port, path);
	snprintf(want, sizeof(want), bare ? "%.0s%s\n" : "%s %s\n", method,
		 path);
	bool post = !strcmp(method, "POST");
	urio_http_request req = {.url = u, .method = method,
				 .body = post ? "x" : NULL,
				 .body_len = post};
	urio_http_response *r;
	int st = urio_http_fetch(s, &req, 4096, &r);
	if (st < 0)
		return st;
	urio_slice b;
	ASSERT_EQ(urio_http_response_read_all(r, 4096, &b), 0);
	if (!strcmp(method, "HEAD"))
		ASSERT_EQ(b.len, 0);
	else
		ASSERT(b.len == strlen(want) && !memcmp(b.ptr, want, b.len));
	urio_http_response_free(r);
	return st;
}

/* --- many tasks, distinct paths ------------------------------------------------ */

#define USERS 200
#define ROUNDS 5
static urio_http_session *shared;
static atomic_int posts;

static intptr_t user(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int k = 0; k < ROUNDS; k++) {
		char p[64];
		snprintf(p, sizeof(p), "/t/%d/%d", id, k);
		const char *m = (id + k) % 7 == 0 ? "HEAD" :
				(id + k) % 11 == 0 ? "POST" : "GET";
		if (!strcmp(m, "POST"))
			atomic_fetch_add(&posts, 1);
		ASSERT_EQ(fetch_path(shared, m, p, false), 200);
	}
	return 0;
}

static intptr_t many(void *arg)
{
	urio_http_session_opts o = {.max_conns_per_host = 4,
				    .pipeline_depth = 16};
	shared = urio_http_session_new(&o);
	ASSERT(shared);
	atomic_store(&posts, 0);
	urio_group g;
	urio_group_init(&g);
	for (intptr_t i = 0; i < USERS; i++)
		ASSERT(urio_group_spawn(&g, user, (void *)i));
	ASSERT_EQ(urio_group_wait(&g), 0);
	urio_http_stats st = stats(shared);
	ASSERT_EQ(st.requests, USERS * ROUNDS);
	ASSERT_EQ(st.pipelined, USERS * ROUNDS - atomic_load(&posts));
	ASSERT(st.connects <= 4 + st.retries);
	ASSERT_EQ(st.discarded, 0);
	urio_http_session_free(shared);
	return 0;
}

/* --- nginx closing after 3 requests per connection ----------------------------- */

static intptr_t kr_user(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int k = 0; k < ROUNDS; k++) {
		char p[64];
		snprintf(p, sizeof(p), "/kr3/%d/%d", id, k);
		ASSERT_EQ(fetch_path(shared, "GET", p, true), 200);
	}
	return 0;
}

static intptr_t keepalive_requests(void *arg)
{
	urio_http_session_opts o = {.max_conns_per_host = 4,
				    .pipeline_depth = 8};
	shared = urio_http_session_new(&o);
	ASSERT(shared);
	urio_group g;
	urio_group_init(&g);
	for (intptr_t i = 0; i < USERS; i++)
		ASSERT(urio_group_spawn(&g, kr_user, (void *)i));
	ASSERT_EQ(urio_group_wait(&g), 0);
	urio_http_stats st = stats(shared);
	/* each connection carries 3 requests: the retries are the requests
	 * sent past the third before the limit was known */
	ASSERT_EQ(st.requests, USERS * ROUNDS + st.retries);
	ASSERT(st.connects >= USERS * ROUNDS / 3);
	ASSERT_EQ(st.pipelined, st.requests);
	urio_http_session_free(shared);
	return 0;
}

/* --- a caller cancelled or timed out mid-pipeline ------------------------------- */

static intptr_t slow(void *arg)
{
	char u[256];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/slow/big", nginx_port);
	urio_http_request req = {.url = u};
	urio_http_response *r;
	ASSERT_EQ(urio_http_fetch(shared, &req, 4096, &r), 200);
	urio_slice b;
	ASSERT_EQ(urio_http_response_read_all(r, 4096, &b), 0);
	ASSERT_EQ(b.len, 3000);
	urio_http_response_free(r);
	return 0;
}

static intptr_t fast(void *arg)
{
	char p[32];
	snprintf(p, sizeof(p), "/t/%d", (int)(intptr_t)arg);
	return fetch_path(shared, "GET", p, false);
}

static intptr_t timed(void *arg)
{
	char u[256];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/t/timed", nginx_port);
	urio_http_request req = {.url = u, .timeout_ms = 50};
	urio_http_response *r;
	return urio_http_fetch(shared, &req, 4096, &r);
}

/* Spawns fn and waits until its request is in the pipeline. */
static urio_task *queue(urio_fn fn, intptr_t arg, uint64_t n)
{
	urio_task *t = urio_spawn(fn, (void *)arg);
	ASSERT(t);
	POLL(stats(shared).pipelined >= n);
	return t;
}

static intptr_t cancel_mid(void *arg)
{
	urio_http_session_opts o = {.max_conns_per_host = 1,
				    .pipeline_depth = 8};
	shared = urio_http_session_new(&o);
	ASSERT(shared);
	urio_task *s = queue(slow, 0, 1);
	urio_task *a = queue(fast, 1, 2);
	urio_task *victim = queue(fast, 2, 3);
	urio_task *t = queue(timed, 0, 4);
	urio_task *b = queue(fast, 3, 5);
	/* all five on the one connection, behind the slow response */
	ASSERT_EQ(urio_cancel(victim), 0);
	intptr_t res;
	ASSERT_EQ(urio_join(victim, &res), -ECANCELED);
	ASSERT_EQ(urio_join(t, &res), 0);
	ASSERT_EQ(res, -ETIMEDOUT);
	ASSERT_EQ(urio_join(s, &res), 0);
	ASSERT_EQ(urio_join(a, &res), 0);
	ASSERT_EQ(res, 200);
	ASSERT_EQ(urio_join(b, &res), 0);
	ASSERT_EQ(res, 200);
	/* the dropped responses were read: the connection is still the one */
	ASSERT_EQ(fetch_path(shared, "GET", "/t/after", false), 200);
	urio_http_stats st = stats(shared);
	ASSERT_EQ(st.connects, 1);
	ASSERT_EQ(st.requests, 6);
	ASSERT_EQ(st.retries, 0);
	urio_http_session_free(shared);
	return 0;
}

/* A body past the cap: -E2BIG, and the connection stays in step. */
static intptr_t too_big(void *arg)
{
	urio_http_session_opts o = {.max_conns_per_host = 1,
				    .pipeline_depth = 4};
	urio_http_session *s = urio_http_session_new(&o);
	ASSERT(s);
	char u[256];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/big", nginx_port);
	urio_http_request req = {.url = u};
	urio_http_response *r = (void *)1;
	ASSERT_EQ(urio_http_fetch(s, &req, 100, &r), -E2BIG);
	ASSERT(!r);
	shared = s;
	ASSERT_EQ(fetch_path(s, "GET", "/t/next", false), 200);
	ASSERT_EQ(fetch_path(s, "OPTIONS", "/t/opt", false), 200);
	urio_http_stats st = stats(s);
	ASSERT_EQ(st.connects, 1);
	ASSERT_EQ(st.pipelined, 3);
	urio_http_session_free(s);
	return 0;
}

static intptr_t bad_opts(void *arg)
{
	urio_http_session_opts o = {.pipeline_depth = 1025};
	errno = 0;
	ASSERT(!urio_http_session_new(&o));
	ASSERT_EQ(errno, EINVAL);
	o.pipeline_depth = 1; /* off */
	urio_http_session *s = urio_http_session_new(&o);
	ASSERT(s);
	ASSERT_EQ(fetch_path(s, "GET", "/t/off", false), 200);
	ASSERT_EQ(stats(s).pipelined, 0);
	urio_http_session_free(s);
	return 0;
}

int main(void)
{
	start_nginx();
	urio_fn cases[] = {many, keepalive_requests, cancel_mid, too_big,
			   bad_opts};
	test_run_each(cases, sizeof(cases) / sizeof(cases[0]));
	puts("http_client_pipe: ok");
	return 0;
}
