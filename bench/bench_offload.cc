// Blocking calls offloaded from tasks (urio_offload, urio_executor_run) vs
// the same calls made inline from one thread, and the round trip of one
// offload vs a thread per call (pthread_create + pthread_join).
//
// - sleep: 1000 tasks each offload a 1 ms nanosleep (a stand-in for a
//   blocking syscall that does not use the CPU) vs 1000 sleeps in a row.
//   With N pool threads an iteration takes about 1000 / N ms.
// - getaddrinfo("localhost"): CPU-bound work in libc (nsswitch, /etc/hosts)
//   that no io_uring op replaces; the pool spreads it over the cores.
// - round trip: one task offloads an empty function, one at a time: the
//   queue, a pool thread's wake-up and the caller's wake-up on its worker.
#include <netdb.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <vector>

#include "common.h"

namespace {

constexpr int kCalls = 1000;

intptr_t sleep_1ms(void *)
{
	struct timespec ts = {0, 1000000};
	while (nanosleep(&ts, &ts) != 0)
		;
	return 0;
}

intptr_t resolve_localhost(void *)
{
	struct addrinfo hints, *res = nullptr;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int r = getaddrinfo("localhost", "80", &hints, &res);
	if (r != 0)
		return -1;
	freeaddrinfo(res);
	return 0;
}

intptr_t empty(void *)
{
	return 0;
}

// --- fan-out: kCalls tasks, each offloading one call -----------------------

struct FanOut {
	urio_fn fn;
	urio_executor *e; // null: urio_offload (the default pool)
};

intptr_t one_call(void *arg)
{
	auto *f = static_cast<const FanOut *>(arg);
	return f->e ? urio_executor_run(f->e, f->fn, nullptr)
		    : urio_offload(f->fn, nullptr);
}

intptr_t fan_out_loop(void *arg)
{
	auto &state = bench_state(arg);
	auto *f = bench_arg<FanOut>(arg);
	std::vector<urio_task *> t(kCalls);
	for (auto _ : state) {
		for (int i = 0; i < kCalls; i++)
			if (!(t[i] = urio_spawn(one_call, (void *)f)))
				return -1;
		for (int i = 0; i < kCalls; i++) {
			intptr_t r = -1;
			if (urio_join(t[i], &r) < 0 || r < 0) {
				state.SkipWithError("offloaded call failed");
				return -1;
			}
		}
	}
	state.counters["calls"] =
		rate(static_cast<double>(state.iterations()) * kCalls);
	return 0;
}

// Runs the fan-out on a runtime of one worker per CPU, offloading to an
// executor of state.range(0) threads (0: urio_offload's default pool).
void fan_out(benchmark::State &state, urio_fn fn)
{
	unsigned threads = static_cast<unsigned>(state.range(0));
	urio_executor *e = nullptr;
	if (threads) {
		urio_executor_opts o = {};
		o.max_threads = threads;
		o.queue_max = kCalls;
		if (!(e = urio_executor_new(&o))) {
			state.SkipWithError("urio_executor_new failed");
			return;
		}
	}
	FanOut f = {fn, e};
	run_in_urio(state, 0, fan_out_loop, &f);
	urio_exec_stats st;
	urio_executor_stats(e ? e : urio_offload_executor(), &st);
	state.counters["pool_threads"] = st.peak_threads;
	urio_executor_free(e);
}

void inline_calls(benchmark::State &state, urio_fn fn)
{
	for (auto _ : state)
		for (int i = 0; i < kCalls; i++)
			if (fn(nullptr) < 0) {
				state.SkipWithError("call failed");
				return;
			}
	state.counters["calls"] =
		rate(static_cast<double>(state.iterations()) * kCalls);
}

void BM_sleep_1ms_x1000_offload(benchmark::State &state)
{
	fan_out(state, sleep_1ms);
}
// 0 = the default pool (64 threads); then executors of 8 and 256
BENCHMARK(BM_sleep_1ms_x1000_offload)
	->Arg(0)->Arg(8)->Arg(256)
	->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_sleep_1ms_x1000_inline(benchmark::State &state)
{
	inline_calls(state, sleep_1ms);
}
BENCHMARK(BM_sleep_1ms_x1000_inline)
	->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(2);

void BM_getaddrinfo_x1000_offload(benchmark::State &state)
{
	fan_out(state, resolve_localhost);
}
BENCHMARK(BM_getaddrinfo_x1000_offload)
	->Arg(0)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_getaddrinfo_x1000_inline(benchmark::State &state)
{
	inline_calls(state, resolve_localhost);
}
BENCHMARK(BM_getaddrinfo_x1000_inline)
	->UseRealTime()->Unit(benchmark::kMillisecond);

// --- round trip of one call -------------------------------------------------

intptr_t round_trip_loop(void *arg)
{
	auto &state = bench_state(arg);
	for (auto _ : state)
		if (urio_offload(empty, nullptr) != 0) {
			state.SkipWithError("offload failed");
			return -1;
		}
	state.counters["calls"] =
		rate(static_cast<double>(state.iterations()));
	return 0;
}

// One worker, so the caller's wake-up lands on the worker that parked.
void BM_offload_round_trip(benchmark::State &state)
{
	run_in_urio(state, static_cast<unsigned>(state.range(0)),
		    round_trip_loop);
}
BENCHMARK(BM_offload_round_trip)->Arg(1)->Arg(2)->UseRealTime()
	->Unit(benchmark::kMicrosecond);

void BM_pthread_create_join(benchmark::State &state)
{
	pthread_create_join_loop(state);
	state.counters["calls"] =
		rate(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_pthread_create_join)->UseRealTime()
	->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
