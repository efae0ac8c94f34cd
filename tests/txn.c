/* Transactions: the generic scope commits on success and rolls back on
 * error, cancellation and deadline, and a failed commit propagates and
 * rolls back; the atomic file rewrite leaves the target untouched and no
 * temp file on every failure path; the path ops it is built on
 * (urio_openat, urio_renameat, urio_unlinkat); and the crash test: child
 * processes rewriting a file are SIGKILLed at random instants, at least
 * 1000 times, and the target always holds exactly the old or the new
 * content. */
#define _GNU_SOURCE /* pipe2, RENAME_NOREPLACE */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <urio.h>
#include <urio/txn.h>

#include "test.h"

static char dir[64], target[128];

/* --- the generic scope, with a recording transaction --------------------- */

struct rec {
	urio_txn txn;
	int begin_ret, commit_ret;
	int begun, committed, rolled_back, rollback_err;
	bool commit_slept;
};

static int rec_begin(urio_txn *t)
{
	struct rec *r = (struct rec *)t;
	/* atomic: generic_cancel polls it from another worker */
	__atomic_fetch_add(&r->begun, 1, __ATOMIC_RELEASE);
	return r->begin_ret;
}

static int rec_commit(urio_txn *t)
{
	struct rec *r = (struct rec *)t;
	r->committed++;
	/* commit may suspend, even in a cancelled task */
	r->commit_slept = urio_sleep_ms(1) == 0;
	return r->commit_ret;
}

static void rec_rollback(urio_txn *t, int err)
{
	struct rec *r = (struct rec *)t;
	r->rolled_back++;
	r->rollback_err = err;
}

static const urio_txn_ops rec_ops = {rec_begin, rec_commit, rec_rollback};

static int body_ok(void *res, void *ctx) { return 3; }
static int body_fail(void *res, void *ctx) { return -EIO; }
static int body_sleep(void *res, void *ctx) { return urio_sleep_ms(60000); }

static intptr_t generic(void *arg)
{
	struct rec r = {.txn.ops = &rec_ops};
	ASSERT_EQ(urio_with(&urio_txn_scope, &r, body_ok, NULL), 3);
	ASSERT_EQ(r.committed, 1);
	ASSERT_EQ(r.rolled_back, 0);
	ASSERT(r.commit_slept);

	r = (struct rec){.txn.ops = &rec_ops};
	ASSERT_EQ(urio_with(&urio_txn_scope, &r, body_fail, NULL), -EIO);
	ASSERT_EQ(r.committed, 0);
	ASSERT_EQ(r.rolled_back, 1);
	ASSERT_EQ(r.rollback_err, -EIO);

	/* a failed commit propagates and rolls back */
	r = (struct rec){.txn.ops = &rec_ops, .commit_ret = -ENOSPC};
	ASSERT_EQ(urio_with(&urio_txn_scope, &r, body_ok, NULL), -ENOSPC);
	ASSERT_EQ(r.committed, 1);
	ASSERT_EQ(r.rolled_back, 1);
	ASSERT_EQ(r.rollback_err, -ENOSPC);

	/* a failed begin skips the body, commit and rollback */
	r = (struct rec){.txn.ops = &rec_ops, .begin_ret = -EAGAIN};
	ASSERT_EQ(urio_with(&urio_txn_scope, &r, body_ok, NULL), -EAGAIN);
	ASSERT_EQ(r.committed + r.rolled_back, 0);

	/* a deadline around the transaction: rollback, commit never runs */
	r = (struct rec){.txn.ops = &rec_ops};
	urio_deadline d;
	urio_timeout_enter(&d, 5);
	ASSERT_EQ(urio_with(&urio_txn_scope, &r, body_sleep, NULL),
		  -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT_EQ(r.committed, 0);
	ASSERT_EQ(r.rolled_back, 1);
	ASSERT_EQ(r.rollback_err, -ECANCELED);

	/* the manual form */
	r = (struct rec){.txn.ops = &rec_ops};
	ASSERT_EQ(urio_txn_begin(&r.txn), 0);
	ASSERT_EQ(urio_txn_end(&r.txn, 0), 0);
	ASSERT_EQ(r.committed, 1);
	ASSERT_EQ(urio_txn_begin(&r.txn), 0);
	ASSERT_EQ(urio_txn_end(&r.txn, -EPIPE), -EPIPE);
	ASSERT_EQ(r.rolled_back, 1);

	/* bad input */
	ASSERT_EQ(urio_with(&urio_txn_scope, NULL, body_ok, NULL), -EINVAL);
	struct rec none = {0};
	ASSERT_EQ(urio_with(&urio_txn_scope, &none, body_ok, NULL), -EINVAL);
	ASSERT_EQ(urio_txn_begin(NULL), -EINVAL);
	ASSERT_EQ(urio_txn_end(NULL, 0), -EINVAL);
	static const urio_txn_ops empty = {NULL, NULL, NULL};
	none.txn.ops = &empty;
	ASSERT_EQ(urio_with(&urio_txn_scope, &none, body_fail, NULL), -EIO);
	return 0;
}

static struct rec crec;
static atomic_int started;

static intptr_t cancelled_txn(void *arg)
{
	atomic_store(&started, 1);
	return urio_with(&urio_txn_scope, &crec, body_sleep, NULL);
}

static intptr_t generic_cancel(void *arg)
{
	crec = (struct rec){.txn.ops = &rec_ops};
	atomic_store(&started, 0);
	urio_task *t = urio_spawn(cancelled_txn, NULL);
	ASSERT(t);
	POLL(atomic_load(&started) &&
	     __atomic_load_n(&crec.begun, __ATOMIC_ACQUIRE));
	urio_sleep_ms(1);
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t res = 0;
	ASSERT_EQ(urio_join(t, &res), -ECANCELED);
	ASSERT_EQ(res, -ECANCELED);
	ASSERT_EQ(crec.committed, 0);
	ASSERT_EQ(crec.rolled_back, 1);
	ASSERT_EQ(crec.rollback_err, -ECANCELED);
	return 0;
}

/* --- the file rewrite ------------------------------------------------------ */

static void put_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	ASSERT(f);
	ASSERT_EQ(fputs(s, f) >= 0, 1);
	ASSERT_EQ(fclose(f), 0);
}

