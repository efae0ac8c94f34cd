// urio_nop throughput with 64 tasks (each a straight-line loop of nops) vs
// a raw liburing loop that submits NOPs in batches of 64 (the floor: no
// scheduler at all) and one at a time. urio batches the 64 tasks' SQEs
// into one io_uring_enter; that is what is measured.
#include <liburing.h>

#include "common.h"

namespace {

constexpr int kTasks = 64;
constexpr int kPerTask = 1000;

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
	for (auto _ : state) {
		urio_task *t[kTasks];
		for (auto &x : t)
			x = urio_spawn(nops, nullptr);
		for (auto &x : t)
			urio_join(x, nullptr);
	}
	state.SetItemsProcessed(state.iterations() * kTasks * kPerTask);
	return 0;
}

void BM_nop_urio_64tasks(benchmark::State &state)
{
	run_in_urio(state, static_cast<unsigned>(state.range(0)), nop_loop);
}
BENCHMARK(BM_nop_urio_64tasks)->Arg(1)->Arg(0)->ArgName("workers")->UseRealTime();

void raw(benchmark::State &state, unsigned batch)
{
	struct io_uring ring;
	struct io_uring_params p = {};
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	if (io_uring_queue_init_params(256, &ring, &p) < 0) {
		p.flags = 0;
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
		io_uring_for_each_cqe(&ring, head, cqe) n++;
		io_uring_cq_advance(&ring, n);
	}
	state.SetItemsProcessed(state.iterations() * batch);
	io_uring_queue_exit(&ring);
}

void BM_nop_raw_batch64(benchmark::State &state)
{
	raw(state, 64);
}
BENCHMARK(BM_nop_raw_batch64)->UseRealTime();

void BM_nop_raw_single(benchmark::State &state)
{
	raw(state, 1);
}
BENCHMARK(BM_nop_raw_single)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
