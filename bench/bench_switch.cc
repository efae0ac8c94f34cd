// One-way context switch: urio_yield ping-pong between two tasks on one
// worker, vs boost.context fibers (the peer: a bare switch with no
// scheduler), vs two threads handing off through a mutex and condvar (the
// blocking equivalent). Every iteration is two one-way switches; the
// report divides by two.
#include <boost/context/fiber.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common.h"

namespace {

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
	for (auto _ : state)
		urio_yield();
	stop_partner = true;
	urio_join(p, nullptr);
	state.SetItemsProcessed(state.iterations() * 2);
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
	for (auto _ : state)
		f = std::move(f).resume();
	done = true;
	f = std::move(f).resume();
	state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_switch_boost_context);

void BM_switch_condvar(benchmark::State &state)
{
	std::mutex mu;
	std::condition_variable cv;
	int turn = 0; // 0: bench thread, 1: partner
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
	state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_switch_condvar)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
