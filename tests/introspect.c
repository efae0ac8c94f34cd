/* Introspection: the task table and tree of a live tree of tasks, dumps
 * racing spawns from another thread, the socket's lifecycle (no fd, thread
 * or file left behind), errors, and urio-ps on a process whose workers are
 * all stuck in blocking calls.
 *
 * `test_introspect --stuck-child READY_FD RELEASE_FD` is that process (run
 * it by hand with -1 -1 and URIO_INTROSPECT=1 for a demo of urio-ps). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

extern char **environ;

/* The first line of text containing needle, copied into line. */
static bool line_with(const char *text, const char *needle, char *line,
		      size_t len)
{
	const char *p = strstr(text, needle);
	if (!p)
		return false;
	const char *b = p, *e = strchr(p, '\n');
	while (b > text && b[-1] != '\n')
		b--;
	size_t n = e ? (size_t)(e - b) : strlen(b);
	if (n >= len)
		n = len - 1;
	memcpy(line, b, n);
	line[n] = 0;
	return true;
}

#define ASSERT_HAS(text, needle)                                            \
	do {                                                                \
		if (!strstr((text), (needle))) {                            \
			fprintf(stderr, "%s:%d: no '%s' in:\n%s\n",         \
				__FILE__, __LINE__, (needle), (text));      \
			exit(1);                                            \
		}                                                           \
	} while (0)

