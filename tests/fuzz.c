/* Schedule fuzzing driver: runs the scheduler, cancel, group, future,
 * sync, pool and generator suites (sibling test programs) under
 * URIO_FUZZ_SEED=1, 2, ... and prints a failing seed with the command that
 * replays it. Each program runs a batch of seeds in quick mode
 * (URIO_FUZZ_BATCH, see test.h), a few programs at once, since a quick
 * seed mostly waits.
 *   URIO_FUZZ_SEEDS=n     seeds per suite (default: as many as fit in the
 *                         time budget, round-robin over the suites)
 *   URIO_FUZZ_SECONDS=s   time budget (default 25; with SEEDS: none); no
 *                         batch starts past it, the first round excepted
 *   URIO_FUZZ_FIRST=k     first seed (default 1)
 *   URIO_FUZZ_BATCH=b     seeds per program run (default 4, with
 *                         SEEDS 250)
 *   URIO_FUZZ_JOBS=j      programs at once (default 2)
 *   URIO_FUZZ_SUITES=a,b  suites (default: every one of DEFAULT_SUITES)
 * The environment (URIO_BACKEND=poll included) passes to the suites.
 * The campaign, 10k seeds of every suite on each backend, in a release
 * build:
 *   URIO_FUZZ_SEEDS=10000 build-rel/tests/test_fuzz
 *   URIO_BACKEND=poll URIO_FUZZ_SEEDS=10000 build-rel/tests/test_fuzz
 * A failing seed s of suite x replays alone with
 *   URIO_FUZZ_SEED=s URIO_FUZZ_BATCH=1 build-rel/tests/test_x */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define DEFAULT_SUITES                                                      \
	"with,cancel_basic,future,group,sched,sync_sem,sync_mutex,"         \
	"sync_chan,sync_event,pool,gen"
#define MAX_SUITES 16
#define MAX_JOBS 8
/* a hang is a failure: the bound of a batch of n seeds */
#define RUN_LIMIT_MS(n) (300000 + (uint64_t)(n) * 1000)

struct suite {
	char name[64], path[PATH_MAX + 80];
	unsigned long seeds, failed;
	uint64_t ms; /* summed over its batches, which overlap */
};

struct job {
	pid_t pid;
	struct suite *s;
	unsigned long long first;
	unsigned long n;
	int log;
	uint64_t t0;
};

static char dir[PATH_MAX];

static void start(struct job *j, struct suite *s, unsigned long long first,
		  unsigned long n)
{
	char log[] = "/tmp/urio-fuzz-XXXXXX";
	int fd = mkstemp(log);
	ASSERT(fd >= 0);
	unlink(log);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		char v[32], b[32];
		snprintf(v, sizeof(v), "%llu", first);
		snprintf(b, sizeof(b), "%lu", n);
		setenv("URIO_FUZZ_SEED", v, 1);
		setenv("URIO_FUZZ_BATCH", b, 1);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(s->path, s->path, (char *)NULL);
		_exit(127);
	}
	*j = (struct job){pid, s, first, n, fd, now_ms()};
}

/* The seed the log's last "fuzz seed" line names, or first. */
static unsigned long long last_seed(int fd, unsigned long long first)
{
	off_t n = lseek(fd, 0, SEEK_END);
	char *buf = malloc((size_t)n + 1);
	ASSERT(buf);
	ssize_t got = pread(fd, buf, (size_t)n, 0);
	buf[got > 0 ? got : 0] = 0;
	unsigned long long seed = first;
	for (char *p = buf; (p = strstr(p, "fuzz seed ")); p++)
		seed = strtoull(p + 10, NULL, 10);
	free(buf);
	return seed;
}

static void report(const struct job *j, int st, unsigned long long seed)
{
	printf("FAILED: %s with seed %llu (%s %d); replay:\n"
	       "  URIO_FUZZ_SEED=%llu URIO_FUZZ_BATCH=1 %s\n"
	       "--- its output (tail):\n",
	       j->s->name, seed, WIFEXITED(st) ? "exit" : "signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), seed,
	       j->s->path);
	off_t n = lseek(j->log, 0, SEEK_END);
	char buf[4096];
	off_t from = n > (off_t)sizeof(buf) ? n - (off_t)sizeof(buf) : 0;
	ssize_t got = pread(j->log, buf, sizeof(buf), from);
	if (got > 0)
		fwrite(buf, 1, (size_t)got, stdout);
	printf("\n---\n");
}

