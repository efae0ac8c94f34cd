// 10k requests (32 bytes, echoed back) to a loopback echo server:
//
// - pool: 64 tasks share a urio_tcp_pool of 16 connections;
// - per request: 64 tasks, each request on a connection of its own
//   (socket, urio_connect, send, recv, close);
// - connect only: the same without the request, which is the handshake's
//   (and teardown's) share of the per-request cost;
// - blocking thread per request: a thread per request (64 at a time), each
//   connecting, sending, receiving and closing with blocking calls.
//
// The echo server is the same for all: one plain thread with epoll, started
// once, on 127.0.0.1 only. Each iteration is the 10k requests; the rate
// counter `requests` is per second of real time.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "common.h"

namespace {

constexpr int kRequests = 10000;
constexpr int kTasks = 64;
constexpr unsigned kPoolSize = 16;
constexpr size_t kMsg = 32;

// --- the echo server ----------------------------------------------------------

uint16_t server_port;

void *echo_server(void *arg)
{
	int lfd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	epoll_event ev = {};
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	epoll_event evs[64];
	char buf[4096];
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, nullptr, nullptr,
						    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					int one = 1;
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one,
						   sizeof(one));
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				close(fd); // also leaves the epoll set
				continue;
			}
			// small replies fit the socket buffer: a full one is a
			// client that stopped reading, dropped
			if (write(fd, buf, static_cast<size_t>(r)) != r)
				close(fd);
		}
	}
	return nullptr;
}

// Starts the server once; false if it cannot listen.
bool server_start()
{
	static bool started = false;
	if (started)
		return true;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return false;
	sockaddr_in sin = {};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sin);
	if (bind(lfd, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) ||
	    listen(lfd, 4096) ||
	    getsockname(lfd, reinterpret_cast<sockaddr *>(&sin), &len))
		return false;
	server_port = ntohs(sin.sin_port);
	pthread_t th;
	if (pthread_create(&th, nullptr, echo_server,
			   reinterpret_cast<void *>(static_cast<intptr_t>(lfd))))
		return false;
	pthread_detach(th);
	started = true;
	return true;
}

