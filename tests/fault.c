/* Fault injection over every injection point (curl's torture): a workload
 * (echo pairs over pipes, then the line and chunk iterators, a reader on
 * buffer rings, a channel, a mutex, a pool, an echo server, the file
 * followed, a recursive directory watch, then a group, futures, a
 * generator, an offloaded call, a deadline and a task local) runs once per
 * fallible call of each point with that call failing, and every run must
 * end with 0 or a clear -errno, with every fd and stack given back (LSan
 * judges memory in ASan builds). EMFILE comes from a low RLIMIT_NOFILE. Needs a
 * -DURIO_FAULT=ON build; skips otherwise. URIO_FAULT_MAX caps the runs per
 * point (default 400). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urio.h>

#include "fault.h"
#include "test.h"

#ifdef URIO_FAULT
#define PAIRS 3
#define BYTES 512

static intptr_t echo_side(void *arg)
{
	int *fds = arg; /* read fds[0], write back on fds[1] */
	char buf[BYTES];
	for (size_t got = 0; got < BYTES;) {
		ssize_t n = urio_read(fds[0], buf + got, BYTES - got, -1);
		if (n <= 0)
			return n < 0 ? n : -EPIPE;
		got += (size_t)n;
	}
	for (size_t put = 0; put < BYTES;) {
		ssize_t n = urio_write(fds[1], buf + put, BYTES - put, -1);
		if (n <= 0)
			return n < 0 ? n : -EPIPE;
		put += (size_t)n;
	}
	return urio_sleep_ms(1);
}

/* --- io and sync: iterators, a reader, a channel, a mutex, a pool ------- */

#define LINES 40
#define ITEMS 16

static char path[] = "/tmp/urio-fault-XXXXXX";
static char dir[] = "/tmp/urio-fault-dir-XXXXXX";

static int same(void *item, void **out, void *ctx)
{
	*out = item;
	return 0;
}

/* The file's lines through the line iterator, an adapter and collect,
 * then its chunks. */
static intptr_t iterators(void)
{
	urio_lines *ls = urio_lines_open(path, NULL);
	if (!ls)
		return -errno;
	urio_iter *it = urio_iter_map(urio_lines_iter(ls), same, NULL);
	if (!it) {
		intptr_t err = -errno;
		urio_lines_close(ls);
		return err;
	}
	void **items = NULL;
	size_t n = 0;
	long r = urio_iter_collect(it, &items, &n); /* closes ls too */
	free(items);
	if (r < 0)
		return r;
	if (r != LINES)
		return -EIO;
	urio_chunks *cs = urio_chunks_open(path, NULL);
	if (!cs)
		return -errno;
	urio_slice c;
	size_t bytes = 0;
	int k;
	while ((k = urio_chunks_next(cs, &c)) == 1)
		bytes += c.len;
	urio_chunks_close(cs);
	return k < 0 ? k : bytes == LINES * 6 ? 0 : -EIO;
}

/* A socket's bytes through a reader (multishot, buffer rings). */
static intptr_t reader(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	intptr_t err = write(sv[1], "hello", 5) == 5 ? 0 : -EIO;
	shutdown(sv[1], SHUT_WR);
	urio_reader *r = err ? NULL : urio_reader_new(sv[0], 0);
	if (!err && !r)
		err = -errno;
	size_t got = 0;
	while (r && !err) {
		urio_buf b;
		ssize_t n = urio_reader_recv(r, &b);
		if (n <= 0) {
			err = n;
			break;
		}
		got += (size_t)n;
		urio_buf_release(&b);
	}
	urio_reader_free(r);
	close(sv[0]);
	close(sv[1]);
	return err ? err : got == 5 ? 0 : -EIO;
}

struct shared {
	urio_chan *ch;
	urio_mutex mu;
	urio_pool *pool;
	int count;
};

static int res_create(void *ctx, void **res)
{
	static int one;
	*res = &one;
	return 0;
}

static void res_destroy(void *ctx, void *res)
{
}

static const urio_pool_ops res_ops = {res_create, res_destroy, NULL};

/* Sends ITEMS ints, each counted under the mutex with a pool lease held. */
static intptr_t producer(void *arg)
{
	struct shared *sh = arg;
	intptr_t err = 0;
	for (int i = 0; i < ITEMS && !err; i++) {
		void *res;
		err = urio_pool_acquire(sh->pool, &res);
		if (err)
			break;
		err = urio_mutex_lock(&sh->mu);
		if (!err) {
			sh->count++;
			urio_yield();
			urio_mutex_unlock(&sh->mu);
			err = urio_chan_send(sh->ch, &i);
		}
		urio_pool_release(sh->pool, res, 0);
	}
	urio_chan_close(sh->ch);
	return err;
}

