// Spawn + run + join of an empty task vs pthread_create + pthread_join.
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
		urio_join(t, nullptr);
	}
	return 0;
}

// One worker: the child runs on the spawner's worker. With more workers an
// idle one is woken to steal it, which measures the wake, not the spawn.
void BM_spawn_join_urio(benchmark::State &state)
{
	run_in_urio(state, 1, spawn_loop);
}
BENCHMARK(BM_spawn_join_urio)->UseRealTime();

void *empty_thread(void *)
{
	return nullptr;
}

void BM_spawn_join_pthread(benchmark::State &state)
{
	for (auto _ : state) {
		pthread_t th;
		pthread_create(&th, nullptr, empty_thread, nullptr);
		pthread_join(th, nullptr);
	}
}
BENCHMARK(BM_spawn_join_pthread)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