static char *dump(int (*fn)(FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ASSERT(f);
	ASSERT_EQ(fn(f), 0);
	fclose(f);
	return buf;
}

/* --- a tree of waiting tasks, dumped from inside ------------------------- */

static atomic_int parked;
static int pipes[3][2];
static uint64_t grandchild_id;

static intptr_t conn(void *arg)
{
	char c;
	atomic_fetch_add(&parked, 1);
	return urio_read((int)(intptr_t)arg, &c, 1, -1);
}

static intptr_t nap(void *arg)
{
	atomic_fetch_add(&parked, 1);
	return urio_sleep_ms(60000) == -ECANCELED ? 0 : -1;
}

static intptr_t nap_with_deadline(void *arg)
{
	urio_deadline d;
	urio_timeout_enter(&d, 30000);
	intptr_t r = nap(arg);
	return urio_timeout_exit(&d) == 0 ? r : -1;
}

static intptr_t joiner(void *arg)
{
	urio_task *t = urio_spawn(nap, NULL);
	ASSERT(t);
	urio_task_set_name(t, "grandchild");
	grandchild_id = urio_task_id(t);
	atomic_fetch_add(&parked, 1);
	return urio_join(t, NULL);
}

/* Depth of a task in the tree: where its "[id]" starts in its line. */
static size_t depth_of(const char *tree, const char *name)
{
	char line[256];
	ASSERT(line_with(tree, name, line, sizeof(line)));
	return (size_t)(strchr(line, '[') - line);
}

static bool all_waiting(const char *table, const char *const *names,
			size_t n)
{
	char line[256];
	for (size_t i = 0; i < n; i++)
		if (!line_with(table, names[i], line, sizeof(line)) ||
		    !strstr(line, "waiting"))
			return false;
	return true;
}

static intptr_t tree_main(void *arg)
{
	static const char *const names[] = {"conn-0", "conn-1", "conn-2",
					    "sleeper", "timed", "joiner",
					    "grandchild"};
	char name[16], line[256], want[64];
	/* named before it ran: a dump never shows it nameless */
	ASSERT_EQ(strcmp(urio_task_name(urio_self()), "main"), 0);
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(pipe2(pipes[i], O_CLOEXEC), 0);
		urio_task *c = urio_group_spawn(&g, conn,
						(void *)(intptr_t)pipes[i][0]);
		ASSERT(c);
		snprintf(name, sizeof(name), "conn-%d", i);
		urio_task_set_name(c, name);
	}
	urio_task *sl = urio_spawn(nap, NULL);
	urio_task *tm = urio_spawn(nap_with_deadline, NULL);
	urio_task *jn = urio_spawn(joiner, NULL);
	ASSERT(sl && tm && jn);
	urio_task_set_name(sl, "sleeper");
	urio_task_set_name(tm, "timed");
	urio_task_set_name(jn, "joiner");

	/* until every one of them is parked (bounded: 10 s) */
	char *table = NULL;
	for (uint64_t end = now_ms() + 10000;;) {
		if (atomic_load(&parked) == 7) {
			table = dump(urio_dump_tasks);
			if (all_waiting(table, names, 7))
				break;
			free(table);
		}
		ASSERT(now_ms() < end);
		urio_sleep_ms(1);
	}
	char *tree = dump(urio_print_call_graph);

	uint64_t me = urio_task_id(urio_self());
	ASSERT(line_with(table, " main ", line, sizeof(line)));
	ASSERT_HAS(line, "running on w");
	ASSERT_HAS(line, "caller");
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "conn-%d", i);
		ASSERT(line_with(table, name, line, sizeof(line)));
		/* "read fd N" on io_uring, "poll fd N (in)" on the fallback */
		snprintf(want, sizeof(want), " fd %d", pipes[i][0]);
		ASSERT_HAS(line, want);
		ASSERT(strstr(line, "read fd") || strstr(line, "poll fd"));
		unsigned long long id, parent;
		ASSERT_EQ(sscanf(line, "%llu %llu", &id, &parent), 2);
		ASSERT_EQ(parent, me);
	}
	ASSERT(line_with(table, "sleeper", line, sizeof(line)));
	ASSERT_HAS(line, "sleep ");
	ASSERT_HAS(line, " ms left");
	ASSERT(line_with(table, "timed", line, sizeof(line)));
	ASSERT_HAS(line, "sleep ");
	ASSERT_HAS(line, " in "); /* the deadline column */
	ASSERT(line_with(table, "joiner", line, sizeof(line)));
	snprintf(want, sizeof(want), "join task %llu",
		 (unsigned long long)grandchild_id);
	ASSERT_HAS(line, want);
	ASSERT_HAS(table, "runtime ");
	ASSERT_HAS(table, "worker 1:");

	/* the tree: children one level under main, the grandchild two */
	ASSERT_HAS(tree, "└── ");
	ASSERT_HAS(tree, "<- caller");
	size_t d0 = depth_of(tree, "] main");
	size_t d1 = depth_of(tree, "] joiner");
	ASSERT(d1 > d0);
	ASSERT_EQ(depth_of(tree, "] conn-0"), d1);
	ASSERT_EQ(depth_of(tree, "] sleeper"), d1);
	ASSERT(depth_of(tree, "] grandchild") > d1);
	ASSERT(line_with(tree, "] timed", line, sizeof(line)));
	ASSERT_HAS(line, "deadline in ");

	free(table);
	free(tree);

	for (int i = 0; i < 3; i++)
		ASSERT_EQ(write(pipes[i][1], "x", 1), 1);
	/* main never waited on the group: wait is where it does */
	ASSERT_EQ(urio_group_wait(&g), 0);
	ASSERT_EQ(urio_cancel(sl), 0);
	ASSERT_EQ(urio_cancel(tm), 0);
	ASSERT_EQ(urio_cancel(jn), 0);
	intptr_t r;
	ASSERT_EQ(urio_join(sl, &r), -ECANCELED);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(urio_join(tm, &r), -ECANCELED);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(urio_join(jn, NULL), -ECANCELED);
	for (int i = 0; i < 3; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	return 0;
}

static void dump_tree(void)
{
	urio_config cfg = {.workers = 2};
	intptr_t r = -1;
	atomic_store(&parked, 0);
	ASSERT_EQ(urio_run(&cfg, tree_main, NULL, &r), 0);
	ASSERT_EQ(r, 0);
	/* no runtime: an empty report, not an error */
	char *t = dump(urio_dump_tasks);
	ASSERT_HAS(t, "0 runtimes");
	free(t);
}

/* --- dumps from another thread while tasks come and go ------------------- */

static atomic_bool churn_stop;

static intptr_t short_task(void *arg)
{
	urio_deadline d;
	urio_timeout_enter(&d, 1000);
	urio_sleep_ns(1000);
	urio_yield();
	urio_timeout_exit(&d);
	return 0;
}

