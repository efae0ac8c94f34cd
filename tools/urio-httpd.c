/* urio-httpd: an HTTP/1.1 server on urio, a task per connection.
 *
 * Keep-alive and pipelining: every complete request in what one recv
 * brought is answered into one output buffer, sent with one send. Without
 * --root every GET gets a small fixed 200; with --root DIR files are served
 * from DIR (opened and read through urio). Abuse is bounded: a request must
 * arrive whole within --timeout of the connection going idle (slowloris),
 * each send must finish within it too (a peer that never reads), headers
 * past 8 KiB get 431, bodies past 64 KiB 413 and malformed requests 400,
 * each followed by a close.
 * Accepting (multishot where the kernel has it, a listener per worker,
 * back-off when fds run out) and draining are urio_server's. SIGTERM or
 * SIGINT drains: accept stops, idle connections close at once, busy ones
 * finish their response (sent with Connection: close), and whatever is
 * left after --grace is cancelled; the exit status is then 0. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio.h>
#include <urio/http.h>

#include "httpd.h"

struct httpd_opts httpd;

static struct {
	const char *host;
	unsigned port, workers;
	atomic_bool draining;
	pthread_mutex_t lock; /* the connection list; never held across a
			       * suspension */
	struct conn *conns;
	unsigned nconns;
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Sends all of buf within the send deadline. 0, or -errno. */
int httpd_send_all(struct conn *c, const char *buf, size_t len)
{
	urio_deadline d;
	urio_timeout_enter(&d, httpd.timeout_ms);
	ssize_t r = urio_send_all(c->fd, buf, len, 0);
	int t = urio_timeout_exit(&d);
	return t < 0 ? t : r < 0 ? (int)r : 0;
}

int httpd_flush(struct conn *c)
{
	int r = httpd_send_all(c, c->out, c->out_len);
	c->out_len = 0;
	return r;
}

/* Room for n more output bytes; flushes or grows. 0, or -errno. */
int httpd_reserve(struct conn *c, size_t n)
{
	if (c->out_cap - c->out_len >= n)
		return 0;
	if (c->out_len) {
		int r = httpd_flush(c);
		if (r < 0)
			return r;
		if (c->out_cap >= n)
			return 0;
	}
	char *b = realloc(c->out, n);
	if (!b)
		return -ENOMEM;
	c->out = b;
	c->out_cap = n;
	return 0;
}

/* Appends bytes; the caller reserved room. */
void httpd_put(struct conn *c, const void *s, size_t n)
{
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
}

/* "Date: ...\r\n" for this second, formatted once a second per thread (no
 * suspension between the lookup and the copy, so migration is harmless). */
static const char *date_line(size_t *len)
{
	static __thread struct {
		time_t sec;
		size_t len;
		char s[64];
	} cache;
	time_t now = time(NULL);
	if (now != cache.sec || !cache.len) {
		struct tm tm;
		gmtime_r(&now, &tm);
		cache.len = strftime(cache.s, sizeof(cache.s),
				     "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		cache.sec = now;
	}
	*len = cache.len;
	return cache.s;
}

static void put_str(struct conn *c, const char *s)
{
	httpd_put(c, s, strlen(s));
}

static void put_u64(struct conn *c, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);
	do
		tmp[--i] = (char)('0' + v % 10);
	while ((v /= 10));
	httpd_put(c, tmp + i, sizeof(tmp) - (size_t)i);
}

int httpd_head(struct conn *c, int status, const char *ctype, uint64_t clen,
	       const char *extra)
{
	int r = httpd_reserve(c, 512 + (extra ? strlen(extra) : 0));
	if (r < 0)
		return r;
	char sl[64];
	int n = snprintf(sl, sizeof(sl), "HTTP/1.1 %d %s\r\n", status,
			 urio_http_reason(status));
	httpd_put(c, sl, (size_t)n);
	put_str(c, "Server: urio\r\n");
	size_t dl;
	const char *d = date_line(&dl);
	httpd_put(c, d, dl);
	if (ctype) {
		put_str(c, "Content-Type: ");
		put_str(c, ctype);
		put_str(c, "\r\n");
	}
	put_str(c, "Content-Length: ");
	put_u64(c, clen);
	put_str(c, "\r\n");
	if (c->close)
		put_str(c, "Connection: close\r\n");
	else if (c->http10)
		put_str(c, "Connection: keep-alive\r\n");
	if (extra)
		put_str(c, extra);
	put_str(c, "\r\n");
	return 0;
}

/* A small response with a text body (errors, the fixed 200). */
int httpd_simple(struct conn *c, int status, const char *body, bool head,
		 const char *extra)
{
	size_t n = strlen(body);
	int r = httpd_head(c, status, "text/plain", n, extra);
	if (r < 0 || head)
		return r;
	r = httpd_reserve(c, n);
	if (r < 0)
		return r;
	httpd_put(c, body, n);
	return 0;
}

