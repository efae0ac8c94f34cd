/* HTTP client load, one program run: 1000 concurrent requesters against
 * nginx (started here: one worker process, access log off, `return 200`
 * of a 12-byte body) through
 *   - urio-http: tasks sharing one session, a pool of 16 keep-alive
 *     connections;
 *   - urio-http-pipe: the same with HTTP/1.1 pipelining (pipeline_depth),
 *     the requests of many tasks in flight on each connection;
 *   - blocking: a thread per requester, each with its own keep-alive
 *     connection (plain sockets, responses parsed by libhttp-parser);
 *   - blocking-pool: a thread per requester over 16 shared connections
 *     (mutex and condition variable).
 * Each mode runs for the same time; prints requests/s, p50, p99, the
 * client's and nginx's CPU time per request, and the time their threads
 * spent ready but not running (runqueue wait: the machine's other load),
 * in thread-seconds per second, for each mode, and urio's ratios to the
 * blocking rows.
 *
 * usage: http-load [seconds per mode (3)] [requesters (1000)] [pool (16)]
 *                  [urio workers (0: one per CPU)] [only: urio-only run,
 *                  for profiling; pipe, blocking: that row alone;
 *                  any other word: every row]
 *                  [pipeline depth (64)] */
#include <dirent.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>
#include <urio.h>
#include <urio/http_client.h>

#include "../tests/proc.h"

static int port;
static unsigned secs = 3, nreq = 1000, pool = 16, workers, depth = 64;
static unsigned run_depth; /* of the urio run under way */
static uint64_t end_ns;
static atomic_ulong errors;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- latencies --------------------------------------------------------------- */

struct lat {
	uint32_t *us;
	size_t n, cap;
};

static void lat_add(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		uint32_t *p = realloc(l->us, cap * sizeof(*p));
		if (!p)
			return;
		l->us = p;
		l->cap = cap;
	}
	l->us[l->n++] = (uint32_t)(ns / 1000);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct row {
	const char *name;
	unsigned conns;
	size_t n;
	double rps, p50, p99;
	double cpu_us; /* the client's CPU (user + system) per request */
	double srv_us; /* nginx's */
	double wait;   /* runqueue wait of the client's and nginx's threads,
			  per second of the run */
};

/* Runqueue wait (ready, not running: the machine's other load) of the
 * threads in /proc/<path>/schedstat files, in seconds. */
static double rq_wait(const char *path)
{
	unsigned long long run = 0, wait = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int ok = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	return ok == 2 ? wait / 1e9 : 0;
}

/* The same summed over this process's threads now. */
static double rq_wait_all(void)
{
	double w = 0;
	DIR *d = opendir("/proc/self/task");
	for (struct dirent *e; d && (e = readdir(d));) {
		char path[300];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat",
			 e->d_name);
		w += rq_wait(path);
	}
	if (d)
		closedir(d);
	return w;
}

static _Atomic double blk_wait; /* the blocking threads', summed */

/* The process's CPU time so far, in microseconds. */
static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static struct row summarise(const char *name, unsigned conns, struct lat *ls,
			    unsigned nl, double secs_run, double cpu)
{
	struct row r = {name, conns, 0, 0, 0, 0, 0, 0, 0};
	for (unsigned i = 0; i < nl; i++)
		r.n += ls[i].n;
	uint32_t *all = malloc((r.n ? r.n : 1) * sizeof(*all));
	size_t k = 0;
	for (unsigned i = 0; i < nl; i++) {
		if (all)
			memcpy(all + k, ls[i].us, ls[i].n * sizeof(*all));
		k += ls[i].n;
		free(ls[i].us);
		ls[i] = (struct lat){0};
	}
	if (all && r.n) {
		qsort(all, r.n, sizeof(*all), cmp_u32);
		r.p50 = all[r.n / 2] / 1000.0;
		r.p99 = all[r.n * 99 / 100] / 1000.0;
	}
	free(all);
	r.rps = r.n / secs_run;
	r.cpu_us = r.n ? cpu / r.n : 0;
	return r;
}

/* --- urio-http ----------------------------------------------------------------- */

static urio_http_session *sess;
static char target[64];
static struct lat *lats;
static double urio_took, urio_wait;

