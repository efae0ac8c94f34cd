/* echo-uv: a libuv echo loop (one loop, one thread), the peer the issue's
 * targets name beside epoll.
 *
 *   echo-uv PORT
 *
 * libuv's fast path, as its own benchmarks write it: every read lands in
 * one loop-wide buffer, is echoed at once with uv_try_write, and only what
 * the socket would not take is copied into a uv_write. SIGTERM or SIGINT
 * ends it (exit 0), as does the 15-minute alarm of echo_common.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "echo_common.h"

#define BUF_SIZE 16384

static char buf[BUF_SIZE];
static uv_signal_t sigs[3];
static uv_tcp_t server;

struct wreq {
	uv_write_t req;
	char data[];
};

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	(void)h;
	(void)want;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void on_close(uv_handle_t *h)
{
	free(h);
}

static void on_written(uv_write_t *req, int status)
{
	if (status < 0 && !uv_is_closing((uv_handle_t *)req->handle))
		uv_close((uv_handle_t *)req->handle, on_close);
	free(req);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	if (n < 0) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
	int w = n ? uv_try_write(s, &out, 1) : 0;
	if (w == UV_EAGAIN)
		w = 0;
	if (w < 0) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	if (w == n)
		return;
	/* the rest waits in a copy: buf is reused by the next read */
	size_t left = (size_t)(n - w);
	struct wreq *r = malloc(sizeof(*r) + left);
	if (!r) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	memcpy(r->data, b->base + w, left);
	out = uv_buf_init(r->data, (unsigned)left);
	if (uv_write(&r->req, s, &out, 1, on_written) < 0) {
		free(r);
		uv_close((uv_handle_t *)s, on_close);
	}
}

static void on_conn(uv_stream_t *srv, int status)
{
	if (status < 0)
		return;
	uv_tcp_t *c = malloc(sizeof(*c));
	if (!c)
		return;
	uv_tcp_init(srv->loop, c);
	if (uv_accept(srv, (uv_stream_t *)c) < 0) {
		uv_close((uv_handle_t *)c, on_close);
		return;
	}
	uv_tcp_nodelay(c, 1);
	uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

static void on_signal(uv_signal_t *h, int signum)
{
	(void)signum;
	uv_stop(h->loop);
}

int main(int argc, char **argv)
{
	int port = argc == 2 ? atoi(argv[1]) : 0;
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: echo-uv PORT\n");
		return 2;
	}
	int lfd = echo_listen(port); /* raises the fd limit, listens */
	if (lfd < 0)
		return 1;
	echo_stop_on_signals(); /* SIGPIPE ignored, the lifetime alarm */
	uv_loop_t *loop = uv_default_loop();
	int r = uv_tcp_init(loop, &server);
	if (r == 0)
		r = uv_tcp_open(&server, lfd);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&server, 4096, on_conn);
	if (r < 0) {
		fprintf(stderr, "echo-uv: %s\n", uv_strerror(r));
		return 1;
	}
	/* libuv takes the stop signals over (the alarm too) */
	const int stop[3] = {SIGTERM, SIGINT, SIGALRM};
	for (int i = 0; i < 3; i++) {
		uv_signal_init(loop, &sigs[i]);
		uv_signal_start(&sigs[i], on_signal, stop[i]);
	}
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
