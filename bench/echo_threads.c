/* echo-threads: blocking thread-per-connection echo, the classic baseline.
 *
 *   echo-threads PORT
 *
 * The main thread accepts; each connection gets a detached thread with a
 * small stack that reads and writes with plain blocking calls. SIGTERM or
 * SIGINT ends it (exit 0). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "echo_common.h"

static void *conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[16384];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t off = 0, w; off < n; off += w) {
			w = write(fd, buf + off, (size_t)(n - off));
			if (w <= 0)
				goto out;
		}
	}
out:
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	return echo_thread_per_conn_main("echo-threads", argc, argv, conn);
}
