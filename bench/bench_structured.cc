// Structured-concurrency costs, each beside its blocking equivalent:
//  - entering and exiting a deadline scope that does not fire (no syscall)
//    vs arming and disarming a POSIX timer (two timer_settime calls); the
//    scope's timer is armed at its first suspension, so a scope around a
//    urio_nop vs the bare urio_nop shows what an armed scope adds;
//  - cancelling a task blocked in recv and joining it vs waking a thread
//    blocked in recv with shutdown(2) and joining it;
//  - gather of 10k tasks vs 10k pthreads created and joined.
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#include "common.h"

namespace {

intptr_t deadline_loop(void *arg)
{
	auto &state = bench_state(arg);
	for (auto _ : state) {
		urio_deadline d;
		urio_timeout_enter(&d, 1000);
		benchmark::DoNotOptimize(urio_timeout_exit(&d));
	}
	return 0;
}

intptr_t deadline_nop_loop(void *arg)
{
	auto &state = bench_state(arg);
	const bool scoped = state.range(0);
	for (auto _ : state) {
		urio_deadline d;
		if (scoped)
			urio_timeout_enter(&d, 1000);
		benchmark::DoNotOptimize(urio_nop());
		if (scoped)
			benchmark::DoNotOptimize(urio_timeout_exit(&d));
	}
	return 0;
}

// Arg 1: a scope around each urio_nop; 0: the bare urio_nop.
void BM_deadline_scope_nop(benchmark::State &state)
{
	run_in_urio(state, 1, deadline_nop_loop);
}
BENCHMARK(BM_deadline_scope_nop)->ArgName("scoped")->Arg(0)->Arg(1)
	->UseRealTime();

void BM_deadline_scope_urio(benchmark::State &state)
{
	run_in_urio(state, 1, deadline_loop);
}
BENCHMARK(BM_deadline_scope_urio)->UseRealTime();

void BM_deadline_scope_posix_timer(benchmark::State &state)
{
	timer_t tm;
	struct sigevent sev = {};
	sev.sigev_notify = SIGEV_NONE;
	if (timer_create(CLOCK_MONOTONIC, &sev, &tm) < 0) {
		state.SkipWithError("timer_create failed");
		return;
	}
	struct itimerspec arm = {}, off = {};
	arm.it_value.tv_sec = 1;
	for (auto _ : state) {
		timer_settime(tm, 0, &arm, nullptr);
		timer_settime(tm, 0, &off, nullptr);
	}
	timer_delete(tm);
}
BENCHMARK(BM_deadline_scope_posix_timer)->UseRealTime();

intptr_t blocked_recv(void *arg)
{
	char c;
	return urio_recv(static_cast<int>(reinterpret_cast<intptr_t>(arg)), &c,
			 1, 0);
}

intptr_t cancel_loop(void *arg)
{
	auto &state = bench_state(arg);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	void *fd = reinterpret_cast<void *>(static_cast<intptr_t>(sv[0]));
	for (auto _ : state) {
		urio_task *t = urio_spawn(blocked_recv, fd);
		if (!t) {
			state.SkipWithError("urio_spawn failed");
			break;
		}
		urio_yield(); // it runs and blocks in recv
		urio_cancel(t);
		urio_join(t, nullptr);
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}

// One worker: the canceller and the cancelled share a ring, the common
// case of a server cancelling its own connection handlers.
void BM_cancel_recv_urio(benchmark::State &state)
{
	run_in_urio(state, 1, cancel_loop);
}
BENCHMARK(BM_cancel_recv_urio)->UseRealTime();

void *thread_recv(void *arg)
{
	char c;
	recv(static_cast<int>(reinterpret_cast<intptr_t>(arg)), &c, 1, 0);
	return nullptr;
}

// The blocking equivalent: a thread per connection, woken by shutdown(2).
void BM_cancel_recv_thread(benchmark::State &state)
{
	for (auto _ : state) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
			state.SkipWithError("socketpair failed");
			break;
		}
		pthread_t th;
		pthread_create(&th, nullptr, thread_recv,
			       reinterpret_cast<void *>(
				       static_cast<intptr_t>(sv[0])));
		shutdown(sv[0], SHUT_RDWR);
		pthread_join(th, nullptr);
		close(sv[0]);
		close(sv[1]);
	}
}
BENCHMARK(BM_cancel_recv_thread)->UseRealTime();

constexpr size_t kGather = 10000;

intptr_t tiny(void *arg)
{
	return reinterpret_cast<intptr_t>(arg) + 1;
}

intptr_t gather_loop(void *arg)
{
	auto &state = bench_state(arg);
	std::vector<urio_fn> fns(kGather, tiny);
	std::vector<void *> args(kGather);
	std::vector<intptr_t> res(kGather);
	for (size_t i = 0; i < kGather; i++)
		args[i] = reinterpret_cast<void *>(i);
	for (auto _ : state)
		if (urio_gather(kGather, fns.data(), args.data(), res.data()) <
		    0) {
			state.SkipWithError("urio_gather failed");
			break;
		}
	state.counters["tasks"] =
		rate(static_cast<double>(state.iterations()) * kGather);
	return 0;
}

void BM_gather_10k_urio(benchmark::State &state)
{
	run_in_urio(state, 0, gather_loop);
}
BENCHMARK(BM_gather_10k_urio)->UseRealTime()->Unit(benchmark::kMillisecond);

void *thread_tiny(void *arg)
{
	return static_cast<char *>(arg) + 1;
}

void BM_gather_10k_pthreads(benchmark::State &state)
{
	std::vector<pthread_t> th(kGather);
	for (auto _ : state) {
		for (size_t i = 0; i < kGather; i++)
			if (pthread_create(&th[i], nullptr, thread_tiny,
					   nullptr)) {
				state.SkipWithError("pthread_create failed");
				for (size_t j = 0; j < i; j++)
					pthread_join(th[j], nullptr);
				return;
			}
		for (size_t i = 0; i < kGather; i++)
			pthread_join(th[i], nullptr);
	}
	state.counters["tasks"] =
		rate(static_cast<double>(state.iterations()) * kGather);
}
BENCHMARK(BM_gather_10k_pthreads)->UseRealTime()->Unit(benchmark::kMillisecond)
	->Iterations(3);

} // namespace

BENCHMARK_MAIN();
