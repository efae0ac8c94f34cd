// Streaming: line iteration over a 1 GiB log (page cache warm) with
// urio_lines vs a blocking getline loop vs `wc -l` (a subprocess, timed
// here), plus reference rows that split the same work up: read(2) of
// 256 KiB chunks alone, urio's chunk iterator alone, and read(2) + the
// same memchr line split urio_lines does (the floor for its design).
// Generators: one item handed from a generator to its consumer and back
// vs one urio_yield between two tasks (bench_switch's ping-pong) and vs a
// channel of one item (when <urio/sync.h> has urio_chan).
//
// The log is $URIO_BENCH_LOG, default /var/tmp/urio-bench-log-1g, made
// once: lines of 20..180 bytes of printable text, like a web server log.
// Every file benchmark reads it once before measuring (this VM's DAMON
// pages out memory left idle for a minute).
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "common.h"

#if __has_include(<urio/sync.h>)
#include <urio/sync.h>
#define HAVE_CHAN 1
#endif

extern char **environ;

namespace {

constexpr off_t kLogSize = 1l << 30;
constexpr size_t kChunk = 256u << 10;

std::string log_path()
{
	const char *p = getenv("URIO_BENCH_LOG");
	return p && *p ? p : "/var/tmp/urio-bench-log-1g";
}

bool ensure_log()
{
	std::string path = log_path();
	struct stat st;
	if (stat(path.c_str(), &st) == 0 && st.st_size == kLogSize)
		return true;
	fprintf(stderr, "bench_stream: writing %s (1 GiB)\n", path.c_str());
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return false;
	// 4 MiB of lines, written over and over
	std::vector<char> blk(4u << 20);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t at = 0;
	while (at < blk.size()) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		size_t len = 20 + (x >> 33) % 161;
		for (size_t k = 0; k < len && at < blk.size(); k++)
			blk[at++] = (char)(' ' + (x >> (k % 32)) % 95);
		if (at < blk.size())
			blk[at++] = '\n';
	}
	blk.back() = '\n';
	for (off_t done = 0; done < kLogSize; done += (off_t)blk.size())
		if (write(fd, blk.data(), blk.size()) != (ssize_t)blk.size()) {
			close(fd);
			return false;
		}
	return close(fd) == 0;
}

void warm()
{
	int fd = open(log_path().c_str(), O_RDONLY);
	if (fd < 0)
		return;
	std::vector<char> buf(kChunk);
	while (read(fd, buf.data(), buf.size()) > 0)
		;
	close(fd);
}

bool prepare(benchmark::State &state)
{
	if (!ensure_log()) {
		state.SkipWithError("cannot write the log file");
		return false;
	}
	warm();
	return true;
}

void set_bytes(benchmark::State &state)
{
	state.SetBytesProcessed((int64_t)state.iterations() * kLogSize);
}

// --- urio ------------------------------------------------------------------

intptr_t lines_task(void *arg)
{
	auto &state = bench_state(arg);
	std::string path = log_path();
	uint64_t lines = 0;
	for (auto _ : state) {
		urio_lines *ls = urio_lines_open(path.c_str(), nullptr);
		if (!ls)
			return -1;
		urio_slice l;
		while (urio_lines_next(ls, &l) == 1)
			lines++;
		urio_lines_close(ls);
	}
	state.counters["lines"] = (double)lines / state.iterations();
	return 0;
}

void BM_lines_urio(benchmark::State &state)
{
	if (prepare(state))
		run_in_urio(state, 1, lines_task);
	set_bytes(state);
}
BENCHMARK(BM_lines_urio)->UseRealTime()->Unit(benchmark::kMillisecond);

intptr_t chunks_task(void *arg)
{
	auto &state = bench_state(arg);
	std::string path = log_path();
	for (auto _ : state) {
		urio_chunks *cs = urio_chunks_open(path.c_str(), nullptr);
		if (!cs)
			return -1;
		urio_slice c;
		size_t n = 0;
		while (urio_chunks_next(cs, &c) == 1)
			n += c.len;
		benchmark::DoNotOptimize(n);
		urio_chunks_close(cs);
	}
	return 0;
}

void BM_chunks_urio(benchmark::State &state)
{
	if (prepare(state))
		run_in_urio(state, 1, chunks_task);
	set_bytes(state);
}
BENCHMARK(BM_chunks_urio)->UseRealTime()->Unit(benchmark::kMillisecond);

// --- blocking equivalents and references -------------------------------------

