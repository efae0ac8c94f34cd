// sync/ primitives, each beside its blocking equivalent in the same run:
//  - uncontended urio_sem acquire+release and urio_mutex lock+unlock in a
//    task vs pthread_mutex lock+unlock (and POSIX sem_wait+sem_post, a
//    reference row) on a thread;
//  - a contended mutex handed off between two tasks on a 2-worker runtime
//    vs a pthread mutex between two threads: both sides loop lock, bump,
//    yield (urio_yield / sched_yield, so the other side is sure to be
//    waiting), unlock. The "handoffs" counter counts acquisitions by the
//    other side than the last holder: urio's FIFO hands the mutex to the
//    waiter at every unlock; glibc's mutex wakes the waiter but lets the
//    releaser barge back in first, so most of its acquisitions are not
//    hand-offs. The figure to compare is the time per hand-off (1 /
//    handoffs);
//  - a ping-pong through two channels between two tasks on a 2-worker
//    runtime vs the same through two mutex+condvar queues between two
//    threads. The "cross" counter is the share of round trips whose two
//    sides ran on different workers at the reply (a wake goes to the
//    waker's worker, so the scheduler tends to put the pair together).
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>

#include <atomic>
#include <deque>

#include "common.h"

namespace {

// --- uncontended ---------------------------------------------------------

intptr_t sem_loop(void *arg)
{
	auto &state = bench_state(arg);
	urio_sem s;
	urio_sem_init(&s, 1);
	for (auto _ : state) {
		benchmark::DoNotOptimize(urio_sem_acquire(&s));
		urio_sem_release(&s);
	}
	return 0;
}

void BM_uncontended_sem_urio(benchmark::State &state)
{
	run_in_urio(state, 1, sem_loop);
}
BENCHMARK(BM_uncontended_sem_urio)->UseRealTime();

intptr_t mutex_loop(void *arg)
{
	auto &state = bench_state(arg);
	urio_mutex m = URIO_MUTEX_INIT;
	for (auto _ : state) {
		benchmark::DoNotOptimize(urio_mutex_lock(&m));
		urio_mutex_unlock(&m);
	}
	return 0;
}

void BM_uncontended_mutex_urio(benchmark::State &state)
{
	run_in_urio(state, 1, mutex_loop);
}
BENCHMARK(BM_uncontended_mutex_urio)->UseRealTime();

void BM_uncontended_pthread_mutex(benchmark::State &state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	for (auto _ : state) {
		benchmark::DoNotOptimize(pthread_mutex_lock(&m));
		pthread_mutex_unlock(&m);
	}
}
BENCHMARK(BM_uncontended_pthread_mutex)->UseRealTime();

// Reference: POSIX's counting semaphore, the blocking twin of urio_sem.
void BM_uncontended_posix_sem(benchmark::State &state)
{
	sem_t s;
	sem_init(&s, 0, 1);
	for (auto _ : state) {
		benchmark::DoNotOptimize(sem_wait(&s));
		sem_post(&s);
	}
	sem_destroy(&s);
}
BENCHMARK(BM_uncontended_posix_sem)->UseRealTime();

// --- contended mutex hand-off ---------------------------------------------

struct Contended {
	urio_mutex um = URIO_MUTEX_INIT;
	pthread_mutex_t pm = PTHREAD_MUTEX_INITIALIZER;
	std::atomic<bool> stop{false};
	std::atomic<bool> partner_started{false};
	int last = -1; // who held it last (under the mutex)
	uint64_t handoffs = 0, locks = 0;
};

// One acquisition by side `me`, under the mutex.
inline void bump(Contended *c, int me)
{
	c->handoffs += c->last != me;
	c->last = me;
	c->locks++;
}

intptr_t urio_partner(void *arg)
{
	auto *c = static_cast<Contended *>(arg);
	c->partner_started = true;
	while (!c->stop.load(std::memory_order_relaxed)) {
		if (urio_mutex_lock(&c->um) < 0)
			return -1;
		bump(c, 1);
		urio_yield();
		urio_mutex_unlock(&c->um);
	}
	return 0;
}

intptr_t handoff_loop(void *arg)
{
	auto &state = bench_state(arg);
	auto *c = bench_arg<Contended>(arg);
	urio_task *t = urio_spawn(urio_partner, c);
	if (!t)
		return -1;
	while (!c->partner_started)
		urio_yield();
	for (auto _ : state) {
		urio_mutex_lock(&c->um);
		bump(c, 0);
		urio_yield();
		urio_mutex_unlock(&c->um);
	}
	c->stop = true;
	urio_join(t, nullptr);
	return 0;
}

void report_handoffs(benchmark::State &state, const Contended &c)
{
	state.counters["handoffs"] = rate(static_cast<double>(c.handoffs));
	state.counters["locks"] = rate(static_cast<double>(c.locks));
}

// Arg: workers. 2 is the case asked for; 1 is a reference row with both
// tasks on one worker, where every unlock is a hand-off and no OS thread
// has to be scheduled for it: the hand-off's own cost.
void BM_mutex_handoff_urio(benchmark::State &state)
{
	Contended c;
	run_in_urio(state, static_cast<unsigned>(state.range(0)), handoff_loop,
		    &c);
	report_handoffs(state, c);
}
BENCHMARK(BM_mutex_handoff_urio)->ArgName("workers")->Arg(2)->Arg(1)
	->UseRealTime();

void *pthread_partner(void *arg)
{
	auto *c = static_cast<Contended *>(arg);
	c->partner_started = true;
	while (!c->stop.load(std::memory_order_relaxed)) {
		pthread_mutex_lock(&c->pm);
		bump(c, 1);
		sched_yield();
		pthread_mutex_unlock(&c->pm);
	}
	return nullptr;
}

void BM_mutex_handoff_pthread(benchmark::State &state)
{
	Contended c;
	pthread_t th;
	pthread_create(&th, nullptr, pthread_partner, &c);
	while (!c.partner_started)
		sched_yield();
	for (auto _ : state) {
		pthread_mutex_lock(&c.pm);
		bump(&c, 0);
		sched_yield();
		pthread_mutex_unlock(&c.pm);
	}
	c.stop = true;
	pthread_join(th, nullptr);
	report_handoffs(state, c);
}
BENCHMARK(BM_mutex_handoff_pthread)->UseRealTime();

// --- ping-pong ------------------------------------------------------------

struct PingPong {
	urio_chan *ping, *pong;
	std::atomic<int> partner_worker{-1};
	uint64_t cross = 0, trips = 0;
};

intptr_t pong_task(void *arg)
{
	auto *p = static_cast<PingPong *>(arg);
	uint64_t v;
	while (urio_chan_recv(p->ping, &v) == 1) {
		p->partner_worker.store(urio_worker_index(),
					std::memory_order_relaxed);
		if (urio_chan_send(p->pong, &v) < 0)
			return -1;
	}
	return 0;
}

intptr_t pingpong_loop(void *arg)
{
	auto &state = bench_state(arg);
	auto *p = bench_arg<PingPong>(arg);
	p->ping = urio_chan_new(sizeof(uint64_t), 1);
	p->pong = urio_chan_new(sizeof(uint64_t), 1);
	urio_task *t = p->ping && p->pong ? urio_spawn(pong_task, p) : nullptr;
	if (!t) {
		urio_chan_free(p->ping);
		urio_chan_free(p->pong);
		return -1;
	}
	uint64_t v = 0;
	for (auto _ : state) {
		urio_chan_send(p->ping, &v);
		urio_chan_recv(p->pong, &v);
		// the partner stored its worker before its send, which our
		// recv saw: this read is ordered after it
		p->cross += p->partner_worker.load(std::memory_order_relaxed) !=
			    urio_worker_index();
		p->trips++;
		v++;
	}
	urio_chan_close(p->ping);
	urio_join(t, nullptr);
	urio_chan_free(p->ping);
	urio_chan_free(p->pong);
	return 0;
}

void BM_pingpong_chan_urio(benchmark::State &state)
{
	PingPong p;
	run_in_urio(state, 2, pingpong_loop, &p);
	state.counters["cross"] =
		p.trips ? static_cast<double>(p.cross) / p.trips : 0;
}
BENCHMARK(BM_pingpong_chan_urio)->UseRealTime();

// The blocking equivalent: a queue under a mutex and a condvar each way.
struct Queue {
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	std::deque<uint64_t> q;
	bool closed = false;

