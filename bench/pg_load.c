/* urio-pg under load: R concurrent requesters (1000) each running a small
 * query (SELECT $1::int) in a loop for a fixed time, against one
 * PostgreSQL server this program starts, in one run:
 *   urio-pool  R tasks over a urio-pg pool of C connections (16), a
 *              lease per query;
 *   urio-mux   R tasks over C shared connections in pipeline mode
 *              (urio_pg_mux): queries of many tasks back to back, each
 *              an unnamed statement (parsed and planned every time), as
 *              the blocking modes send them;
 *   urio-prep  urio-mux with its statement cache on: the query is
 *              prepared once per connection and then run by name;
 *   blk-pool   libpq's blocking client (PQexecParams), a thread per
 *              requester, the same C connections in a mutex/condvar pool;
 *   blk-conn   libpq's blocking client, a thread per requester, each with
 *              its own connection (R connections, R backends).
 * Prints requests/s and p50/p99/p99.9 latency per mode, and the urio
 * ratios.
 *
 *   pg-load [requesters [conns [seconds [workers [modes]]]]]
 *   (defaults 1000 16 5 0 umpbc: modes u = urio-pool, m = urio-mux,
 *   p = urio-prep, b = blk-pool, c = blk-conn)
 *
 * A request's latency runs from the end of the requester's previous one
 * (so waiting for a connection, and a thread's wait for a CPU between two
 * requests, count) to the end of its own, for every request that overlaps
 * the window after the first fifth of the run (warm-up), however early it
 * began or late it ended; requests/s counts completions in the window. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <urio.h>
#include <urio/pg.h>

#include "../tests/pg_server.h"

#define MAX_SAMPLES 4096 /* per requester */

static pg_server srv;
static unsigned nreq = 1000, nconn = 16, seconds = 5, workers;
static const char *modes = "umpbc";
static uint64_t t_warm, t_end; /* CLOCK_MONOTONIC ns */
static double cpu0; /* this process's CPU seconds at the mode's start */

struct requester {
	unsigned id;
	unsigned n;       /* samples kept */
	uint64_t done;    /* requests counted */
	uint64_t all;     /* requests made, warm-up included */
	uint64_t errors;
	uint32_t lat_us[MAX_SAMPLES];
	PGconn *own;      /* blk-conn */
};