/* The whole file in buf (NUL-terminated); its size, or -1 if missing. */
static long get_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = 0;
	return (long)n;
}

/* Temp files of transactions in dir. */
static int count_tmp(const char *path)
{
	DIR *d = opendir(path);
	ASSERT(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		n += e->d_name[0] == '.' && l > 4 &&
		     !strcmp(e->d_name + l - 4, ".tmp");
	}
	closedir(d);
	return n;
}

static int write_str(void *res, void *ctx)
{
	ssize_t n = urio_file_txn_write(res, ctx, strlen(ctx));
	return n < 0 ? (int)n : 0;
}

static int write_then_fail(void *res, void *ctx)
{
	ssize_t n = urio_file_txn_write(res, "half", 4);
	ASSERT_EQ(n, 4);
	ASSERT_EQ(count_tmp(dir), 1);
	return -EPROTO;
}

static intptr_t file_basic(void *arg)
{
	char buf[256];
	put_file(target, "old");
	urio_file_txn ft;
	urio_file_txn_init(&ft, target, 0640);
	ASSERT_EQ(urio_file_txn_write(&ft, "x", 1), -EBADF);
	ASSERT_EQ(urio_file_txn_fd(&ft), -EBADF);
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, write_str, "new content"),
		  0);
	ASSERT_EQ(get_file(target, buf, sizeof(buf)), 11);
	ASSERT(!strcmp(buf, "new content"));
	struct stat st;
	ASSERT_EQ(stat(target, &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0640 & ~0022 & 0777);
	ASSERT_EQ(count_tmp(dir), 0);
	ASSERT_EQ(ft.fd, -1);
	ASSERT_EQ(ft.dirfd, -1);

	/* reused, and an empty rewrite */
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, write_str, ""), 0);
	ASSERT_EQ(get_file(target, buf, sizeof(buf)), 0);

	/* error: rolled back, temp gone, target unchanged */
	put_file(target, "old");
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, write_then_fail, NULL),
		  -EPROTO);
	ASSERT_EQ(get_file(target, buf, sizeof(buf)), 3);
	ASSERT(!strcmp(buf, "old"));
	ASSERT_EQ(count_tmp(dir), 0);

	/* a missing target is created */
	ASSERT_EQ(unlink(target), 0);
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, write_str, "fresh"), 0);
	ASSERT_EQ(get_file(target, buf, sizeof(buf)), 5);

	/* the manual form, with a write through the fd of the temp file */
	ASSERT_EQ(urio_txn_begin(&ft.txn), 0);
	ASSERT_EQ(urio_txn_begin(&ft.txn), -EBUSY);
	int fd = urio_file_txn_fd(&ft);
	ASSERT(fd >= 0);
	ASSERT_EQ(urio_file_txn_write(&ft, "abc", 3), 3);
	ASSERT_EQ(urio_write(fd, "Z", 1, 1), 1);
	ASSERT_EQ(urio_file_txn_write(&ft, "d", 1), 1);
	ASSERT_EQ(urio_txn_end(&ft.txn, 0), 0);
	ASSERT_EQ(get_file(target, buf, sizeof(buf)), 4);
	ASSERT(!strcmp(buf, "aZcd"));
	ASSERT_EQ(count_tmp(dir), 0);

	/* a relative path: the temp file goes in the cwd */
	char cwd[256];
	ASSERT(getcwd(cwd, sizeof(cwd)));
	ASSERT_EQ(chdir(dir), 0);
	urio_file_txn rel;
	urio_file_txn_init(&rel, "target", 0600);
	ASSERT_EQ(urio_with(&urio_txn_scope, &rel, write_str, "rel"), 0);
	ASSERT_EQ(chdir(cwd), 0);
	ASSERT_EQ(get_file(target, buf, sizeof(buf)), 3);
	ASSERT(!strcmp(buf, "rel"));
	return 0;
}