static intptr_t sync_parts(void)
{
	struct shared sh = {0};
	urio_mutex_init(&sh.mu);
	if (!(sh.ch = urio_chan_new(sizeof(int), 4)))
		return -errno;
	urio_pool_opts o = {.max_size = 1};
	intptr_t err = 0;
	if (!(sh.pool = urio_pool_new(&res_ops, NULL, &o))) {
		err = -errno;
		urio_chan_free(sh.ch);
		return err;
	}
	urio_task *t = urio_spawn(producer, &sh);
	if (!t)
		err = -errno;
	int v, got = 0;
	while (t && urio_chan_recv(sh.ch, &v) == 1)
		got += v == got;
	intptr_t r = 0;
	if (t && urio_join(t, &r) == 0 && r < 0)
		err = r;
	urio_pool_free(sh.pool);
	urio_chan_free(sh.ch);
	if (!err && (got != ITEMS || sh.count != ITEMS))
		err = -EIO;
	return err;
}

/* 0 once n bytes went through (reads: EOF before them is -EPIPE), or
 * -errno; ops may be short (the short_io point). */
static intptr_t xfer(int fd, char *b, size_t n, bool wr)
{
	for (size_t done = 0; done < n;) {
		ssize_t r = wr ? urio_write(fd, b + done, n - done, -1)
			       : urio_read(fd, b + done, n - done, -1);
		if (r <= 0)
			return r < 0 ? r : -EPIPE;
		done += (size_t)r;
	}
	return 0;
}

static int echo_conn(int fd, void *arg)
{
	char b[5];
	intptr_t err = xfer(fd, b, sizeof(b), false);
	return (int)(err ? err : xfer(fd, b, sizeof(b), true));
}

static intptr_t client(int port)
{
	int fd = urio_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char b[6] = "hello";
	intptr_t err = urio_connect(fd, (struct sockaddr *)&a, sizeof(a));
	if (!err)
		err = xfer(fd, b, 5, true);
	memset(b, 0, sizeof(b));
	if (!err)
		err = xfer(fd, b, 5, false);
	urio_close(fd);
	return err ? err : strcmp(b, "hello") ? -EIO : 0;
}

/* One echo through a server (accept op, connection tasks). A connection
 * the server lost to an allocation is closed: the client sees its end. */
static intptr_t server_part(void)
{
	urio_server_opts o = {.host = "127.0.0.1", .conn = echo_conn};
	urio_server *s = urio_server_new(&o);
	if (!s)
		return -errno;
	intptr_t err = urio_server_start(s);
	if (!err)
		err = client(urio_server_port(s));
	/* after the drain: the acceptor counts a loss after closing the fd;
	 * a drain without memory did nothing, and the next call works */
	while (urio_server_drain(s, 1000) == -ENOMEM)
		if (!err)
			err = -ENOMEM;
	urio_server_stats st;
	urio_server_stats_get(s, &st);
	if ((err == -EPIPE || err == -ECONNRESET) &&
	    (st.accept_errors || st.conn_errors))
		err = -ENOMEM;
	ASSERT_EQ(urio_server_free(s), 0);
	return err;
}

/* The file followed (tail -F: inotify) to its last line, then stopped. */
static intptr_t follow(void)
{
	urio_lines_opts o = {.follow = true};
	urio_lines *ls = urio_lines_open(path, &o);
	if (!ls)
		return -errno;
	urio_slice line;
	int k = 1, n = 0;
	while (n < LINES && (k = urio_lines_next(ls, &line)) == 1)
		n++;
	urio_lines_stop(ls);
	while (k == 1 && (k = urio_lines_next(ls, &line)) == 1)
		n++;
	urio_lines_close(ls);
	return k < 0 ? k : n == LINES ? 0 : -EIO;
}

/* A file made in a subdirectory of a recursive watch. Within a bound: a
 * change lost to a fault must show as an OVERFLOW event or an error, not
 * as a wait forever (the bound's -ETIMEDOUT fails the run). */
static intptr_t watch(void)
{
	urio_watch_opts o = {.recursive = true, .step_ms = 1,
			     .debounce_ms = 20};
	urio_watch *w = urio_watch_open(dir, &o);
	if (!w)
		return -errno;
	char file[sizeof(dir) + 16];
	snprintf(file, sizeof(file), "%s/sub/f", dir);
	int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	intptr_t err = fd < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	urio_deadline d;
	urio_timeout_enter(&d, 10000);
	urio_watch_batch b = {0};
	if (!err && (err = urio_watch_next(w, &b)) > 0)
		err = b.n ? 0 : -EIO;
	if (urio_timeout_exit(&d) == -ETIMEDOUT)
		err = -ETIMEDOUT;
	urio_watch_close(w);
	unlink(file);
	return err;
}

