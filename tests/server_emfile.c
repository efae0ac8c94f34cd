/* EMFILE on accept: with the fd table full, the accept task pauses between
 * attempts instead of spinning, and once fds are free again it accepts the
 * connections that waited and serves them; a signal wait started then
 * waits for an fd and gets the signal. RLIMIT_NOFILE is lowered for
 * the test (the libuv test-emfile pattern), so it is a program of its own.
 * On 1 and 2 workers, and on the poll backend (*_poll). */
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

#define CLIENTS 4
#define MAX_DUPS 4096

static unsigned workers;

static int echo(int fd, void *arg)
{
	char buf[256];
	for (;;) {
		ssize_t n = urio_recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return (int)n;
		n = urio_send_all(fd, buf, (size_t)n, 0);
		if (n < 0)
			return (int)n;
	}
}

static intptr_t wait_usr1(void *arg)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	return urio_signal_wait(&set, NULL);
}

static urio_server_stats stats(urio_server *s)
{
	urio_server_stats st;
	urio_server_stats_get(s, &st);
	return st;
}

static intptr_t emfile(void *arg)
{
	urio_server_opts o = {.host = "127.0.0.1", .conn = echo,
			      .listeners = workers};
	urio_server *s = urio_server_new(&o);
	ASSERT(s);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)urio_server_port(s)),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	/* the clients' sockets exist before the table fills; connecting
	 * takes no new fd */
	int cl[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT(cl[i] >= 0);
	}
	struct rlimit old, low;
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)test_count_dir("/proc/self/fd") + 64;
	if (low.rlim_cur > old.rlim_cur)
		low.rlim_cur = old.rlim_cur;
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	static int dups[MAX_DUPS];
	int nd = 0;
	while (nd < MAX_DUPS && (dups[nd] = dup(0)) >= 0)
		nd++;
	ASSERT(nd < MAX_DUPS);
	ASSERT_EQ(errno, EMFILE);
	/* started only now: an accept op takes RLIMIT_NOFILE when it is
	 * prepared (io_accept_prep), and a multishot one is prepared once */
	ASSERT_EQ(urio_server_start(s), 0);
	/* a signal wait needs an fd too: it waits for one, and the signal
	 * sent meanwhile stays pending */
	urio_task *sig = urio_spawn(wait_usr1, NULL);
	ASSERT(sig);
	ASSERT_EQ(kill(getpid(), SIGUSR1), 0);

	for (int i = 0; i < CLIENTS; i++) /* the backlog takes them */
		ASSERT_EQ(urio_connect(cl[i], (struct sockaddr *)&sin,
				       sizeof(sin)),
			  0);
	POLL(stats(s).fd_backoffs >= 3);
	ASSERT_EQ(stats(s).accepted, 0);
	/* paused, not spinning: over 200 ms at most one attempt per pause
	 * (10 ms) per listener, and some slack; a spinning loop makes
	 * thousands */
	uint64_t e0 = stats(s).accept_errors;
	urio_sleep_ms(200);
	uint64_t e1 = stats(s).accept_errors;
	fprintf(stderr, "  %llu failed accepts in 200 ms of EMFILE\n",
		(unsigned long long)(e1 - e0));
	ASSERT(e1 - e0 <= 30 * workers);
	ASSERT(e1 > 0);

	/* fds free again: every waiting connection is served */
	while (nd > 0)
		close(dups[--nd]);
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
	intptr_t signo = 0;
	ASSERT_EQ(urio_join(sig, &signo), 0);
	ASSERT_EQ(signo, SIGUSR1);
	for (int i = 0; i < CLIENTS; i++) {
		char c = (char)('a' + i), e = 0;
		ASSERT_EQ(urio_send_all(cl[i], &c, 1, 0), 1);
		ASSERT_EQ(urio_recv(cl[i], &e, 1, 0), 1);
		ASSERT_EQ(e, c);
		close(cl[i]);
	}
	ASSERT_EQ(stats(s).accepted, CLIENTS);
	ASSERT_EQ(urio_server_drain(s, 2000), 0);
	ASSERT_EQ(stats(s).active, 0);
	urio_server_free(s);
	return 0;
}

int main(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	ASSERT_EQ(urio_signal_block(&set), 0);
	for (workers = 1; workers <= 2; workers++) {
		urio_config cfg = {.workers = workers};
		intptr_t res = -1;
		fprintf(stderr, "emfile, %u worker(s)\n", workers);
		ASSERT_EQ(urio_run(&cfg, emfile, NULL, &res), 0);
		ASSERT_EQ(res, 0);
	}
	return 0;
}
