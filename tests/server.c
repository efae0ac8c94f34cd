/* Servers over 127.0.0.1: echo correctness with many connections,
 * half-close, a peer reset mid-send, a slowloris client beside fast ones,
 * a drain (stop accepting, grace, cancel the rest) triggered by a signal
 * awaited in a task, and bad input. Each case runs on 1 and 2 workers;
 * the *_poll ctest entry runs them all on the poll(2) backend. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define NCONN 40 /* TSan: a shadow stack per live fiber */
#else
#define NCONN 120
#endif
#define ROUNDS 12
#define MAXMSG 8192
#define IO_MS 20000 /* a bound on each client's whole run: never a timing */

static unsigned workers;

static int echo(int fd, void *arg)
{
	for (;;) {
		urio_buf b;
		ssize_t n = urio_recv_buf(fd, &b, 0);
		if (n <= 0)
			return (int)n;
		n = urio_send_all(fd, b.data, b.len, 0);
		urio_buf_release(&b);
		if (n < 0)
			return (int)n;
	}
}

static urio_server *start(urio_conn_fn fn, void *arg, unsigned listeners)
{
	urio_server_opts o = {.host = "127.0.0.1", .conn = fn, .arg = arg,
			      .listeners = listeners};
	urio_server *s = urio_server_new(&o);
	ASSERT(s);
	ASSERT(urio_server_port(s) > 0);
	ASSERT_EQ(urio_server_start(s), 0);
	ASSERT_EQ(urio_server_start(s), -EALREADY);
	return s;
}

/* Receives exactly len bytes; 0 or -errno (-EPIPE: EOF first). */
static int recv_exact(int fd, char *p, size_t len)
{
	while (len) {
		ssize_t n = urio_recv(fd, p, len, 0);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fill(char *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char)(seed >> 16);
	}
}

/* --- echo with many connections ----------------------------------------- */
struct client {
	int port;
	unsigned id;
	atomic_int *done;
};

static intptr_t echo_client(void *arg)
{
	struct client *c = arg;
	urio_deadline d;
	urio_timeout_enter(&d, IO_MS);
	int fd = urio_dial("127.0.0.1", (uint16_t)c->port, 0);
	ASSERT(fd >= 0);
	uint32_t seed = c->id * 7919u + 1;
	for (int r = 0; r < ROUNDS; r++) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 1 + (seed >> 8) % MAXMSG;
		char *o = malloc(n), *i = malloc(n);
		ASSERT(o && i);
		fill(o, n, seed);
		ASSERT_EQ(urio_send_all(fd, o, n, 0), (long long)n);
		ASSERT_EQ(recv_exact(fd, i, n), 0);
		ASSERT(memcmp(o, i, n) == 0);
		free(o);
		free(i);
	}
	close(fd);
	ASSERT_EQ(urio_timeout_exit(&d), 0);
	atomic_fetch_add(c->done, 1);
	return 0;
}

static intptr_t echo_many(void *arg)
{
	urio_server *s = start(echo, NULL, workers);
	atomic_int done = 0;
	static struct client cs[NCONN];
	urio_group g;
	urio_group_init(&g);
	for (unsigned i = 0; i < NCONN; i++) {
		cs[i] = (struct client){urio_server_port(s), i, &done};
		ASSERT(urio_group_spawn(&g, echo_client, &cs[i]));
	}
	ASSERT_EQ(urio_group_wait(&g), 0);
	ASSERT_EQ(atomic_load(&done), NCONN);
	ASSERT_EQ(urio_server_drain(s, 5000), 0);
	urio_server_stats st;
	urio_server_stats_get(s, &st);
	ASSERT_EQ(st.accepted, NCONN);
	ASSERT_EQ(st.active, 0);
	ASSERT_EQ(st.conn_errors, 0);
	ASSERT_EQ(st.listeners, workers);
	/* multishot on io_uring from 5.19 on, never on poll(2) */
	const char *b = getenv("URIO_BACKEND");
	struct utsname u;
	unsigned maj = 0, min = 0;
	ASSERT_EQ(uname(&u), 0);
	sscanf(u.release, "%u.%u", &maj, &min);
	bool has = maj > 5 || (maj == 5 && min >= 19);
	ASSERT_EQ(st.multishot, has && !(b && strcmp(b, "poll") == 0));
	ASSERT_EQ(urio_server_drain(s, 0), -EALREADY);
	urio_server_free(s);
	return 0;
}

