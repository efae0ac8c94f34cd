/* A redis-server of the test's own on a free loopback port, in a temp dir,
 * without persistence; stopped at exit by proc.h. Exits 77 (skip) when
 * redis-server is not installed. */
#ifndef URIO_TEST_REDIS_SERVER_H
#define URIO_TEST_REDIS_SERVER_H

#include "proc.h"
#include "test.h"

static char redis_dir[128];
static int redis_port;
static pid_t redis_pid;

/* Starts (or restarts, on the same port) the server; 0 or -errno. */
static inline int redis_server_start(void)
{
	char port[16], log[256];
	if (!redis_dir[0]) {
		char *ver[] = {"redis-server", "--version", NULL};
		ASSERT_EQ(proc_tmpdir(redis_dir, sizeof(redis_dir), "redis"), 0);
		snprintf(log, sizeof(log), "%s/version.log", redis_dir);
		if (proc_run(ver, log, (uid_t)-1) != 0) {
			fprintf(stderr, "redis-server not found: skipped\n");
			proc_rmtree(redis_dir);
			exit(T_SKIP);
		}
		redis_port = proc_free_port();
		ASSERT(redis_port > 0);
	}
	snprintf(port, sizeof(port), "%d", redis_port);
	snprintf(log, sizeof(log), "%s/redis.log", redis_dir);
	char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", redis_dir,
			"--daemonize", "no", NULL};
	redis_pid = proc_spawn(argv, log, (uid_t)-1);
	if (redis_pid < 0)
		return redis_pid;
	return proc_wait_port(redis_port, 20000, redis_pid);
}

/* Kills the server at once (SIGKILL) and reaps it. */
static inline void redis_server_kill(void)
{
	kill(redis_pid, SIGKILL);
	proc_stop(redis_pid);
	redis_pid = 0;
}

static inline void redis_server_cleanup(void)
{
	proc_stop_all();
	if (redis_dir[0])
		proc_rmtree(redis_dir);
}

/* A suite's main: the server, then run_all on 1 and 2 workers. */
static inline int redis_test_main(urio_fn run_all)
{
	int err = redis_server_start();
	if (err < 0) {
		fprintf(stderr, "redis-server did not start: %d\n", err);
		redis_server_cleanup();
		return 1;
	}
	for (unsigned w = 1; w <= 2; w++) {
		urio_config cfg = {.workers = w};
		intptr_t res = -1;
		ASSERT_EQ(urio_run(&cfg, run_all, NULL, &res), 0);
		ASSERT_EQ(res, 0);
	}
	redis_server_cleanup();
	return 0;
}

#endif
