/* urio-load: a load generator on urio for echo and HTTP servers.
 *
 *   urio-load --port N [--conns N] [--size B] [--depth D] [--seconds S]
 *             [--warmup S] [--workers N] [--http PATH] [--pid PID]
 *             [--rate R]
 *
 * Each connection is a task that keeps --depth messages of --size bytes in
 * flight: depth 1 is ping-pong (send, await the echo), more is pipelined
 * streaming (each echo that completes sends the next message). With --http
 * the message is "GET PATH HTTP/1.1" and a reply is as long as the first
 * one was (a fixed response). Latency runs from a message's send to its
 * last byte back, into a log-linear (HDR-style) histogram per worker.
 * --rate fixes the offered load instead (ping-pong only): R requests/s in
 * all, each connection on its own schedule, latency counted from when a
 * request was due (so a stalled server is not excused). CPU per request
 * compares best there: at saturation it falls as requests pile up per
 * wakeup, which depends on how busy the host is. With
 * --pid, the server's CPU time (utime + stime from /proc) over the same
 * window is divided by the requests answered. Counting starts after
 * --warmup and stops after --seconds; connections still blocked are then
 * cancelled, so every run is bounded. The last line is key=value pairs for
 * scripts. */
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urio.h>

/* log-linear buckets: exact below 2^SUB_BITS ns, then HALF buckets per
 * power of two (under 1.6% error) */
#define SUB_BITS 7
#define HALF (1u << (SUB_BITS - 1))
#define NBUCKETS ((1u << SUB_BITS) + 48 * HALF)
#define MAX_WORKERS 64

struct hist {
	uint64_t n[NBUCKETS];
};

static struct {
	const char *host;
	unsigned port, conns, depth, workers;
	size_t size;
	double seconds, warmup, rate;
	const char *http_path;
	int pid;
	char *msg; /* one message */
	size_t msg_len;
	atomic_size_t reply_len; /* --http: learned from the first reply */
	atomic_int measuring, stop, connected, failed;
	atomic_uint_fast64_t done, errors;
	struct hist hist[MAX_WORKERS];
} L;

static unsigned bucket(uint64_t v)
{
	if (v < (1u << SUB_BITS))
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - (SUB_BITS - 1);
	unsigned b = (1u << SUB_BITS) + (shift - 1) * HALF +
		     (unsigned)((v >> shift) - HALF);
	return b < NBUCKETS ? b : NBUCKETS - 1;
}

/* The middle of bucket b's range. */
static double bucket_mid(unsigned b)
{
	if (b < (1u << SUB_BITS))
		return b;
	unsigned shift = (b - (1u << SUB_BITS)) / HALF + 1;
	uint64_t lo = (uint64_t)((b - (1u << SUB_BITS)) % HALF + HALF) << shift;
	return (double)lo + (double)(1ull << shift) / 2;
}

static void record(uint64_t ns)
{
	int w = urio_worker_index(); /* no suspension until the add */
	if (atomic_load_explicit(&L.measuring, memory_order_relaxed) && w >= 0 &&
	    w < MAX_WORKERS) {
		L.hist[w].n[bucket(ns)]++;
		atomic_fetch_add_explicit(&L.done, 1, memory_order_relaxed);
	}
}

static double percentile(const struct hist *h, uint64_t total, double q)
{
	uint64_t want = (uint64_t)(q * (double)total), seen = 0;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		seen += h->n[b];
		if (seen > want)
			return bucket_mid(b);
	}
	return 0;
}

/* --http: reads the first reply whole to learn its length (headers and
 * Content-Length; the server's replies are all alike). */
static ssize_t learn_reply(int fd)
{
	char buf[8192];
	size_t have = 0;
	while (have < sizeof(buf) - 1) {
		ssize_t n = urio_recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (n <= 0)
			return n < 0 ? n : -ECONNRESET;
		have += (size_t)n;
		buf[have] = 0;
		char *end = strstr(buf, "\r\n\r\n");
		char *cl = strcasestr(buf, "\r\ncontent-length:");
		if (end && cl && cl < end) {
			size_t len = (size_t)(end + 4 - buf) +
				     strtoul(cl + 17, NULL, 10);
			if (have == len)
				return (ssize_t)len;
			if (have > len)
				return -EPROTO;
		}
	}
	return -EMSGSIZE;
}

struct conn_state {
	uint64_t *sent_at; /* ring of send times, depth entries */
	char *out, *in;
};

/* Sends k messages, stamping each. */
static int send_msgs(int fd, struct conn_state *cs, unsigned k,
		     unsigned *head)
{
	uint64_t now = urio_now_ns();
	for (unsigned i = 0; i < k; i++) {
		cs->sent_at[*head] = now;
		*head = (*head + 1) % L.depth;
	}
	ssize_t r = urio_send_all(fd, cs->out, k * L.msg_len, 0);
	return r < 0 ? (int)r : 0;
}

/* --rate: one request when due, then the next one interval later; a
 * connection behind schedule sends at once. */