static intptr_t churn(void *arg)
{
	static const urio_fn fns[4] = {short_task, short_task, short_task,
				       short_task};
	intptr_t res[4];
	while (!atomic_load(&churn_stop)) {
		urio_task *t = urio_spawn(short_task, NULL);
		ASSERT(t);
		urio_task_set_name(t, "churner");
		ASSERT_EQ(urio_gather(4, fns, NULL, res), 0);
		ASSERT_EQ(urio_join(t, NULL), 0);
	}
	return 0;
}

static intptr_t resident(void *arg)
{
	while (!atomic_load(&churn_stop))
		urio_sleep_ms(1);
	return 0;
}

/* Dumps race spawns and exits on both workers; tasks that live throughout
 * are in every dump (registry slots freed by the churn, often from the
 * other worker, are reused without losing them). */
static void dump_race(void)
{
	enum { RESIDENTS = 16 };
	urio_config cfg = {.workers = 2};
	urio_rt *rt = urio_rt_new(&cfg);
	ASSERT(rt);
	atomic_store(&churn_stop, false);
	urio_task *a = urio_rt_spawn(rt, churn, NULL);
	urio_task *b = urio_rt_spawn(rt, churn, NULL);
	ASSERT(a && b);
	/* once the churn has freed slots, so the residents reuse them */
	urio_stats st;
	for (uint64_t end = now_ms() + 10000;; usleep(1000)) {
		urio_rt_stats(rt, &st);
		if (st.finished > 500)
			break;
		ASSERT(now_ms() < end);
	}
	urio_task *res[RESIDENTS];
	char name[32];
	for (int i = 0; i < RESIDENTS; i++) {
		ASSERT((res[i] = urio_rt_spawn(rt, resident, NULL)));
		snprintf(name, sizeof(name), "resident-%d", i);
		urio_task_set_name(res[i], name);
	}
	for (int i = 0; i < 100; i++) {
		char *table = dump(urio_dump_tasks);
		for (int k = 0; k < RESIDENTS; k++) {
			snprintf(name, sizeof(name), " resident-%d ", k);
			ASSERT(strstr(table, name));
		}
		free(table);
		free(dump(urio_print_call_graph));
	}
	atomic_store(&churn_stop, true);
	ASSERT_EQ(urio_join(a, NULL), 0);
	ASSERT_EQ(urio_join(b, NULL), 0);
	for (int i = 0; i < RESIDENTS; i++)
		ASSERT_EQ(urio_join(res[i], NULL), 0);
	urio_rt_free(rt);
}

/* --- the socket: lifecycle, errors --------------------------------------- */

static char *query(pid_t pid, const char *cmd, int *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ASSERT(f);
	*err = urio_introspect_query(pid, cmd, f);
	fclose(f);
	return buf;
}

static intptr_t idle_task(void *arg)
{
	atomic_fetch_add(&parked, 1);
	urio_sleep_ms(60000);
	return 0;
}

static void wait_parked(int n)
{
	uint64_t end = now_ms() + 10000;
	while (atomic_load(&parked) < n) {
		ASSERT(now_ms() < end);
		usleep(1000);
	}
}

static void socket_lifecycle(void)
{
	char path[108];
	int err;
	ASSERT_EQ(urio_introspect_path(getpid(), path, sizeof(path)), 0);
	int fds = test_count_dir("/proc/self/fd"), threads = test_count_threads();
	urio_config on = {.workers = 2, .flags = URIO_CFG_INTROSPECT};
	urio_config off = {.workers = 1};
	for (int cycle = 0; cycle < 3; cycle++) {
		atomic_store(&parked, 0);
		urio_rt *a = urio_rt_new(&on);
		urio_rt *b = urio_rt_new(&off);
		ASSERT(a && b);
		ASSERT_EQ(access(path, F_OK), 0);
		urio_task *t = urio_rt_spawn(a, idle_task, NULL);
		urio_task *u = urio_rt_spawn(b, idle_task, NULL);
		ASSERT(t && u);
		urio_task_set_name(t, "idle-a");
		urio_task_set_name(u, "idle-b");
		urio_detach(t);
		urio_detach(u);
		wait_parked(2);

		char *out = query(getpid(), "ps", &err);
		ASSERT_EQ(err, 0);
		ASSERT_HAS(out, "2 runtimes");
		ASSERT_HAS(out, "idle-a");
		ASSERT_HAS(out, "idle-b");
		free(out);
		out = query(getpid(), "pstree", &err);
		ASSERT_EQ(err, 0);
		ASSERT_HAS(out, "] idle-a: waiting on sleep");
		free(out);
		free(query(getpid(), "features", &err));
		ASSERT_EQ(err, 0);
		free(query(getpid(), "bogus", &err));
		ASSERT_EQ(err, -EINVAL);

		/* the socket lives as long as any runtime, not just a */
		urio_rt_free(a);
		ASSERT_EQ(access(path, F_OK), 0);
		urio_rt_free(b);
		ASSERT(access(path, F_OK) < 0 && errno == ENOENT);
		free(query(getpid(), "ps", &err));
		ASSERT_EQ(err, -ENOENT);
		ASSERT_EQ(test_count_dir("/proc/self/fd"), fds);
		POLL(test_count_threads() == threads); /* see shutdown.c */
	}
}