/* Reaps j if it ended (or kills it past its bound); 1 when it did. */
static int reap(struct job *j, int force)
{
	int st = 0;
	pid_t r = waitpid(j->pid, &st, force ? 0 : WNOHANG);
	if (r == 0 && now_ms() - j->t0 <= RUN_LIMIT_MS(j->n))
		return 0;
	if (r == 0) {
		kill(j->pid, SIGKILL);
		waitpid(j->pid, &st, 0);
	}
	struct suite *s = j->s;
	int ok = WIFEXITED(st) && (WEXITSTATUS(st) == 0 ||
				   WEXITSTATUS(st) == T_SKIP);
	unsigned long ran = j->n;
	if (!ok) {
		unsigned long long seed = last_seed(j->log, j->first);
		ran = (unsigned long)(seed - j->first + 1);
		report(j, st, seed);
		s->failed++;
	} else {
		printf("%s: seeds %llu..%llu passed, %.1f s\n", s->name,
		       j->first, j->first + j->n - 1,
		       (now_ms() - j->t0) / 1000.0);
	}
	s->seeds += ran;
	s->ms += now_ms() - j->t0;
	close(j->log);
	j->pid = 0;
	return 1;
}

static unsigned load_suites(struct suite *s)
{
	const char *list = getenv("URIO_FUZZ_SUITES");
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", list ? list : DEFAULT_SUITES);
	unsigned n = 0;
	for (char *save, *tok = strtok_r(buf, ",", &save);
	     tok && n < MAX_SUITES; tok = strtok_r(NULL, ",", &save)) {
		memset(&s[n], 0, sizeof(s[n]));
		snprintf(s[n].name, sizeof(s[n].name), "%s", tok);
		snprintf(s[n].path, sizeof(s[n].path), "%s/test_%s", dir, tok);
		if (access(s[n].path, X_OK) == 0)
			n++;
		else
			printf("%s: no program %s, not fuzzed\n", tok,
			       s[n].path);
	}
	return n;
}

static unsigned long env_ul(const char *name, unsigned long dflt)
{
	const char *e = getenv(name);
	return e && *e ? strtoul(e, NULL, 10) : dflt;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT(len > 0);
	self[len] = 0;
	snprintf(dir, sizeof(dir), "%s", dirname(self));
	struct suite suites[MAX_SUITES];
	unsigned n = load_suites(suites);
	if (!n)
		return T_SKIP;
	unsigned long seeds = env_ul("URIO_FUZZ_SEEDS", ULONG_MAX);
	uint64_t budget_ms = env_ul("URIO_FUZZ_SECONDS",
				    seeds == ULONG_MAX ? 25 : ULONG_MAX / 1000);
	budget_ms *= 1000;
	unsigned long long first = env_ul("URIO_FUZZ_FIRST", 1);
	unsigned long batch = env_ul("URIO_FUZZ_BATCH",
				     seeds == ULONG_MAX ? 4 : 250);
	unsigned long jobs = env_ul("URIO_FUZZ_JOBS", 2);
	ASSERT(batch >= 1 && jobs >= 1 && jobs <= MAX_JOBS);
	struct job job[MAX_JOBS] = {0};
	uint64_t t0 = now_ms();
	unsigned long k = 0; /* seeds given to each suite so far */
	unsigned next = 0;   /* the suite of the next batch */
	for (;;) {
		int more = k < seeds && (k == 0 || now_ms() - t0 < budget_ms);
		unsigned free_slot = MAX_JOBS, busy = 0;
		for (unsigned i = 0; i < jobs; i++) {
			if (job[i].pid && !reap(&job[i], 0))
				busy++;
			else if (free_slot == MAX_JOBS)
				free_slot = i;
		}
		if (more && free_slot < MAX_JOBS) {
			struct suite *s = &suites[next];
			/* one failing seed per suite is enough */
			if (!s->failed) {
				unsigned long b = seeds - k < batch ? seeds - k
								    : batch;
				start(&job[free_slot], s, first + k, b);
			}
			if (++next == n) {
				next = 0;
				k += seeds - k < batch ? seeds - k : batch;
			}
			continue;
		}
		if (!more && !busy)
			break;
		usleep(2000);
	}
	unsigned long total = 0, failed = 0;
	for (unsigned i = 0; i < n; i++) {
		printf("%-14s %lu seeds from %llu, %s, %.1f s\n",
		       suites[i].name, suites[i].seeds, first,
		       suites[i].failed ? "FAILED" : "all passed",
		       suites[i].ms / 1000.0);
		total += suites[i].seeds;
		failed += suites[i].failed;
	}
	printf("%lu seeds in %.1f s (%lu at once, %lu per run), "
	       "%lu failing seed(s)\n",
	       total, (now_ms() - t0) / 1000.0, jobs, batch, failed);
	return failed ? 1 : 0;
}
