/* urio-ps: the tasks of a running urio process, like `python -m asyncio
 * ps|pstree`. The process answers from a thread of its own (see
 * <urio/introspect.h>), so this works even when every worker is stuck.
 *
 *   urio-ps PID             table of tasks
 *   urio-ps --tree PID      task tree
 *   urio-ps --features PID  kernel features the process probed
 *   urio-ps                 processes that serve introspection */
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urio.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: urio-ps [--tree | --features] PID\n"
		     "       urio-ps   (processes serving introspection)\n"
		     "A process serves introspection when it runs with "
		     "URIO_INTROSPECT=1\nor a runtime made with "
		     "URIO_CFG_INTROSPECT.\n");
}

/* Lists the pids that have a socket, with their command names. */
static int list(void)
{
	glob_t g;
	if (glob("/tmp/urio-*.sock", 0, NULL, &g) != 0) {
		printf("no process serves urio introspection\n");
		return 0;
	}
	printf("%8s  %s\n", "PID", "COMMAND");
	for (size_t i = 0; i < g.gl_pathc; i++) {
		int pid = atoi(g.gl_pathv[i] + strlen("/tmp/urio-"));
		char path[64], comm[64] = "?";
		if (pid <= 0)
			continue;
		if (kill(pid, 0) < 0 && errno == ESRCH) {
			printf("%8d  (gone: stale %s)\n", pid, g.gl_pathv[i]);
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = 0;
			fclose(f);
		}
		printf("%8d  %s\n", pid, comm);
	}
	globfree(&g);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = "ps";
	const char *pidarg = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tree") || !strcmp(argv[i], "-t")) {
			cmd = "pstree";
		} else if (!strcmp(argv[i], "--features")) {
			cmd = "features";
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] != '-' && !pidarg) {
			pidarg = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!pidarg)
		return list();
	char *end;
	long pid = strtol(pidarg, &end, 10);
	if (*end || pid <= 0 || pid > 0x7fffffff) {
		fprintf(stderr, "urio-ps: '%s' is not a process id\n", pidarg);
		usage(stderr);
		return 2;
	}
	char path[108];
	urio_introspect_path((pid_t)pid, path, sizeof(path));
	int r = urio_introspect_query((pid_t)pid, cmd, stdout);
	switch (r) {
	case 0:
		return 0;
	case -ESRCH:
		fprintf(stderr, "urio-ps: no process %ld\n", pid);
		break;
	case -ENOENT:
		fprintf(stderr, "urio-ps: process %ld does not serve urio "
				"introspection (no %s).\nStart it with "
				"URIO_INTROSPECT=1 (or URIO_CFG_INTROSPECT); "
				"the socket exists while a runtime runs.\n",
			pid, path);
		break;
	case -ECONNREFUSED:
		fprintf(stderr, "urio-ps: nobody answers on %s: a stale "
				"socket, or process %ld is shutting down\n",
			path, pid);
		break;
	case -EACCES:
	case -EPERM:
		fprintf(stderr, "urio-ps: permission denied by process %ld "
				"(%s): run as its user or root\n",
			pid, path);
		break;
	case -ETIMEDOUT:
		fprintf(stderr, "urio-ps: process %ld did not answer in time\n",
			pid);
		break;
	default:
		fprintf(stderr, "urio-ps: process %ld: %s\n", pid,
			strerror(-r));
	}
	return 1;
}