static void stale_socket(void)
{
	char path[108];
	int err;
	ASSERT_EQ(urio_introspect_path(getpid(), path, sizeof(path)), 0);
	/* a socket file nobody listens on, as a killed process leaves */
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT(fd >= 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	free(query(getpid(), "ps", &err));
	ASSERT_EQ(err, -ECONNREFUSED);
	/* a runtime takes the place over */
	urio_config on = {.workers = 1, .flags = URIO_CFG_INTROSPECT};
	urio_rt *rt = urio_rt_new(&on);
	ASSERT(rt);
	char *out = query(getpid(), "ps", &err);
	ASSERT_EQ(err, 0);
	ASSERT_HAS(out, "1 runtime");
	free(out);
	urio_rt_free(rt);
	ASSERT(access(path, F_OK) < 0);
}

static void bad_input(void)
{
	char small[8];
	int err;
	ASSERT_EQ(urio_introspect_path(getpid(), small, sizeof(small)),
		  -ENAMETOOLONG);
	ASSERT_EQ(urio_introspect_path(0, small, sizeof(small)), -EINVAL);
	ASSERT_EQ(urio_introspect_query(0, "ps", NULL), -EINVAL);
	ASSERT_EQ(urio_introspect_query(getpid(), "p s", NULL), -EINVAL);
	ASSERT_EQ(urio_introspect_query(getpid(), "", NULL), -EINVAL);
	ASSERT_EQ(urio_introspect_query(getpid(), NULL, NULL), -EINVAL);
	/* a process that does not serve, and one that is gone */
	free(query(getpid(), "ps", &err));
	ASSERT_EQ(err, -ENOENT);
	pid_t dead = fork();
	ASSERT(dead >= 0);
	if (!dead)
		_exit(0);
	ASSERT_EQ(waitpid(dead, NULL, 0), dead);
	free(query(dead, "ps", &err));
	ASSERT_EQ(err, -ESRCH);
}

/* --- urio-ps on a process whose workers are all stuck -------------------- */

static int ready_fd = -1, release_fd = -1;
static int conn_pipes[2][2];

static intptr_t hog(void *arg)
{
	/* a blocking call on the worker thread, as buggy code does */
	if (ready_fd >= 0 && write(ready_fd, "h", 1) != 1)
		return -EIO;
	struct pollfd p = {.fd = release_fd, .events = POLLIN};
	poll(&p, 1, 15000);
	return 0;
}

static intptr_t acceptor(void *arg)
{
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < 2; i++) {
		char name[16];
		urio_task *c = urio_group_spawn(
			&g, conn, (void *)(intptr_t)conn_pipes[i][0]);
		if (!c)
			return -errno;
		snprintf(name, sizeof(name), "conn-%d", i + 1);
		urio_task_set_name(c, name);
	}
	return urio_group_wait(&g);
}

