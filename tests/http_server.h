/* The servers the HTTP client suites talk to: nginx of the test's own (a
 * temp dir with an html/ root, removed at exit, and nginx in the
 * foreground on a free loopback port, stopped at exit by proc.h), or a
 * loopback listener for a misbehaving urio server written in the test. */
#ifndef URIO_TEST_HTTP_SERVER_H
#define URIO_TEST_HTTP_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <urio.h>

#include "proc.h"
#include "test.h"

static char nginx_dir[128];
static int nginx_port;

/* At exit, after proc.h has stopped nginx (atexit runs in reverse). */
static void nginx_remove_dir(void)
{
	proc_rmtree(nginx_dir);
}

/* The temp dir (nginx_dir) with its html/ root for the files a suite
 * serves, and the port nginx_start will listen on (nginx_port). */
static inline void nginx_prepare(const char *tag)
{
	char path[256];
	ASSERT_EQ(proc_tmpdir(nginx_dir, sizeof(nginx_dir), tag), 0);
	atexit(nginx_remove_dir);
	snprintf(path, sizeof(path), "%s/html", nginx_dir);
	ASSERT_EQ(mkdir(path, 0755), 0);
	nginx_port = proc_free_port();
	ASSERT(nginx_port > 0);
}

/* Starts nginx with the html/ root, default_type type and locations (nginx
 * syntax) in its one server block; exits when it does not come up. */
static inline void nginx_start(const char *type, const char *locations)
{
	const char *d = nginx_dir;
	char path[256], conf[8192], log[256], prefix[160];
	snprintf(conf, sizeof(conf),
		 "daemon off; master_process off; worker_processes 1;\n"
		 "%s error_log %s/error.log; pid %s/nginx.pid;\n"
		 "events { worker_connections 1024; }\n"
		 "http { access_log off; default_type %s;\n"
		 " client_body_temp_path %s/body; proxy_temp_path %s/proxy;\n"
		 " fastcgi_temp_path %s/fcgi; uwsgi_temp_path %s/uwsgi;\n"
		 " scgi_temp_path %s/scgi; keepalive_requests 10000;\n"
		 " server { listen 127.0.0.1:%d; root %s/html;\n"
		 "  add_header X-Conn $connection always;\n%s }\n}\n",
		 getuid() == 0 ? "user root;" : "", d, d, type, d, d, d, d, d,
		 nginx_port, d, locations);
	snprintf(path, sizeof(path), "%s/nginx.conf", d);
	FILE *f = fopen(path, "w");
	ASSERT(f);
	fputs(conf, f);
	ASSERT_EQ(fclose(f), 0);
	snprintf(log, sizeof(log), "%s/nginx.out", d);
	snprintf(prefix, sizeof(prefix), "%s/", d);
	char *argv[] = {"nginx", "-c", path, "-p", prefix, NULL};
	pid_t pid = proc_spawn(argv, log, (uid_t)-1);
	ASSERT(pid > 0);
	if (proc_wait_port(nginx_port, 20000, pid) < 0) {
		fprintf(stderr, "nginx did not start; see %s\n", log);
		exit(1);
	}
}

/* A listening socket on 127.0.0.1 and a free port, which goes to *port. */
static inline int loopback_listen(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ASSERT_EQ(listen(fd, 128), 0);
	socklen_t len = sizeof(sin);
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A test server's accept loop, from a task: a task of a group per
 * connection runs conn(fd) (fd its to close), counted in *accepted (may be
 * NULL), until the accept fails (cancelled); then the rest are cancelled
 * and reaped. */
static inline void loopback_serve(int lfd, urio_fn conn, atomic_int *accepted)
{
	urio_group g;
	urio_group_init(&g);
	for (;;) {
		int fd = urio_accept(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (accepted)
			atomic_fetch_add(accepted, 1);
		if (!urio_group_spawn(&g, conn, (void *)(intptr_t)fd))
			close(fd);
	}
	urio_group_cancel(&g);
	urio_group_wait(&g);
}

#endif