static int rmdir_under(void *res, void *ctx)
{
	urio_file_txn *ft = res;
	ASSERT_EQ(urio_file_txn_write(ft, "x", 1), 1);
	/* the directory goes away under the transaction */
	ASSERT_EQ(urio_unlinkat(ft->dirfd, ft->tmp, 0), 0);
	ASSERT_EQ(rmdir(ctx), 0);
	return 0;
}

static intptr_t file_failures(void *arg)
{
	char buf[256], sub[160], path[200];
	urio_file_txn ft;

	/* commit fails: the target is a directory (rename gives -EISDIR) */
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ASSERT_EQ(mkdir(sub, 0700), 0);
	urio_file_txn_init(&ft, sub, 0600);
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, write_str, "x"), -EISDIR);
	ASSERT_EQ(count_tmp(dir), 0);
	ASSERT_EQ(rmdir(sub), 0);

	/* commit fails: the directory was removed during the body */
	ASSERT_EQ(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/f", sub);
	urio_file_txn_init(&ft, path, 0600);
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, rmdir_under, sub), -ENOENT);
	ASSERT_EQ(ft.fd, -1);
	ASSERT_EQ(ft.dirfd, -1);

	/* begin fails: the body never runs */
	urio_file_txn_init(&ft, path, 0600); /* its directory is gone */
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, body_ok, NULL), -ENOENT);
	urio_file_txn_init(&ft, "", 0600);
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, body_ok, NULL), -ENOENT);
	urio_file_txn_init(&ft, "/tmp/", 0600);
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, body_ok, NULL), -EISDIR);
	urio_file_txn_init(&ft, "/tmp/..", 0600);
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, body_ok, NULL), -EISDIR);
	urio_file_txn_init(&ft, NULL, 0600);
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, body_ok, NULL), -EFAULT);
	char longname[400];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	urio_file_txn_init(&ft, longname, 0600);
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, body_ok, NULL),
		  -ENAMETOOLONG);
	urio_file_txn_init(NULL, path, 0600);
	ASSERT_EQ(urio_file_txn_write(NULL, "x", 1), -EBADF);
	ASSERT_EQ(urio_file_txn_fd(NULL), -EBADF);

	/* a name of NAME_MAX bytes still gets a temp file (its name is cut) */
	char name[256];
	memset(name, 'm', 255);
	name[255] = 0;
	char *longpath = malloc(strlen(dir) + 300);
	ASSERT(longpath);
	sprintf(longpath, "%s/%s", dir, name);
	urio_file_txn_init(&ft, longpath, 0600);
	ASSERT_EQ(urio_with(&urio_txn_scope, &ft, write_str, "long"), 0);
	ASSERT_EQ(get_file(longpath, buf, sizeof(buf)), 4);
	ASSERT_EQ(unlink(longpath), 0);
	free(longpath);
	ASSERT_EQ(count_tmp(dir), 0);
	return 0;
}

