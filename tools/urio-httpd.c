/* urio-httpd: an HTTP/1.1 server on urio, a task per connection.
 *
 * Keep-alive and pipelining: every complete request in what one recv
 * brought is answered into one output buffer, sent with one send. Without
 * --root every GET gets a small fixed 200; with --root DIR files are served
 * from DIR (opened and read through urio). Abuse is bounded: a request must
 * arrive whole within --timeout of the connection going idle (slowloris),
 * each send must finish within it too (a peer that never reads), headers
 * past 8 KiB get 431 and malformed requests 400, both followed by a close;
 * accept backs off when fds run out. SIGTERM or SIGINT drains: accept
 * stops, idle connections close, busy ones finish their response (sent
 * with Connection: close), and whatever is left after --grace is
 * cancelled; the exit status is then 0. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio.h>
#include <urio/http.h>

#include "httpd.h"

struct httpd_opts httpd;

static struct {
	int lfd, sigfd;
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
	int r = 0;
	urio_timeout_enter(&d, httpd.timeout_ms);
	while (len) {
		ssize_t n = urio_send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n <= 0) {
			r = n ? (int)n : -EPIPE;
			break;
		}
		buf += n;
		len -= (size_t)n;
	}
	int t = urio_timeout_exit(&d);
	return t < 0 ? t : r;
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
			 * us now (pairs with drain()'s store, then scan) */
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

static void conn_free(struct conn *c)
{
	close(c->fd); /* a plain close: it must happen even when cancelled */
	urio_http_parser_free(c->p);
	free(c->out);
	free(c);
}

static intptr_t conn_main(void *arg)
{
	struct conn *c = arg;
	serve(c);
	conn_unlink(c);
	conn_free(c);
	return 0;
}

static void start_conn(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->p = urio_http_parser_new(NULL);
	c->out_cap = HTTPD_OUT_INITIAL;
	c->out = malloc(c->out_cap);
	if (!c->p || !c->out) {
		conn_free(c);
		return;
	}
	pthread_mutex_lock(&srv.lock);
	c->next = srv.conns;
	if (c->next)
		c->next->prev = c;
	srv.conns = c;
	srv.nconns++;
	/* spawned under the lock, so drain never sees a conn without its
	 * task; the task unlinks itself (taking the lock) before it ends */
	c->task = urio_spawn_ex(conn_main, c, HTTPD_STACK);
	urio_task *t = c->task;
	pthread_mutex_unlock(&srv.lock);
	if (!t) {
		conn_unlink(c);
		conn_free(c);
		return;
	}
	urio_detach(t);
}

static bool fd_shortage(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOBUFS ||
	       err == -ENOMEM;
}

/* Accepts until cancelled. Out of fds (or memory), it sleeps, doubling the
 * pause up to a bound, instead of spinning on a listener that stays
 * readable; the backlog holds the peers meanwhile. */
static intptr_t acceptor(void *arg)
{
	uint64_t pause_ms = 0;
	bool said = false;
	for (;;) {
		int fd = urio_accept(srv.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			pause_ms = 0;
			start_conn(fd);
			continue;
		}
		if (fd == -ECANCELED)
			return 0;
		if (fd_shortage(fd)) {
			if (!said)
				fprintf(stderr, "urio-httpd: accept: %s; "
					"backing off\n", strerror(-fd));
			said = true;
			pause_ms = pause_ms ? pause_ms * 2 : 1;
			if (pause_ms > HTTPD_ACCEPT_PAUSE_MAX_MS)
				pause_ms = HTTPD_ACCEPT_PAUSE_MAX_MS;
		} else {
			/* ECONNABORTED and the like: the peer's problem */
			pause_ms = 0;
		}
		if (pause_ms && urio_sleep_ms(pause_ms) < 0)
			return 0;
	}
}

/* Waits for SIGTERM or SIGINT on the signalfd, through the ring. */
static int wait_signal(void)
{
	for (;;) {
		int r = urio_poll(srv.sigfd, POLLIN);
		if (r < 0)
			return r;
		struct signalfd_siginfo si;
		if (read(srv.sigfd, &si, sizeof(si)) == sizeof(si))
			return (int)si.ssi_signo;
	}
}

