/* redis-load: the Redis client under 1000 concurrent requesters, in one
 * program run against one redis-server of its own (loopback, temp dir,
 * no persistence):
 *
 *   redis-load [--requesters N] [--pool P] [--requests R] [--pipeline D]
 *              [--ops N] [--workers W]
 *
 * pool: N urio tasks share a pool of P connections, each doing R requests
 *       (SET then GET of its own key, alternately) with
 *       urio_redis_pool_command (commands batched onto the connections);
 * leased: the same, each command on a connection leased for it alone
 *       (acquire, urio_redis_command, release), for comparison;
 * threads: the same N requesters as threads with hiredis' blocking client
 *       (redisConnect / redisCommand), one connection each;
 * pipeline: on one connection, --ops commands one at a time (a round trip
 *       each) against batches of D appended then read (one write, D
 *       replies).
 * Prints requests/s and p99 per row and the ratios. Every phase is bounded
 * in count; an alarm bounds the whole run. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urio.h>
#include <urio/redis.h>

#include "../tests/proc.h"

static int port;
static unsigned requesters = 1000, pool_size = 16, requests = 100;
static unsigned depth = 100, ops = 20000, workers;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct row {
	double rps;
	double p99_us;
};

static struct row summarize(uint64_t *lat, size_t n, uint64_t elapsed)
{
	qsort(lat, n, sizeof(*lat), cmp_u64);
	struct row r = {n * 1e9 / (double)elapsed,
			lat[(size_t)((double)(n - 1) * 0.99)] / 1e3};
	return r;
}

static uint64_t *lat; /* requesters * requests latencies, ns */
static atomic_int failures;

/* --- urio: tasks over a pool -------------------------------------------- */

static urio_redis_pool *pool;
static char value[32];

static bool leased; /* a lease per command instead of batching */

/* urio_redis_pool_command, or acquire / urio_redis_command / release. */
static int pool_cmd(redisReply **r, int argc, const char **argv,
		    const size_t *lens)
{
	if (!leased)
		return urio_redis_pool_command(pool, r, argc, argv, lens);
	urio_redis *c;
	int err = urio_redis_pool_acquire(pool, &c);
	if (err < 0)
		return err;
	err = urio_redis_command(c, r, argc, argv, lens);
	urio_redis_pool_release(pool, c, err);
	return err;
}

static intptr_t pool_requester(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	char key[32];
	int klen = snprintf(key, sizeof(key), "key:%u", id);
	for (unsigned i = 0; i < requests; i++) {
		const char *set[] = {"SET", key, value};
		const char *get[] = {"GET", key};
		size_t setl[] = {3, (size_t)klen, sizeof(value)};
		size_t getl[] = {3, (size_t)klen};
		redisReply *r;
		uint64_t t0 = urio_now_ns();
		int err = i % 2 ? pool_cmd(&r, 2, get, getl)
				: pool_cmd(&r, 3, set, setl);
		lat[(size_t)id * requests + i] = urio_now_ns() - t0;
		urio_redis_reply_free(r);
		if (err < 0)
			atomic_fetch_add(&failures, 1);
	}
	return 0;
}

static intptr_t run_pool(void *arg)
{
	uint64_t *elapsed = arg;
	urio_pool_opts po = {.max_size = pool_size, .min_idle = pool_size};
	pool = urio_redis_pool_new("127.0.0.1", (uint16_t)port, NULL, &po);
	if (!pool)
		return -errno;
	/* warm: every connection made before the clock starts */
	urio_pool_stats st;
	for (int i = 0; i < 10000; i++) {
		urio_pool_get_stats(urio_redis_pool_pool(pool), &st);
		if (st.idle >= pool_size)
			break;
		urio_sleep_ms(1);
	}
	urio_group g;
	urio_group_init(&g);
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < requesters; i++)
		if (!urio_group_spawn(&g, pool_requester, (void *)(uintptr_t)i))
			return -ENOMEM;
	int err = urio_group_wait(&g);
	*elapsed = now_ns() - t0;
	urio_redis_pool_free(pool);
	return err;
}

