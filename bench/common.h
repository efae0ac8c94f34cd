// Shared by the benchmarks: running a benchmark's state loop inside a urio
// task.
//
// urio_rt_block_on runs the task on a worker thread and only waits on the
// calling thread, so the `for (auto _ : state)` loop runs on a worker.
// google-benchmark (1.7.1) tolerates that for single-threaded benchmarks:
// State keeps no thread-local data, and its start/stop barrier has one
// party. Its CPU-time column is not meaningful then (a thread's CPU clock
// read on whichever worker the task happens to run on, and the task may
// migrate between reads), so every urio benchmark uses real time
// (->UseRealTime()), and the blocking equivalents do too, so that the two
// are measured alike. Rate counters (kIsRate) are divided by that real
// time.
//
// The runtime is made and freed per call of the benchmark function (not
// timed); google-benchmark calls it once per trial while it sizes the
// iteration count, then once for the measured run.
#ifndef URIO_BENCH_COMMON_H
#define URIO_BENCH_COMMON_H

#include <benchmark/benchmark.h>
#include <pthread.h>
#include <urio.h>

#include <cstdint>

struct BenchTask {
	benchmark::State *state;
	void *arg;
};

inline benchmark::State &bench_state(void *task_arg)
{
	return *static_cast<BenchTask *>(task_arg)->state;
}

template <typename T> inline T *bench_arg(void *task_arg)
{
	return static_cast<T *>(static_cast<BenchTask *>(task_arg)->arg);
}

// Runs body(&BenchTask{&state, arg}) as a task on a fresh runtime of
// `workers` workers (0 = one per CPU) and reports a negative result as a
// benchmark error. A few runtime counters go into the JSON output to help
// explain a number (they cover the whole call, warm-up included).
inline void run_in_urio(benchmark::State &state, unsigned workers,
			intptr_t (*body)(void *), void *arg = nullptr)
{
	urio_config cfg = {};
	cfg.workers = workers;
	urio_rt *rt = urio_rt_new(&cfg);
	if (!rt) {
		state.SkipWithError("urio_rt_new failed");
		return;
	}
	BenchTask bt{&state, arg};
	intptr_t res = 0;
	int r = urio_rt_block_on(rt, body, &bt, &res);
	urio_stats st;
	urio_rt_stats(rt, &st);
	urio_rt_free(rt);
	if (r < 0 || res < 0) {
		state.SkipWithError("benchmark task failed");
		return;
	}
	state.counters["workers"] = st.workers;
	state.counters["submits"] = static_cast<double>(st.submits);
	state.counters["steals"] = static_cast<double>(st.steals);
	state.counters["parks"] = static_cast<double>(st.parks);
}

// A rate counter: v per second of the benchmark's (real) time.
inline benchmark::Counter rate(double v)
{
	return benchmark::Counter(v, benchmark::Counter::kIsRate);
}

inline void *bench_empty_thread(void *)
{
	return nullptr;
}

// The blocking equivalent of a spawn or an offload: a thread per call,
// created and joined, once per iteration.
inline void pthread_create_join_loop(benchmark::State &state)
{
	for (auto _ : state) {
		pthread_t th;
		if (pthread_create(&th, nullptr, bench_empty_thread, nullptr) ||
		    pthread_join(th, nullptr)) {
			state.SkipWithError("pthread_create failed");
			break;
		}
	}
}

#endif
