// One-way context switch.
//
// Every benchmark here is a ping-pong between two parties, and (but for
// urio's bare switch, below) one iteration of the state loop is one round
// trip: the measuring party hands control to its partner (one-way switch
// #1) and the partner hands it back (one-way switch #2). So the time of one one-way switch is the time per
// iteration / 2; the `switch` counter (seconds per switch) says so in the
// output, and bench/report.py reports it.
//
//  - urio: two tasks on a one-worker runtime, each looping on urio_yield().
//    A one-way switch is one whole urio_yield call: requeue the caller,
//    pick the next task (the direct task-to-task path, and every few
//    dozen ticks a pass through the scheduler that also polls the ring),
//    swap stacks, return into the other task.
//  - boost.context: boost::context::fiber, resume() into a fiber that
//    resumes straight back. A bare stack swap with no scheduler: the peer
//    urio's switch is held against. Once as boost's examples use it
//    (resume() inlined into both loops), once called as urio_yield is,
//    through one out-of-line function from two loops.
//  - urio's bare switch: two contexts hand off on urio__ctx_switch, no
//    scheduler (1000 one-way switches per iteration), running one loop or
//    a loop each: the second pays, as the urio_yield row does, a
//    mispredicted return on every switch (boost's resume() is inlined into
//    both loops and its switch ends in an indirect jump, so there is no
//    return to mispredict). Together they tell the primitive, the
//    misprediction and the run-queue work apart.
//  - mutex + condvar: two threads taking turns, the blocking equivalent.
//    Pinned to one CPU each hand-off is a kernel context switch (futex
//    wake + wait); unpinned on two CPUs it is a cross-CPU wake-up, which in
//    a VM costs far more (shown for reference).
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <boost/context/fiber.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "bare_switch.h"
#include "common.h"

namespace {

void count_switches(benchmark::State &state)
{
	state.counters["switch"] = benchmark::Counter(
		2.0 * static_cast<double>(state.iterations()),
		benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Set by the measuring task after its loop; the partner is on the same
// worker, so relaxed is enough (no other thread reads it).
std::atomic<bool> stop_partner;

intptr_t partner(void *)
{
	while (!stop_partner.load(std::memory_order_relaxed))
		urio_yield();
	return 0;
}

intptr_t yield_loop(void *arg)
{
	auto &state = bench_state(arg);
	stop_partner = false;
	urio_task *p = urio_spawn(partner, nullptr);
	if (!p)
		return -1;
	urio_yield(); // the partner starts: the loop begins in steady state
	for (auto _ : state)
		urio_yield();
	stop_partner = true;
	urio_join(p, nullptr);
	count_switches(state);
	return 0;
}

void BM_switch_urio_yield(benchmark::State &state)
{
	run_in_urio(state, 1, yield_loop);
}
BENCHMARK(BM_switch_urio_yield)->UseRealTime();

void BM_switch_boost_context(benchmark::State &state)
{
	namespace ctx = boost::context;
	bool done = false;
	ctx::fiber f{[&done](ctx::fiber &&main) {
		while (!done)
			main = std::move(main).resume();
		return std::move(main);
	}};
	f = std::move(f).resume(); // the fiber starts
	for (auto _ : state)
		f = std::move(f).resume();
	done = true;
	f = std::move(f).resume();
	count_switches(state);
}
BENCHMARK(BM_switch_boost_context)->UseRealTime();

// boost.context called as urio_yield is: both sides switch through one
// out-of-line function, so, as for urio's tasks, the return from it lands
// in a loop the CPU's return stack did not predict.
__attribute__((noinline)) boost::context::fiber hop(boost::context::fiber &&f)
{
	return std::move(f).resume();
}

void BM_switch_boost_context_called(benchmark::State &state)
{
	namespace ctx = boost::context;
	bool done = false;
	ctx::fiber f{[&done](ctx::fiber &&main) {
		while (!done)
			main = hop(std::move(main));
		return std::move(main);
	}};
	f = hop(std::move(f));
	for (auto _ : state)
		f = hop(std::move(f));
	done = true;
	f = hop(std::move(f));
	count_switches(state);
}
BENCHMARK(BM_switch_boost_context_called)->UseRealTime();

// urio's switch primitive with no scheduler (bare_switch.c), the two
// contexts running one loop (sites:1) or a loop each (sites:2).
void BM_switch_urio_bare(benchmark::State &state)
{
	if (bare_switch_start(state.range(0) == 2) < 0) {
		state.SkipWithError("no memory");
		return;
	}
	enum { N = 1000 };
	for (auto _ : state)
		bare_switch_rounds(N);
	bare_switch_stop();
	state.counters["switch"] = benchmark::Counter(
		N * static_cast<double>(state.iterations()),
		benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_switch_urio_bare)->ArgName("sites")->Arg(1)->Arg(2)->UseRealTime();

// Two threads take turns under one mutex; `turn` says whose it is.
void condvar_pingpong(benchmark::State &state, bool one_cpu)
{
	cpu_set_t old_set, one;
	if (one_cpu) {
		// both threads on the CPU the benchmark thread is on; the
		// partner inherits the mask, the caller gets its own back
		sched_getaffinity(0, sizeof(old_set), &old_set);
		CPU_ZERO(&one);
		CPU_SET(sched_getcpu(), &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	std::mutex mu;
	std::condition_variable cv;
	int turn = 0; // 0: the benchmark thread, 1: the partner
	bool done = false;
	std::thread th([&] {
		std::unique_lock<std::mutex> lk(mu);
		for (;;) {
			cv.wait(lk, [&] { return turn == 1 || done; });
			if (done)
				return;
			turn = 0;
			cv.notify_one();
		}
	});
	{
		std::unique_lock<std::mutex> lk(mu);
		for (auto _ : state) {
			turn = 1;
			cv.notify_one();
			cv.wait(lk, [&] { return turn == 0; });
		}
		done = true;
		cv.notify_one();
	}
	th.join();
	if (one_cpu)
		sched_setaffinity(0, sizeof(old_set), &old_set);
	count_switches(state);
}

void BM_switch_condvar_1cpu(benchmark::State &state)
{
	condvar_pingpong(state, true);
}
BENCHMARK(BM_switch_condvar_1cpu)->UseRealTime();

void BM_switch_condvar_2cpu(benchmark::State &state)
{
	condvar_pingpong(state, false);
}
BENCHMARK(BM_switch_condvar_2cpu)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
