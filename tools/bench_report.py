#!/usr/bin/env python3
"""Builds the benchmark table from one run's JSON results (tools/bench.sh).

Every ratio compares figures measured in the same run on the same machine.
"""
import json
import os
import platform
import sys


def bench(results, prog):
    with open(os.path.join(results, prog + ".json")) as f:
        data = json.load(f)
    return {b["name"]: b for b in data["benchmarks"]}


def ns(b):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
    return b["real_time"] * scale


def rate(b):
    return b["items_per_second"]


def fio_iops(results, name):
    with open(os.path.join(results, name)) as f:
        return json.load(f)["jobs"][0]["read"]["iops"]


def find(d, prefix):
    for k, v in d.items():
        if k.startswith(prefix):
            return v
    raise KeyError(prefix)


def main():
    r = sys.argv[1]
    rows = []

    def row(name, urio, other, ratio, target, met):
        rows.append((name, urio, other, ratio, target, "yes" if met else "no"))

    sw = bench(r, "switch")
    u = ns(find(sw, "BM_switch_urio_yield")) / 2
    bc = ns(find(sw, "BM_switch_boost_context")) / 2
    cv = ns(find(sw, "BM_switch_condvar")) / 2
    row("one-way switch: urio_yield vs boost.context", f"{u:.1f} ns",
        f"{bc:.1f} ns", f"{u / bc:.2f}x the time", "<= 1.2x", u / bc <= 1.2)
    row("one-way switch: urio_yield vs mutex+condvar", f"{u:.1f} ns",
        f"{cv:.0f} ns", f"{cv / u:.0f}x faster", "faster", cv > u)

    sp = bench(r, "spawn")
    u = ns(find(sp, "BM_spawn_join_urio"))
    p = ns(find(sp, "BM_spawn_join_pthread"))
    row("spawn+run+join: task vs pthread", f"{u:.0f} ns", f"{p / 1000:.1f} us",
        f"{p / u:.0f}x faster", ">= 200x", p / u >= 200)

    nop = bench(r, "nop")
    raw64 = rate(find(nop, "BM_nop_raw_batch64"))
    raw1 = rate(find(nop, "BM_nop_raw_single"))
    for label, key in (("1 worker", "BM_nop_urio_64tasks/workers:1"),
                       ("all workers", "BM_nop_urio_64tasks/workers:0")):
        u = rate(find(nop, key))
        row(f"urio_nop, 64 tasks, {label} vs raw liburing batch-64",
            f"{u / 1e6:.2f} M/s", f"{raw64 / 1e6:.2f} M/s",
            f"{u / raw64:.2f}x", ">= 0.7x", u / raw64 >= 0.7)
    u = rate(find(nop, "BM_nop_urio_64tasks/workers:0"))
    row("urio_nop, 64 tasks vs raw liburing one at a time",
        f"{u / 1e6:.2f} M/s", f"{raw1 / 1e6:.2f} M/s", f"{u / raw1:.1f}x",
        "faster", u > raw1)

    rr = bench(r, "randread")
    fio = fio_iops(r, "fio_direct.json")
    psync = fio_iops(r, "fio_psync.json")
    u = rate(find(rr, "BM_randread_direct_urio"))
    p = rate(find(rr, "BM_randread_direct_pread"))
    row("4 KiB random reads, O_DIRECT, 32 tasks vs fio io_uring iodepth 32",
        f"{u / 1e3:.1f} K IOPS", f"{fio / 1e3:.1f} K IOPS",
        f"{u / fio:.2f}x", ">= 0.9x", u / fio >= 0.9)
    row("4 KiB random reads, O_DIRECT, 32 tasks vs blocking pread loop",
        f"{u / 1e3:.1f} K IOPS", f"{p / 1e3:.1f} K IOPS", f"{u / p:.1f}x",
        "faster", u > p)
    u = rate(find(rr, "BM_randread_warm_urio"))
    p = rate(find(rr, "BM_randread_warm_pread"))
    row("4 KiB random reads, page cache warm, 32 tasks vs blocking pread loop",
        f"{u / 1e3:.0f} K IOPS", f"{p / 1e3:.0f} K IOPS", f"{u / p:.2f}x",
        ">= 1.0x", u / p >= 1.0)
    row("  (fio psync, warm, for reference)", "", f"{psync / 1e3:.0f} K IOPS",
        "", "", True)

    fo = bench(r, "fanout")
    one = rate(find(fo, "BM_fanout_1M/workers:1"))
    two = rate(find(fo, "BM_fanout_1M/workers:2"))
    row("fan-out of 1M tiny tasks: 2 workers vs 1", f"{two / 1e6:.2f} M/s",
        f"{one / 1e6:.2f} M/s", f"{two / one:.2f}x", ">= 1.8x",
        two / one >= 1.8)

    with open(os.path.join(r, "rss.json")) as f:
        rss = json.load(f)
    mib = rss["rss_kib"] / 1024
    row(f"RSS of {rss['tasks']} sleeping tasks, default stacks",
        f"{mib:.0f} MiB", "", f"{rss['rss_kib'] / rss['tasks']:.1f} KiB/task",
        "<= 1536 MiB", mib <= 1536)

    st = bench(r, "structured")
    d = ns(find(st, "BM_deadline_scope_urio"))
    t = ns(find(st, "BM_deadline_scope_posix_timer"))
    row("deadline scope enter+exit (not fired) vs timer_settime x2",
        f"{d:.1f} ns", f"{t:.0f} ns", f"{t / d:.0f}x faster", "< 50 ns",
        d < 50)
    c = ns(find(st, "BM_cancel_recv_urio"))
    t = ns(find(st, "BM_cancel_recv_thread"))
    row("cancel a task blocked in recv + join vs shutdown(2) + pthread_join",
        f"{c / 1000:.2f} us", f"{t / 1000:.1f} us", f"{t / c:.0f}x faster",
        "faster", c < t)
    g = ns(find(st, "BM_gather_10k_urio"))
    t = ns(find(st, "BM_gather_10k_pthreads"))
    row("gather of 10k tasks vs 10k pthreads created+joined",
        f"{g / 1e6:.1f} ms", f"{t / 1e6:.0f} ms", f"{t / g:.0f}x faster",
        "faster", g < t)

    print(f"# urio benchmark report\n")
    print(f"{platform.node()}: Linux {platform.release()}, "
          f"{os.cpu_count()} CPUs. Every ratio is from this one run.\n")
    print("| benchmark | urio | blocking / peer | ratio | target | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for x in rows:
        print("| " + " | ".join(x) + " |")


if __name__ == "__main__":
    main()