/* --- structured concurrency: groups, futures, generators, offload,
 * deadlines, task locals ---------------------------------------------- */

static intptr_t set_later(void *arg)
{
	urio_future *f = arg;
	int err = urio_sleep_ms(1);
	return err ? urio_future_fail(f, err) : urio_future_set(f, 7);
}

static void on_done(urio_future *f, void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

static int count_to(urio_gen *g, void *arg)
{
	for (intptr_t i = 1; i <= 3; i++) {
		int err = urio_gen_yield(g, (void *)i);
		if (err)
			return err;
	}
	return 0;
}

static intptr_t triple(void *arg)
{
	return 3 * (intptr_t)arg;
}

static intptr_t futures(void)
{
	urio_future *f = urio_future_new();
	if (!f)
		return -errno;
	atomic_int calls = 0;
	intptr_t v = 0, err = urio_future_on_done(f, on_done, &calls);
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < 3 && !err; i++)
		if (!urio_group_spawn(&g, i ? triple : set_later,
				      i ? (void *)(intptr_t)i : f))
			err = -errno;
	if (err)
		urio_group_cancel(&g);
	int gerr = urio_group_wait(&g);
	if (!err)
		err = gerr;
	if (!err)
		err = urio_future_wait(f, &v);
	if (!err && (v != 7 || atomic_load(&calls) != 1))
		err = -EIO;
	urio_future_free(f);
	return err;
}

static intptr_t structured(void)
{
	intptr_t err = futures();
	urio_gen *gen = err ? NULL : urio_gen_new(count_to, NULL);
	if (!err && !gen)
		err = -errno;
	intptr_t sum = 0;
	void *item;
	int r = 0;
	while (gen && (r = urio_gen_next(gen, &item)) == 1)
		sum += (intptr_t)item;
	if (gen && !err)
		err = r < 0 ? r : sum == 6 ? 0 : -EIO;
	urio_gen_close(gen);
	if (!err) {
		intptr_t v = urio_offload(triple, (void *)(intptr_t)5);
		err = v < 0 ? v : v == 15 ? 0 : -EIO;
	}
	static urio_local_key key;
	if (!err && !key)
		err = urio_local_key_new(&key, NULL);
	if (!err)
		err = urio_local_set(key, &key);
	if (!err) {
		urio_deadline d;
		urio_timeout_enter(&d, 1);
		int s = urio_sleep_ms(100);
		int e = urio_timeout_exit(&d);
		if (s == -ECANCELED && e == -ETIMEDOUT)
			err = 0; /* the deadline fired, as it should */
		else if (e < 0 && e != -ETIMEDOUT)
			err = e; /* its timer could not be armed */
		else
			err = s < 0 && s != -ECANCELED ? s : -EIO;
	}
	return err;
}

static intptr_t io_sync(void)
{
	intptr_t err = iterators();
	if (!err)
		err = reader();
	if (!err)
		err = sync_parts();
	if (!err)
		err = server_part();
	if (!err)
		err = follow();
	if (!err)
		err = watch();
	if (!err)
		err = structured();
	return err;
}

/* Spawns echo pairs over pipes and joins them: stacks, records, ring ops,
 * timers, wakes across workers. Returns 0 or the first -errno. */