static int run_paced(int fd, struct conn_state *cs, unsigned index)
{
	size_t reply = L.http_path ? atomic_load(&L.reply_len) : L.msg_len;
	uint64_t interval = (uint64_t)((double)L.conns * 1e9 / L.rate);
	uint64_t due = urio_now_ns() + interval * index / L.conns;
	while (!atomic_load_explicit(&L.stop, memory_order_relaxed)) {
		uint64_t now = urio_now_ns();
		if (due > now && urio_sleep_ns(due - now) < 0)
			return -ECANCELED;
		ssize_t r = urio_send_all(fd, cs->out, L.msg_len, 0);
		for (size_t got = 0; r >= 0 && got < reply; got += (size_t)r)
			if ((r = urio_recv(fd, cs->in, reply - got, 0)) == 0)
				r = -ECONNRESET;
		if (r < 0)
			return (int)r;
		record(urio_now_ns() - due);
		due += interval;
	}
	return 0;
}

static int run_conn(int fd, struct conn_state *cs)
{
	size_t reply = L.http_path ? atomic_load(&L.reply_len) : L.msg_len;
	size_t in_cap = reply * L.depth;
	unsigned head = 0, tail = 0;
	size_t got = 0; /* bytes of the oldest reply received */
	int r = send_msgs(fd, cs, L.depth, &head);
	while (r == 0 && !atomic_load_explicit(&L.stop, memory_order_relaxed)) {
		ssize_t n = urio_recv(fd, cs->in, in_cap, 0);
		if (n <= 0)
			return n < 0 ? (int)n : -ECONNRESET;
		got += (size_t)n;
		unsigned k = 0;
		uint64_t now = urio_now_ns();
		while (got >= reply) {
			got -= reply;
			record(now - cs->sent_at[tail]);
			tail = (tail + 1) % L.depth;
			k++;
		}
		if (k)
			r = send_msgs(fd, cs, k, &head);
	}
	return r;
}

static intptr_t conn_task(void *arg)
{
	unsigned index = (unsigned)(uintptr_t)arg;
	struct conn_state cs = { 0 };
	int fd = urio_dial(L.host, (uint16_t)L.port, 10000);
	if (fd < 0) {
		atomic_fetch_add(&L.failed, 1);
		return fd;
	}
	int r = 0;
	size_t reply_max = L.http_path ? 8192 : L.msg_len;
	cs.sent_at = calloc(L.depth, sizeof(*cs.sent_at));
	cs.out = malloc(L.msg_len * L.depth);
	cs.in = malloc(reply_max * L.depth);
	if (!cs.sent_at || !cs.out || !cs.in) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < L.depth; i++)
		memcpy(cs.out + i * L.msg_len, L.msg, L.msg_len);
	if (L.http_path) { /* one round trip first: the reply's length */
		r = (int)urio_send_all(fd, L.msg, L.msg_len, 0);
		ssize_t len = r < 0 ? r : learn_reply(fd);
		if (len < 0) {
			r = (int)len;
			goto out;
		}
		size_t zero = 0;
		atomic_compare_exchange_strong(&L.reply_len, &zero,
					       (size_t)len);
		if (atomic_load(&L.reply_len) != (size_t)len) {
			r = -EPROTO;
			goto out;
		}
	}
	atomic_fetch_add(&L.connected, 1);
	r = L.rate > 0 ? run_paced(fd, &cs, index) : run_conn(fd, &cs);
	if (r < 0 && r != -ECANCELED && !atomic_load(&L.stop))
		atomic_fetch_add(&L.errors, 1);
out:
	close(fd);
	free(cs.sent_at);
	free(cs.out);
	free(cs.in);
	return 0;
}