static struct requester *reqs;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void record(struct requester *r, uint64_t t0, uint64_t t1, bool ok)
{
	r->all++;
	if (!ok) {
		r->errors++;
		return;
	}
	/* throughput: completions in the window; latency: every request
	 * that overlaps it, however early it began or late it ends (a
	 * starved requester's wait counts, it is not cut off) */
	if (t1 >= t_warm && t1 <= t_end)
		r->done++;
	if (t1 > t_warm && t0 < t_end && r->n < MAX_SAMPLES)
		r->lat_us[r->n++] = (uint32_t)((t1 - t0) / 1000);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double cpu_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Requests per second over the window, and p50 / p99 / p99.9 latency in
 * ms. */
static double stats(double secs, double *p50, double *p99, double *p999)
{
	uint64_t done = 0;
	size_t n = 0, k = 0;
	for (unsigned i = 0; i < nreq; i++) {
		done += reqs[i].done;
		n += reqs[i].n;
	}
	uint32_t *all = malloc((n ? n : 1) * sizeof(*all));
	for (unsigned i = 0; i < nreq; i++) {
		memcpy(all + k, reqs[i].lat_us, reqs[i].n * sizeof(*all));
		k += reqs[i].n;
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	*p50 = n ? all[n / 2] / 1000.0 : 0;
	*p99 = n ? all[(size_t)((double)n * 0.99)] / 1000.0 : 0;
	*p999 = n ? all[(size_t)((double)n * 0.999)] / 1000.0 : 0;
	free(all);
	return (double)done / secs;
}

/* Prints mode's row; its req/s, and its p99 in *p99. */
static double report(const char *mode, unsigned conns, double *p99)
{
	uint64_t errors = 0, all = 0;
	for (unsigned i = 0; i < nreq; i++) {
		errors += reqs[i].errors;
		all += reqs[i].all;
	}
	double p50, p999;
	double rps = stats((double)(t_end - t_warm) / 1e9, &p50, p99, &p999);
	/* client CPU (all threads, warm-up included) per request */
	double cpu_us = all ? (cpu_now() - cpu0) * 1e6 / (double)all : 0;
	printf("%-9s requesters=%u conns=%u  %9.0f req/s  p50 %7.2f ms  "
	       "p99 %7.2f ms  p99.9 %7.2f ms  client CPU %5.1f us/req  "
	       "errors %llu\n",
	       mode, nreq, conns, rps, p50, *p99, p999, cpu_us,
	       (unsigned long long)errors);
	fflush(stdout);
	return rps;
}

static void reset_reqs(void)
{
	for (unsigned i = 0; i < nreq; i++) {
		PGconn *own = reqs[i].own;
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].id = i;
		reqs[i].own = own;
	}
}

static void set_window(void)
{
	cpu0 = cpu_now();
	uint64_t now = mono_ns(), len = (uint64_t)seconds * 1000000000u;
	t_warm = now + len / 5;
	t_end = now + len;
}

/* --- urio ----------------------------------------------------------------- */

static urio_pg_pool *pool;
static urio_pg_mux *mux;

static intptr_t urio_requester(void *arg)
{
	struct requester *r = arg;
	char v[16];
	snprintf(v, sizeof(v), "%u", r->id);
	const char *vals[] = {v};
	uint64_t t0 = mono_ns();
	while (t0 < t_end) {
		urio_pg *c;
		PGresult *res = NULL;
		int err = mux ? urio_pg_mux_query(mux, "SELECT $1::int", 1,
						  vals, &res)
			      : urio_pg_pool_acquire(pool, &c);
		if (err == 0 && !mux) {
			err = urio_pg_query(c, "SELECT $1::int", 1, vals, &res);
			urio_pg_pool_release(pool, c, err);
		}
		bool ok = err == 0 && !strcmp(PQgetvalue(res, 0, 0), v);
		PQclear(res);
		uint64_t t1 = mono_ns();
		record(r, t0, t1, ok);
		t0 = t1;
	}
	return 0;
}

/* Fills the pool with its connections before the clock starts. */
static intptr_t warm_one(void *arg)
{
	(void)arg;
	urio_pg *c;
	if (urio_pg_pool_acquire(pool, &c) < 0)
		return -1;
	urio_sleep_ms(50);
	urio_pg_pool_release(pool, c, 0);
	return 0;
}

/* arg 'u': over a pool; 'm': over shared, pipelined connections; 'p': the
 * same with prepared statements. */
static intptr_t urio_main(void *arg)
{
	urio_group g;
	if ((intptr_t)arg != 'u') {
		mux = urio_pg_mux_new(srv.conninfo, nconn, 30000);
		if (!mux)
			return -errno;
		if ((intptr_t)arg == 'p' &&
		    urio_pg_mux_cache_statements(mux, 16) < 0)
			return -EINVAL;
	} else {
		urio_pool_opts o = {.max_size = nconn};
		pool = urio_pg_pool_new(srv.conninfo, 30000, &o);
		if (!pool)
			return -errno;
		urio_group_init(&g);
		for (unsigned i = 0; i < nconn; i++)
			urio_group_spawn(&g, warm_one, NULL);
		if (urio_group_wait(&g) < 0)
			return -ECONNREFUSED;
	}
	set_window();
	urio_group_init(&g);
	for (unsigned i = 0; i < nreq; i++)
		if (!urio_group_spawn(&g, urio_requester, &reqs[i]))
			return -ENOMEM;
	int err = urio_group_wait(&g);
	urio_pg_pool_free(pool);
	urio_pg_mux_free(mux);
	pool = NULL;
	mux = NULL;
	return err;
}

/* --- blocking: a thread per requester --------------------------------------- */

static pthread_mutex_t bmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bcv = PTHREAD_COND_INITIALIZER;
static PGconn **bfree;
static unsigned nfree;

static PGconn *blk_acquire(void)
{
	pthread_mutex_lock(&bmu);
	while (nfree == 0)
		pthread_cond_wait(&bcv, &bmu);
	PGconn *c = bfree[--nfree];
	pthread_mutex_unlock(&bmu);
	return c;
}

static void blk_release(PGconn *c)
{
	pthread_mutex_lock(&bmu);
	bfree[nfree++] = c;
	pthread_cond_signal(&bcv);
	pthread_mutex_unlock(&bmu);
}

static void *blk_requester(void *arg)
{
	struct requester *r = arg;
	char v[16];
	snprintf(v, sizeof(v), "%u", r->id);
	const char *vals[] = {v};
	uint64_t t0 = mono_ns();
	while (t0 < t_end) {
		PGconn *c = r->own ? r->own : blk_acquire();
		PGresult *res = PQexecParams(c, "SELECT $1::int", 1, NULL, vals,
					     NULL, NULL, 0);
		if (!r->own)
			blk_release(c);
		bool ok = PQresultStatus(res) == PGRES_TUPLES_OK &&
			  !strcmp(PQgetvalue(res, 0, 0), v);
		PQclear(res);
		uint64_t t1 = mono_ns();
		record(r, t0, t1, ok);
		t0 = t1;
	}
	return NULL;
}

static int run_threads(void)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 * 1024);
	pthread_t *th = calloc(nreq, sizeof(*th));
	set_window();
	unsigned started = 0;
	for (; started < nreq; started++)
		if (pthread_create(&th[started], &a, blk_requester,
				   &reqs[started]) != 0)
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	pthread_attr_destroy(&a);
	return started == nreq ? 0 : -EAGAIN;
}