static atomic_int wrote;

static int write_then_sleep(void *res, void *ctx)
{
	ASSERT_EQ(urio_file_txn_write(res, "partial", 7), 7);
	atomic_store(&wrote, 1);
	return urio_sleep_ms(60000);
}

static intptr_t file_txn_task(void *arg)
{
	urio_file_txn ft;
	urio_file_txn_init(&ft, target, 0600);
	return urio_with(&urio_txn_scope, &ft, write_then_sleep, NULL);
}

static intptr_t file_cancel(void *arg)
{
	char buf[64];
	put_file(target, "old");
	/* cancelled in the body */
	atomic_store(&wrote, 0);
	urio_task *t = urio_spawn(file_txn_task, NULL);
	ASSERT(t);
	POLL(atomic_load(&wrote));
	ASSERT_EQ(count_tmp(dir), 1);
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t res = 0;
	ASSERT_EQ(urio_join(t, &res), -ECANCELED);
	ASSERT_EQ(res, -ECANCELED);
	ASSERT_EQ(count_tmp(dir), 0);
	ASSERT_EQ(get_file(target, buf, sizeof(buf)), 3);
	ASSERT(!strcmp(buf, "old"));

	/* a deadline fires in the body (or, on a slow machine, already in
	 * begin: then again with a longer one) */
	for (uint64_t ms = 5;; ms *= 2) {
		ASSERT(ms < 100000);
		atomic_store(&wrote, 0);
		urio_deadline d;
		urio_timeout_enter(&d, ms);
		ASSERT_EQ(file_txn_task(NULL), -ECANCELED);
		ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
		ASSERT_EQ(count_tmp(dir), 0);
		ASSERT_EQ(get_file(target, buf, sizeof(buf)), 3);
		ASSERT(!strcmp(buf, "old"));
		if (atomic_load(&wrote))
			break;
	}
	return 0;
}

/* Many tasks rewrite one file at once: each commits, the file ends as one
 * of them wrote it, whole. */
#define RACERS 16
static char racer_text[RACERS][64];

static intptr_t racer(void *arg)
{
	urio_file_txn ft;
	urio_file_txn_init(&ft, target, 0600);
	return urio_with(&urio_txn_scope, &ft, write_str, arg);
}

static intptr_t file_race(void *arg)
{
	urio_group g;
	urio_group_init(&g);
	for (int i = 0; i < RACERS; i++) {
		snprintf(racer_text[i], sizeof(racer_text[i]),
			 "racer %d of %d, a line long enough", i, RACERS);
		ASSERT(urio_group_spawn(&g, racer, racer_text[i]));
	}
	ASSERT_EQ(urio_group_wait(&g), 0);
	char buf[128];
	ASSERT(get_file(target, buf, sizeof(buf)) > 0);
	int match = 0;
	for (int i = 0; i < RACERS; i++)
		match += !strcmp(buf, racer_text[i]);
	ASSERT_EQ(match, 1);
	ASSERT_EQ(count_tmp(dir), 0);
	return 0;
}