static intptr_t stuck_main(void *arg)
{
	for (int i = 0; i < 2; i++)
		if (pipe2(conn_pipes[i], O_CLOEXEC) < 0)
			return -errno;
	urio_task *tick = urio_spawn(nap, NULL);
	urio_task *jan = urio_spawn(nap_with_deadline, NULL);
	urio_task *acc = urio_spawn(acceptor, NULL);
	if (!tick || !jan || !acc)
		return -errno;
	urio_task_set_name(tick, "ticker");
	urio_task_set_name(jan, "janitor");
	urio_task_set_name(acc, "acceptor");
	for (uint64_t end = now_ms() + 10000; atomic_load(&parked) < 4;)
		if (now_ms() > end || urio_sleep_ms(1) < 0)
			return -ETIMEDOUT;
	urio_sleep_ms(5); /* let them reach their waits */
	urio_task *h0 = urio_spawn(hog, NULL);
	urio_task *h1 = urio_spawn(hog, NULL);
	if (!h0 || !h1)
		return -errno;
	urio_task_set_name(h0, "hog-0");
	urio_task_set_name(h1, "hog-1");
	urio_join(h0, NULL);
	urio_join(h1, NULL);

	for (int i = 0; i < 2; i++)
		if (write(conn_pipes[i][1], "x", 1) != 1)
			return -EIO;
	intptr_t r = -1;
	urio_join(acc, &r);
	urio_cancel(tick);
	urio_cancel(jan);
	urio_join(tick, NULL);
	urio_join(jan, NULL);
	return r == 0 ? 0 : -EPROTO; /* each conn read its byte */
}

static int stuck_child(int ready, int release)
{
	ready_fd = ready;
	release_fd = release;
	char path[108];
	urio_introspect_path(getpid(), path, sizeof(path));
	if (ready < 0)
		printf("pid %d: try urio-ps %d (hogs block for 15 s)\n",
		       (int)getpid(), (int)getpid());
	fflush(stdout);
	urio_config cfg = {.workers = 2};
	intptr_t r = -1;
	int err = urio_run(&cfg, stuck_main, NULL, &r);
	if (err < 0 || r != 0) {
		fprintf(stderr, "stuck child: urio_run %d, main %ld\n", err,
			(long)r);
		return 1;
	}
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "stuck child: %s left behind\n", path);
		return 1;
	}
	return 0;
}

static pid_t child = -1;

static void kill_child(void)
{
	if (child > 0) {
		char path[108];
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		urio_introspect_path(child, path, sizeof(path));
		unlink(path);
	}
}