/* utime + stime of a process, in seconds; -1 when unreadable. */
static double cpu_seconds(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command may hold spaces */
	unsigned long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static intptr_t load_main(void *arg)
{
	urio_group g;
	urio_group_init(&g);
	for (unsigned i = 0; i < L.conns; i++)
		if (!urio_group_spawn(&g, conn_task, (void *)(uintptr_t)i)) {
			atomic_fetch_add(&L.failed, 1);
			break;
		}
	/* bounded wait for every connection (or its failure) */
	for (int i = 0; i < 20000 && (unsigned)(atomic_load(&L.connected) +
						atomic_load(&L.failed)) < L.conns;
	     i++)
		urio_sleep_ms(1);
	urio_sleep_ns((uint64_t)(L.warmup * 1e9));
	double cpu0 = L.pid ? cpu_seconds(L.pid) : -1;
	uint64_t t0 = urio_now_ns();
	atomic_store(&L.measuring, 1);
	urio_sleep_ns((uint64_t)(L.seconds * 1e9));
	atomic_store(&L.measuring, 0);
	uint64_t t1 = urio_now_ns();
	double cpu1 = L.pid ? cpu_seconds(L.pid) : -1;
	atomic_store(&L.stop, 1);
	urio_group_cancel(&g); /* some wait for replies that may never come */
	urio_group_wait(&g);

	struct hist *h = &L.hist[0];
	for (unsigned w = 1; w < MAX_WORKERS; w++)
		for (unsigned b = 0; b < NBUCKETS; b++)
			h->n[b] += L.hist[w].n[b];
	uint64_t done = atomic_load(&L.done);
	double secs = (double)(t1 - t0) / 1e9;
	double p50 = percentile(h, done, 0.50) / 1e3;
	double p99 = percentile(h, done, 0.99) / 1e3;
	double p999 = percentile(h, done, 0.999) / 1e3;
	double cpu_us = cpu0 >= 0 && cpu1 >= 0 && done
				? (cpu1 - cpu0) * 1e6 / (double)done
				: -1;
	printf("%u connections, %zu B, depth %u: %.0f requests/s, latency "
	       "p50 %.1f us, p99 %.1f us, p99.9 %.1f us",
	       L.conns, L.msg_len, L.depth, (double)done / secs, p50, p99, p999);
	if (cpu_us >= 0)
		printf(", server CPU %.2f us/request", cpu_us);
	printf("\nconns=%u size=%zu depth=%u requests=%llu seconds=%.3f "
	       "rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f cpu_us=%.3f "
	       "connect_failures=%d errors=%llu\n",
	       L.conns, L.msg_len, L.depth, (unsigned long long)done, secs,
	       (double)done / secs, p50, p99, p999, cpu_us,
	       atomic_load(&L.failed),
	       (unsigned long long)atomic_load(&L.errors));
	return atomic_load(&L.failed) ? -ECONNREFUSED : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: urio-load --port N [options]\n"
		"  --host A       server address (127.0.0.1)\n"
		"  --conns N      connections (10)\n"
		"  --size B       message size in bytes (64)\n"
		"  --depth D      messages in flight per connection: 1 is "
		"ping-pong (1)\n"
		"  --seconds S    measured time (5)\n"
		"  --warmup S     time before measuring (1)\n"
		"  --workers N    urio workers (1)\n"
		"  --http PATH    send GET PATH instead of echo messages\n"
		"  --pid PID      report that process's CPU time per request\n"
		"  --rate R       offer R requests/s in all (ping-pong), not as "
		"many as answered\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "host", required_argument, 0, 'H' },
		{ "port", required_argument, 0, 'p' },
		{ "conns", required_argument, 0, 'c' },
		{ "size", required_argument, 0, 's' },
		{ "depth", required_argument, 0, 'd' },
		{ "seconds", required_argument, 0, 't' },
		{ "warmup", required_argument, 0, 'W' },
		{ "workers", required_argument, 0, 'w' },
		{ "http", required_argument, 0, 'u' },
		{ "pid", required_argument, 0, 'P' },
		{ "rate", required_argument, 0, 'r' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	L.host = "127.0.0.1";
	L.conns = 10;
	L.size = 64;
	L.depth = 1;
	L.seconds = 5;
	L.warmup = 1;
	L.workers = 1;
	int o;
	while ((o = getopt_long(argc, argv, "H:p:c:s:d:t:W:w:u:P:r:h", lopts,
				NULL)) != -1) {
		switch (o) {
		case 'H': L.host = optarg; break;
		case 'p': L.port = (unsigned)atoi(optarg); break;
		case 'c': L.conns = (unsigned)atoi(optarg); break;
		case 's': L.size = (size_t)atol(optarg); break;
		case 'd': L.depth = (unsigned)atoi(optarg); break;
		case 't': L.seconds = atof(optarg); break;
		case 'W': L.warmup = atof(optarg); break;
		case 'w': L.workers = (unsigned)atoi(optarg); break;
		case 'u': L.http_path = optarg; break;
		case 'P': L.pid = atoi(optarg); break;
		case 'r': L.rate = atof(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!L.port || L.port > 65535 || !L.conns || L.conns > 100000 ||
	    !L.size || L.size > (1u << 20) || !L.depth || L.depth > 1024 ||
	    L.size * L.depth > (4u << 20) || !(L.seconds > 0) ||
	    L.seconds > 3600 || L.warmup < 0 || L.warmup > 600 ||
	    L.workers > MAX_WORKERS || L.rate < 0 || L.rate > 1e8 ||
	    (L.rate > 0 && L.depth != 1) || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (L.http_path) {
		if (asprintf(&L.msg, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
			     L.http_path, L.host) < 0)
			return 1;
		L.msg_len = strlen(L.msg);
	} else {
		L.msg = malloc(L.size);
		if (!L.msg)
			return 1;
		for (size_t i = 0; i < L.size; i++)
			L.msg[i] = (char)('a' + i % 26);
		L.msg_len = L.size;
	}
	urio_config cfg = { .workers = L.workers };
	intptr_t res = 0;
	int r = urio_run(&cfg, load_main, NULL, &res);
	free(L.msg);
	if (r < 0 || res < 0) {
		fprintf(stderr, "urio-load: %s\n",
			strerror(r < 0 ? -r : (int)-res));
		return 1;
	}
	return 0;
}
