// Spawn + run + join of an empty task vs pthread_create + pthread_join of
// an empty thread. One iteration creates one, lets it run to completion and
// reaps it; the stack comes from urio's per-worker pool (the first
// iteration maps it) and from glibc's stack cache.
#include <pthread.h>

#include "common.h"

namespace {

intptr_t empty(void *)
{
	return 0;
}

intptr_t spawn_loop(void *arg)
{
	auto &state = bench_state(arg);
	for (auto _ : state) {
		urio_task *t = urio_spawn(empty, nullptr);
		if (!t || urio_join(t, nullptr) < 0) {
			state.SkipWithError("spawn or join failed");
			break;
		}
	}
	state.counters["tasks"] = rate(static_cast<double>(state.iterations()));
	return 0;
}

// One worker: the child runs on the spawner's worker, the common case (and
// the one the pthread pair is compared with: both sides on one CPU's worth
// of work).
void BM_spawn_join_urio(benchmark::State &state)
{
	run_in_urio(state, 1, spawn_loop);
}
BENCHMARK(BM_spawn_join_urio)->UseRealTime();

// Every worker: an idle worker may steal the child, so this also measures
// how often a spawn wakes or feeds another CPU. For reference.
void BM_spawn_join_urio_all_workers(benchmark::State &state)
{
	run_in_urio(state, 0, spawn_loop);
}
BENCHMARK(BM_spawn_join_urio_all_workers)->UseRealTime();

void BM_spawn_join_pthread(benchmark::State &state)
{
	pthread_create_join_loop(state);
	state.counters["tasks"] = rate(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_spawn_join_pthread)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
