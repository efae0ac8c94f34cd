#!/usr/bin/env python3
"""Builds the benchmark report from one run's results (tools/bench.sh).

Usage: report.py RESULTS_DIR

RESULTS_DIR holds the google-benchmark JSON of every bench_* program
(<name>.json, and <name>.N.json for runs taken in rounds), fio's JSON
(fio_direct.N.json, fio_psync.json) and
rss_sleep's output (rss.json). Prints one markdown table. Every ratio
compares figures measured in the same run on the same machine; with
repetitions, each figure is the median over them.
"""
import glob
import json
import os
import platform
import statistics
import subprocess
import sys


class Missing(Exception):
    pass


def load_bench(results, prog):
    """Benchmark name -> {counter or real_time_ns: value}, medians over the
    repetitions in results/PROG.json and over the rounds PROG.N.json."""
    paths = [os.path.join(results, prog + ".json")]
    paths += sorted(glob.glob(os.path.join(results, prog + ".[0-9]*.json")))
    data = {"benchmarks": []}
    for path in paths:
        try:
            with open(path) as f:
                data["benchmarks"] += json.load(f).get("benchmarks", [])
        except (OSError, ValueError) as e:
            raise Missing(f"{path}: {e}")
    runs, medians = {}, {}
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            continue
        name = b.get("run_name", b["name"])
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
        vals = {k: v for k, v in b.items() if isinstance(v, (int, float))}
        vals["real_time_ns"] = b["real_time"] * scale
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = vals
        else:
            runs.setdefault(name, []).append(vals)
    out = {}
    for name, vs in runs.items():
        out[name] = {k: statistics.median(v[k] for v in vs if k in v)
                     for k in vs[0]}
    out.update(medians)
    return out


def pick(d, name, key):
    """d[name][key], where name is a benchmark's name up to any of its
    "/"-separated suffixes (args, min_time, real_time)."""
    hits = [n for n in d if n == name or n.startswith(name + "/")]
    if len(hits) != 1:
        raise Missing(f"{len(hits)} results for {name}")
    if key not in d[hits[0]]:
        raise Missing(f"{hits[0]} has no {key}")
    return d[hits[0]][key]


def fio_iops(results, name):
    """Median read IOPS over results/NAME.json or its runs NAME.N.json."""
    base = name[:-len(".json")] if name.endswith(".json") else name
    paths = sorted(glob.glob(os.path.join(results, base + ".[0-9]*.json")))
    paths = paths or [os.path.join(results, base + ".json")]
    iops = []
    for path in paths:
        try:
            with open(path) as f:
                iops.append(json.load(f)["jobs"][0]["read"]["iops"])
        except (OSError, ValueError, KeyError, IndexError) as e:
            raise Missing(f"{path}: {e}")
    return statistics.median(iops)


def si(v, unit):
    """1234567, 'IOPS' -> '1.23M IOPS'."""
    for div, p in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if v >= div * 0.9995:  # 999.6K prints as 1M, not 1e+03K
            return f"{v / div:.3g}{p} {unit}"
    return f"{v:.3g} {unit}"


def x(ratio):
    """A ratio with 3 significant digits, so a near miss shows: 0.896x."""
    return f"{ratio:.3g}x"


def dur(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.3g} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.3g} µs"
    return f"{ns:.3g} ns"


class Table:
    def __init__(self):
        self.rows = []

    def add(self, name, fn):
        """fn() -> (urio, other, ratio, target, met); met None = no target.
        A missing input makes the row say so instead of failing the report."""
        try:
            u, o, r, t, m = fn()
        except Missing as e:
            u, o, r, t, m = "missing", "", str(e), "", False
        met = "—" if m is None else ("yes" if m else "**no**")
        self.rows.append((name, u, o, r, t, met))

    def markdown(self):
        out = ["| benchmark | urio | blocking / peer | ratio | target | met? |",
               "| --- | --- | --- | --- | --- | --- |"]
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(out)