sockaddr_in server_addr()
{
	sockaddr_in sin = {};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(server_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

// --- urio clients --------------------------------------------------------------

// One request and its echo over fd with urio calls; 0 or -errno.
int exchange(int fd)
{
	char req[kMsg], rep[kMsg];
	memset(req, 'q', sizeof(req));
	if (urio_send(fd, req, sizeof(req), 0) != (ssize_t)sizeof(req))
		return -EIO;
	size_t got = 0;
	while (got < sizeof(rep)) {
		ssize_t r = urio_recv(fd, rep + got, sizeof(rep) - got, 0);
		if (r <= 0)
			return r < 0 ? static_cast<int>(r) : -EPIPE;
		got += static_cast<size_t>(r);
	}
	return 0;
}

// One request on a connection of its own; with_request false: only the
// connect and the close.
int connect_request(bool with_request)
{
	int fd = urio_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sockaddr_in sin = server_addr();
	int err = urio_connect(fd, reinterpret_cast<sockaddr *>(&sin),
			       sizeof(sin));
	if (err == 0 && with_request)
		err = exchange(fd);
	urio_close(fd);
	return err;
}

enum Mode { kPool, kPerRequest, kConnectOnly };

struct Clients {
	Mode mode;
	urio_tcp_pool *tp;
	std::atomic<int> left;
	std::atomic<int> err;
};

intptr_t client(void *arg)
{
	auto *c = static_cast<Clients *>(arg);
	while (c->left.fetch_sub(1, std::memory_order_relaxed) > 0) {
		int err;
		if (c->mode == kPool) {
			int fd;
			err = urio_tcp_pool_acquire(c->tp, &fd);
			if (err == 0) {
				err = exchange(fd);
				urio_tcp_pool_release(c->tp, fd, err);
			}
		} else {
			err = connect_request(c->mode == kPerRequest);
		}
		if (err < 0) {
			c->err.store(err);
			return err;
		}
	}
	return 0;
}

intptr_t clients_loop(void *arg)
{
	auto &state = bench_state(arg);
	Clients c;
	c.mode = *bench_arg<Mode>(arg);
	c.tp = nullptr;
	c.err = 0;
	if (c.mode == kPool) {
		urio_pool_opts o = {};
		o.max_size = kPoolSize;
		c.tp = urio_tcp_pool_new("127.0.0.1", server_port, &o);
		if (!c.tp)
			return -1;
	}
	for (auto _ : state) {
		c.left = kRequests;
		urio_group g;
		urio_group_init(&g);
		for (int i = 0; i < kTasks; i++)
			if (!urio_group_spawn(&g, client, &c))
				return -1;
		if (urio_group_wait(&g) < 0) {
			state.SkipWithError("request failed");
			break;
		}
	}
	state.counters["requests"] =
		rate(static_cast<double>(state.iterations()) * kRequests);
	if (c.tp) {
		urio_pool_stats st;
		urio_pool_get_stats(urio_tcp_pool_pool(c.tp), &st);
		state.counters["connections"] = static_cast<double>(st.created);
		state.counters["acquire_wait_us"] =
			st.acquires ? st.wait_ns / 1e3 / st.acquires : 0;
		urio_tcp_pool_free(c.tp);
	}
	return c.err.load() < 0 ? -1 : 0;
}

void run_clients(benchmark::State &state, Mode mode)
{
	if (!server_start()) {
		state.SkipWithError("echo server failed");
		return;
	}
	run_in_urio(state, 0, clients_loop, &mode);
}

void BM_pool_16_conns(benchmark::State &state)
{
	run_clients(state, kPool);
}
BENCHMARK(BM_pool_16_conns)->UseRealTime()->Unit(benchmark::kMillisecond)
	->Iterations(5);

void BM_connect_per_request(benchmark::State &state)
{
	run_clients(state, kPerRequest);
}
BENCHMARK(BM_connect_per_request)->UseRealTime()
	->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_connect_only(benchmark::State &state)
{
	run_clients(state, kConnectOnly);
}
BENCHMARK(BM_connect_only)->UseRealTime()->Unit(benchmark::kMillisecond)
	->Iterations(3);

// --- blocking: a thread per request ------------------------------------------

std::atomic<int> blocking_err;

void *blocking_request(void *)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		blocking_err = -errno;
		return nullptr;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sockaddr_in sin = server_addr();
	char req[kMsg], rep[kMsg];
	memset(req, 'q', sizeof(req));
	size_t got = 0;
	if (connect(fd, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) ||
	    send(fd, req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
		blocking_err = -errno;
	} else {
		while (got < sizeof(rep)) {
			ssize_t r = recv(fd, rep + got, sizeof(rep) - got, 0);
			if (r <= 0) {
				blocking_err = r < 0 ? -errno : -EPIPE;
				break;
			}
			got += static_cast<size_t>(r);
		}
	}
	close(fd);
	return nullptr;
}

void BM_blocking_thread_per_request(benchmark::State &state)
{
	if (!server_start()) {
		state.SkipWithError("echo server failed");
		return;
	}
	blocking_err = 0;
	std::vector<pthread_t> th(kTasks);
	for (auto _ : state) {
		for (int done = 0; done < kRequests; done += kTasks) {
			int n = kRequests - done < kTasks ? kRequests - done
							   : kTasks;
			int made = 0;
			for (; made < n; made++)
				if (pthread_create(&th[made], nullptr,
						   blocking_request, nullptr))
					break;
			for (int i = 0; i < made; i++)
				pthread_join(th[i], nullptr);
			if (made < n)
				blocking_err = -EAGAIN;
		}
		if (blocking_err < 0) {
			state.SkipWithError("blocking request failed");
			break;
		}
	}
	state.counters["requests"] =
		rate(static_cast<double>(state.iterations()) * kRequests);
}
BENCHMARK(BM_blocking_thread_per_request)->UseRealTime()
	->Unit(benchmark::kMillisecond)->Iterations(3);

} // namespace

BENCHMARK_MAIN();