static int respond(struct conn *c, const urio_http_req *req)
{
	c->http10 = req->version_major == 1 && req->version_minor == 0;
	c->close = !req->keep_alive || atomic_load(&srv.draining);
	bool get = strcmp(req->method, "GET") == 0;
	if (!get && !req->head)
		return httpd_simple(c, 405, "method not allowed\n", false,
				    "Allow: GET, HEAD\r\n");
	if (httpd.root)
		return httpd_file(c, req);
	return httpd_simple(c, 200, HTTPD_FIXED_BODY, req->head, NULL);
}

/* Closes after an error response without resetting it away: unread input
 * at close makes the kernel send RST, which can destroy the response before
 * the peer reads it. So shut the sending side and read what comes, for a
 * bounded time and amount. */
static void linger_close(struct conn *c)
{
	char sink[4096];
	size_t total = 0;
	urio_deadline d;
	shutdown(c->fd, SHUT_WR);
	urio_timeout_enter(&d, HTTPD_LINGER_MS);
	while (total < HTTPD_LINGER_BYTES) {
		ssize_t n = urio_recv(c->fd, sink, sizeof(sink), 0);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	urio_timeout_exit(&d);
}

/* Waits for more request bytes until the request deadline. > 0 bytes, 0 EOF,
 * -ETIMEDOUT, or -errno. */
static ssize_t fill(struct conn *c, uint64_t deadline)
{
	size_t room;
	void *at = urio_http_space(c->p, &room);
	if (!room)
		return -EMSGSIZE;
	urio_deadline d;
	urio_timeout_enter_at(&d, deadline);
	ssize_t n = urio_recv(c->fd, at, room, 0);
	int t = urio_timeout_exit(&d);
	if (t < 0)
		return t;
	if (n > 0)
		urio_http_commit(c->p, (size_t)n);
	return n;
}

/* Answers requests until the peer leaves, breaks a rule or a deadline, or
 * the server drains. */
static void serve(struct conn *c)
{
	uint64_t deadline = urio_now_ns() + httpd.timeout_ms * 1000000ull;
	for (;;) {
		urio_http_req req;
		int r = 0;
		while (!c->close && (r = urio_http_next(c->p, &req)) == 1) {
			if (respond(c, &req) < 0)
				return;
		}
		if (!c->close && r < 0) {
			c->close = true;
			int st = urio_http_status(r);
			if (httpd_simple(c, st, urio_http_reason(st), false,
					 NULL) < 0 || httpd_flush(c) < 0)
				return;
			linger_close(c);
			return;
		}
		if (c->out_len && httpd_flush(c) < 0)
			return;
		if (c->close)
			return;
		if (!urio_http_partial(c->p)) {
			/* idle: a new request's clock starts; drain may close
			 * us now (pairs with server_main's store, then scan) */
			deadline = urio_now_ns() +
				   httpd.timeout_ms * 1000000ull;
			atomic_store(&c->idle, 1);
			if (atomic_load(&srv.draining))
				return;
		}
		ssize_t n = fill(c, deadline);
		atomic_store(&c->idle, 0);
		if (n == -ETIMEDOUT && urio_http_partial(c->p)) {
			c->close = true;
			if (httpd_simple(c, 408, "request timeout\n", false,
					 NULL) == 0 &&
			    httpd_flush(c) == 0)
				linger_close(c);
			return;
		}
		if (n <= 0)
			return;
	}
}

static void conn_unlink(struct conn *c)
{
	pthread_mutex_lock(&srv.lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv.nconns--;
	pthread_mutex_unlock(&srv.lock);
}

/* A connection's task (urio_server closes fd after it). It is listed while
 * it runs, so drain can cancel it while idle. */
static int conn_main(int fd, void *arg)
{
	struct conn c = { .fd = fd, .task = urio_self() };
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c.p = urio_http_parser_new(&(urio_http_limits){
		.max_body_bytes = HTTPD_MAX_BODY });
	c.out_cap = HTTPD_OUT_INITIAL;
	c.out = malloc(c.out_cap);
	if (c.p && c.out) {
		pthread_mutex_lock(&srv.lock);
		c.next = srv.conns;
		if (c.next)
			c.next->prev = &c;
		srv.conns = &c;
		srv.nconns++;
		pthread_mutex_unlock(&srv.lock);
		serve(&c);
		conn_unlink(&c);
	}
	urio_http_parser_free(c.p);
	free(c.out);
	return 0;
}

/* Cancels the connections waiting for a request's first byte. */
static void cancel_idle(void)
{
	pthread_mutex_lock(&srv.lock);
	for (struct conn *c = srv.conns; c; c = c->next)
		if (atomic_load(&c->idle))
			urio_cancel(c->task);
	pthread_mutex_unlock(&srv.lock);
}

static intptr_t server_main(void *arg)
{
	urio_server_opts so = {
		.host = srv.host,
		.port = (uint16_t)srv.port,
		.backlog = HTTPD_BACKLOG,
		.listeners = srv.workers,
		.conn = conn_main,
		.stack_size = HTTPD_STACK,
	};
	urio_server *s = urio_server_new(&so);
	if (!s) {
		int e = errno;
		fprintf(stderr, "urio-httpd: listen on %s:%u: %s\n", srv.host,
			srv.port, strerror(e));
		return -e;
	}
	int r = urio_server_start(s);
	if (r < 0) {
		urio_server_free(s);
		return r;
	}
	printf("listening on %s:%d\n", srv.host, urio_server_port(s));
	fflush(stdout);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	int sig = urio_signal_wait(&set, NULL);
	/* drain: busy connections answer with Connection: close from now;
	 * idle ones close now (pairs with serve()'s idle store, then
	 * draining load); urio_server stops accepting, gives the rest the
	 * grace period and cancels what is left */
	atomic_store(&srv.draining, true);
	cancel_idle();
	r = urio_server_drain(s, httpd.grace_ms);
	urio_server_free(s);
	return sig < 0 ? sig : r;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: urio-httpd [options]\n"
		"  --port N        TCP port (default 8080; 0 picks a free one)\n"
		"  --addr A        numeric address to listen on (default "
		"127.0.0.1)\n"
		"  --workers N     worker threads (default: one per CPU)\n"
		"  --root DIR      serve files from DIR (default: a fixed 200 "
		"to every GET)\n"
		"  --timeout MS    a request must arrive, and each send finish, "
		"within MS\n"
		"                  (default 10000)\n"
		"  --grace MS      on SIGTERM, time busy connections get to "
		"finish (default 5000)\n"
		"  --help          this text\n"
		"Prints 'listening on ADDR:PORT' once ready. SIGTERM or SIGINT "
		"drains and exits 0.\n");
}

static int parse_u(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "port", required_argument, 0, 'p' },
		{ "addr", required_argument, 0, 'a' },
		{ "workers", required_argument, 0, 'w' },
		{ "root", required_argument, 0, 'r' },
		{ "timeout", required_argument, 0, 't' },
		{ "grace", required_argument, 0, 'g' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	unsigned long v;
	int o;
	while ((o = getopt_long(argc, argv, "p:a:w:r:t:g:h", lopts, NULL)) !=
	       -1) {
		switch (o) {
		case 'p':
			if (parse_u(optarg, 65535, &v) < 0)
				return -EINVAL;
			srv.port = (unsigned)v;
			break;
		case 'a':
			srv.host = optarg;
			break;
		case 'w':
			if (parse_u(optarg, 1024, &v) < 0)
				return -EINVAL;
			srv.workers = (unsigned)v;
			break;
		case 'r':
			httpd.root = optarg;
			break;
		case 't':
			if (parse_u(optarg, 86400000, &v) < 0 || !v)
				return -EINVAL;
			httpd.timeout_ms = v;
			break;
		case 'g':
			if (parse_u(optarg, 86400000, &v) < 0)
				return -EINVAL;
			httpd.grace_ms = v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	return optind == argc ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	srv.host = "127.0.0.1";
	srv.port = 8080;
	httpd.timeout_ms = HTTPD_TIMEOUT_MS;
	httpd.grace_ms = HTTPD_GRACE_MS;
	if (parse_args(argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	int r = httpd_root_open();
	if (r < 0) {
		fprintf(stderr, "urio-httpd: --root %s: %s\n", httpd.root,
			strerror(-r));
		return 1;
	}
	/* before the workers start, so they inherit the mask: the signals
	 * arrive only through urio_signal_wait */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	urio_signal_block(&set);
	signal(SIGPIPE, SIG_IGN);
	urio_config cfg = { .workers = srv.workers };
	urio_rt *rt = urio_rt_new(&cfg);
	if (!rt) {
		fprintf(stderr, "urio-httpd: runtime: %s\n", strerror(errno));
		return 1;
	}
	srv.workers = urio_rt_workers(rt);
	intptr_t res = 0;
	r = urio_rt_block_on(rt, server_main, NULL, &res);
	urio_rt_free(rt);
	httpd_root_close();
	if (r < 0 || res < 0) {
		fprintf(stderr, "urio-httpd: %s\n",
			strerror(r < 0 ? -r : (int)-res));
		return 1;
	}
	return 0;
}