static intptr_t requester(void *arg)
{
	struct lat *l = arg;
	urio_http_request req = {.url = target};
	while (urio_now_ns() < end_ns) {
		uint64_t t0 = urio_now_ns();
		urio_http_response *r;
		int st = urio_http_fetch(sess, &req, 4096, &r);
		if (st != 200) {
			atomic_fetch_add(&errors, 1);
			urio_http_response_free(st >= 0 ? r : NULL);
			continue;
		}
		urio_http_response_free(r);
		lat_add(l, urio_now_ns() - t0);
	}
	return 0;
}

static intptr_t urio_main(void *arg)
{
	urio_http_session_opts o = {.max_conns_per_host = pool,
				    .pipeline_depth = run_depth};
	sess = urio_http_session_new(&o);
	if (!sess)
		return -errno;
	urio_group g;
	urio_group_init(&g);
	urio_wait = -rq_wait_all();
	uint64_t t0 = urio_now_ns();
	end_ns = t0 + secs * 1000000000ull;
	for (unsigned i = 0; i < nreq; i++)
		if (!urio_group_spawn(&g, requester, &lats[i]))
			atomic_fetch_add(&errors, 1);
	int err = urio_group_wait(&g);
	urio_took = (urio_now_ns() - t0) / 1e9;
	urio_wait += rq_wait_all();
	urio_http_stats st;
	urio_http_session_stats(sess, &st);
	fprintf(stderr, "urio-http (depth %u): %llu connects, %llu retries, "
		"%llu discarded, %llu pipelined\n", run_depth,
		(unsigned long long)st.connects, (unsigned long long)st.retries,
		(unsigned long long)st.discarded,
		(unsigned long long)st.pipelined);
	urio_http_session_free(sess);
	return err;
}

/* --- blocking ------------------------------------------------------------------- */

static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int on_done(http_parser *hp)
{
	*(int *)hp->data = 1;
	return 0;
}

static const http_parser_settings blk_settings = {
	.on_message_complete = on_done,
};

/* One request and its whole response on fd: 0, or -1 (reconnect). */
static int blocking_get(int fd)
{
	char buf[4096];
	int done = 0;
	http_parser hp;
	http_parser_init(&hp, HTTP_RESPONSE);
	hp.data = &done;
	if (send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(request) - 1)
		return -1;
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return -1;
		if (http_parser_execute(&hp, &blk_settings, buf, (size_t)n) !=
			    (size_t)n ||
		    hp.status_code != 200)
			return -1;
	}
	return http_should_keep_alive(&hp) ? 0 : -1;
}

/* The blocking pool: a stack of idle connections under a mutex. */
static pthread_mutex_t bp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bp_cond = PTHREAD_COND_INITIALIZER;
static int bp_idle[1024];
static unsigned bp_n, bp_total;

static int bp_acquire(void)
{
	pthread_mutex_lock(&bp_lock);
	while (!bp_n && bp_total >= pool)
		pthread_cond_wait(&bp_cond, &bp_lock);
	int fd = -1;
	if (bp_n)
		fd = bp_idle[--bp_n];
	else
		bp_total++;
	pthread_mutex_unlock(&bp_lock);
	return fd >= 0 ? fd : dial();
}

static void bp_release(int fd, bool ok)
{
	pthread_mutex_lock(&bp_lock);
	if (ok && fd >= 0)
		bp_idle[bp_n++] = fd;
	else {
		if (fd >= 0)
			close(fd);
		bp_total--;
	}
	pthread_cond_signal(&bp_cond);
	pthread_mutex_unlock(&bp_lock);
}

static pthread_barrier_t start;
static bool use_pool;

static void *blocking_thread(void *arg)
{
	struct lat *l = arg;
	int fd = use_pool ? -1 : dial();
	pthread_barrier_wait(&start);
	double w0 = rq_wait("/proc/thread-self/schedstat");
	while (now_ns() < end_ns) {
		uint64_t t0 = now_ns();
		int err;
		if (use_pool) {
			int c = bp_acquire();
			err = c >= 0 ? blocking_get(c) : -1;
			bp_release(c, err == 0);
		} else {
			if (fd < 0)
				fd = dial();
			err = fd >= 0 ? blocking_get(fd) : -1;
			if (err < 0 && fd >= 0) {
				close(fd);
				fd = -1;
			}
		}
		if (err < 0) {
			atomic_fetch_add(&errors, 1);
			continue;
		}
		lat_add(l, now_ns() - t0);
	}
	if (fd >= 0)
		close(fd);
	double w = rq_wait("/proc/thread-self/schedstat") - w0, old = blk_wait;
	while (!atomic_compare_exchange_weak(&blk_wait, &old, old + w))
		;
	return NULL;
}