static PGconn *blk_connect(void)
{
	PGconn *c = PQconnectdb(srv.conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		exit(1);
	}
	return c;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		nreq = (unsigned)atoi(argv[1]);
	if (argc > 2)
		nconn = (unsigned)atoi(argv[2]);
	if (argc > 3)
		seconds = (unsigned)atoi(argv[3]);
	if (argc > 4)
		workers = (unsigned)atoi(argv[4]);
	if (argc > 5)
		modes = argv[5];
	if (!nreq || !nconn || !seconds || nreq > 100000) {
		fprintf(stderr, "usage: pg-load [requesters [conns [seconds "
				"[workers [modes]]]]]\n");
		return 2;
	}
	int r = pg_server_start(&srv, "pgload", (int)nreq + 64);
	if (r == 77) {
		fprintf(stderr, "no PostgreSQL here: skipped\n");
		return 77;
	}
	if (r != 0)
		return 1;
	reqs = calloc(nreq, sizeof(*reqs));

	double u_rps = 0, u_p99 = 0, m_rps = 0, m_p99 = 0, p_rps = 0,
	       p_p99 = 0, bp_rps = 0, bp_p99 = 0, bc_rps = 0, bc_p99 = 0;
	for (const char *mode = "ump"; *mode; mode++) {
		if (!strchr(modes, *mode))
			continue;
		reset_reqs();
		urio_config cfg = {0};
		cfg.workers = workers;
		intptr_t res = -1;
		if (urio_run(&cfg, urio_main, (void *)(intptr_t)*mode,
			     &res) != 0 ||
		    res != 0) {
			fprintf(stderr, "urio run failed: %ld\n", (long)res);
			return 1;
		}
		if (*mode == 'm')
			m_rps = report("urio-mux", nconn, &m_p99);
		else if (*mode == 'p')
			p_rps = report("urio-prep", nconn, &p_p99);
		else
			u_rps = report("urio-pool", nconn, &u_p99);
	}
	if (strchr(modes, 'b')) {
		bfree = calloc(nconn, sizeof(*bfree));
		for (nfree = 0; nfree < nconn; nfree++)
			bfree[nfree] = blk_connect();
		reset_reqs();
		if (run_threads() < 0)
			fprintf(stderr, "blk-pool: not every thread started\n");
		bp_rps = report("blk-pool", nconn, &bp_p99);
		for (unsigned i = 0; i < nconn; i++)
			PQfinish(bfree[i]);
	}
	if (strchr(modes, 'c')) {
		for (unsigned i = 0; i < nreq; i++)
			reqs[i].own = blk_connect();
		reset_reqs();
		if (run_threads() < 0)
			fprintf(stderr, "blk-conn: not every thread started\n");
		bc_rps = report("blk-conn", nreq, &bc_p99);
		for (unsigned i = 0; i < nreq; i++)
			PQfinish(reqs[i].own);
	}
	if (m_rps && bp_rps)
		printf("urio-mux/blk-pool: %.2fx req/s, p99 %.2f vs %.2f ms\n",
		       m_rps / bp_rps, m_p99, bp_p99);
	if (m_rps && bc_rps)
		printf("urio-mux/blk-conn: %.2fx req/s, p99 %.2f vs %.2f ms\n",
		       m_rps / bc_rps, m_p99, bc_p99);
	if (p_rps && bc_rps)
		printf("urio-prep/blk-conn: %.2fx req/s, p99 %.2f vs %.2f ms "
		       "(prepared vs unnamed statements)\n",
		       p_rps / bc_rps, p_p99, bc_p99);
	if (u_rps && bp_rps)
		printf("urio-pool/blk-pool: %.2fx req/s, p99 %.2f vs %.2f ms\n",
		       u_rps / bp_rps, u_p99, bp_p99);
	if (u_rps && bc_rps)
		printf("urio-pool/blk-conn: %.2fx req/s, p99 %.2f vs %.2f ms\n",
		       u_rps / bc_rps, u_p99, bc_p99);
	free(reqs);
	free(bfree);
	pg_server_stop(&srv);
	return 0;
}
