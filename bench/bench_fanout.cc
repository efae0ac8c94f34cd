// Fan-out of 1M tiny CPU tasks spawned from one root task and joined, on
// 1 worker vs 2: how well spawning and stealing spread work over CPUs.
//
// Each task runs a few hundred ns of arithmetic (BM_leaf_work times the
// body alone) and returns. The root spawns them in order and joins them in
// the same order, keeping at most kWindow alive: a million live tasks
// would be a million stacks, which measures mmap and page faults, not the
// scheduler (RSS is rss_sleep's job). With 2 workers the second one steals
// from the root's queue, and a join completed by a task that ran there
// resumes the root there too, so spawning moves between the workers.
//
// One iteration is the full 1M fan-out; a first, untimed one maps and
// pools the stacks. Iterations are fixed so the run is bounded (~1 s each).
//
// Spreading tasks moves their records and stacks between CPUs, so the
// 2-worker figure depends on what a cache line costs to move between the
// two CPUs; BM_cacheline_roundtrip measures that, for reading the result
// (on a VM it changes with where the host runs the vCPUs).
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common.h"

namespace {

constexpr int kTasks = 1000000;
constexpr int kWindow = 1024;
constexpr int kLeafRounds = 320;

// A chain of dependent multiply-adds the compiler cannot fold or
// vectorise: ~1 ns a round on the 2.6 GHz EPYC this was tuned on.
intptr_t leaf(void *arg)
{
	uint64_t x = reinterpret_cast<uintptr_t>(arg) | 1;
	for (int i = 0; i < kLeafRounds; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return static_cast<intptr_t>(x & 1);
}

// Spawns kTasks leaves, at most kWindow in flight; sum of their results,
// or -1 when a spawn fails.
intptr_t fan_out()
{
	std::vector<urio_task *> win(kWindow);
	intptr_t sum = 0;
	for (int i = 0; i < kTasks + kWindow; i++) {
		urio_task *&slot = win[i % kWindow];
		if (i >= kWindow) {
			intptr_t r = 0;
			urio_join(slot, &r);
			sum += r;
		}
		if (i < kTasks &&
		    !(slot = urio_spawn(leaf, reinterpret_cast<void *>(
						      static_cast<intptr_t>(i))))) {
			for (int j = i - kWindow + 1; j < i; j++)
				if (j >= 0)
					urio_join(win[j % kWindow], nullptr);
			return -1;
		}
	}
	return sum;
}

intptr_t fanout_loop(void *arg)
{
	auto &state = bench_state(arg);
	if (fan_out() < 0)
		return -1; // warm-up: stacks mapped once, then pooled
	for (auto _ : state)
		if (fan_out() < 0) {
			state.SkipWithError("urio_spawn failed");
			break;
		}
	state.counters["tasks"] =
		rate(static_cast<double>(state.iterations()) * kTasks);
	return 0;
}

void BM_fanout_1M(benchmark::State &state)
{
	run_in_urio(state, static_cast<unsigned>(state.range(0)), fanout_loop);
}
BENCHMARK(BM_fanout_1M)->ArgName("workers")->Arg(1)->Arg(2)->UseRealTime()
	->Unit(benchmark::kMillisecond)->Iterations(5);

// The body of one task, called directly: the useful work per task.
void BM_leaf_work(benchmark::State &state)
{
	intptr_t i = 0;
	for (auto _ : state)
		benchmark::DoNotOptimize(leaf(reinterpret_cast<void *>(i++)));
}
BENCHMARK(BM_leaf_work)->UseRealTime();

// The machine's own ceiling: 1M leaf bodies split over N plain threads,
// no runtime at all. On a VM whose two vCPUs the host places on shared
// cores, 2 threads fall short of 2x before any scheduler is involved.
void BM_leaf_threads(benchmark::State &state)
{
	const int n = static_cast<int>(state.range(0));
	for (auto _ : state) {
		std::vector<std::thread> th;
		for (int t = 0; t < n; t++)
			th.emplace_back([t, n] {
				for (int i = t; i < kTasks; i += n)
					benchmark::DoNotOptimize(leaf(
						reinterpret_cast<void *>(
							static_cast<intptr_t>(i))));
			});
		for (auto &t : th)
			t.join();
	}
	state.counters["tasks"] =
		rate(static_cast<double>(state.iterations()) * kTasks);
}
BENCHMARK(BM_leaf_threads)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()
	->Unit(benchmark::kMillisecond)->Iterations(5);

// Two threads pinned to the first two CPUs of the affinity mask pass a
// flag back and forth: one iteration is one round trip of a cache line.
void BM_cacheline_roundtrip(benchmark::State &state)
{
	cpu_set_t mask, one;
	sched_getaffinity(0, sizeof(mask), &mask);
	int cpu[2], n = 0;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &mask))
			cpu[n++] = c;
	if (n < 2) {
		state.SkipWithError("needs two CPUs");
		return;
	}
	// 0: the peer's turn is over, 1: the peer's turn, 2: stop
	std::atomic<int> flag{0};
	std::thread peer([&] {
		cpu_set_t s;
		CPU_ZERO(&s);
		CPU_SET(cpu[1], &s);
		pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
		for (;;) {
			int f;
			while ((f = flag.load(std::memory_order_acquire)) == 0) {
			}
			if (f == 2)
				return;
			flag.store(0, std::memory_order_release);
		}
	});
	CPU_ZERO(&one);
	CPU_SET(cpu[0], &one);
	sched_setaffinity(0, sizeof(one), &one);
	for (auto _ : state) {
		flag.store(1, std::memory_order_release);
		while (flag.load(std::memory_order_acquire) != 0) {
		}
	}
	flag.store(2, std::memory_order_release);
	peer.join();
	sched_setaffinity(0, sizeof(mask), &mask);
}
BENCHMARK(BM_cacheline_roundtrip)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