static double run_blocking(bool pooled)
{
	pthread_t *th = calloc(nreq, sizeof(*th));
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 128 << 10);
	use_pool = pooled;
	pthread_barrier_init(&start, NULL, nreq + 1);
	end_ns = UINT64_MAX;
	unsigned made = 0;
	for (; made < nreq; made++)
		if (pthread_create(&th[made], &at, blocking_thread,
				   &lats[made]) != 0)
			break;
	if (made < nreq) {
		fprintf(stderr, "only %u threads\n", made);
		exit(1);
	}
	uint64_t t0 = now_ns();
	end_ns = t0 + secs * 1000000000ull;
	pthread_barrier_wait(&start);
	for (unsigned i = 0; i < made; i++)
		pthread_join(th[i], NULL);
	double took = (now_ns() - t0) / 1e9;
	pthread_barrier_destroy(&start);
	while (bp_n)
		close(bp_idle[--bp_n]);
	bp_total = 0;
	free(th);
	return took;
}

/* --- nginx ----------------------------------------------------------------------- */

static char dir[128];
static pid_t nginx_pid;

/* nginx's runqueue wait so far, in seconds. */
static double srv_wait(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)nginx_pid);
	return rq_wait(path);
}

/* nginx's CPU time so far (user + system), in microseconds. */
static double srv_us(void)
{
	char path[64];
	unsigned long ut = 0, st = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)nginx_pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	/* past the command's closing parenthesis: fields 3 to 15 */
	int ok = fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u "
			"%*u %*u %lu %lu", &ut, &st);
	fclose(f);
	return ok == 2 ? (ut + st) * 1e6 / sysconf(_SC_CLK_TCK) : 0;
}

static void remove_dir(void)
{
	proc_rmtree(dir);
}

static void start_nginx(void)
{
	char conf[2048], path[256], log[256], prefix[160];
	if (proc_tmpdir(dir, sizeof(dir), "httpload") < 0)
		exit(1);
	atexit(remove_dir);
	port = proc_free_port();
	snprintf(conf, sizeof(conf),
		 "daemon off; master_process off; worker_processes 1;\n"
		 "worker_rlimit_nofile 8192; %s\n"
		 "error_log %s/error.log; pid %s/nginx.pid;\n"
		 "events { worker_connections 4096; }\n"
		 "http { access_log off; keepalive_requests 10000000;\n"
		 " client_body_temp_path %s/body; proxy_temp_path %s/proxy;\n"
		 " fastcgi_temp_path %s/fcgi; uwsgi_temp_path %s/uwsgi;\n"
		 " scgi_temp_path %s/scgi;\n"
		 " server { listen 127.0.0.1:%d backlog=4096;\n"
		 "  location / { return 200 \"hello world\\n\"; } } }\n",
		 getuid() == 0 ? "user root;" : "", dir, dir, dir, dir, dir,
		 dir, dir, port);
	snprintf(path, sizeof(path), "%s/nginx.conf", dir);
	FILE *f = fopen(path, "w");
	if (!f || fputs(conf, f) < 0 || fclose(f) != 0)
		exit(1);
	snprintf(log, sizeof(log), "%s/nginx.out", dir);
	snprintf(prefix, sizeof(prefix), "%s/", dir);
	char *argv[] = {"nginx", "-c", path, "-p", prefix, NULL};
	pid_t pid = nginx_pid = proc_spawn(argv, log, (uid_t)-1);
	if (pid < 0 || proc_wait_port(port, 20000, pid) < 0) {
		fprintf(stderr, "nginx did not start (%s)\n", log);
		exit(1);
	}
}

static void print(const struct row *r)
{
	printf("%-14s %10u %6u %9zu %9.0f %8.2f %8.2f %10.1f %10.1f %7.2f\n",
	       r->name, nreq, r->conns, r->n, r->rps, r->p50, r->p99,
	       r->cpu_us, r->srv_us, r->wait);
}

static void print_head(void)
{
	printf("%-14s %10s %6s %9s %9s %8s %8s %10s %10s %7s\n", "client",
	       "requesters", "conns", "requests", "req/s", "p50_ms", "p99_ms",
	       "cpu_us/req", "srv_us/req", "rq_wait");
}