/* --- hiredis blocking: a thread per requester --------------------------- */

static pthread_barrier_t start;

static void *thread_requester(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	char key[32];
	snprintf(key, sizeof(key), "key:%u", id);
	redisContext *c = redisConnect("127.0.0.1", port);
	pthread_barrier_wait(&start);
	if (!c || c->err) {
		atomic_fetch_add(&failures, (int)requests);
		if (c)
			redisFree(c);
		return NULL;
	}
	for (unsigned i = 0; i < requests; i++) {
		uint64_t t0 = now_ns();
		redisReply *r = i % 2 ? redisCommand(c, "GET %s", key)
				      : redisCommand(c, "SET %s %b", key, value,
						     sizeof(value));
		lat[(size_t)id * requests + i] = now_ns() - t0;
		if (!r)
			atomic_fetch_add(&failures, 1);
		else
			freeReplyObject(r);
	}
	redisFree(c);
	return NULL;
}

static int run_threads(uint64_t *elapsed)
{
	pthread_t *t = calloc(requesters, sizeof(*t));
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	pthread_barrier_init(&start, NULL, requesters + 1);
	unsigned made = 0;
	for (; made < requesters; made++)
		if (pthread_create(&t[made], &attr, thread_requester,
				   (void *)(uintptr_t)made) != 0)
			break;
	if (made < requesters) { /* cannot happen past the barrier: bail */
		fprintf(stderr, "only %u threads\n", made);
		exit(1);
	}
	pthread_barrier_wait(&start); /* every thread connected */
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < made; i++)
		pthread_join(t[i], NULL);
	*elapsed = now_ns() - t0;
	pthread_barrier_destroy(&start);
	pthread_attr_destroy(&attr);
	free(t);
	return 0;
}

/* --- pipelining on one connection --------------------------------------- */

struct pipe_res {
	uint64_t one_ns, piped_ns;
};

static intptr_t run_pipeline(void *arg)
{
	struct pipe_res *pr = arg;
	urio_redis *c;
	int err = urio_redis_connect("127.0.0.1", (uint16_t)port, NULL, &c);
	if (err < 0)
		return err;
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < ops && err >= 0; i++)
		err = urio_redis_commandf(c, NULL, "SET p%u %b", i % 1000,
					  value, sizeof(value));
	pr->one_ns = now_ns() - t0;
	t0 = now_ns();
	for (unsigned i = 0; i < ops && err >= 0; i += depth) {
		for (unsigned j = 0; j < depth && err >= 0; j++)
			err = urio_redis_appendf(c, "SET p%u %b", (i + j) % 1000,
						 value, sizeof(value));
		for (unsigned j = 0; j < depth && err >= 0; j++) {
			redisReply *r;
			err = urio_redis_get_reply(c, &r);
			urio_redis_reply_free(r);
		}
	}
	pr->piped_ns = now_ns() - t0;
	urio_redis_close(c);
	return err;
}