static intptr_t path_ops(void *arg)
{
	char a[160], b[160];
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	int d = urio_open(dir, O_RDONLY | O_DIRECTORY, 0);
	ASSERT(d >= 0);
	int fd = urio_openat(d, "a", O_WRONLY | O_CREAT | O_EXCL, 0600);
	ASSERT(fd >= 0);
	ASSERT_EQ(urio_openat(d, "a", O_WRONLY | O_CREAT | O_EXCL, 0600),
		  -EEXIST);
	ASSERT_EQ(urio_close(fd), 0);
	ASSERT_EQ(urio_renameat(d, "a", d, "b", 0), 0);
	ASSERT_EQ(access(a, F_OK), -1);
	ASSERT_EQ(access(b, F_OK), 0);
	ASSERT_EQ(urio_renameat(d, "a", d, "b", 0), -ENOENT);
	put_file(a, "x");
	ASSERT_EQ(urio_renameat(d, "a", d, "b", RENAME_NOREPLACE), -EEXIST);
	ASSERT_EQ(urio_renameat(AT_FDCWD, a, AT_FDCWD, b, 0), 0);
	ASSERT_EQ(urio_unlinkat(d, "b", 0), 0);
	ASSERT_EQ(urio_unlinkat(d, "b", 0), -ENOENT);
	ASSERT_EQ(mkdir(a, 0700), 0);
	ASSERT_EQ(urio_unlinkat(d, "a", 0), -EISDIR);
	ASSERT_EQ(urio_unlinkat(d, "a", AT_REMOVEDIR), 0);
	ASSERT_EQ(urio_openat(d, NULL, O_RDONLY, 0), -EFAULT);
	ASSERT_EQ(urio_renameat(d, NULL, d, "b", 0), -EFAULT);
	ASSERT_EQ(urio_renameat(d, "a", d, NULL, 0), -EFAULT);
	ASSERT_EQ(urio_unlinkat(d, NULL, 0), -EFAULT);
	ASSERT_EQ(urio_unlinkat(-5, "a", 0), -EBADF);
	ASSERT_EQ(urio_close(d), 0);
	return 0;
}

/* --- the crash test --------------------------------------------------------
 * Each child starts a runtime, arms a timer that sends it SIGKILL at a
 * random instant after its transaction begins (a kernel timer, so the
 * instant does not depend on when the parent gets a CPU), and rewrites its
 * lane's file. Lanes of children run side by side, so the test's time is
 * not 1000 fsyncs in a row. After each death the parent checks the file. */

/* URIO_TXN_KILLS lowers the kill count where children are slow to fork
 * (the sanitizer and poll-backend runs of the suite); the release run on
 * io_uring keeps the full thousand. */
#define CRASH_KILLS 1000
#define CRASH_LANES 4
#define CRASH_LEN (16u << 10)
#define CRASH_CHUNK 4096u
#define CRASH_HDR 22 /* "urio-txn gen 00000000\n" */

/* The full content of generation gen: a header naming it and a payload
 * derived from it, so a torn or mixed file never parses. */
static void crash_content(unsigned gen, unsigned char *buf)
{
	snprintf((char *)buf, CRASH_HDR + 1, "urio-txn gen %08x\n", gen);
	uint64_t x = gen * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = CRASH_HDR; i < CRASH_HDR + CRASH_LEN; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
}

static unsigned char *crash_buf, *crash_want;

/* The generation path holds, checked byte for byte; -1 if torn. */
static long crash_parse(const char *path)
{
	int fd = open(path, O_RDONLY);
	ASSERT(fd >= 0); /* never missing */
	ssize_t n = read(fd, crash_buf, CRASH_HDR + CRASH_LEN + 1);
	close(fd);
	unsigned gen;
	if (n != CRASH_HDR + CRASH_LEN ||
	    sscanf((char *)crash_buf, "urio-txn gen %08x\n", &gen) != 1)
		return -1;
	crash_content(gen, crash_want);
	return memcmp(crash_buf, crash_want, (size_t)n) ? -1 : (long)gen;
}

/* what a forked child rewrites, with which generation, killed when */
static unsigned crash_gen;
static const char *crash_path;
static uint64_t crash_delay_ns; /* 0: no kill, report the duration */

static int crash_body(void *res, void *ctx)
{
	for (size_t off = 0; off < CRASH_HDR + CRASH_LEN; off += CRASH_CHUNK) {
		size_t n = CRASH_HDR + CRASH_LEN - off;
		ssize_t r = urio_file_txn_write(
			res, crash_buf + off, n < CRASH_CHUNK ? n : CRASH_CHUNK);
		if (r < 0)
			return (int)r;
	}
	return 0;
}

