// 4 KiB random reads of a 1 GiB file: 32 tasks each looping urio_read at
// random 4 KiB-aligned offsets, page cache warm and with O_DIRECT, vs one
// thread looping pread (the blocking equivalent).
//
// The urio runs are time-based, like fio's --time_based: the tasks read
// until a stop flag is raised after kWarmMs / kDirectMs, so the queue
// depth stays at 32 for the whole run and there is no tail where fewer
// reads are in flight (only the reads in flight at the stop, which are
// counted). One iteration is one such run. The pread loop is an ordinary
// benchmark loop, one read per iteration.
//
// A raw liburing loop at queue depth 32 (no runtime: reap every
// completion, resubmit them all in one io_uring_enter) shows what the
// device gives to the submission pattern urio uses; fio, run by
// tools/bench.sh, instead submits each read on its own as soon as its
// predecessor completes.
//
// The file is $URIO_BENCH_FILE, default /var/tmp/urio-bench-1g, made once
// (non-zero pseudo-random bytes) when missing or of the wrong size;
// tools/bench.sh runs fio on the same file. The warm runs read the whole
// file first: the page cache may have been reclaimed since it was last
// touched (this VM's DAMON pages out memory left idle for a minute).
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common.h"

namespace {

constexpr off_t kFileSize = 1l << 30;
constexpr size_t kBlock = 4096;
constexpr int kTasks = 32;
constexpr unsigned kWarmMs = 2000;   // one time-based run, page cache
constexpr unsigned kDirectMs = 4000; // one time-based run, O_DIRECT

std::string file_path()
{
	const char *p = getenv("URIO_BENCH_FILE");
	return p && *p ? p : "/var/tmp/urio-bench-1g";
}

// Makes the file if it is missing or short; returns false on failure.
bool ensure_file()
{
	std::string path = file_path();
	struct stat st;
	if (stat(path.c_str(), &st) == 0 && st.st_size == kFileSize)
		return true;
	fprintf(stderr, "bench_randread: writing %s (1 GiB)\n", path.c_str());
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return false;
	std::vector<uint64_t> buf(1 << 17); // 1 MiB
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (off_t done = 0; done < kFileSize;) {
		for (auto &v : buf)
			v = (x = x * 6364136223846793005ull + 1) | 1;
		ssize_t n = write(fd, buf.data(), buf.size() * sizeof(buf[0]));
		if (n <= 0) {
			close(fd);
			return false;
		}
		done += n;
	}
	bool ok = fsync(fd) == 0;
	return close(fd) == 0 && ok;
}

void warm_cache()
{
	int fd = open(file_path().c_str(), O_RDONLY);
	if (fd < 0)
		return;
	std::vector<char> buf(1 << 20);
	while (read(fd, buf.data(), buf.size()) > 0) {
	}
	close(fd);
}

// Drops the file from the page cache: an O_DIRECT read of a cached block
// first has the kernel invalidate it, so every O_DIRECT run, ours and
// fio's (tools/bench.sh), starts from an uncached file, the same state.
void drop_cache()
{
	int fd = open(file_path().c_str(), O_RDONLY);
	if (fd < 0)
		return;
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

// Each run starts from the page-cache state it is named for.
void prepare_cache(int flags)
{
	if (flags & O_DIRECT)
		drop_cache();
	else
		warm_cache();
}

// xorshift64: a different sequence per task, uniform over the blocks
inline off_t next_off(uint64_t &x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return static_cast<off_t>(x % (kFileSize / kBlock)) * kBlock;
}

struct Run {
	int fd;
	// Raised by the measuring task; readers check it between reads (it
	// is only a stop signal, so relaxed is enough).
	std::atomic<bool> stop;
};

struct Reader {
	Run *run;
	uint64_t seed;
	long reads;
};

intptr_t reader(void *arg)
{
	Reader *r = static_cast<Reader *>(arg);
	void *buf;
	if (posix_memalign(&buf, kBlock, kBlock))
		return -ENOMEM;
	intptr_t res = 0;
	while (!r->run->stop.load(std::memory_order_relaxed)) {
		ssize_t n = urio_read(r->run->fd, buf, kBlock,
				      next_off(r->seed));
		if (n != static_cast<ssize_t>(kBlock)) {
			res = n < 0 ? n : -EIO;
			break;
		}
		r->reads++;
	}
	free(buf);
	return res;
}

struct Cfg {
	int flags; // 0 or O_DIRECT
	unsigned ms; // length of one run
};

intptr_t randread(void *arg)
{
	auto &state = bench_state(arg);
	Cfg *c = bench_arg<Cfg>(arg);
	Run run;
	run.fd = urio_open(file_path().c_str(), O_RDONLY | c->flags, 0);
	if (run.fd < 0)
		return run.fd;
	uint64_t seed = 88172645463325252ull;
	long reads = 0;
	for (auto _ : state) {
		run.stop = false;
		Reader rd[kTasks];
		urio_task *t[kTasks];
		int n = 0;
		for (; n < kTasks; n++) {
			rd[n] = {&run, seed += 0x9e3779b97f4a7c15ull, 0};
			if (!(t[n] = urio_spawn(reader, &rd[n])))
				break;
		}
		urio_sleep_ms(c->ms);
		run.stop = true;
		intptr_t bad = n < kTasks;
		for (int i = 0; i < n; i++) {
			intptr_t r = 0;
			urio_join(t[i], &r);
			bad |= r;
			reads += rd[i].reads;
		}
		if (bad) {
			state.SkipWithError("spawn or urio_read failed");
			break;
		}
	}
	urio_close(run.fd);
	state.counters["iops"] = rate(static_cast<double>(reads));
	return 0;
}

void urio_bench(benchmark::State &state, int flags, unsigned ms)
{
	Cfg c{flags, ms};
	prepare_cache(flags);
	run_in_urio(state, static_cast<unsigned>(state.range(0)), randread, &c);
}

void BM_randread_warm_urio(benchmark::State &state)
{
	urio_bench(state, 0, kWarmMs);
}
// workers:1 is one thread against one, like the pread loop; workers:0 (one
// per CPU) is the default configuration.
BENCHMARK(BM_randread_warm_urio)->ArgName("workers")->Arg(1)->Arg(0)
	->UseRealTime()->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_randread_direct_urio(benchmark::State &state)
{
	urio_bench(state, O_DIRECT, kDirectMs);
}
BENCHMARK(BM_randread_direct_urio)->ArgName("workers")->Arg(1)->Arg(0)
	->UseRealTime()->Iterations(1)->Unit(benchmark::kMillisecond);

// Time-based like the urio runs, one iteration; flags: O_DIRECT or 0.
void raw_liburing(benchmark::State &state, int flags)
{
	prepare_cache(flags);
	int fd = open(file_path().c_str(), O_RDONLY | flags);
	struct io_uring ring;
	struct io_uring_params p = {};
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	if (fd < 0 || (io_uring_queue_init_params(64, &ring, &p) < 0 &&
		       (p = {}, io_uring_queue_init_params(64, &ring, &p) < 0))) {
		state.SkipWithError("open or io_uring_queue_init failed");
		if (fd >= 0)
			close(fd);
		return;
	}
	std::vector<void *> bufs(kTasks);
	for (auto &b : bufs)
		if (posix_memalign(&b, kBlock, kBlock))
			b = nullptr;
	uint64_t seed = 88172645463325252ull;
	auto queue = [&](unsigned i) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, fd, bufs[i], kBlock, next_off(seed));
		io_uring_sqe_set_data64(sqe, i);
	};
	long reads = 0;
	for (auto _ : state) {
		for (unsigned i = 0; i < kTasks; i++)
			queue(i);
		unsigned inflight = kTasks;
		unsigned ms = flags & O_DIRECT ? kDirectMs : kWarmMs;
		uint64_t end = urio_now_ns() + ms * 1000000ull;
		bool more = true;
		while (inflight) {
			io_uring_submit_and_wait(&ring, 1);
			struct io_uring_cqe *cqe;
			unsigned head, n = 0;
			more = more && urio_now_ns() < end;
			io_uring_for_each_cqe(&ring, head, cqe)
			{
				if (cqe->res != static_cast<int>(kBlock))
					state.SkipWithError("short read");
				n++;
				reads++;
				if (more)
					queue(static_cast<unsigned>(cqe->user_data));
				else
					inflight--;
			}
			io_uring_cq_advance(&ring, n);
		}
	}
	io_uring_queue_exit(&ring);
	for (auto b : bufs)
		free(b);
	close(fd);
	state.counters["iops"] = rate(static_cast<double>(reads));
}

