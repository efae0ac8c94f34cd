/* Real servers for tests and benchmarks (redis-server, PostgreSQL, nginx):
 * a temp dir, a free loopback port, and child processes that are stopped
 * on every exit path: at exit (atexit), and by the kernel when the test
 * dies from a signal (PR_SET_PDEATHSIG, so spawn from the main thread and
 * keep the server in the foreground, not daemonised). Usable from C and
 * C++ (the benchmarks). */
#ifndef URIO_TEST_PROC_H
#define URIO_TEST_PROC_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROC_MAX 16

static pid_t proc_pids_[PROC_MAX];

/* SIGTERM, then SIGKILL if the child is still there after 5 s; reaps it. */
static inline void proc_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			goto out;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
out:
	for (int i = 0; i < PROC_MAX; i++)
		if (proc_pids_[i] == pid)
			proc_pids_[i] = 0;
}

static inline void proc_stop_all(void)
{
	for (int i = 0; i < PROC_MAX; i++)
		proc_stop(proc_pids_[i]);
}

/* Starts argv[0] (PATH searched) with stdout and stderr appended to log,
 * as user uid unless it is (uid_t)-1. The child's pid, or -errno. */
static inline pid_t proc_spawn(char *const argv[], const char *log, uid_t uid)
{
	static int registered;
	int slot = -1;
	for (int i = 0; i < PROC_MAX && slot < 0; i++)
		if (!proc_pids_[i])
			slot = i;
	if (slot < 0)
		return -EMFILE;
	if (!registered && atexit(proc_stop_all) == 0)
		registered = 1;
	/* looked up before fork: getpwuid is not safe in a forked child */
	struct passwd *pw = uid != (uid_t)-1 ? getpwuid(uid) : NULL;
	gid_t gid = pw ? pw->pw_gid : (gid_t)uid;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (uid != (uid_t)-1 && (setgroups(0, NULL) < 0 ||
					 setgid(gid) < 0 || setuid(uid) < 0))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	proc_pids_[slot] = pid;
	return pid;
}

/* Runs argv to completion (as proc_spawn does): its exit status, or -errno. */
static inline int proc_run(char *const argv[], const char *log, uid_t uid)
{
	pid_t pid = proc_spawn(argv, log, uid);
	int st;
	if (pid < 0)
		return pid;
	if (waitpid(pid, &st, 0) != pid)
		return -errno;
	for (int i = 0; i < PROC_MAX; i++)
		if (proc_pids_[i] == pid)
			proc_pids_[i] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A TCP port on 127.0.0.1 that was free a moment ago, or -errno. */
static inline int proc_free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	close(fd);
	return ntohs(a.sin_port);
}

/* Waits until 127.0.0.1:port accepts a connection: 0; -ESRCH when pid
 * exited first; -ETIMEDOUT after ms (a bound on a hang, not a timing). */
static inline int proc_wait_port(int port, int ms, pid_t pid)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	for (int waited = 0; waited < ms; waited += 10) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (r == 0)
			return 0;
		if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid)
			return -ESRCH;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* A new directory /tmp/urio-<tag>-XXXXXX in dir (at least 64 bytes): 0 or
 * -errno. Mode 0755 so a server running as another user can enter it. */
static inline int proc_tmpdir(char *dir, size_t size, const char *tag)
{
	if ((size_t)snprintf(dir, size, "/tmp/urio-%s-XXXXXX", tag) >= size)
		return -ENAMETOOLONG;
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		return -errno;
	return 0;
}

/* Removes dir and everything under it (servers' data dirs are shallow). */
static inline void proc_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     e->d_name) >= sizeof(path))
			continue;
		if (e->d_type == DT_DIR)
			proc_rmtree(path);
		else
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

#endif