static intptr_t crash_child(void *arg)
{
	crash_content(crash_gen, crash_buf);
	urio_file_txn ft;
	urio_file_txn_init(&ft, crash_path, 0600);
	if (crash_delay_ns) {
		struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL,
				       .sigev_signo = SIGKILL};
		timer_t tm;
		struct itimerspec its = {
			.it_value = {(time_t)(crash_delay_ns / 1000000000),
				     (long)(crash_delay_ns % 1000000000)}};
		if (timer_create(CLOCK_MONOTONIC, &sev, &tm) ||
		    timer_settime(tm, 0, &its, NULL))
			return -errno;
	}
	uint64_t t0 = urio_now_ns();
	int r = urio_with(&urio_txn_scope, &ft, crash_body, NULL);
	*(uint64_t *)arg = urio_now_ns() - t0;
	return r;
}

struct lane {
	char dir[96], path[160];
	unsigned gen;
	pid_t pid; /* 0: no child */
};

/* Forks a child rewriting l's file; delay_ns 0: it is not killed, and its
 * transaction's duration comes back through the pipe rd. */
static void lane_spawn(struct lane *l, unsigned workers, uint64_t delay_ns,
		       int *rd)
{
	int p[2];
	if (rd)
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		crash_gen = l->gen + 1;
		crash_path = l->path;
		crash_delay_ns = delay_ns;
		/* a small ring: every page a child touches is a fault */
		urio_config cfg = {.workers = workers, .ring_entries = 16};
		intptr_t res = -1;
		uint64_t took = 0;
		int r = urio_run(&cfg, crash_child, &took, &res);
		if (rd && write(p[1], &took, sizeof(took)) != sizeof(took))
			_exit(4);
		_exit(r == 0 && res == 0 ? 0 : 3);
	}
	if (rd) {
		close(p[1]);
		*rd = p[0];
	}
	l->pid = pid;
}

/* Removes what killed children left in dir; returns how many. */
static int crash_sweep(const char *path)
{
	DIR *d = opendir(path);
	ASSERT(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' && l > 4 &&
		    !strcmp(e->d_name + l - 4, ".tmp")) {
			ASSERT_EQ(unlinkat(dirfd(d), e->d_name, 0), 0);
			n++;
		}
	}
	closedir(d);
	return n;
}

static struct {
	unsigned kills, old, fresh, finished, leftovers;
	uint64_t span; /* ns: kills land up to this long after begin */
} cs;

/* Checks l's file after its child died (st): exactly the old generation or
 * the new one; the new one if the child finished. */
static void lane_check(struct lane *l, int st)
{
	l->pid = 0;
	long got = crash_parse(l->path);
	if (got != l->gen && got != l->gen + 1) {
		fprintf(stderr, "after kill %u: generation %ld, want %u or %u\n",
			cs.kills, got, l->gen, l->gen + 1);
		ASSERT(0);
	}
	if (WIFSIGNALED(st)) {
		ASSERT_EQ(WTERMSIG(st), SIGKILL);
		cs.kills++;
		cs.old += got == l->gen;
		cs.fresh += got == l->gen + 1;
		cs.span += cs.span / 64 + 1;
	} else {
		ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		ASSERT_EQ(got, l->gen + 1);
		cs.finished++;
		/* the load changes: keep most instants inside a transaction */
		cs.span -= cs.span / 8;
	}
	l->gen = (unsigned)got;
	int n = crash_sweep(l->dir);
	ASSERT(n <= 1);
	cs.leftovers += n;
}

