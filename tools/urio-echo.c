/* urio-echo: a TCP echo server, a task per connection.
 *
 *   urio-echo [--host ADDR] [--port N] [--workers N] [--grace MS]
 *
 * SIGTERM or SIGINT drains it: it stops accepting, lets connections finish
 * for up to --grace milliseconds, cancels the rest, and exits 0. With
 * --port 0 it picks a free port; the first line on stdout says which. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urio.h>

struct opts {
	const char *host;
	unsigned port, workers;
	unsigned long grace_ms;
};

/* Echoes until the peer closes its side; bytes come in buffers the
 * kernel picks from the worker's ring (no buffer held while idle). */
static int echo(int fd, void *arg)
{
	for (;;) {
		urio_buf b;
		ssize_t n = urio_recv_buf(fd, &b, 0);
		if (n <= 0)
			return (int)n;
		n = urio_send_all(fd, b.data, b.len, 0);
		urio_buf_release(&b);
		if (n < 0)
			return (int)n;
	}
}

static intptr_t serve(void *arg)
{
	struct opts *o = arg;
	urio_server_opts so = {
		.host = o->host,
		.port = (uint16_t)o->port,
		.listeners = o->workers,
		.conn = echo,
	};
	urio_server *s = urio_server_new(&so);
	if (!s) {
		fprintf(stderr, "urio-echo: listen on %s:%u: %s\n", o->host,
			o->port, strerror(errno));
		return -errno;
	}
	int r = urio_server_start(s);
	if (r < 0) {
		fprintf(stderr, "urio-echo: start: %s\n", strerror(-r));
		urio_server_free(s);
		return r;
	}
	printf("urio-echo: listening on %s:%d, %u worker(s)\n", o->host,
	       urio_server_port(s), o->workers);
	fflush(stdout);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	int sig = urio_signal_wait(&set, NULL);
	urio_server_stats st;
	urio_server_stats_get(s, &st);
	fprintf(stderr, "urio-echo: %s, draining %llu connection(s)\n",
		sig > 0 ? strsignal(sig) : strerror(-sig),
		(unsigned long long)st.active);
	r = urio_server_drain(s, o->grace_ms);
	urio_server_stats_get(s, &st);
	fprintf(stderr, "urio-echo: %llu connection(s) served\n",
		(unsigned long long)st.accepted);
	urio_server_free(s);
	return sig < 0 ? sig : r;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: urio-echo [--host ADDR] [--port N] [--workers N] "
		   "[--grace MS]\n"
		   "  --host ADDR   numeric address to listen on (127.0.0.1)\n"
		   "  --port N      TCP port (7000; 0 picks a free one)\n"
		   "  --workers N   worker threads, one listener each (one per CPU)\n"
		   "  --grace MS    on SIGTERM/SIGINT, how long connections may "
		   "finish (5000)\n");
}

static int number(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.host = "127.0.0.1", .port = 7000, .grace_ms = 5000};
	static const struct option longs[] = {
		{"host", required_argument, 0, 'H'},
		{"port", required_argument, 0, 'p'},
		{"workers", required_argument, 0, 'w'},
		{"grace", required_argument, 0, 'g'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	int c;
	unsigned long v;
	while ((c = getopt_long(argc, argv, "H:p:w:g:h", longs, NULL)) != -1) {
		switch (c) {
		case 'H':
			o.host = optarg;
			break;
		case 'p':
			if (number(optarg, 65535, &v) < 0)
				goto bad;
			o.port = (unsigned)v;
			break;
		case 'w':
			if (number(optarg, 1024, &v) < 0 || v == 0)
				goto bad;
			o.workers = (unsigned)v;
			break;
		case 'g':
			if (number(optarg, 86400000, &v) < 0)
				goto bad;
			o.grace_ms = v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		goto bad;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	urio_signal_block(&set); /* before the workers start: they inherit it */
	urio_config cfg = {.workers = o.workers};
	urio_rt *rt = urio_rt_new(&cfg);
	if (!rt) {
		fprintf(stderr, "urio-echo: runtime: %s\n", strerror(errno));
		return 1;
	}
	o.workers = urio_rt_workers(rt);
	intptr_t res = 0;
	int r = urio_rt_block_on(rt, serve, &o, &res);
	urio_rt_free(rt);
	return r < 0 || res < 0;
bad:
	fprintf(stderr, "urio-echo: bad argument\n");
	usage(stderr);
	return 2;
}
