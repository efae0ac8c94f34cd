// Fan-out of 1M tiny CPU tasks, on 1 worker vs 2: how well stealing
// spreads work. A two-level tree, as a server fans out: the root runs 1000
// branches (8 in flight), each branch 1000 leaves (128 in flight, joining
// the oldest before spawning the next). Branches are what thieves take, so
// leaves are spawned and run where their branch runs. Windows bound the
// live tasks: a million stacks at once would measure mappings, not the
// scheduler.
#include "common.h"

namespace {

constexpr int kBranches = 1000;
constexpr int kLeaves = 1000;

intptr_t leaf(void *arg)
{
	// a few hundred ns of arithmetic the compiler cannot fold
	uint64_t x = reinterpret_cast<uintptr_t>(arg) | 1;
	for (int i = 0; i < 64; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return static_cast<intptr_t>(x & 1);
}

// Runs n tasks of fn, at most W in flight; returns the sum of results.
template <int W> intptr_t windowed(int n, urio_fn fn)
{
	urio_task *win[W];
	intptr_t sum = 0;
	for (int i = 0; i < n + W; i++) {
		urio_task *&slot = win[i % W];
		if (i >= W) {
			intptr_t r = 0;
			urio_join(slot, &r);
			sum += r;
		}
		if (i < n)
			slot = urio_spawn(fn, reinterpret_cast<void *>(
						      static_cast<intptr_t>(i)));
	}
	return sum;
}

intptr_t branch(void *)
{
	return windowed<128>(kLeaves, leaf);
}

intptr_t fanout(void *arg)
{
	auto &state = bench_state(arg);
	// one untimed round first: stacks get mapped once, then pooled
	benchmark::DoNotOptimize(windowed<8>(kBranches, branch));
	for (auto _ : state)
		benchmark::DoNotOptimize(windowed<8>(kBranches, branch));
	state.SetItemsProcessed(state.iterations() * kBranches * kLeaves);
	return 0;
}

void BM_fanout_1M(benchmark::State &state)
{
	run_in_urio(state, static_cast<unsigned>(state.range(0)), fanout);
}
BENCHMARK(BM_fanout_1M)->Arg(1)->Arg(2)->ArgName("workers")->UseRealTime()
	->Unit(benchmark::kMillisecond)->Iterations(10);

} // namespace

BENCHMARK_MAIN();
