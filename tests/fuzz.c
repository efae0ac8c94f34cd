/* Schedule fuzzing driver: runs the scheduler, cancel, group, future and
 * sync suites (sibling test programs) under URIO_FUZZ_SEED=1, 2, ... and
 * prints a failing seed with the command that replays it.
 *   URIO_FUZZ_SEEDS=n     seeds per suite (default: as many as fit in the
 *                         time budget, round-robin over the suites)
 *   URIO_FUZZ_SECONDS=s   time budget (default 60; with SEEDS: none); no
 *                         run starts past it, the first excepted
 *                         (fastest suites first, so a sanitizer build
 *                         still fuzzes some)
 *   URIO_FUZZ_FIRST=k     first seed (default 1)
 *   URIO_FUZZ_SUITES=a,b  suites (default with,cancel_basic,future,group,
 *                         sched)
 * The environment (URIO_BACKEND=poll included) passes to the suites. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define MAX_SUITES 16
#define RUN_LIMIT_MS 300000 /* a hang is a failure, not a stuck test */

struct suite {
	char name[64], path[PATH_MAX + 80];
	unsigned long seeds, failed;
	uint64_t ms;
};

static char dir[PATH_MAX];

/* Runs path with URIO_FUZZ_SEED=seed; 0 when it passed or skipped. */
static int run_seed(const struct suite *s, unsigned long long seed)
{
	char log[] = "/tmp/urio-fuzz-XXXXXX";
	int fd = mkstemp(log);
	ASSERT(fd >= 0);
	unlink(log);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		char v[32];
		snprintf(v, sizeof(v), "%llu", seed);
		setenv("URIO_FUZZ_SEED", v, 1);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(s->path, s->path, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	uint64_t end = now_ms() + RUN_LIMIT_MS;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		usleep(2000);
	}
	int ok = WIFEXITED(st) && (WEXITSTATUS(st) == 0 ||
				   WEXITSTATUS(st) == T_SKIP);
	if (!ok) {
		printf("FAILED: %s with seed %llu (%s %d); replay:\n"
		       "  URIO_FUZZ_SEED=%llu %s\n--- its output (tail):\n",
		       s->name, seed, WIFEXITED(st) ? "exit" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), seed,
		       s->path);
		off_t n = lseek(fd, 0, SEEK_END);
		char buf[4096];
		off_t from = n > (off_t)sizeof(buf) ? n - (off_t)sizeof(buf) : 0;
		ssize_t got = pread(fd, buf, sizeof(buf), from);
		if (got > 0)
			fwrite(buf, 1, (size_t)got, stdout);
		printf("\n---\n");
	}
	close(fd);
	return ok ? 0 : -1;
}

static unsigned load_suites(struct suite *s)
{
	const char *list = getenv("URIO_FUZZ_SUITES");
	char buf[512];
	snprintf(buf, sizeof(buf), "%s",
		 list ? list : "with,cancel_basic,future,group,sched");
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
	const char *e = getenv("URIO_FUZZ_SEEDS");
	unsigned long seeds = e ? strtoul(e, NULL, 10) : ULONG_MAX;
	e = getenv("URIO_FUZZ_SECONDS");
	uint64_t budget_ms = e ? strtoull(e, NULL, 10) * 1000
			       : seeds == ULONG_MAX ? 60000 : UINT64_MAX;
	e = getenv("URIO_FUZZ_FIRST");
	unsigned long long first = e ? strtoull(e, NULL, 10) : 1;
	uint64_t start = now_ms();
	unsigned long failed = 0;
	/* round-robin, so a budget gives every suite its share of seeds */
	for (unsigned long k = 0; k < seeds; k++) {
		for (unsigned i = 0; i < n; i++) {
			struct suite *s = &suites[i];
			if ((k || i) && now_ms() - start >= budget_ms)
				goto out; /* a sanitizer build may fit few */
			if (s->failed)
				continue; /* one failing seed per suite is enough */
			uint64_t t0 = now_ms();
			if (run_seed(s, first + k) < 0) {
				s->failed++;
				failed++;
			}
			s->seeds++;
			s->ms += now_ms() - t0;
		}
	}
out:;
	unsigned long total = 0;
	for (unsigned i = 0; i < n; i++) {
		printf("%-14s %lu seeds from %llu, %s, %.1f s\n",
		       suites[i].name, suites[i].seeds, first,
		       suites[i].failed ? "FAILED" : "all passed",
		       suites[i].ms / 1000.0);
		total += suites[i].seeds;
	}
	printf("%lu suite runs in %.1f s, %lu failing seed(s)\n", total,
	       (now_ms() - start) / 1000.0, failed);
	return failed ? 1 : 0;
}