static intptr_t workload(void *arg)
{
	int p[PAIRS][4], fds[PAIRS][2];
	urio_task *t[PAIRS];
	intptr_t err = 0;
	int n = 0;
	for (; n < PAIRS; n++) {
		if (pipe(p[n]) < 0) {
			err = -errno;
			break;
		}
		if (pipe(p[n] + 2) < 0) {
			err = -errno;
			close(p[n][0]);
			close(p[n][1]);
			break;
		}
		fds[n][0] = p[n][0];
		fds[n][1] = p[n][3];
		t[n] = urio_spawn(echo_side, fds[n]);
		if (!t[n]) {
			err = -errno;
			for (int k = 0; k < 4; k++)
				close(p[n][k]);
			break;
		}
	}
	char out[BYTES], in[BYTES];
	memset(out, 'a', sizeof(out));
	for (int i = 0; i < n && !err; i++) {
		for (size_t put = 0; put < BYTES && !err;) {
			ssize_t r = urio_write(p[i][1], out + put, BYTES - put,
					       -1);
			if (r <= 0)
				err = r < 0 ? r : -EPIPE;
			else
				put += (size_t)r;
		}
		for (size_t got = 0; got < BYTES && !err;) {
			ssize_t r = urio_read(p[i][2], in + got, BYTES - got,
					      -1);
			if (r <= 0)
				err = r < 0 ? r : -EPIPE;
			else
				got += (size_t)r;
		}
		if (!err && memcmp(in, out, BYTES))
			err = -EIO;
	}
	for (int i = 0; i < n; i++) {
		if (err)
			urio_cancel(t[i]);
		intptr_t r = 0;
		urio_join(t[i], &r);
		if (!err && r < 0 && r != -ECANCELED)
			err = r;
		for (int k = 0; k < 4; k++)
			close(p[i][k]);
	}
	return err ? err : io_sync();
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	ASSERT(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The errors a failed run may end with: out of memory or mappings, out
 * of fds, or a peer whose setup failed. */
static bool clear_errno(intptr_t r)
{
	return r == 0 || r == -ENOMEM || r == -EAGAIN || r == -EMFILE ||
	       r == -ENFILE || r == -ECANCELED;
}

static int run_once(unsigned workers, int fds0, long stacks0)
{
	urio_config c = {.workers = workers};
	intptr_t res = 0;
	int r = urio_run(&c, workload, NULL, &res);
	if (r == 0)
		r = (int)res;
	if (!clear_errno(r)) {
		fprintf(stderr, "unclear result %d (%s)\n", r, strerror(-r));
		exit(1);
	}
	ASSERT_EQ(count_fds(), fds0);
	ASSERT_EQ(urio__fault_gauge_get(URIO__GAUGE_STACKS), stacks0);
	return r;
}

static unsigned long max_runs(void)
{
	const char *e = getenv("URIO_FAULT_MAX");
	return e ? strtoul(e, NULL, 10) : 400;
}

/* Fails the 1st, 2nd, ... call of point p until a run has fewer calls. */
static unsigned long walk(int p, unsigned workers, int fds0, long stacks0)
{
	unsigned long n = 1, failed = 0;
	for (; n <= max_runs(); n++) {
		urio__fault_arm(p, n);
		int r = run_once(workers, fds0, stacks0);
		bool fired = urio__fault_fired(p);
		urio__fault_arm(p, 0);
		if (!fired)
			break;
		failed += r != 0;
	}
	printf("%-9s %u worker(s): %lu runs with a fault, %lu ended in "
	       "-errno, the rest absorbed it\n",
	       urio__fault_name(p), workers, n - 1, failed);
	return n - 1;
}

/* fds run out at every count from none spare to enough. */
static unsigned long emfile(unsigned workers, int fds0, long stacks0)
{
	struct rlimit old;
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	unsigned long runs = 0, failed = 0;
	for (int spare = 0; spare <= 40; spare++, runs++) {
		struct rlimit lim = old;
		lim.rlim_cur = (rlim_t)(fds0 + spare);
		ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
		int r = run_once(workers, fds0, stacks0);
		ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
		failed += r != 0;
	}
	printf("emfile    %u worker(s): %lu runs, %lu ended in -errno\n",
	       workers, runs, failed);
	ASSERT(failed > 0);
	return runs;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int fd = mkstemp(path);
	ASSERT(fd >= 0);
	for (int i = 0; i < LINES; i++)
		ASSERT_EQ(dprintf(fd, "line%d\n", i % 10), 6);
	close(fd);
	ASSERT(mkdtemp(dir));
	char sub[sizeof(dir) + 8];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ASSERT_EQ(mkdir(sub, 0700), 0);
	/* a first run maps what stays for the process (probe, pools) */
	urio_config c = {.workers = 2};
	intptr_t r = -1;
	ASSERT_EQ(urio_run(&c, workload, NULL, &r), 0);
	ASSERT_EQ(r, 0);
	int fds0 = count_fds();
	long stacks0 = urio__fault_gauge_get(URIO__GAUGE_STACKS);
	unsigned long total = 0;
	for (unsigned w = 1; w <= 2; w++) {
		for (int p = 0; p < URIO__FAULT_NPOINTS; p++)
			total += walk(p, w, fds0, stacks0);
		total += emfile(w, fds0, stacks0);
	}
	unlink(path);
	ASSERT_EQ(rmdir(sub), 0);
	ASSERT_EQ(rmdir(dir), 0);
	printf("%lu faulty runs, no fd or stack leaked\n", total);
	return 0;
}
#else
int main(void)
{
	return T_SKIP;
}
#endif
