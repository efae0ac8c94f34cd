// Shared by the benchmarks: run a benchmark's loop inside a urio task. The
// calling thread only waits in urio_rt_block_on, so every urio benchmark
// uses real time.
#ifndef URIO_BENCH_COMMON_H
#define URIO_BENCH_COMMON_H

#include <benchmark/benchmark.h>
#include <urio.h>

struct BenchTask {
	benchmark::State *state;
	void *arg;
};

// Runs body(task) on a fresh runtime of `workers` workers (0 = default).
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
	intptr_t r = 0;
	urio_rt_block_on(rt, body, &bt, &r);
	if (r < 0)
		state.SkipWithError("benchmark task failed");
	urio_rt_free(rt);
}

inline benchmark::State &bench_state(void *arg)
{
	return *static_cast<BenchTask *>(arg)->state;
}

#endif