/* --- main ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: redis-load [--requesters N] [--pool P] "
			"[--requests R] [--pipeline D] [--ops N] "
			"[--workers W]\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		unsigned v = (unsigned)strtoul(argv[i + 1], NULL, 10);
		if (!v)
			usage();
		if (!strcmp(argv[i], "--requesters"))
			requesters = v;
		else if (!strcmp(argv[i], "--pool"))
			pool_size = v;
		else if (!strcmp(argv[i], "--requests"))
			requests = v;
		else if (!strcmp(argv[i], "--pipeline"))
			depth = v;
		else if (!strcmp(argv[i], "--ops"))
			ops = v;
		else if (!strcmp(argv[i], "--workers"))
			workers = v;
		else
			usage();
		i++;
	}
	ops = (ops + depth - 1) / depth * depth;
}

static int start_server(char *dir, size_t size)
{
	char ports[16], log[256];
	if (proc_tmpdir(dir, size, "redis-bench") < 0)
		return -1;
	port = proc_free_port();
	snprintf(ports, sizeof(ports), "%d", port);
	snprintf(log, sizeof(log), "%s/redis.log", dir);
	char *argv[] = {"redis-server", "--port", ports, "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--daemonize", "no", "--maxclients", "4096", NULL};
	pid_t pid = proc_spawn(argv, log, (uid_t)-1);
	return pid < 0 ? -1 : proc_wait_port(port, 20000, pid);
}

int main(int argc, char **argv)
{
	char dir[128];
	parse(argc, argv);
	alarm(900); /* a bound on the whole run on a loaded machine */
	memset(value, 'v', sizeof(value));
	if (start_server(dir, sizeof(dir)) < 0) {
		fprintf(stderr, "redis-server did not start\n");
		proc_stop_all();
		return 1;
	}
	size_t n = (size_t)requesters * requests;
	lat = calloc(n, sizeof(*lat));
	if (!lat)
		return 1;
	urio_config cfg = {.workers = workers};
	uint64_t el_pool = 0, el_thr = 0;
	intptr_t res = -1;
	if (urio_run(&cfg, run_pool, &el_pool, &res) != 0 || res != 0) {
		fprintf(stderr, "pool run failed: %ld\n", (long)res);
		return 1;
	}
	struct row rp = summarize(lat, n, el_pool);
	int fail_pool = atomic_exchange(&failures, 0);
	leased = true;
	uint64_t el_lease = 0;
	if (urio_run(&cfg, run_pool, &el_lease, &res) != 0 || res != 0) {
		fprintf(stderr, "leased run failed: %ld\n", (long)res);
		return 1;
	}
	struct row rl = summarize(lat, n, el_lease);
	fail_pool += atomic_exchange(&failures, 0);
	run_threads(&el_thr);
	struct row rt = summarize(lat, n, el_thr);
	int fail_thr = atomic_exchange(&failures, 0);
	struct pipe_res pr;
	if (urio_run(&cfg, run_pipeline, &pr, &res) != 0 || res != 0) {
		fprintf(stderr, "pipeline run failed: %ld\n", (long)res);
		return 1;
	}
	double one = ops * 1e9 / (double)pr.one_ns;
	double piped = ops * 1e9 / (double)pr.piped_ns;
	printf("# %u requesters x %u requests (SET/GET, %zu-byte values); "
	       "urio: pool of %u on %u workers; blocking: hiredis, a thread "
	       "and a connection per requester\n",
	       requesters, requests, sizeof(value), pool_size,
	       workers ? workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-34s %14s %14s %8s %s\n", "benchmark", "urio", "blocking",
	       "ratio", "target");
	printf("%-34s %14.0f %14.0f %7.2fx >= 2x\n", "requests/s, pool",
	       rp.rps, rt.rps, rp.rps / rt.rps);
	printf("%-34s %12.0fus %12.0fus %7.2fx <= 1x\n", "p99 latency", rp.p99_us,
	       rt.p99_us, rp.p99_us / rt.p99_us);
	printf("%-34s %14.0f %14.0f %7.2fx (a lease per command)\n",
	       "requests/s, leased", rl.rps, rt.rps, rl.rps / rt.rps);
	printf("%-34s %12.0fus %12.0fus %7.2fx\n", "p99 latency, leased",
	       rl.p99_us, rt.p99_us, rl.p99_us / rt.p99_us);
	printf("%-34s %14.0f %14.0f %7.2fx >= 10x\n", "pipeline (ops/s): batched vs one",
	       piped, one, piped / one);
	printf("# failures: pool %d, threads %d; pipeline depth %u, %u ops\n",
	       fail_pool, fail_thr, depth, ops);
	free(lat);
	proc_stop_all();
	proc_rmtree(dir);
	return fail_pool || fail_thr;
}
