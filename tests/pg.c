/* urio-pg against a real PostgreSQL (one server for the program): connect,
 * queries with text and binary parameters, whole results and row
 * iterators (early close, an error after some rows), server errors giving
 * their SQLSTATE with the connection still usable, a deadline during a
 * query cancelling it on the server, connect failures (bad conninfo, a
 * refused port, a deadline), bad arguments; shared pipelined connections
 * (many tasks' queries, errors between them, the server ending the
 * connections and the mux making new ones; cancelled requesters, in flight
 * or queued, and a deadline, leaving the others' results and the
 * connection's order intact). Each case on 1 and 2 workers. */
#include <arpa/inet.h>
#include <errno.h>
#include <urio.h>
#include <urio/pg.h>

#include "pg_server.h"
#include "test.h"

static pg_server srv;

/* errno read afresh: the compiler may keep errno's address (a thread
 * local) across a suspension, after which the task may run elsewhere */
static __attribute__((noinline)) int errno_now(void)
{
	return errno;
}

static urio_pg *connect_ok(void)
{
	urio_pg *c = NULL;
	char why[256];
	int r = urio_pg_connect_why(&c, srv.conninfo, 30000, why, sizeof(why));
	if (r < 0)
		fprintf(stderr, "connect: %d %s\n", r, why);
	ASSERT_EQ(r, 0);
	ASSERT(urio_pg_ok(c));
	return c;
}

static intptr_t case_query(void *arg)
{
	(void)arg;
	urio_pg *c = connect_ok();
	PGresult *res;
	const char *v[] = {"20", "22", "hello"};
	ASSERT_EQ(urio_pg_query(c, "SELECT $1::int + $2::int, upper($3), NULL",
				3, v, &res),
		  0);
	ASSERT_EQ(PQntuples(res), 1);
	ASSERT(!strcmp(PQgetvalue(res, 0, 0), "42"));
	ASSERT(!strcmp(PQgetvalue(res, 0, 1), "HELLO"));
	ASSERT(PQgetisnull(res, 0, 2));
	PQclear(res);

	/* a NULL parameter, and a command's row count */
	ASSERT_EQ(urio_pg_exec(c, "CREATE TEMP TABLE t (k int, v text)", 0,
			       NULL),
		  0);
	const char *ins[] = {"1", NULL};
	ASSERT_EQ(urio_pg_exec(c, "INSERT INTO t VALUES ($1, $2)", 2, ins), 1);
	ASSERT_EQ(urio_pg_exec(c, "INSERT INTO t SELECT g, 'x' || g FROM "
				  "generate_series(2, 100) g",
			       0, NULL),
		  99);
	ASSERT_EQ(urio_pg_query(c, "SELECT count(*), count(v) FROM t", 0, NULL,
				&res),
		  0);
	ASSERT(!strcmp(PQgetvalue(res, 0, 0), "100"));
	ASSERT(!strcmp(PQgetvalue(res, 0, 1), "99"));
	PQclear(res);

	/* binary parameter and result: an int4 in network order */
	uint32_t be = htonl(41);
	const char *bv[] = {(const char *)&be};
	Oid types[] = {23};
	int lens[] = {4}, fmts[] = {1};
	urio_pg_params p = {1, bv, types, lens, fmts, 1};
	ASSERT_EQ(urio_pg_query_params(c, "SELECT $1 + 1", &p, &res), 0);
	ASSERT_EQ(PQgetlength(res, 0, 0), 4);
	uint32_t out;
	memcpy(&out, PQgetvalue(res, 0, 0), 4);
	ASSERT_EQ(ntohl(out), 42);
	PQclear(res);

	/* an empty statement is not an error */
	ASSERT_EQ(urio_pg_exec(c, "", 0, NULL), 0);
	ASSERT(urio_pg_ok(c));
	urio_pg_close(c);
	return 0;
}

