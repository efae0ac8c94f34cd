/* http-threads: a blocking thread-per-connection HTTP/1.1 server, the
 * baseline for urio-httpd under wrk.
 *
 *   http-threads PORT
 *
 * Each connection's thread reads requests (a request ends at its blank
 * line; bodies are not supported, as wrk sends none) and answers every one
 * with the same fixed 200 as urio-httpd without --root, pipelined requests
 * in one write. SIGTERM or SIGINT ends it (exit 0). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "echo_common.h"

#define IN_SIZE 16384
#define OUT_SIZE 65536

/* The response urio-httpd sends, Date formatted once a second. */
static size_t response(char *out, size_t cap)
{
	static __thread time_t sec;
	static __thread char date[64];
	time_t now = time(NULL);
	if (now != sec) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		sec = now;
	}
	int n = snprintf(out, cap,
			 "HTTP/1.1 200 OK\r\nServer: urio\r\nDate: %s\r\n"
			 "Content-Type: text/plain\r\nContent-Length: 13\r\n"
			 "\r\nHello, World!",
			 date);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static void *conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *in = malloc(IN_SIZE), *out = malloc(OUT_SIZE);
	size_t have = 0;
	if (!in || !out)
		goto out;
	for (;;) {
		ssize_t n = read(fd, in + have, IN_SIZE - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		size_t olen = 0, start = 0;
		char *end;
		while ((end = memmem(in + start, have - start, "\r\n\r\n", 4))) {
			start = (size_t)(end - in) + 4;
			size_t r = response(out + olen, OUT_SIZE - olen);
			if (!r) { /* full: send what is there */
				if (write_all(fd, out, olen) < 0)
					goto out;
				olen = 0;
				r = response(out, OUT_SIZE);
			}
			olen += r;
		}
		if (olen && write_all(fd, out, olen) < 0)
			break;
		memmove(in, in + start, have - start);
		have -= start;
		if (have == IN_SIZE)
			break; /* a request too large for the buffer */
	}
out:
	free(in);
	free(out);
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	return echo_thread_per_conn_main("http-threads", argc, argv, conn);
}
