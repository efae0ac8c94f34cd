// 4 KiB random reads of a 1 GiB file by 32 concurrent tasks, page cache
// warm and O_DIRECT, vs a blocking pread loop on one thread. The file is
// $URIO_BENCH_FILE or /var/tmp/urio-bench-1g, made once if missing; the
// report runs fio on the same file for the O_DIRECT comparison.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common.h"

namespace {

constexpr off_t kFileSize = 1l << 30;
constexpr size_t kBlock = 4096;
constexpr int kTasks = 32;

std::string file_path()
{
	const char *p = getenv("URIO_BENCH_FILE");
	return p ? p : "/var/tmp/urio-bench-1g";
}

// Makes the file if it is missing or short; returns false on failure.
bool ensure_file()
{
	std::string path = file_path();
	struct stat st;
	if (stat(path.c_str(), &st) == 0 && st.st_size == kFileSize)
		return true;
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return false;
	std::vector<uint64_t> buf(1 << 17); // 1 MiB
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (off_t done = 0; done < kFileSize;) {
		for (auto &v : buf)
			v = x = x * 6364136223846793005ull + 1;
		ssize_t n = write(fd, buf.data(), buf.size() * 8);
		if (n <= 0) {
			close(fd);
			return false;
		}
		done += n;
	}
	fsync(fd);
	close(fd);
	return true;
}

void warm_cache()
{
	int fd = open(file_path().c_str(), O_RDONLY);
	std::vector<char> buf(1 << 20);
	while (read(fd, buf.data(), buf.size()) > 0) {
	}
	close(fd);
}

inline off_t next_off(uint64_t &x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return static_cast<off_t>(x % (kFileSize / kBlock)) * kBlock;
}

struct Job {
	int fd;
	int reads;
	uint64_t seed;
};

intptr_t reader(void *arg)
{
	Job *j = static_cast<Job *>(arg);
	void *buf;
	if (posix_memalign(&buf, kBlock, kBlock))
		return -1;
	intptr_t r = 0;
	for (int i = 0; i < j->reads && r == 0; i++)
		if (urio_read(j->fd, buf, kBlock, next_off(j->seed)) !=
		    (ssize_t)kBlock)
			r = -1;
	free(buf);
	return r;
}

struct Cfg {
	int flags;
	int reads_per_task;
};

intptr_t randread(void *arg)
{
	auto &state = bench_state(arg);
	Cfg *c = static_cast<Cfg *>(static_cast<BenchTask *>(arg)->arg);
	int fd = urio_open(file_path().c_str(), O_RDONLY | c->flags, 0);
	if (fd < 0)
		return fd;
	Job jobs[kTasks];
	intptr_t bad = 0;
	uint64_t seed = 88172645463325252ull;
	for (auto _ : state) {
		urio_task *t[kTasks];
		for (int i = 0; i < kTasks; i++) {
			jobs[i] = {fd, c->reads_per_task, seed += 0x9e37};
			t[i] = urio_spawn(reader, &jobs[i]);
		}
		for (auto &x : t) {
			intptr_t r = 0;
			urio_join(x, &r);
			bad |= r;
		}
	}
	urio_close(fd);
	state.SetItemsProcessed(state.iterations() * kTasks * c->reads_per_task);
	return bad;
}

void BM_randread_warm_urio(benchmark::State &state)
{
	Cfg c{0, 1024};
	warm_cache();
	run_in_urio(state, 0, randread, &c);
}
BENCHMARK(BM_randread_warm_urio)->UseRealTime()->MinTime(2);

void BM_randread_direct_urio(benchmark::State &state)
{
	Cfg c{O_DIRECT, 512}; // long runs: little tail where fewer than 32 wait
	run_in_urio(state, 0, randread, &c);
}
BENCHMARK(BM_randread_direct_urio)->UseRealTime()->MinTime(3);

void blocking(benchmark::State &state, int flags)
{
	int fd = open(file_path().c_str(), O_RDONLY | flags);
	void *buf;
	if (fd < 0 || posix_memalign(&buf, kBlock, kBlock)) {
		state.SkipWithError("open failed");
		return;
	}
	uint64_t seed = 88172645463325252ull;
	for (auto _ : state)
		if (pread(fd, buf, kBlock, next_off(seed)) != (ssize_t)kBlock)
			state.SkipWithError("short read");
	free(buf);
	close(fd);
	state.SetItemsProcessed(state.iterations());
}

void BM_randread_warm_pread(benchmark::State &state)
{
	warm_cache();
	blocking(state, 0);
}
BENCHMARK(BM_randread_warm_pread)->UseRealTime()->MinTime(2);

void BM_randread_direct_pread(benchmark::State &state)
{
	blocking(state, O_DIRECT);
}
BENCHMARK(BM_randread_direct_pread)->UseRealTime()->MinTime(3);

} // namespace

int main(int argc, char **argv)
{
	if (!ensure_file()) {
		fprintf(stderr, "cannot create %s\n", file_path().c_str());
		return 1;
	}
	benchmark::Initialize(&argc, argv);
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
