/* urio-pg transactions and the pool against a real PostgreSQL (one server
 * for the program): concurrent transfers between accounts with rollbacks
 * injected at random keep the total and match the ledger; a task
 * cancelled in the middle of a query, or of a transaction between queries,
 * leaves the pool healthy, rolls back, and its server-side query is
 * cancelled (pg_stat_activity shows it gone, where it would sleep an hour);
 * the server killed mid-transaction gives a clear error, the pool fails
 * fast while it is down and recovers when it is back on the same port and
 * data dir; the same kill under shared pipelined connections (urio_pg_mux):
 * the query on a killed connection fails with -ECONNRESET, queries fail
 * fast while the server is down, and the mux serves again on connections
 * it made anew once the server is back. Each case on 1 and 2 workers. */
#include <errno.h>
#include <urio.h>
#include <urio/pg.h>

#include "pg_server.h"
#include "test.h"

#define ACCOUNTS 10
#define START 1000
#define TASKS 200
#define TRANSFERS 5

static pg_server srv;
static urio_pg_pool *pool;

static urio_pg_pool *pool_open(unsigned max)
{
	urio_pool_opts o = {.max_size = max, .acquire_timeout_ms = 60000};
	urio_pg_pool *pp = urio_pg_pool_new(srv.conninfo, 30000, &o);
	ASSERT(pp);
	return pp;
}