/* Runs argv, returns its exit status; its stdout and stderr go to out. */
static int run_capture(char *const argv[], char *out, size_t cap)
{
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (!pid) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	uint64_t end = now_ms() + 10000;
	for (;;) {
		struct pollfd q = {.fd = p[0], .events = POLLIN};
		ASSERT(now_ms() < end);
		if (poll(&q, 1, 100) <= 0)
			continue;
		ssize_t r = read(p[0], out + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap - 1)
			break;
	}
	out[n] = 0;
	close(p[0]);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void ps_of(pid_t pid, const char *flag, char *out, size_t cap)
{
#ifdef URIO_PS_PATH
	char pidstr[16];
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	char *argv[] = {URIO_PS_PATH, (char *)flag, pidstr, NULL};
	if (!flag) {
		argv[1] = pidstr;
		argv[2] = NULL;
	}
	int st = run_capture(argv, out, cap);
	if (st != 0)
		fprintf(stderr, "urio-ps exited %d:\n%s\n", st, out);
	ASSERT_EQ(st, 0);
#else
	int err;
	char *s = query(pid, flag ? "pstree" : "ps", &err);
	ASSERT_EQ(err, 0);
	snprintf(out, cap, "%s", s);
	free(s);
#endif
}

static void stuck_workers(void)
{
	int ready[2], release[2];
	ASSERT_EQ(pipe(ready), 0);
	ASSERT_EQ(pipe(release), 0);
	char fd1[16], fd2[16];
	snprintf(fd1, sizeof(fd1), "%d", ready[1]);
	snprintf(fd2, sizeof(fd2), "%d", release[0]);
	char *argv[] = {"/proc/self/exe", "--stuck-child", fd1, fd2, NULL};
	size_t nenv = 0;
	while (environ[nenv])
		nenv++;
	char **envp = calloc(nenv + 2, sizeof(*envp));
	ASSERT(envp);
	for (size_t i = 0, j = 0; i < nenv; i++)
		if (strncmp(environ[i], "URIO_INTROSPECT=", 16))
			envp[j++] = environ[i];
	for (size_t j = 0;; j++)
		if (!envp[j]) {
			envp[j] = "URIO_INTROSPECT=1";
			break;
		}
	child = fork();
	ASSERT(child >= 0);
	if (!child) {
		close(ready[0]);
		close(release[1]);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	atexit(kill_child);
	free(envp);
	close(ready[1]);
	close(release[0]);

	/* both hogs block their workers; then the socket is there */
	int got = 0;
	for (uint64_t end = now_ms() + 10000; got < 2;) {
		struct pollfd q = {.fd = ready[0], .events = POLLIN};
		char c;
		ASSERT(now_ms() < end);
		if (poll(&q, 1, 100) == 1) {
			ASSERT_EQ(read(ready[0], &c, 1), 1);
			got++;
		}
	}
	char path[108];
	ASSERT_EQ(urio_introspect_path(child, path, sizeof(path)), 0);
	for (uint64_t end = now_ms() + 10000; access(path, F_OK) < 0;) {
		ASSERT(now_ms() < end);
		usleep(10000);
	}

	static char ps[65536], tree[65536];
	char line[256];
	ps_of(child, NULL, ps, sizeof(ps));
	ps_of(child, "--tree", tree, sizeof(tree));
	ASSERT_HAS(ps, "worker 0: running task");
	ASSERT_HAS(ps, "worker 1: running task");
	ASSERT(line_with(ps, " hog-0 ", line, sizeof(line)));
	ASSERT_HAS(line, "running on w");
	ASSERT(line_with(ps, " hog-1 ", line, sizeof(line)));
	ASSERT_HAS(line, "running on w");
	ASSERT(line_with(ps, " main ", line, sizeof(line)));
	ASSERT_HAS(line, "join task");
	ASSERT(line_with(ps, "ticker", line, sizeof(line)));
	ASSERT_HAS(line, "ms left");
	ASSERT(line_with(ps, "janitor", line, sizeof(line)));
	ASSERT_HAS(line, " in ");
	ASSERT(line_with(ps, "conn-2", line, sizeof(line)));
	ASSERT_HAS(line, " fd ");
	ASSERT(line_with(ps, "acceptor", line, sizeof(line)));
	ASSERT_HAS(line, "group");
	ASSERT(depth_of(tree, "] conn-1") > depth_of(tree, "] acceptor"));
	ASSERT(depth_of(tree, "] hog-0") > depth_of(tree, "] main"));
	ASSERT_HAS(tree, "] hog-1: running on worker");

	/* release the hogs: the child finishes, removes its socket, exits 0 */
	close(release[1]);
	int st = -1;
	for (uint64_t end = now_ms() + 15000;;) {
		pid_t r = waitpid(child, &st, WNOHANG);
		ASSERT(r >= 0);
		if (r == child)
			break;
		ASSERT(now_ms() < end);
		usleep(10000);
	}
	child = -1;
	ASSERT(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ASSERT(access(path, F_OK) < 0);
	close(ready[0]);
}

static void ps_errors(void)
{
#ifdef URIO_PS_PATH
	char out[4096], pidstr[16];
	char *bad[] = {URIO_PS_PATH, "12ab", NULL};
	ASSERT_EQ(run_capture(bad, out, sizeof(out)), 2);
	ASSERT_HAS(out, "not a process id");
	/* we serve nothing now */
	snprintf(pidstr, sizeof(pidstr), "%d", (int)getpid());
	char *none[] = {URIO_PS_PATH, pidstr, NULL};
	ASSERT_EQ(run_capture(none, out, sizeof(out)), 1);
	ASSERT_HAS(out, "does not serve");
	ASSERT_HAS(out, "URIO_INTROSPECT=1");
	char *list[] = {URIO_PS_PATH, NULL};
	ASSERT_EQ(run_capture(list, out, sizeof(out)), 0);
#endif
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--stuck-child"))
		return stuck_child(atoi(argv[2]), atoi(argv[3]));
	/* the process serves introspection only when a test asks it to */
	unsetenv("URIO_INTROSPECT");
	dump_tree();
	dump_race();
	socket_lifecycle();
	stale_socket();
	bad_input();
	ps_errors();
	stuck_workers();
	puts("introspect: ok");
	return 0;
}