def header(results):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rev = ""
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        rev = subprocess.run(["git", "-C", here, "describe", "--always",
                              "--dirty"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    date = ""
    try:
        with open(os.path.join(results, "switch.json")) as f:
            date = json.load(f)["context"].get("date", "")
    except (OSError, ValueError, KeyError):
        pass
    return (f"{platform.node()}: Linux {platform.release()}, "
            f"{os.cpu_count()} CPUs ({cpu}); urio {rev or '?'}; {date}.")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS_DIR")
    r = sys.argv[1]
    t = Table()

    def bench(prog):
        return load_bench(r, prog)

    # --- context switch (ns per one-way switch) ---------------------------
    def sw(peer):
        d = bench("switch")
        u = pick(d, "BM_switch_urio_yield", "switch") * 1e9
        p = pick(d, peer, "switch") * 1e9
        return u, p

    def switch_boost():
        u, p = sw("BM_switch_boost_context")
        return dur(u), dur(p), f"{x(u / p)} the time", "<= 1.2x", u / p <= 1.2

    def switch_condvar():
        u, p = sw("BM_switch_condvar_1cpu")
        return dur(u), dur(p), f"{p / u:.0f}x faster", "faster", p > u

    t.add("one-way switch: urio_yield (1 worker) vs boost.context fiber",
          switch_boost)
    t.add("one-way switch: urio_yield vs mutex+condvar threads on 1 CPU",
          switch_condvar)

    # --- spawn + join ----------------------------------------------------
    def spawn():
        d = bench("spawn")
        u = pick(d, "BM_spawn_join_urio", "real_time_ns")
        p = pick(d, "BM_spawn_join_pthread", "real_time_ns")
        return dur(u), dur(p), f"{p / u:.0f}x faster", ">= 200x", p / u >= 200

    t.add("spawn+run+join of an empty task (1 worker) vs pthread_create+join",
          spawn)

    # --- nop throughput ----------------------------------------------------
    def nop(key, peer, target):
        def row():
            d = bench("nop")
            u = pick(d, f"BM_nop_urio_64tasks/workers:{key}", "ops")
            p = pick(d, f"BM_nop_raw_{peer}", "ops")
            if target is None:
                return (si(u, "ops/s"), si(p, "ops/s"), f"{u / p:.1f}x",
                        "faster", u > p)
            return (si(u, "ops/s"), si(p, "ops/s"), x(u / p),
                    f">= {target}x", u / p >= target)
        return row

    t.add("urio_nop, 64 tasks, 1 worker vs raw liburing batches of 64",
          nop(1, "batch64", 0.7))
    t.add("urio_nop, 64 tasks, default workers vs raw liburing batches of 64",
          nop(0, "batch64", 0.7))
    t.add("urio_nop, 64 tasks, 1 worker vs raw liburing one NOP at a time",
          nop(1, "single", None))

    # --- random reads ------------------------------------------------------
    def rr(name):
        return pick(bench("randread"), name, "iops")

    def direct(workers):
        def row():
            u = rr(f"BM_randread_direct_urio/workers:{workers}")
            f = fio_iops(r, "fio_direct.json")
            return (si(u, "IOPS"), si(f, "IOPS"), x(u / f), ">= 0.9x",
                    u / f >= 0.9)
        return row

    def warm(workers):
        def row():
            u = rr(f"BM_randread_warm_urio/workers:{workers}")
            p = rr("BM_randread_warm_pread")
            return (si(u, "IOPS"), si(p, "IOPS"), x(u / p), ">= 1.0x",
                    u / p >= 1.0)
        return row

    t.add("4 KiB random reads, O_DIRECT, 32 tasks, default workers vs fio "
          "io_uring iodepth 32", direct(0))
    t.add("4 KiB random reads, O_DIRECT, 32 tasks, 1 worker vs fio io_uring "
          "iodepth 32 (one thread each)", direct(1))
    t.add("4 KiB random reads, page cache warm, 32 tasks, default workers vs "
          "blocking pread loop (1 thread)", warm(0))
    t.add("4 KiB random reads, page cache warm, 32 tasks, 1 worker vs "
          "blocking pread loop (1 thread)", warm(1))

    # --- fan-out -------------------------------------------------------------
    def fanout():
        d = bench("fanout")
        one = pick(d, "BM_fanout_1M/workers:1", "tasks")
        two = pick(d, "BM_fanout_1M/workers:2", "tasks")
        return (si(two, "tasks/s"), si(one, "tasks/s") + " (1 worker)",
                x(two / one), ">= 1.8x", two / one >= 1.8)

    t.add("fan-out of 1M tiny CPU tasks from one root: 2 workers vs 1",
          fanout)

    # --- memory ------------------------------------------------------------
    def rss():
        path = os.path.join(r, "rss.json")
        try:
            with open(path) as f:
                data = json.load(f)
            kib, tasks = data["rss_kib"], data["tasks"]
            early = data["woken_early"]
        except (OSError, ValueError, KeyError) as e:
            raise Missing(f"{path}: {e}")
        mib = kib / 1024
        ok = mib <= 1536 and tasks == 100000 and not early
        return (f"{mib:.0f} MiB", "", f"{kib / tasks:.1f} KiB/task",
                "<= 1.5 GiB", ok)

    t.add("RSS of 100k concurrently sleeping tasks, default stacks", rss)

    def structured(urio_name, peer_name, label, target=None):
        def row():
            d = bench("structured")
            u = pick(d, urio_name, "real_time_ns")
            p = pick(d, peer_name, "real_time_ns")
            if target is None:
                return dur(u), dur(p), f"{p / u:.0f}x faster", "faster", u < p
            return (dur(u), dur(p), f"{p / u:.0f}x faster", f"< {target} ns",
                    u < target)
        t.add(label, row)

    structured("BM_deadline_scope_urio", "BM_deadline_scope_posix_timer",
               "deadline scope enter+exit, not fired, vs timer_settime x2",
               50)
    def scope_armed():
        d = bench("structured")
        bare = pick(d, "BM_deadline_scope_nop/scoped:0", "real_time_ns")
        scoped = pick(d, "BM_deadline_scope_nop/scoped:1", "real_time_ns")
        return (dur(scoped), dur(bare) + " (bare urio_nop)",
                f"+{scoped - bare:.0f} ns", "", None)

    t.add("(ref) deadline scope armed by a suspension: scope around "
          "urio_nop vs the bare urio_nop", scope_armed)
    structured("BM_cancel_recv_urio", "BM_cancel_recv_thread",
               "cancel a task blocked in recv + join vs shutdown(2) + "
               "pthread_join")
    structured("BM_gather_10k_urio", "BM_gather_10k_pthreads",
               "gather of 10k tasks vs 10k pthreads created and joined")

    def offload(urio_name, peer_name, label):
        def row():
            d = bench("offload")
            u = pick(d, urio_name, "real_time_ns")
            p = pick(d, peer_name, "real_time_ns")
            return dur(u), dur(p), f"{p / u:.1f}x faster", "faster", u < p
        t.add(label, row)

    offload("BM_sleep_1ms_x1000_offload/0", "BM_sleep_1ms_x1000_inline",
            "1000 tasks offload a 1 ms nanosleep (default pool) vs 1000 "
            "inline calls from one thread")
    offload("BM_getaddrinfo_x1000_offload/0", "BM_getaddrinfo_x1000_inline",
            "1000 tasks offload getaddrinfo(\"localhost\") vs 1000 inline "
            "calls")
    offload("BM_getaddrinfo_x1000_offload/2", "BM_getaddrinfo_x1000_inline",
            "1000 tasks offload getaddrinfo(\"localhost\") to an executor "
            "of 2 threads (one per CPU) vs 1000 inline calls")
    offload("BM_offload_round_trip/1", "BM_pthread_create_join",
            "offload round trip of an empty call (1 worker) vs "
            "pthread_create+join per call")

    # --- reference rows (no target) -------------------------------------------
    def ref_raw_direct():
        u = rr("BM_randread_direct_raw_liburing")
        f = fio_iops(r, "fio_direct.json")
        return si(u, "IOPS"), si(f, "IOPS"), x(u / f), "", None

    def ref_direct_pread():
        u = rr("BM_randread_direct_urio/workers:0")
        p = rr("BM_randread_direct_pread")
        return si(u, "IOPS"), si(p, "IOPS"), f"{u / p:.1f}x faster", "", None

    def ref_raw_warm():
        u = rr("BM_randread_warm_urio/workers:1")
        r_ = rr("BM_randread_warm_raw_liburing")
        p = rr("BM_randread_warm_pread")
        return (si(u, "IOPS"), si(r_, "IOPS") + " raw",
                f"{x(u / r_)}; raw vs pread {x(r_ / p)}", "", None)

    def ref_psync():
        p = rr("BM_randread_warm_pread")
        f = fio_iops(r, "fio_psync.json")
        return "", f"{si(p, 'IOPS')} vs fio {si(f, 'IOPS')}", "", "", None

    def bare(sites):
        return pick(bench("switch"), f"BM_switch_urio_bare/sites:{sites}",
                    "switch") * 1e9

    def ref_bare():
        _, p = sw("BM_switch_boost_context")
        b = bare(1)
        return dur(b), dur(p), f"{x(b / p)} the time", "", None

    def ref_bare_two():
        u, p = sw("BM_switch_boost_context")
        one, two = bare(1), bare(2)
        return (dur(two), dur(p), f"{x(two / p)} the time: "
                f"{two - one:.0f} ns mispredicted return; urio_yield adds "
                f"{u - two:.0f} ns of scheduler", "", None)

    def ref_boost_called():
        u, p = sw("BM_switch_boost_context_called")
        return dur(u), dur(p), f"{x(u / p)} the time", "", None

    def ref_condvar_2cpu():
        u, p = sw("BM_switch_condvar_2cpu")
        return dur(u), dur(p), f"{p / u:.0f}x faster", "", None

    def ref_spawn_all():
        d = bench("spawn")
        u = pick(d, "BM_spawn_join_urio_all_workers", "real_time_ns")
        p = pick(d, "BM_spawn_join_pthread", "real_time_ns")
        return dur(u), dur(p), f"{p / u:.0f}x faster", "", None

    def ref_leaf():
        d = bench("fanout")
        w = pick(d, "BM_leaf_work", "real_time_ns")
        one = pick(d, "BM_fanout_1M/workers:1", "tasks")
        return (f"{1e9 / one:.0f} ns/task (1 worker)", f"{w:.0f} ns body",
                f"{1e9 / one - w:.0f} ns overhead", "", None)

    def ref_threads():
        d = bench("fanout")
        one = pick(d, "BM_leaf_threads/threads:1", "tasks")
        two = pick(d, "BM_leaf_threads/threads:2", "tasks")
        return (si(two, "tasks/s"), si(one, "tasks/s") + " (1 thread)",
                x(two / one), "", None)

    def ref_cacheline():
        d = bench("fanout")
        rt = pick(d, "BM_cacheline_roundtrip", "real_time_ns")
        return "", dur(rt), "", "", None

    t.add("(ref) O_DIRECT: raw liburing, 32 in flight, resubmitted per reaped "
          "batch, vs fio", ref_raw_direct)
    t.add("(ref) O_DIRECT: 32 tasks, default workers vs blocking pread loop",
          ref_direct_pread)
    t.add("(ref) warm, 1 worker: urio vs raw liburing at depth 32 (the "
          "kernel's io_uring read path is the floor)", ref_raw_warm)
    t.add("(ref) warm: blocking pread loop vs fio psync (both 1 thread)",
          ref_psync)
    t.add("(ref) one-way switch: urio's bare switch (no scheduler), both "
          "contexts in one loop, vs boost.context", ref_bare)
    t.add("(ref) one-way switch: urio's bare switch, each context in a loop "
          "of its own (as urio_yield's two tasks), vs boost.context",
          ref_bare_two)
    t.add("(ref) one-way switch: urio_yield vs boost.context called as "
          "urio_yield is (one out-of-line function, two loops)",
          ref_boost_called)
    t.add("(ref) one-way switch: urio_yield vs condvar threads on 2 CPUs",
          ref_condvar_2cpu)
    t.add("(ref) spawn+run+join, default workers vs pthread", ref_spawn_all)
    t.add("(ref) fan-out: cost per task on 1 worker vs the task body alone",
          ref_leaf)
    t.add("(ref) machine: the same 1M task bodies on 2 plain threads vs 1 "
          "(no runtime)", ref_threads)
    t.add("(ref) machine: a cache line's round trip between the 2 CPUs",
          ref_cacheline)

    import report_more
    report_more.add_rows(t, bench, r, sys.modules[__name__])

    print("# urio benchmark report\n")
    print(header(r) + "\n")
    print(t.markdown())
    print("\nFigures are medians over the repetitions of one run. Ratios "
          "compare urio with the other column measured in the same run; "
          "\"(ref)\" rows explain the others and have no target. Raw JSON: "
          f"{os.path.abspath(r)}.")


if __name__ == "__main__":
    main()