void BM_randread_direct_raw_liburing(benchmark::State &state)
{
	raw_liburing(state, O_DIRECT);
}
BENCHMARK(BM_randread_direct_raw_liburing)->UseRealTime()->Iterations(1)
	->Unit(benchmark::kMillisecond);

// The floor for the warm urio runs: the kernel's io_uring read path.
void BM_randread_warm_raw_liburing(benchmark::State &state)
{
	raw_liburing(state, 0);
}
BENCHMARK(BM_randread_warm_raw_liburing)->UseRealTime()->Iterations(1)
	->Unit(benchmark::kMillisecond);

void blocking(benchmark::State &state, int flags)
{
	prepare_cache(flags);
	int fd = open(file_path().c_str(), O_RDONLY | flags);
	void *buf = nullptr;
	if (fd < 0 || posix_memalign(&buf, kBlock, kBlock)) {
		state.SkipWithError("open failed");
		if (fd >= 0)
			close(fd);
		return;
	}
	uint64_t seed = 88172645463325252ull;
	for (auto _ : state)
		if (pread(fd, buf, kBlock, next_off(seed)) !=
		    static_cast<ssize_t>(kBlock)) {
			state.SkipWithError("short read");
			break;
		}
	free(buf);
	close(fd);
	state.counters["iops"] = rate(static_cast<double>(state.iterations()));
}

void BM_randread_warm_pread(benchmark::State &state)
{
	blocking(state, 0);
}
BENCHMARK(BM_randread_warm_pread)->UseRealTime()->MinTime(2.0);

void BM_randread_direct_pread(benchmark::State &state)
{
	blocking(state, O_DIRECT);
}
BENCHMARK(BM_randread_direct_pread)->UseRealTime()->MinTime(2.0);

} // namespace

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	if (!ensure_file()) {
		fprintf(stderr, "bench_randread: cannot create %s\n",
			file_path().c_str());
		return 1;
	}
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
