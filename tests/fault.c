/* Fault injection over every injection point (curl's torture): a workload
 * runs once per fallible call of each point with that call failing, and
 * every run must end with 0 or a clear -errno, with every fd and stack
 * given back (LSan judges memory in ASan builds). EMFILE comes from a low
 * RLIMIT_NOFILE. Needs a -DURIO_FAULT=ON build; skips otherwise.
 * URIO_FAULT_MAX caps the runs per point (default 400). */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
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
	return err;
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
	printf("%lu faulty runs, no fd or stack leaked\n", total);
	return 0;
}
#else
int main(void)
{
	return T_SKIP;
}
#endif