static intptr_t case_rows(void *arg)
{
	(void)arg;
	urio_pg *c = connect_ok();
	int r, n = 0;
	urio_pg_row *row;
	const char *v[] = {"1000"};
	URIO_FOREACH(r, row, urio_pg_rows(c, "SELECT g, repeat('y', g % 7) "
					     "FROM generate_series(1, $1::int) g",
					  1, v))
	{
		ASSERT_EQ(r, 1);
		n++;
		ASSERT_EQ(atoi(urio_pg_value(row, 0)), n);
		ASSERT_EQ(strlen(urio_pg_value(row, 1)), n % 7);
		ASSERT(!urio_pg_value(row, 2));
	}
	ASSERT_EQ(n, 1000);
	ASSERT(urio_pg_ok(c));

	/* leaving early drains the rest: the connection is usable at once */
	n = 0;
	URIO_FOREACH(r, row, urio_pg_rows(c, "SELECT g FROM "
					     "generate_series(1, 5000) g",
					  0, NULL))
	{
		ASSERT_EQ(r, 1);
		if (++n == 3)
			break;
	}
	ASSERT(urio_pg_ok(c));
	ASSERT_EQ(urio_pg_exec(c, "SELECT 1", 0, NULL), 1);

	/* a query in flight makes the connection busy */
	urio_iter *it = urio_pg_rows(c, "SELECT 1", 0, NULL);
	ASSERT(it);
	PGresult *res;
	ASSERT_EQ(urio_pg_query(c, "SELECT 2", 0, NULL, &res), -EBUSY);
	ASSERT(!urio_pg_rows(c, "SELECT 2", 0, NULL) && errno_now() == EBUSY);
	urio_iter_close(it);

	/* an error after some rows: rows, then the error once, then the end */
	n = 0;
	int errs = 0;
	URIO_FOREACH(r, row, urio_pg_rows(c, "SELECT 10 / (3 - g) FROM "
					     "generate_series(1, 5) g",
					  0, NULL))
	{
		if (r == 1) {
			ASSERT_EQ(errs, 0);
			n++;
		} else {
			ASSERT_EQ(r, -EREMOTEIO);
			errs++;
		}
	}
	ASSERT_EQ(n, 2);
	ASSERT_EQ(errs, 1);
	ASSERT(!strcmp(urio_pg_sqlstate(c), "22012")); /* division_by_zero */
	ASSERT(urio_pg_ok(c));

	/* a bad statement fails before any row */
	URIO_FOREACH(r, row, urio_pg_rows(c, "SELEC 1", 0, NULL))
		ASSERT_EQ(r, -EREMOTEIO);
	ASSERT(!strcmp(urio_pg_sqlstate(c), "42601"));
	ASSERT(urio_pg_ok(c));
	urio_pg_close(c);
	return 0;
}