int main(int argc, char **argv)
{
	if (argc > 1)
		secs = (unsigned)atoi(argv[1]);
	if (argc > 2)
		nreq = (unsigned)atoi(argv[2]);
	if (argc > 3)
		pool = (unsigned)atoi(argv[3]);
	if (argc > 4)
		workers = (unsigned)atoi(argv[4]);
	bool only = argc > 5 && !strcmp(argv[5], "only");
	bool pipe_only = argc > 5 && !strcmp(argv[5], "pipe");
	bool blk_only = argc > 5 && !strcmp(argv[5], "blocking");
	if (argc > 6)
		depth = (unsigned)atoi(argv[6]);
	if (!secs || secs > 60 || !nreq || nreq > 4000 || !pool ||
	    pool > 1024 || depth > 1024) {
		fprintf(stderr, "usage: http-load [seconds 1-60] "
				"[requesters 1-4000] [pool 1-1024] [workers]\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * nreq + 64) {
		rl.rlim_cur = rl.rlim_max < 2 * nreq + 64 ? rl.rlim_max :
							      2 * nreq + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	start_nginx();
	snprintf(target, sizeof(target), "http://127.0.0.1:%d/", port);
	lats = calloc(nreq, sizeof(*lats));

	urio_config cfg = {.workers = workers};
	struct row u, up;
	unsigned long e_urio, e_pipe;
	double c1 = 0;
	u = up = (struct row){"-", 0, 0, 0, 0, 0, 0, 0, 0};
	e_urio = e_pipe = 0;
	for (int k = pipe_only; k < 2 && !blk_only; k++) {
		intptr_t res = 0;
		run_depth = k ? depth : 0;
		double c0 = cpu_us(), s0 = srv_us(), w0 = srv_wait();
		if (urio_run(&cfg, urio_main, NULL, &res) != 0 || res < 0) {
			fprintf(stderr, "urio run failed: %ld\n", (long)res);
			return 1;
		}
		c1 = cpu_us();
		struct row r = summarise(k ? "urio-http-pipe" : "urio-http",
					 pool, lats, nreq, urio_took, c1 - c0);
		r.srv_us = r.n ? (srv_us() - s0) / r.n : 0;
		r.wait = (urio_wait + srv_wait() - w0) / urio_took;
		*(k ? &up : &u) = r;
		*(k ? &e_pipe : &e_urio) = atomic_exchange(&errors, 0);
	}
	if (only || pipe_only) {
		print_head();
		print(&u);
		print(&up);
		free(lats);
		return e_urio || e_pipe;
	}
	double s1 = srv_us(), w1 = srv_wait();
	blk_wait = 0;
	double took = run_blocking(false);
	double c2 = cpu_us(), s2 = srv_us(), w2 = srv_wait();
	struct row b = summarise("blocking", nreq, lats, nreq, took, c2 - c1);
	b.srv_us = b.n ? (s2 - s1) / b.n : 0;
	b.wait = (blk_wait + w2 - w1) / took;
	blk_wait = 0;
	unsigned long e_blk = atomic_exchange(&errors, 0);
	if (blk_only) {
		print_head();
		print(&b);
		free(lats);
		return e_blk != 0;
	}
	took = run_blocking(true);
	struct row bp = summarise("blocking-pool", pool, lats, nreq, took,
				  cpu_us() - c2);
	bp.srv_us = bp.n ? (srv_us() - s2) / bp.n : 0;
	bp.wait = (blk_wait + srv_wait() - w2) / took;
	unsigned long e_bp = atomic_exchange(&errors, 0);

	print_head();
	print(&u);
	print(&up);
	print(&b);
	print(&bp);
	printf("urio/blocking      req/s %.2fx  p99 %.2fx  cpu/req %.2fx "
	       "(lower is better for p99 and cpu)\n",
	       u.rps / b.rps, u.p99 / b.p99, u.cpu_us / b.cpu_us);
	printf("urio/blocking-pool req/s %.2fx  p99 %.2fx  cpu/req %.2fx\n",
	       u.rps / bp.rps, u.p99 / bp.p99, u.cpu_us / bp.cpu_us);
	printf("pipe/blocking      req/s %.2fx  p99 %.2fx  cpu/req %.2fx "
	       "(depth %u)\n", up.rps / b.rps, up.p99 / b.p99,
	       up.cpu_us / b.cpu_us, depth);
	if (e_urio || e_pipe || e_blk || e_bp)
		printf("errors: urio %lu, urio-pipe %lu, blocking %lu, "
		       "blocking-pool %lu\n", e_urio, e_pipe, e_blk, e_bp);
	free(lats);
	return 0;
}