void BM_lines_getline(benchmark::State &state)
{
	if (!prepare(state))
		return;
	uint64_t lines = 0;
	char *buf = nullptr;
	size_t cap = 0;
	for (auto _ : state) {
		FILE *f = fopen(log_path().c_str(), "r");
		ssize_t n;
		while ((n = getline(&buf, &cap, f)) > 0)
			lines++;
		fclose(f);
	}
	free(buf);
	state.counters["lines"] = (double)lines / state.iterations();
	set_bytes(state);
}
BENCHMARK(BM_lines_getline)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_lines_wc_l(benchmark::State &state)
{
	if (!prepare(state))
		return;
	std::string path = log_path();
	for (auto _ : state) {
		pid_t pid;
		const char *argv[] = {"wc", "-l", path.c_str(), nullptr};
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		int r = posix_spawnp(&pid, "wc", &fa, nullptr, (char **)argv,
				     environ);
		posix_spawn_file_actions_destroy(&fa);
		int st = 0;
		if (r != 0 || waitpid(pid, &st, 0) < 0 || st != 0) {
			state.SkipWithError("wc -l failed");
			return;
		}
	}
	set_bytes(state);
}
BENCHMARK(BM_lines_wc_l)->UseRealTime()->Unit(benchmark::kMillisecond);

// read(2) of 256 KiB chunks, then the memchr split urio_lines makes
void BM_lines_read_memchr(benchmark::State &state)
{
	if (!prepare(state))
		return;
	std::vector<char> buf(kChunk);
	uint64_t lines = 0;
	for (auto _ : state) {
		int fd = open(log_path().c_str(), O_RDONLY);
		ssize_t n;
		while ((n = read(fd, buf.data(), buf.size())) > 0) {
			const char *p = buf.data(), *end = p + n;
			const char *nl;
			while ((nl = (const char *)memchr(p, '\n', end - p))) {
				benchmark::DoNotOptimize(p);
				lines++;
				p = nl + 1;
			}
		}
		close(fd);
	}
	state.counters["lines"] = (double)lines / state.iterations();
	set_bytes(state);
}
BENCHMARK(BM_lines_read_memchr)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_chunks_read(benchmark::State &state)
{
	if (!prepare(state))
		return;
	std::vector<char> buf(kChunk);
	for (auto _ : state) {
		int fd = open(log_path().c_str(), O_RDONLY);
		size_t t = 0;
		ssize_t n;
		while ((n = read(fd, buf.data(), buf.size())) > 0)
			t += (size_t)n;
		benchmark::DoNotOptimize(t);
		close(fd);
	}
	set_bytes(state);
}
BENCHMARK(BM_chunks_read)->UseRealTime()->Unit(benchmark::kMillisecond);

// --- generators -----------------------------------------------------------------

int gen_forever(urio_gen *g, void *)
{
	for (intptr_t i = 0;; i++)
		if (urio_gen_yield(g, (void *)i) < 0)
			return 0;
}

intptr_t gen_task(void *arg)
{
	auto &state = bench_state(arg);
	urio_gen *g = urio_gen_new(gen_forever, nullptr);
	if (!g)
		return -1;
	void *item;
	for (auto _ : state)
		if (urio_gen_next(g, &item) != 1)
			return -1;
	urio_gen_close(g);
	return 0;
}

// one item: consumer -> generator -> consumer, two switches
void BM_handoff_gen(benchmark::State &state)
{
	run_in_urio(state, 1, gen_task);
}
BENCHMARK(BM_handoff_gen)->UseRealTime();

std::atomic<bool> stop_partner;

intptr_t partner(void *)
{
	while (!stop_partner.load(std::memory_order_relaxed))
		urio_yield();
	return 0;
}

intptr_t yield_task(void *arg)
{
	auto &state = bench_state(arg);
	stop_partner = false;
	urio_task *p = urio_spawn(partner, nullptr);
	if (!p)
		return -1;
	urio_yield();
	for (auto _ : state)
		urio_yield();
	stop_partner = true;
	urio_join(p, nullptr);
	return 0;
}

// one urio_yield between two tasks: one switch each way per two
// iterations, as bench_switch's BM_switch_urio_yield
void BM_handoff_yield(benchmark::State &state)
{
	run_in_urio(state, 1, yield_task);
}
BENCHMARK(BM_handoff_yield)->UseRealTime();

#ifdef HAVE_CHAN
struct ChanArg {
	urio_chan *c;
	int64_t n;
};

intptr_t chan_producer(void *arg)
{
	auto *ca = static_cast<ChanArg *>(arg);
	for (intptr_t i = 0;; i++)
		if (urio_chan_send(ca->c, &i) < 0)
			return 0;
}

intptr_t chan_task(void *arg)
{
	auto &state = bench_state(arg);
	ChanArg ca{urio_chan_new(sizeof(intptr_t), 1), 0};
	if (!ca.c)
		return -1;
	urio_task *p = urio_spawn(chan_producer, &ca);
	intptr_t v;
	for (auto _ : state)
		if (urio_chan_recv(ca.c, &v) < 0)
			return -1;
	urio_chan_close(ca.c);
	urio_join(p, nullptr);
	urio_chan_free(ca.c);
	return 0;
}

// one item through a channel of capacity 1 from a producer task
void BM_handoff_chan(benchmark::State &state)
{
	run_in_urio(state, 1, chan_task);
}
BENCHMARK(BM_handoff_chan)->UseRealTime();
#endif

} // namespace

BENCHMARK_MAIN();