/* --- half-close: the server finishes and closes -------------------------- */
static intptr_t half_close(void *arg)
{
	urio_server *s = start(echo, NULL, 1);
	int fd = urio_dial("127.0.0.1", (uint16_t)urio_server_port(s), 5000);
	ASSERT(fd >= 0);
	size_t n = 200000;
	char *o = malloc(n), *i = malloc(n + 1);
	fill(o, n, 42);
	ASSERT_EQ(urio_send_all(fd, o, n, 0), (long long)n);
	ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
	size_t got = 0;
	ssize_t r;
	urio_deadline d;
	urio_timeout_enter(&d, IO_MS);
	while ((r = urio_recv(fd, i + got, n + 1 - got, 0)) > 0)
		got += (size_t)r;
	ASSERT_EQ(urio_timeout_exit(&d), 0);
	ASSERT_EQ(r, 0); /* the server closed after echoing everything */
	ASSERT_EQ(got, n);
	ASSERT(memcmp(o, i, n) == 0);
	free(o);
	free(i);
	close(fd);
	POLL(({
		urio_server_stats st;
		urio_server_stats_get(s, &st);
		st.active == 0;
	}));
	ASSERT_EQ(urio_server_drain(s, 1000), 0);
	urio_server_free(s);
	return 0;
}

/* --- the peer resets while the server sends ------------------------------ */
static atomic_int blast_err;

static int blast(int fd, void *arg)
{
	static const char chunk[65536];
	for (int i = 0; i < 100000; i++) { /* a bound; the reset ends it */
		ssize_t n = urio_send_all(fd, chunk, sizeof(chunk), 0);
		if (n < 0) {
			atomic_store(&blast_err, (int)n);
			return (int)n;
		}
	}
	return 0;
}

static intptr_t peer_reset(void *arg)
{
	atomic_store(&blast_err, 0);
	urio_server *s = start(blast, NULL, 1);
	int fd = urio_dial("127.0.0.1", (uint16_t)urio_server_port(s), 5000);
	ASSERT(fd >= 0);
	char buf[4096];
	ASSERT(urio_recv(fd, buf, sizeof(buf), 0) > 0); /* it is sending */
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd); /* unread data + linger 0: an RST */
	POLL(atomic_load(&blast_err) != 0);
	int e = atomic_load(&blast_err);
	ASSERT(e == -ECONNRESET || e == -EPIPE);
	POLL(({
		urio_server_stats st;
		urio_server_stats_get(s, &st);
		st.active == 0 && st.conn_errors == 1;
	}));
	ASSERT_EQ(urio_server_drain(s, 1000), 0);
	urio_server_free(s);
	return 0;
}

/* --- a slowloris client does not hold up the others ---------------------- */
struct slow {
	int port;
	atomic_int stop, sent, running;
};

static intptr_t slow_client(void *arg)
{
	struct slow *sl = arg;
	int fd = urio_dial("127.0.0.1", (uint16_t)sl->port, 5000);
	ASSERT(fd >= 0);
	atomic_store(&sl->running, 1);
	/* one byte at a time, each echoed, until told to stop (bounded) */
	for (int i = 0; i < 20000 && !atomic_load(&sl->stop); i++) {
		char c = (char)i, e;
		ASSERT_EQ(urio_send_all(fd, &c, 1, 0), 1);
		ASSERT_EQ(recv_exact(fd, &e, 1), 0);
		ASSERT_EQ(e, c);
		atomic_fetch_add(&sl->sent, 1);
		urio_sleep_ms(1);
	}
	close(fd);
	atomic_store(&sl->running, 0);
	return 0;
}