static long query_long(urio_pg *c, const char *sql)
{
	PGresult *res;
	int r = urio_pg_query(c, sql, 0, NULL, &res);
	if (r < 0)
		fprintf(stderr, "%s: %d %s\n", sql, r, urio_pg_error(c));
	ASSERT_EQ(r, 0);
	long v = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static int reset_body(urio_pg *c, void *ctx)
{
	(void)ctx;
	long r = urio_pg_exec(c, "DROP TABLE IF EXISTS accounts, ledger", 0,
			      NULL);
	if (r >= 0)
		r = urio_pg_exec(c, "CREATE TABLE accounts (id int PRIMARY "
				    "KEY, bal bigint NOT NULL)",
				 0, NULL);
	if (r >= 0)
		r = urio_pg_exec(c, "CREATE TABLE ledger (src int, dst int, "
				    "amount bigint)",
				 0, NULL);
	if (r >= 0)
		r = urio_pg_exec(c, "INSERT INTO accounts SELECT g, 1000 FROM "
				    "generate_series(1, 10) g",
				 0, NULL);
	return r < 0 ? (int)r : 0;
}

/* Total balance, and that each account's balance is its start plus what
 * the ledger (written in the same transactions) says it received. */
static int check_body(urio_pg *c, void *ctx)
{
	*(long *)ctx = query_long(c, "SELECT sum(bal) FROM accounts");
	long bad = query_long(
		c, "SELECT count(*) FROM accounts a WHERE bal <> 1000 + "
		   "coalesce((SELECT sum(amount) FROM ledger WHERE dst = a.id), 0)"
		   " - coalesce((SELECT sum(amount) FROM ledger WHERE src = a.id), 0)");
	ASSERT_EQ(bad, 0);
	return 0;
}

static void reset_and_check(urio_pg_pool *pp)
{
	ASSERT_EQ(urio_pg_transact(pp, reset_body, NULL), 0);
}

static long total(urio_pg_pool *pp)
{
	long t = -1;
	ASSERT_EQ(urio_pg_transact(pp, check_body, &t), 0);
	return t;
}

/* --- transfers ------------------------------------------------------------ */

struct transfer {
	int src, dst, amount;
	int fail; /* 0 none, 1 before, 2 after the updates, 3 bad SQL */
};

static atomic_int committed, rolled_back;

static int transfer_body(urio_pg *c, void *ctx)
{
	struct transfer *t = ctx;
	char a[16], s[16], d[16];
	snprintf(a, sizeof(a), "%d", t->amount);
	snprintf(s, sizeof(s), "%d", t->src);
	snprintf(d, sizeof(d), "%d", t->dst);
	if (t->fail == 1)
		return -EIO;
	/* the lower id first, so two transfers cannot deadlock */
	const char *first[] = {t->src < t->dst ? s : d,
			       t->src < t->dst ? "-1" : "1", a};
	const char *second[] = {t->src < t->dst ? d : s,
				t->src < t->dst ? "1" : "-1", a};
	const char *upd = "UPDATE accounts SET bal = bal + $2::int * "
			  "$3::int WHERE id = $1::int";
	long r = urio_pg_exec(c, upd, 3, first);
	if (r != 1)
		return r < 0 ? (int)r : -EPROTO;
	if (t->fail == 3) {
		r = urio_pg_exec(c, "UPDATE accounts SET nope = 1", 0, NULL);
		ASSERT_EQ(r, -EREMOTEIO);
		ASSERT(!strcmp(urio_pg_sqlstate(c), "42703"));
		return (int)r;
	}
	r = urio_pg_exec(c, upd, 3, second);
	if (r != 1)
		return r < 0 ? (int)r : -EPROTO;
	const char *led[] = {s, d, a};
	r = urio_pg_exec(c, "INSERT INTO ledger VALUES ($1::int, $2::int, "
			    "$3::int)",
			 3, led);
	if (r < 0)
		return (int)r;
	return t->fail == 2 ? -EIO : 0;
}

static intptr_t transfer_task(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (int i = 0; i < TRANSFERS; i++) {
		struct transfer t;
		t.src = 1 + (int)(rand_r(&seed) % ACCOUNTS);
		t.dst = 1 + (int)(rand_r(&seed) % (ACCOUNTS - 1));
		t.dst += t.dst >= t.src;
		t.amount = 1 + (int)(rand_r(&seed) % 100);
		int f = (int)(rand_r(&seed) % 8);
		t.fail = f < 3 ? f + 1 : 0;
		int r = urio_pg_transact(pool, transfer_body, &t);
		if (t.fail) {
			ASSERT(r < 0);
			atomic_fetch_add(&rolled_back, 1);
		} else {
			if (r < 0)
				fprintf(stderr, "transfer: %d\n", r);
			ASSERT_EQ(r, 0);
			atomic_fetch_add(&committed, 1);
		}
	}
	return 0;
}

static intptr_t case_transfers(void *arg)
{
	(void)arg;
	pool = pool_open(8);
	reset_and_check(pool);
	atomic_store(&committed, 0);
	atomic_store(&rolled_back, 0);
	urio_group g;
	urio_group_init(&g);
	for (uintptr_t i = 0; i < TASKS; i++)
		ASSERT(urio_group_spawn(&g, transfer_task, (void *)(i * 7919 + 1)));
	ASSERT_EQ(urio_group_wait(&g), 0);
	ASSERT_EQ(atomic_load(&committed) + atomic_load(&rolled_back),
		  TASKS * TRANSFERS);
	ASSERT(atomic_load(&committed) > 0 && atomic_load(&rolled_back) > 0);
	ASSERT_EQ(total(pool), ACCOUNTS * START);
	urio_pool_stats st;
	urio_pool_get_stats(urio_pg_pool_pool(pool), &st);
	ASSERT_EQ(st.in_use, 0);
	ASSERT(st.created <= 8 + st.broken);
	urio_pg_pool_free(pool);
	pool = NULL;
	return 0;
}

/* --- cancellation ---------------------------------------------------------- */

static atomic_int tag_seq;

static int active_with(const char *tag)
{
	urio_pg *c;
	PGresult *res;
	const char *v[] = {tag};
	ASSERT_EQ(urio_pg_pool_acquire(pool, &c), 0);
	int r = urio_pg_query(c, "SELECT count(*) FROM pg_stat_activity "
				 "WHERE state = 'active' AND pid <> "
				 "pg_backend_pid() AND strpos(query, $1) > 0",
			      1, v, &res);
	ASSERT_EQ(r, 0);
	int n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	urio_pg_pool_release(pool, c, 0);
	return n;
}

struct victim {
	char sql[128];
	int mode; /* 0 a query, 1 a query in a transaction, 2 a transaction
		     between queries */
	atomic_int ready;
};

static int victim_body(urio_pg *c, void *ctx)
{
	struct victim *v = ctx;
	long r = urio_pg_exec(c, "UPDATE accounts SET bal = bal + 1000000 "
				 "WHERE id = 1",
			      0, NULL);
	if (r != 1) /* a deadline may fire here already */
		return r < 0 ? (int)r : -EPROTO;
	if (v->mode == 2) {
		atomic_store(&v->ready, 1);
		return urio_sleep_ms(3600 * 1000);
	}
	return (int)urio_pg_exec(c, v->sql, 0, NULL);
}

static intptr_t victim_task(void *arg)
{
	struct victim *v = arg;
	if (v->mode == 0) {
		urio_pg *c;
		ASSERT_EQ(urio_pg_pool_acquire(pool, &c), 0);
		int r = (int)urio_pg_exec(c, v->sql, 0, NULL);
		ASSERT_EQ(r, -ECANCELED);
		ASSERT(!urio_pg_ok(c));
		urio_pg_pool_release(pool, c, r);
		return r;
	}
	int r = urio_pg_transact(pool, victim_body, v);
	ASSERT_EQ(r, -ECANCELED);
	return r;
}

static void cancel_one(int mode)
{
	struct victim v = {.mode = mode};
	char tag[32];
	snprintf(tag, sizeof(tag), "victim-%d", atomic_fetch_add(&tag_seq, 1));
	snprintf(v.sql, sizeof(v.sql), "SELECT pg_sleep(3600) /* %s */", tag);
	urio_pool_stats before, after;
	urio_pool_get_stats(urio_pg_pool_pool(pool), &before);
	urio_task *t = urio_spawn(victim_task, &v);
	ASSERT(t);
	if (mode == 2)
		POLL(atomic_load(&v.ready));
	else
		POLL(active_with(tag) == 1);
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t res = 0;
	int j = urio_join(t, &res);
	ASSERT(j == -ECANCELED || res == -ECANCELED);
	/* cancelled on the server: without it, it would sleep for an hour */
	POLL(active_with(tag) == 0);
	urio_pool_get_stats(urio_pg_pool_pool(pool), &after);
	ASSERT_EQ(after.in_use, 0);
	ASSERT_EQ(after.broken, before.broken + 1); /* not reused */
	/* rolled back, and the pool serves */
	ASSERT_EQ(total(pool), ACCOUNTS * START);
}

static intptr_t case_cancel(void *arg)
{
	(void)arg;
	pool = pool_open(4);
	reset_and_check(pool);
	for (int mode = 0; mode < 3; mode++)
		cancel_one(mode);
	/* a deadline in the middle of a transaction: the same */
	int err = 0, r = 0;
	struct victim v = {.mode = 1};
	snprintf(v.sql, sizeof(v.sql), "SELECT pg_sleep(3600) /* dl */");
	URIO_TIMEOUT(err, 100)
		r = urio_pg_transact(pool, victim_body, &v);
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(err, -ETIMEDOUT);
	POLL(active_with("/* dl */") == 0);
	ASSERT_EQ(total(pool), ACCOUNTS * START);
	urio_pg_pool_free(pool);
	pool = NULL;
	return 0;
}

/* --- the server killed mid-transaction ------------------------------------- */

static atomic_int in_txn, killed_done, killed_err;
static char killed_msg[256];

static int killed_body(urio_pg *c, void *ctx)
{
	(void)ctx;
	ASSERT_EQ(urio_pg_exec(c, "UPDATE accounts SET bal = 0 WHERE id = 2",
			       0, NULL),
		  1);
	atomic_store(&in_txn, 1);
	long r = urio_pg_exec(c, "SELECT pg_sleep(3600)", 0, NULL);
	snprintf(killed_msg, sizeof(killed_msg), "%s", urio_pg_error(c));
	return (int)r;
}

static intptr_t killed_task(void *arg)
{
	(void)arg;
	int r = urio_pg_transact(pool, killed_body, NULL);
	atomic_store(&killed_err, r);
	atomic_store(&killed_done, 1);
	return 0;
}

static intptr_t kill_setup(void *arg)
{
	(void)arg;
	pool = pool_open(4);
	reset_and_check(pool);
	/* idle connections to be found dead later */
	urio_pg *c[3];
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(urio_pg_pool_acquire(pool, &c[i]), 0);
	for (int i = 0; i < 3; i++)
		urio_pg_pool_release(pool, c[i], 0);
	return 0;
}

static intptr_t kill_down(void *arg)
{
	(void)arg;
	urio_pg *c;
	ASSERT_EQ(urio_pg_pool_acquire(pool, &c), -ECONNREFUSED);
	return 0;
}

static intptr_t kill_back(void *arg)
{
	(void)arg;
	/* the idle connections of the old server are found dead, not lent */
	ASSERT_EQ(total(pool), ACCOUNTS * START); /* the update never landed */
	urio_group g;
	urio_group_init(&g);
	for (uintptr_t i = 0; i < 20; i++)
		ASSERT(urio_group_spawn(&g, transfer_task, (void *)(i + 5)));
	ASSERT_EQ(urio_group_wait(&g), 0);
	ASSERT_EQ(total(pool), ACCOUNTS * START);
	urio_pool_stats st;
	urio_pool_get_stats(urio_pg_pool_pool(pool), &st);
	ASSERT_EQ(st.in_use, 0);
	urio_pg_pool_free(pool);
	pool = NULL;
	return 0;
}

static void case_kill(unsigned workers)
{
	urio_config cfg = {0};
	cfg.workers = workers;
	urio_rt *rt = urio_rt_new(&cfg);
	ASSERT(rt);
	intptr_t res = -1;
	ASSERT_EQ(urio_rt_block_on(rt, kill_setup, NULL, &res), 0);
	ASSERT_EQ(res, 0);
	atomic_store(&in_txn, 0);
	atomic_store(&killed_done, 0);
	urio_task *t = urio_rt_spawn(rt, killed_task, NULL);
	ASSERT(t);
	urio_detach(t);
	spin_until(&in_txn);
	/* the spawning thread must outlive the server (PR_SET_PDEATHSIG),
	 * so kill and restart from this one, not from a worker */
	pg_server_kill(&srv);
	spin_until(&killed_done);
	ASSERT_EQ(atomic_load(&killed_err), -ECONNRESET);
	ASSERT(strstr(killed_msg, "server closed the connection") ||
	       strstr(killed_msg, "terminat"));
	ASSERT_EQ(urio_rt_block_on(rt, kill_down, NULL, &res), 0);
	ASSERT_EQ(res, 0);
	ASSERT_EQ(pg_server_run(&srv), 0);
	ASSERT_EQ(urio_rt_block_on(rt, kill_back, NULL, &res), 0);
	ASSERT_EQ(res, 0);
	urio_rt_free(rt);
}

/* --- the server killed under shared, pipelined connections ----------------- */

static urio_pg_mux *mux;
static atomic_int mux_done, mux_err;

static long mux_count(const char *sql)
{
	PGresult *res;
	ASSERT_EQ(urio_pg_mux_query(mux, sql, 0, NULL, &res), 0);
	long n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

/* Queries of other backends that contain "pg_sleep(3600)" and run now. */
#define MUX_SLEEPING                                                        \
	"SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND " \
	"pid <> pg_backend_pid() AND strpos(query, 'pg_sleep(3600)') > 0"

static intptr_t mux_sleeper(void *arg)
{
	(void)arg;
	PGresult *res = (PGresult *)1;
	int r = urio_pg_mux_query(mux, "SELECT pg_sleep(3600)", 0, NULL, &res);
	ASSERT(!res);
	atomic_store(&mux_err, r);
	atomic_store(&mux_done, 1);
	return 0;
}

static intptr_t mux_ok_task(void *arg)
{
	char v[16];
	snprintf(v, sizeof(v), "%u", (unsigned)(uintptr_t)arg);
	const char *vals[] = {v};
	for (int i = 0; i < 10; i++) {
		PGresult *res;
		ASSERT_EQ(urio_pg_mux_query(mux, "SELECT $1::int", 1, vals,
					    &res),
			  0);
		ASSERT(!strcmp(PQgetvalue(res, 0, 0), v));
		PQclear(res);
	}
	return 0;
}

static void mux_round(void)
{
	urio_group g;
	urio_group_init(&g);
	for (uintptr_t i = 0; i < 40; i++)
		ASSERT(urio_group_spawn(&g, mux_ok_task, (void *)i));
	ASSERT_EQ(urio_group_wait(&g), 0);
}

static intptr_t mux_setup(void *arg)
{
	(void)arg;
	char info[320];
	snprintf(info, sizeof(info), "%s application_name=urio_mux_kill",
		 srv.conninfo);
	mux = urio_pg_mux_new(info, 4, 30000);
	ASSERT(mux);
	mux_round();
	atomic_store(&mux_done, 0);
	urio_task *t = urio_spawn(mux_sleeper, NULL);
	ASSERT(t);
	urio_detach(t);
	POLL(mux_count(MUX_SLEEPING) == 1); /* in flight on the server */
	return 0;
}

static intptr_t mux_down(void *arg)
{
	(void)arg;
	/* no connection is left: queries fail at once, none hangs */
	PGresult *res;
	int r;
	POLL((r = urio_pg_mux_query(mux, "SELECT 1", 0, NULL, &res)) ==
	     -ENOTCONN);
	ASSERT(!res);
	return 0;
}

static intptr_t mux_back(void *arg)
{
	(void)arg;
	PGresult *res;
	int r;
	/* reconnected in the background: no call of ours made it */
	POLL((r = urio_pg_mux_query(mux, "SELECT 1", 0, NULL, &res)) == 0);
	PQclear(res);
	mux_round();
	POLL(mux_count("SELECT count(*) FROM pg_stat_activity WHERE "
		       "application_name = 'urio_mux_kill'") == 4);
	mux_round();
	urio_pg_mux_free(mux);
	mux = NULL;
	return 0;
}

static void case_mux_kill(unsigned workers)
{
	urio_config cfg = {0};
	cfg.workers = workers;
	urio_rt *rt = urio_rt_new(&cfg);
	ASSERT(rt);
	intptr_t res = -1;
	ASSERT_EQ(urio_rt_block_on(rt, mux_setup, NULL, &res), 0);
	ASSERT_EQ(res, 0);
	pg_server_kill(&srv); /* from this thread: see case_kill */
	spin_until(&mux_done);
	ASSERT_EQ(atomic_load(&mux_err), -ECONNRESET);
	ASSERT_EQ(urio_rt_block_on(rt, mux_down, NULL, &res), 0);
	ASSERT_EQ(res, 0);
	ASSERT_EQ(pg_server_run(&srv), 0);
	ASSERT_EQ(urio_rt_block_on(rt, mux_back, NULL, &res), 0);
	ASSERT_EQ(res, 0);
	urio_rt_free(rt);
}

int main(void)
{
	int r = pg_server_start(&srv, "pg_txn", 0);
	if (r == 77)
		return T_SKIP;
	ASSERT_EQ(r, 0);
	for (unsigned w = 1; w <= 2; w++) {
		urio_config cfg = {0};
		cfg.workers = w;
		intptr_t res = -1;
		ASSERT_EQ(urio_run(&cfg, case_transfers, NULL, &res), 0);
		ASSERT_EQ(res, 0);
		printf("ok transfers (%u workers): %d committed, %d rolled "
		       "back\n",
		       w, atomic_load(&committed), atomic_load(&rolled_back));
		ASSERT_EQ(urio_run(&cfg, case_cancel, NULL, &res), 0);
		ASSERT_EQ(res, 0);
		printf("ok cancel (%u workers)\n", w);
		case_kill(w);
		printf("ok kill (%u workers)\n", w);
		case_mux_kill(w);
		printf("ok mux_kill (%u workers)\n", w);
	}
	pg_server_stop(&srv);
	return 0;
}