static void crash_test(void)
{
	const char *env = getenv("URIO_TXN_KILLS");
	unsigned want = env && atoi(env) > 0 ? (unsigned)atoi(env) : CRASH_KILLS;
	crash_buf = malloc(CRASH_HDR + CRASH_LEN + 1);
	crash_want = malloc(CRASH_HDR + CRASH_LEN + 1);
	ASSERT(crash_buf && crash_want);
	struct lane lanes[CRASH_LANES];
	crash_content(0, crash_buf);
	for (int i = 0; i < CRASH_LANES; i++) {
		struct lane *l = &lanes[i];
		snprintf(l->dir, sizeof(l->dir), "%s/lane%d", dir, i);
		strcpy(l->path, l->dir);
		strcat(l->path, "/target");
		ASSERT_EQ(mkdir(l->dir, 0700), 0);
		int fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ASSERT(fd >= 0);
		ASSERT_EQ(write(fd, crash_buf, CRASH_HDR + CRASH_LEN),
			  CRASH_HDR + CRASH_LEN);
		close(fd);
		l->gen = 0;
		l->pid = 0;
	}

	/* how long a transaction takes here, with the lanes busy: the kills
	 * are spread over that span, which then follows how often children
	 * finish before their instant */
	uint64_t span = 0;
	int rd[CRASH_LANES];
	for (int i = 0; i < CRASH_LANES; i++)
		lane_spawn(&lanes[i], 1 + i % 2, 0, &rd[i]);
	for (int i = 0; i < CRASH_LANES; i++) {
		struct lane *l = &lanes[i];
		int st;
		ASSERT_EQ(waitpid(l->pid, &st, 0), l->pid);
		uint64_t t = 0;
		ASSERT_EQ(read(rd[i], &t, sizeof(t)), sizeof(t));
		close(rd[i]);
		span = t > span ? t : span;
		ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		lane_check(l, st);
	}
	cs.finished = 0;

	cs.span = span;
	srand((unsigned)getpid());
	unsigned attempts = 0, running = 0;
	for (;;) {
		for (int i = 0; i < CRASH_LANES; i++) {
			struct lane *l = &lanes[i];
			if (l->pid || attempts >= 4 * want ||
			    cs.kills + running >= want)
				continue;
			uint64_t delay = 1 + ((uint64_t)rand() << 31 ^
					      (uint64_t)rand()) % (cs.span + 1);
			lane_spawn(l, attempts % 4 ? 1 : 2, delay, NULL);
			attempts++;
			running++;
		}
		if (!running)
			break;
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		ASSERT(pid > 0);
		for (int i = 0; i < CRASH_LANES; i++)
			if (lanes[i].pid == pid)
				lane_check(&lanes[i], st);
		running--;
	}
	for (int i = 0; i < CRASH_LANES; i++) {
		ASSERT_EQ(unlink(lanes[i].path), 0);
		ASSERT_EQ(rmdir(lanes[i].dir), 0);
	}
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("txn crash: %u kills (old content %u, new %u, temp files left %u),"
	       " %u finished first, %u lanes; span %llu us at first, %llu at"
	       " last; %.1f ms CPU per child\n",
	       cs.kills, cs.old, cs.fresh, cs.leftovers, cs.finished,
	       CRASH_LANES, (unsigned long long)span / 1000,
	       (unsigned long long)cs.span / 1000,
	       ((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3) /
		       (cs.kills + cs.finished + CRASH_LANES));
	ASSERT_GE(cs.kills, want);
	free(crash_buf);
	free(crash_want);
}

int main(void)
{
	strcpy(dir, "/tmp/urio-txn-XXXXXX");
	ASSERT(mkdtemp(dir));
	snprintf(target, sizeof(target), "%s/target", dir);
	umask(0022);

	ASSERT_EQ(urio_openat(AT_FDCWD, "x", O_RDONLY, 0), -EPERM);
	urio_file_txn ft;
	urio_file_txn_init(&ft, target, 0600);
	ASSERT_EQ(urio_txn_begin(&ft.txn), -EPERM); /* no task */

	/* the crash test first, after one run to probe the kernel: a parent
	 * with little memory mapped forks its children fastest */
	urio_config one = {.workers = 1};
	intptr_t pr = -1;
	ASSERT_EQ(urio_run(&one, path_ops, NULL, &pr), 0);
	ASSERT_EQ(pr, 0);
	crash_test();

	urio_fn cases[] = {generic, generic_cancel, file_basic, file_failures,
			   file_cancel, file_race, path_ops};
	test_run_each(cases, sizeof(cases) / sizeof(cases[0]));
	ASSERT_EQ(unlink(target), 0);
	ASSERT_EQ(count_tmp(dir), 0);
	ASSERT_EQ(rmdir(dir), 0);
	puts("txn: ok");
	return 0;
}