static intptr_t slowloris(void *arg)
{
	urio_server *s = start(echo, NULL, workers);
	static struct slow sl;
	sl = (struct slow){.port = urio_server_port(s)};
	urio_task *slow = urio_spawn(slow_client, &sl);
	ASSERT(slow);
	POLL(atomic_load(&sl.sent) > 0);
	atomic_int done = 0;
	static struct client cs[NCONN / 4];
	urio_group g;
	urio_group_init(&g);
	for (unsigned i = 0; i < NCONN / 4; i++) {
		cs[i] = (struct client){urio_server_port(s), i, &done};
		ASSERT(urio_group_spawn(&g, echo_client, &cs[i]));
	}
	ASSERT_EQ(urio_group_wait(&g), 0);
	/* every fast client finished while the slow one still trickles */
	ASSERT_EQ(atomic_load(&sl.running), 1);
	atomic_store(&sl.stop, 1);
	ASSERT_EQ(urio_join(slow, NULL), 0);
	ASSERT_EQ(urio_server_drain(s, 1000), 0);
	urio_server_free(s);
	return 0;
}

/* --- drain on a signal ----------------------------------------------------
 * SIGUSR1 is blocked in main before the runtime starts (the workers inherit
 * the mask); a task awaits it and drains the server: an idle connection is
 * cancelled after the grace period, one mid-request finishes, new
 * connections are refused. */
static int slow_echo(int fd, void *arg)
{
	char c;
	ssize_t n = urio_recv(fd, &c, 1, 0); /* idle clients wait here */
	if (n <= 0)
		return (int)n;
	/* a request that takes a while and, once begun, is answered: a
	 * loaded machine may stretch it past the grace period */
	urio_shield sh;
	urio_shield_enter(&sh);
	urio_sleep_ms(50);
	n = urio_send_all(fd, &c, 1, 0);
	urio_shield_exit(&sh);
	return n < 0 ? (int)n : 0;
}

static intptr_t drain_on_signal(void *arg)
{
	urio_server *s = start(slow_echo, NULL, workers);
	int port = urio_server_port(s);
	int idle = urio_dial("127.0.0.1", (uint16_t)port, 5000);
	int busy = urio_dial("127.0.0.1", (uint16_t)port, 5000);
	ASSERT(idle >= 0 && busy >= 0);
	POLL(({
		urio_server_stats st;
		urio_server_stats_get(s, &st);
		st.active == 2;
	}));
	ASSERT_EQ(urio_send_all(busy, "x", 1, 0), 1);

	sigset_t set, other;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigemptyset(&other);
	sigaddset(&other, SIGUSR2); /* never blocked: waiting would hang */
	ASSERT_EQ(urio_signal_wait(&other, NULL), -EINVAL);
	ASSERT_EQ(urio_signal_wait(NULL, NULL), -EINVAL);
	ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
	struct signalfd_siginfo si;
	ASSERT_EQ(urio_signal_wait(&set, &si), SIGUSR1);
	ASSERT_EQ(si.ssi_pid, getpid());

	ASSERT_EQ(urio_server_drain(s, 300), 0);
	char c;
	ASSERT_EQ(urio_recv(busy, &c, 1, 0), 1); /* finished in the grace */
	ASSERT_EQ(c, 'x');
	ASSERT_EQ(urio_recv(busy, &c, 1, 0), 0);
	ASSERT_EQ(urio_recv(idle, &c, 1, 0), 0); /* cancelled, closed */
	urio_server_stats st;
	urio_server_stats_get(s, &st);
	ASSERT_EQ(st.active, 0);
	ASSERT_EQ(st.accepted, 2);
	close(idle);
	close(busy);
	/* the listener is gone */
	ASSERT_EQ(urio_dial("127.0.0.1", (uint16_t)port, 5000), -ECONNREFUSED);
	urio_server_free(s);
	return 0;
}

/* A cancelled signal wait returns -ECANCELED and leaks no fd. */
static intptr_t wait_sig(void *arg)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	return urio_signal_wait(&set, NULL);
}

static intptr_t signal_cancel(void *arg)
{
	int fds = test_count_dir("/proc/self/fd");
	urio_task *t = urio_spawn(wait_sig, NULL);
	ASSERT(t);
	urio_sleep_ms(5);
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t r;
	urio_join(t, &r);
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(test_count_dir("/proc/self/fd"), fds);
	return 0;
}