	void push(uint64_t v)
	{
		pthread_mutex_lock(&mu);
		q.push_back(v);
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&mu);
	}
	bool pop(uint64_t *v)
	{
		pthread_mutex_lock(&mu);
		while (q.empty() && !closed)
			pthread_cond_wait(&cv, &mu);
		bool ok = !q.empty();
		if (ok) {
			*v = q.front();
			q.pop_front();
		}
		pthread_mutex_unlock(&mu);
		return ok;
	}
	void close()
	{
		pthread_mutex_lock(&mu);
		closed = true;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
};

struct ThreadPingPong {
	Queue ping, pong;
};

void *pong_thread(void *arg)
{
	auto *p = static_cast<ThreadPingPong *>(arg);
	uint64_t v;
	while (p->ping.pop(&v))
		p->pong.push(v);
	return nullptr;
}

void BM_pingpong_condvar_threads(benchmark::State &state)
{
	ThreadPingPong p;
	pthread_t th;
	pthread_create(&th, nullptr, pong_thread, &p);
	uint64_t v = 0;
	for (auto _ : state) {
		p.ping.push(v);
		p.pong.pop(&v);
		v++;
	}
	p.ping.close();
	pthread_join(th, nullptr);
}
BENCHMARK(BM_pingpong_condvar_threads)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
