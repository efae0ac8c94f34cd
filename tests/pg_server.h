/* A PostgreSQL server for the pg suites and benchmark: one initdb in a
 * temp dir owned by the `postgres` user (the server refuses root), the
 * server in the foreground on a free loopback port with trust auth, and
 * every exit path stopping it (proc.h) and removing the dir. Usable from C
 * and C++. */
#ifndef URIO_TEST_PG_SERVER_H
#define URIO_TEST_PG_SERVER_H

#include <ctype.h>
#include <libpq-fe.h>
#include "proc.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"

typedef struct pg_server {
	char dir[128];
	char data[192];
	char log[192];
	char conninfo[256];
	int port;
	pid_t pid;
	uid_t uid; /* (uid_t)-1: run as ourselves (not root) */
	int max_conn;
} pg_server;

static pg_server *pg_server_cur_;

/* Fast shutdown (SIGINT: sessions are ended, no waiting for clients) before
 * proc.h's SIGTERM, and the dir removed. */
static inline void pg_server_cleanup_(void)
{
	pg_server *s = pg_server_cur_;
	if (!s)
		return;
	if (s->pid > 0) {
		kill(s->pid, SIGINT);
		proc_stop(s->pid);
		s->pid = 0;
	}
	if (s->dir[0])
		proc_rmtree(s->dir);
	s->dir[0] = 0;
}

/* Starts postgres on s's data dir and port: 0, or -errno. A server killed
 * a moment ago may still hold its shared memory through dying children,
 * so a start that exits at once is retried (a bound on a hang). */
static inline int pg_server_run(pg_server *s)
{
	char maxc[32];
	snprintf(maxc, sizeof(maxc), "max_connections=%d", s->max_conn);
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", s->port);
	char *argv[] = {(char *)PG_BIN "/postgres", (char *)"-D", s->data,
			(char *)"-k", s->dir, (char *)"-p", portstr,
			(char *)"-c", (char *)"listen_addresses=127.0.0.1",
			(char *)"-F", (char *)"-c", (char *)"fsync=off",
			(char *)"-c", maxc, NULL};
	for (int tries = 0; tries < 50; tries++) {
		s->pid = proc_spawn(argv, s->log, s->uid);
		if (s->pid < 0)
			return s->pid;
		int r = proc_wait_port(s->port, 60000, s->pid);
		/* the port opens before the server takes sessions */
		for (int i = 0; r == 0 && i < 6000; i++) {
			if (PQping(s->conninfo) == PQPING_OK)
				return 0;
			usleep(10000);
		}
		if (r == 0)
			r = -ETIMEDOUT;
		proc_stop(s->pid);
		s->pid = 0;
		if (r != -ESRCH)
			return r;
		usleep(100000);
	}
	return -EAGAIN;
}

/* initdb and start: 0, 77 (no PostgreSQL here: skip), or -errno. */
static inline int pg_server_start(pg_server *s, const char *tag, int max_conn)
{
	memset(s, 0, sizeof(*s));
	s->max_conn = max_conn > 0 ? max_conn : 100;
	if (access(PG_BIN "/initdb", X_OK) != 0 ||
	    access(PG_BIN "/postgres", X_OK) != 0)
		return 77;
	s->uid = (uid_t)-1;
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
		if (!pw)
			return 77;
		s->uid = pw->pw_uid;
	}
	int r = proc_tmpdir(s->dir, sizeof(s->dir), tag);
	if (r < 0)
		return r;
	pg_server_cur_ = s;
	atexit(pg_server_cleanup_); /* runs before proc.h's stop_all */
	if (s->uid != (uid_t)-1) {
		struct passwd *pw = getpwuid(s->uid);
		if (chown(s->dir, s->uid, pw ? pw->pw_gid : (gid_t)-1) < 0)
			return -errno;
	}
	snprintf(s->data, sizeof(s->data), "%s/data", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/log", s->dir);
	char *init[] = {(char *)PG_BIN "/initdb", (char *)"-D", s->data,
			(char *)"-A", (char *)"trust", (char *)"-U",
			(char *)"postgres", (char *)"--no-sync", (char *)"-E",
			(char *)"UTF8", (char *)"--locale=C", NULL};
	r = proc_run(init, s->log, s->uid);
	if (r != 0) {
		fprintf(stderr, "initdb failed (%d), see %s\n", r, s->log);
		return r < 0 ? r : -EIO;
	}
	s->port = proc_free_port();
	if (s->port < 0)
		return s->port;
	snprintf(s->conninfo, sizeof(s->conninfo),
		 "host=127.0.0.1 port=%d dbname=postgres user=postgres "
		 "sslmode=disable gssencmode=disable "
		 "options='-c client_min_messages=warning'",
		 s->port);
	r = pg_server_run(s);
	if (r < 0)
		fprintf(stderr, "postgres did not start (%d), see %s\n", r,
			s->log);
	return r;
}

/* The children of pid (a postmaster's backends and helpers). */
static inline int pg_children_(pid_t pid, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)) && n < max) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = 0;
		char *p = strrchr(buf, ')'); /* comm may hold spaces */
		char st;
		int ppid;
		if (p && sscanf(p + 1, " %c %d", &st, &ppid) == 2 &&
		    ppid == pid && st != 'Z')
			out[n++] = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return n;
}

/* Kills the server outright (SIGKILL to the postmaster and all its
 * children, as a crash or an OOM kill would): no session ends cleanly. */
static inline void pg_server_kill(pg_server *s)
{
	pid_t kids[512];
	/* stopped first, so no child sees it die and says goodbye */
	kill(s->pid, SIGSTOP);
	int n = pg_children_(s->pid, kids, 512);
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	kill(s->pid, SIGKILL);
	proc_stop(s->pid); /* reaps it */
	s->pid = 0;
	/* a kill is delivered asynchronously: wait until every child has
	 * exited (gone or a zombie), so its sockets are closed */
	for (int i = 0; i < n; i++) {
		for (int tries = 0; tries < 1000; tries++) {
			char path[64], buf[512];
			snprintf(path, sizeof(path), "/proc/%d/stat", kids[i]);
			FILE *f = fopen(path, "r");
			if (!f)
				break;
			size_t len = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[len] = 0;
			char *p = strrchr(buf, ')');
			if (!p || p[1] == 0 || p[2] == 'Z' || p[2] == 'X')
				break;
			usleep(10000);
		}
	}
}

/* Stops the server and removes its dir. */
static inline void pg_server_stop(pg_server *s)
{
	pg_server_cleanup_();
	pg_server_cur_ = NULL;
	(void)s;
}

#endif