/* --- a server drained while nothing connects, and bad input -------------- */
static intptr_t bad_input(void *arg)
{
	urio_server_opts o = {.host = "127.0.0.1", .conn = echo};
	urio_server *s = urio_server_new(&o);
	ASSERT(s);
	ASSERT_EQ(urio_server_drain(s, 0), 0); /* never started: fine */
	urio_server_free(s);
	ASSERT(!urio_server_new(NULL) && errno == EINVAL);
	urio_server_opts bad = {.host = "127.0.0.1"};
	ASSERT(!urio_server_new(&bad) && errno == EINVAL);
	bad = (urio_server_opts){.host = "localhost", .conn = echo};
	ASSERT(!urio_server_new(&bad) && errno == EINVAL);
	/* a failure part-way closes only the listeners it made (not fd 0:
	 * calloc'd slots once read as fd 0, a worker's eventfd when stdin
	 * was closed) */
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT(null >= 0 && dup2(null, 0) == 0);
	close(null);
	bad = (urio_server_opts){.host = "localhost", .conn = echo,
				 .listeners = 3};
	ASSERT(!urio_server_new(&bad) && errno == EINVAL);
	ASSERT(fcntl(0, F_GETFD) >= 0);
	bad = (urio_server_opts){.conn = echo, .backlog = -1};
	ASSERT(!urio_server_new(&bad) && errno == EINVAL);
	bad = (urio_server_opts){.conn = echo, .flags = 0x100};
	ASSERT(!urio_server_new(&bad) && errno == EINVAL);
	ASSERT_EQ(urio_server_start(NULL), -EINVAL);
	ASSERT_EQ(urio_server_drain(NULL, 0), -EINVAL);
	ASSERT_EQ(urio_server_port(NULL), -EINVAL);
	ASSERT_EQ(urio_server_free(NULL), 0);
	/* a port in use */
	int l = urio_listen("127.0.0.1", 0, 0, 0);
	ASSERT(l >= 0);
	o.port = (uint16_t)urio_local_port(l);
	ASSERT(!urio_server_new(&o) && errno == EADDRINUSE);
	close(l);
	return 0;
}

/* A server left running when the runtime ends: the runtime cancels its
 * tasks, and only then can it be freed. */
static urio_server *left;
static int left_client = -1;

static intptr_t leave_running(void *arg)
{
	left = start(echo, NULL, workers);
	left_client = urio_dial("127.0.0.1", (uint16_t)urio_server_port(left),
				5000);
	ASSERT(left_client >= 0);
	POLL(({
		urio_server_stats st;
		urio_server_stats_get(left, &st);
		st.active == 1;
	}));
	ASSERT_EQ(urio_server_free(left), -EBUSY);
	return 0;
}

static void run(const char *name, urio_fn fn, unsigned nworkers)
{
	workers = nworkers;
	urio_config cfg = {.workers = nworkers};
	intptr_t res = -1;
	fprintf(stderr, "%s, %u worker(s)\n", name, nworkers);
	ASSERT_EQ(urio_run(&cfg, fn, NULL, &res), 0);
	ASSERT_EQ(res, 0);
}

int main(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	ASSERT_EQ(urio_signal_block(&set), 0);
	ASSERT_EQ(urio_signal_block(NULL), -EINVAL);
	/* outside a task */
	ASSERT_EQ(urio_send_all(0, "x", 1, 0), -EPERM);
	ASSERT_EQ(urio_signal_wait(&set, NULL), -EPERM);
	urio_server_opts o = {.host = "127.0.0.1", .conn = echo};
	urio_server *s = urio_server_new(&o);
	ASSERT(s);
	ASSERT_EQ(urio_server_start(s), -EPERM);
	ASSERT_EQ(urio_server_drain(s, 0), -EPERM);
	urio_server_free(s);
	for (unsigned w = 1; w <= 2; w++) {
		run("echo_many", echo_many, w);
		run("half_close", half_close, w);
		run("peer_reset", peer_reset, w);
		run("slowloris", slowloris, w);
		run("drain_on_signal", drain_on_signal, w);
		run("signal_cancel", signal_cancel, w);
		run("bad_input", bad_input, w);
		run("leave_running", leave_running, w);
		ASSERT_EQ(urio_server_free(left), 0);
		char c;
		ASSERT_EQ(recv(left_client, &c, 1, 0), 0); /* closed by cancel */
		close(left_client);
	}
	return 0;
}