static unsigned live_conns(void)
{
	pthread_mutex_lock(&srv.lock);
	unsigned n = srv.nconns;
	pthread_mutex_unlock(&srv.lock);
	return n;
}

/* Cancels the connections that are idle, or all. */
static void cancel_conns(bool all)
{
	pthread_mutex_lock(&srv.lock);
	for (struct conn *c = srv.conns; c; c = c->next)
		if (all || atomic_load(&c->idle))
			urio_cancel(c->task);
	pthread_mutex_unlock(&srv.lock);
}

/* Waits (a bounded number of short sleeps) until no connection is left. */
static bool wait_conns(uint64_t ms)
{
	uint64_t end = urio_now_ns() + ms * 1000000ull;
	while (live_conns()) {
		if (urio_now_ns() >= end)
			return false;
		urio_sleep_ms(HTTPD_DRAIN_POLL_MS);
	}
	return true;
}

static intptr_t server_main(void *arg)
{
	urio_task *acc = urio_spawn(acceptor, NULL);
	if (!acc)
		return -errno;
	urio_task_set_name(acc, "acceptor");
	int sig = wait_signal();
	/* drain: no new connections, idle ones close now (pairs with
	 * serve()'s idle store, then draining load), busy ones finish */
	atomic_store(&srv.draining, true);
	urio_cancel(acc);
	urio_join(acc, NULL);
	close(srv.lfd);
	cancel_conns(false);
	if (!wait_conns(httpd.grace_ms)) {
		fprintf(stderr, "urio-httpd: %u connections left after the "
			"grace period; cancelling them\n", live_conns());
		cancel_conns(true);
		wait_conns(HTTPD_CANCEL_WAIT_MS);
	}
	return sig < 0 ? sig : 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: urio-httpd [options]\n"
		"  --port N        TCP port (default 8080; 0 picks a free one)\n"
		"  --addr A        IPv4 address to listen on (default 127.0.0.1)\n"
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

static int parse_args(int argc, char **argv, struct in_addr *addr,
		      unsigned long *port, unsigned long *workers)
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
			if (parse_u(optarg, 65535, port) < 0)
				return -EINVAL;
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, addr) != 1)
				return -EINVAL;
			break;
		case 'w':
			if (parse_u(optarg, 1024, workers) < 0)
				return -EINVAL;
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

static int listen_on(struct in_addr addr, unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = addr,
				  .sin_port = htons((uint16_t)port) };
	socklen_t sl = sizeof(sa);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, HTTPD_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	char buf[INET_ADDRSTRLEN];
	printf("listening on %s:%u\n", inet_ntop(AF_INET, &addr, buf,
						 sizeof(buf)),
	       ntohs(sa.sin_port));
	fflush(stdout);
	return fd;
}

int main(int argc, char **argv)
{
	struct in_addr addr = { .s_addr = htonl(INADDR_LOOPBACK) };
	unsigned long port = 8080, workers = 0;
	httpd.timeout_ms = HTTPD_TIMEOUT_MS;
	httpd.grace_ms = HTTPD_GRACE_MS;
	if (parse_args(argc, argv, &addr, &port, &workers) < 0) {
		usage(stderr);
		return 2;
	}
	int r = httpd_root_open();
	if (r < 0) {
		fprintf(stderr, "urio-httpd: --root %s: %s\n", httpd.root,
			strerror(-r));
		return 1;
	}
	/* blocked in every thread (workers inherit the mask): the signals
	 * arrive only through the signalfd */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	srv.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (srv.sigfd < 0) {
		perror("urio-httpd: signalfd");
		return 1;
	}
	srv.lfd = listen_on(addr, (unsigned)port);
	if (srv.lfd < 0) {
		fprintf(stderr, "urio-httpd: listen on port %lu: %s\n", port,
			strerror(-srv.lfd));
		return 1;
	}
	urio_config cfg = { .workers = (unsigned)workers };
	intptr_t res = 0;
	r = urio_run(&cfg, server_main, NULL, &res);
	if (r < 0 || res < 0) {
		fprintf(stderr, "urio-httpd: %s\n",
			strerror(r < 0 ? -r : (int)-res));
		return 1;
	}
	close(srv.sigfd);
	httpd_root_close();
	return 0;
}