static intptr_t case_errors(void *arg)
{
	(void)arg;
	urio_pg *c = connect_ok();
	PGresult *res = (PGresult *)1;
	ASSERT_EQ(urio_pg_query(c, "SELEC 1", 0, NULL, &res), -EREMOTEIO);
	ASSERT(!res);
	ASSERT(!strcmp(urio_pg_sqlstate(c), "42601")); /* syntax_error */
	ASSERT(strstr(urio_pg_error(c), "syntax"));
	ASSERT(urio_pg_ok(c));
	/* still usable */
	ASSERT_EQ(urio_pg_exec(c, "SELECT 1", 0, NULL), 1);
	ASSERT_EQ(urio_pg_exec(c, "SELECT * FROM no_such_table", 0, NULL),
		  -EREMOTEIO);
	ASSERT(!strcmp(urio_pg_sqlstate(c), "42P01")); /* undefined_table */
	const char *v[] = {"abc"};
	ASSERT_EQ(urio_pg_exec(c, "SELECT $1::int", 1, v), -EREMOTEIO);
	ASSERT(!strcmp(urio_pg_sqlstate(c), "22P02"));
	/* a parameter count the statement does not take */
	ASSERT_EQ(urio_pg_exec(c, "SELECT $1::int", 0, NULL), -EREMOTEIO);
	ASSERT_EQ(urio_pg_exec(c, "SELECT 1", 0, NULL), 1);

	/* bad arguments */
	ASSERT_EQ(urio_pg_query(NULL, "SELECT 1", 0, NULL, &res), -EINVAL);
	ASSERT_EQ(urio_pg_query(c, NULL, 0, NULL, &res), -EINVAL);
	ASSERT_EQ(urio_pg_query(c, "SELECT 1", 0, NULL, NULL), -EINVAL);
	ASSERT_EQ(urio_pg_query(c, "SELECT 1", 2, NULL, &res), -EINVAL);
	ASSERT_EQ(urio_pg_query(c, "SELECT 1", -1, v, &res), -EINVAL);
	ASSERT(!urio_pg_rows(NULL, "SELECT 1", 0, NULL) && errno_now() == EINVAL);
	ASSERT(!urio_pg_value(NULL, 0));
	ASSERT(urio_pg_ok(c));
	ASSERT(!urio_pg_ok(NULL));
	ASSERT(!strcmp(urio_pg_sqlstate(NULL), ""));
	urio_pg_close(NULL);
	urio_pg_close(c);

	/* connect failures */
	urio_pg *c2 = (urio_pg *)1;
	char why[256];
	ASSERT_EQ(urio_pg_connect_why(&c2, "host=127.0.0.1 bogus=1", 1000, why,
				      sizeof(why)),
		  -EINVAL);
	ASSERT(!c2);
	ASSERT(strstr(why, "bogus"));
	ASSERT_EQ(urio_pg_connect(NULL, srv.conninfo, 0), -EINVAL);
	ASSERT_EQ(urio_pg_connect(&c2, NULL, 0), -EINVAL);
	int port = proc_free_port();
	char info[128];
	snprintf(info, sizeof(info),
		 "host=127.0.0.1 port=%d sslmode=disable gssencmode=disable",
		 port);
	ASSERT_EQ(urio_pg_connect_why(&c2, info, 5000, why, sizeof(why)),
		  -ECONNREFUSED);
	ASSERT(strstr(why, "refused"));
	/* a server that accepts but never answers: the deadline */
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ASSERT(listen(lfd, 4) == 0);
	ASSERT(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
	snprintf(info, sizeof(info),
		 "host=127.0.0.1 port=%d sslmode=disable gssencmode=disable",
		 ntohs(a.sin_port));
	ASSERT_EQ(urio_pg_connect(&c2, info, 50), -ETIMEDOUT);
	close(lfd);
	return 0;
}

/* Active queries on the server whose text contains tag. */
static int active_with(urio_pg *c, const char *tag)
{
	PGresult *res;
	const char *v[] = {tag};
	ASSERT_EQ(urio_pg_query(c, "SELECT count(*) FROM pg_stat_activity "
				   "WHERE state = 'active' AND pid <> "
				   "pg_backend_pid() AND strpos(query, $1) > 0",
				1, v, &res),
		  0);
	int n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

static atomic_int tag_seq;

/* A deadline during a query: the wait ends, the server-side query is
 * cancelled (it would sleep an hour otherwise), the connection is broken
 * and says so; another connection watches the server. */
static intptr_t case_deadline(void *arg)
{
	(void)arg;
	urio_pg *c = connect_ok(), *watch = connect_ok();
	char sql[128], tag[32];
	snprintf(tag, sizeof(tag), "deadline-%d", atomic_fetch_add(&tag_seq, 1));
	snprintf(sql, sizeof(sql), "SELECT pg_sleep(3600) /* %s */", tag);
	int err = 0, r = 0;
	URIO_TIMEOUT(err, 200)
	{
		PGresult *res;
		r = urio_pg_query(c, sql, 0, NULL, &res);
	}
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(err, -ETIMEDOUT);
	ASSERT(!urio_pg_ok(c));
	ASSERT_EQ(urio_pg_exec(c, "SELECT 1", 0, NULL), -ENOTCONN);
	urio_pg_close(c);
	POLL(active_with(watch, tag) == 0);
	urio_pg_close(watch);
	return 0;
}

/* --- shared, pipelined connections ----------------------------------------- */

static urio_pg_mux *mux;

static intptr_t mux_task(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	for (unsigned i = 0; i < 20; i++) {
		char a[16], b[16], want[16];
		snprintf(a, sizeof(a), "%u", id);
		snprintf(b, sizeof(b), "%u", i);
		snprintf(want, sizeof(want), "%u", id * 100 + i);
		const char *v[] = {a, b};
		PGresult *res;
		if (i % 7 == 3) { /* an error between good queries */
			ASSERT_EQ(urio_pg_mux_query(mux, "SELECT $1::int / 0",
						    1, v, &res),
				  -EREMOTEIO);
			ASSERT(!strcmp(PQresultErrorField(res,
							  PG_DIAG_SQLSTATE),
				       "22012"));
			PQclear(res);
			continue;
		}
		ASSERT_EQ(urio_pg_mux_query(mux, "SELECT $1::int * 100 + $2::int",
					    2, v, &res),
			  0);
		ASSERT(!strcmp(PQgetvalue(res, 0, 0), want));
		PQclear(res);
	}
	return 0;
}

static intptr_t mux_sleeper(void *arg)
{
	(void)arg;
	PGresult *res = (PGresult *)1;
	int r = urio_pg_mux_query(mux, "SELECT pg_sleep(0.2)", 0, NULL, &res);
	ASSERT_EQ(r, -ECANCELED);
	ASSERT(!res);
	return r;
}

/* Backends of the mux's connections now connected to the server. */
static long mux_backends(urio_pg *c)
{
	PGresult *res;
	ASSERT_EQ(urio_pg_query(c, "SELECT count(*) FROM pg_stat_activity "
				   "WHERE application_name = 'urio_mux'",
				0, NULL, &res),
		  0);
	long n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

static intptr_t case_mux(void *arg)
{
	(void)arg;
	char info[320];
	snprintf(info, sizeof(info), "%s application_name=urio_mux",
		 srv.conninfo);
	mux = urio_pg_mux_new(info, 4, 30000);
	ASSERT(mux);
	urio_group g;
	urio_group_init(&g);
	for (uintptr_t i = 0; i < 200; i++)
		ASSERT(urio_group_spawn(&g, mux_task, (void *)i));
	/* a cancelled requester gets -ECANCELED; its result is dropped */
	urio_task *t = urio_spawn(mux_sleeper, NULL);
	ASSERT(t);
	urio_yield();
	urio_cancel(t);
	urio_join(t, NULL);
	ASSERT_EQ(urio_group_wait(&g), 0);

	/* bad arguments */
	PGresult *res;
	ASSERT_EQ(urio_pg_mux_query(NULL, "SELECT 1", 0, NULL, &res), -EINVAL);
	ASSERT_EQ(urio_pg_mux_query(mux, NULL, 0, NULL, &res), -EINVAL);
	ASSERT_EQ(urio_pg_mux_query(mux, "SELECT 1", 1, NULL, &res), -EINVAL);
	ASSERT(!urio_pg_mux_new(info, 0, 0) && errno_now() == EINVAL);

	/* connections the server ends: the queries on them fail, none
	 * hangs, and the mux makes new ones */
	urio_pg *c = connect_ok();
	ASSERT_EQ(urio_pg_exec(c, "SELECT pg_terminate_backend(pid) FROM "
				  "pg_stat_activity WHERE application_name = "
				  "'urio_mux'",
			       0, NULL),
		  4);
	int r;
	do {
		r = urio_pg_mux_query(mux, "SELECT 1", 0, NULL, &res);
		if (r == 0)
			PQclear(res);
		ASSERT(r == 0 || r == -ECONNRESET || r == -ENOTCONN);
	} while (r != 0 && urio_sleep_ms(1) == 0);
	POLL(mux_backends(c) == 4);
	urio_pg_close(c);
	urio_group_init(&g);
	for (uintptr_t i = 0; i < 50; i++)
		ASSERT(urio_group_spawn(&g, mux_task, (void *)i));
	ASSERT_EQ(urio_group_wait(&g), 0);
	urio_pg_mux_free(mux);
	mux = NULL;
	urio_pg_mux_free(NULL);

	/* a server that is not there */
	int port = proc_free_port();
	snprintf(info, sizeof(info),
		 "host=127.0.0.1 port=%d sslmode=disable gssencmode=disable",
		 port);
	ASSERT(!urio_pg_mux_new(info, 2, 5000));
	ASSERT_EQ(errno_now(), ECONNREFUSED);
	return 0;
}

/* A requester of a one-connection mux whose query sits behind a slow
 * one, in flight or still queued; odd ones are cancelled. */
static intptr_t mux_queued(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	char v[16];
	snprintf(v, sizeof(v), "%u", id);
	const char *vals[] = {v};
	PGresult *res = (PGresult *)1;
	int r = urio_pg_mux_query(mux, "SELECT $1::int", 1, vals, &res);
	if (r == -ECANCELED) { /* only a cancelled one, and it gets nothing */
		ASSERT(id % 2);
		ASSERT(!res);
		return 1;
	}
	ASSERT_EQ(r, 0); /* a cancel after the result came is no cancel */
	ASSERT(!strcmp(PQgetvalue(res, 0, 0), v));
	PQclear(res);
	return 0;
}

static intptr_t mux_slow(void *arg)
{
	(void)arg;
	PGresult *res;
	ASSERT_EQ(urio_pg_mux_query(mux, "SELECT pg_sleep(0.3)", 0, NULL,
				    &res),
		  0);
	PQclear(res);
	return 0;
}

/* Cancelled requesters (in flight: the result is dropped; queued: never
 * sent) leave the others' results and the connection's order intact. */
static intptr_t case_mux_cancel(void *arg)
{
	(void)arg;
	enum { N = 60 }; /* more than one connection's queries in flight */
	mux = urio_pg_mux_new(srv.conninfo, 1, 30000);
	ASSERT(mux);
	urio_task *slow = urio_spawn(mux_slow, NULL);
	ASSERT(slow);
	urio_yield();
	urio_task *t[N];
	for (uintptr_t i = 0; i < N; i++)
		ASSERT((t[i] = urio_spawn(mux_queued, (void *)i)));
	for (unsigned i = 0; i < 5; i++)
		urio_yield();
	for (unsigned i = 1; i < N; i += 2)
		urio_cancel(t[i]);
	int cancelled = 0;
	for (unsigned i = 0; i < N; i++) {
		intptr_t r = -1;
		/* -ECANCELED says t was cancelled, not how it ended */
		ASSERT_EQ(urio_join(t[i], &r), i % 2 ? -ECANCELED : 0);
		cancelled += (int)r;
	}
	ASSERT_EQ(urio_join(slow, NULL), 0);
	printf("  %d of %d cancelled requesters gave up\n", cancelled, N / 2);

	/* a deadline on a mux query: it gives up, the connection goes on */
	PGresult *res;
	int err, r = 0;
	URIO_TIMEOUT(err, 20)
	{
		r = urio_pg_mux_query(mux, "SELECT pg_sleep(0.3)", 0, NULL,
				      &res);
	}
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(err, -ETIMEDOUT);
	const char *v[] = {"7"};
	ASSERT_EQ(urio_pg_mux_query(mux, "SELECT $1::int", 1, v, &res), 0);
	ASSERT(!strcmp(PQgetvalue(res, 0, 0), "7"));
	PQclear(res);
	urio_pg_mux_free(mux);
	mux = NULL;
	return 0;
}

/* sql on the mux: its result's first value as a number, or the error. */
static long mux_long(const char *sql, int n, const char *const *v)
{
	PGresult *res;
	int r = urio_pg_mux_query(mux, sql, n, v, &res);
	if (r < 0) {
		PQclear(res);
		return r;
	}
	long x = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return x;
}

/* A statement cache: repeated texts run prepared (the server lists them),
 * up to the limit; a text the server rejects fails with its own error
 * every time; a new connection starts without statements. */
static intptr_t case_mux_prepared(void *arg)
{
	(void)arg;
	char info[320];
	snprintf(info, sizeof(info), "%s application_name=urio_mux_prep",
		 srv.conninfo);
	mux = urio_pg_mux_new(info, 1, 30000);
	ASSERT(mux);
	ASSERT_EQ(urio_pg_mux_cache_statements(NULL, 2), -EINVAL);
	ASSERT_EQ(urio_pg_mux_cache_statements(mux, 5000), -EINVAL);
	ASSERT_EQ(urio_pg_mux_cache_statements(mux, 3), 0);
	ASSERT_EQ(urio_pg_mux_cache_statements(mux, 4), -EBUSY);
	for (int round = 0; round < 2; round++) {
		urio_group g;
		urio_group_init(&g);
		for (uintptr_t i = 0; i < 40; i++)
			ASSERT(urio_group_spawn(&g, mux_task, (void *)i));
		ASSERT_EQ(urio_group_wait(&g), 0);
		for (int i = 0; i < 3; i++) {
			PGresult *res;
			ASSERT_EQ(urio_pg_mux_query(mux, "SELEC 1", 0, NULL,
						    &res),
				  -EREMOTEIO);
			ASSERT(!strcmp(PQresultErrorField(res,
							  PG_DIAG_SQLSTATE),
				       "42601"));
			PQclear(res);
		}
		/* mux_task's two texts and this one (the rejected one's
		 * slot is free again) fill the cache */
		ASSERT_EQ(mux_long("SELECT count(*) FROM pg_prepared_statements "
				   "WHERE name LIKE 'urio_mux_%'",
				   0, NULL),
			  3);
		ASSERT_EQ(mux_long("SELECT 2", 0, NULL), 2); /* unnamed */
		if (round)
			break;
		/* a new connection: the statements are prepared anew */
		urio_pg *c = connect_ok();
		ASSERT_EQ(urio_pg_exec(c, "SELECT pg_terminate_backend(pid) "
					  "FROM pg_stat_activity WHERE "
					  "application_name = 'urio_mux_prep'",
				       0, NULL),
			  1);
		urio_pg_close(c);
		long r;
		for (int n = 0; (r = mux_long("SELECT 1", 0, NULL)) != 1; n++) {
			ASSERT(r == -ECONNRESET || r == -ENOTCONN);
			ASSERT(n < 10000);
			ASSERT_EQ(urio_sleep_ms(1), 0);
		}
	}
	urio_pg_mux_free(mux);
	mux = NULL;
	return 0;
}

static const struct {
	const char *name;
	urio_fn fn;
} cases[] = {
	{"query", case_query},
	{"rows", case_rows},
	{"errors", case_errors},
	{"deadline", case_deadline},
	{"mux", case_mux},
	{"mux_cancel", case_mux_cancel},
	{"mux_prepared", case_mux_prepared},
};

int main(void)
{
	int r = pg_server_start(&srv, "pg", 0);
	if (r == 77)
		return T_SKIP;
	ASSERT_EQ(r, 0);
	for (unsigned w = 1; w <= 2; w++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			urio_config cfg = {0};
			cfg.workers = w;
			intptr_t res = -1;
			ASSERT_EQ(urio_run(&cfg, cases[i].fn, NULL, &res), 0);
			ASSERT_EQ(res, 0);
			printf("ok %s (%u workers)\n", cases[i].name, w);
		}
	}
	pg_server_stop(&srv);
	return 0;
}
