// urio_nop throughput: 64 tasks, each a straight-line loop of urio_nop(),
// against raw liburing loops with no scheduler at all.
//
// urio: each nop prepares an SQE and suspends the task; when no task is
// runnable the worker submits every prepared SQE in one io_uring_enter and
// resumes the tasks whose CQEs came back. With 64 tasks that is up to 64
// ops per syscall, so the interesting cost is what the runtime adds per op
// (a suspend, a resume, SQE and CQE handling). One iteration spawns the 64
// tasks, lets each do kPerTask nops and joins them: 64 * 1024 ops, so the
// 64 spawns and joins are ~0.1% of it.
//
// Raw liburing, batch 64: prepare 64 NOPs, one io_uring_submit_and_wait for
// all 64, reap them. The floor: the same syscalls urio's batching aims for,
// and nothing else. Raw liburing, one at a time: a submit-and-wait per NOP,
// what a blocking caller would get.
//
// The raw rings use SINGLE_ISSUER | DEFER_TASKRUN, as urio's do when the
// kernel has them (see urio_print_features).
#include <liburing.h>

#include "common.h"

namespace {

constexpr int kTasks = 64;
constexpr int kPerTask = 1024;

intptr_t nops(void *)
{
	for (int i = 0; i < kPerTask; i++)
		if (urio_nop() < 0)
			return -1;
	return 0;
}

intptr_t nop_loop(void *arg)
{
	auto &state = bench_state(arg);
	intptr_t bad = 0;
	for (auto _ : state) {
		urio_task *t[kTasks];
		int n = 0;
		while (n < kTasks && (t[n] = urio_spawn(nops, nullptr)))
			n++;
		for (int i = 0; i < n; i++) {
			intptr_t r = 0;
			urio_join(t[i], &r);
			bad |= r;
		}
		if (n < kTasks || bad) {
			state.SkipWithError("spawn or urio_nop failed");
			break;
		}
	}
	state.counters["ops"] = rate(static_cast<double>(state.iterations()) *
				     kTasks * kPerTask);
	return 0;
}

void BM_nop_urio_64tasks(benchmark::State &state)
{
	run_in_urio(state, static_cast<unsigned>(state.range(0)), nop_loop);
}
// workers:1 is the like-for-like comparison with one raw ring on one
// thread; workers:0 (one per CPU) is what an application gets by default.
BENCHMARK(BM_nop_urio_64tasks)->ArgName("workers")->Arg(1)->Arg(0)
	->UseRealTime()->MinTime(1.0);

void raw(benchmark::State &state, unsigned batch)
{
	struct io_uring ring;
	struct io_uring_params p = {};
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	if (io_uring_queue_init_params(256, &ring, &p) < 0) {
		p = {};
		if (io_uring_queue_init_params(256, &ring, &p) < 0) {
			state.SkipWithError("io_uring unavailable");
			return;
		}
	}
	for (auto _ : state) {
		for (unsigned i = 0; i < batch; i++)
			io_uring_prep_nop(io_uring_get_sqe(&ring));
		io_uring_submit_and_wait(&ring, batch);
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			benchmark::DoNotOptimize(cqe->res);
			n++;
		}
		io_uring_cq_advance(&ring, n);
		if (n != batch) {
			state.SkipWithError("lost completions");
			break;
		}
	}
	io_uring_queue_exit(&ring);
	state.counters["ops"] =
		rate(static_cast<double>(state.iterations()) * batch);
}

void BM_nop_raw_batch64(benchmark::State &state)
{
	raw(state, 64);
}
BENCHMARK(BM_nop_raw_batch64)->UseRealTime()->MinTime(1.0);

void BM_nop_raw_single(benchmark::State &state)
{
	raw(state, 1);
}
BENCHMARK(BM_nop_raw_single)->UseRealTime()->MinTime(1.0);

} // namespace

BENCHMARK_MAIN();
