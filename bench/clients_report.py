"""Markdown rows for tools/bench_clients.sh from the outputs of
bench/redis-load, bench/pg-load and bench/http-load (clients-*.txt in the
directory given): urio against the blocking client of the same library,
figures of one run each, with the issue's targets."""
import os
import re
import sys

NUM = r"([0-9.]+)"


def read(d, name):
    try:
        with open(os.path.join(d, f"clients-{name}.txt")) as f:
            return f.read()
    except OSError:
        return ""


def find(text, pattern):
    m = re.search(pattern, text, re.M)
    return [float(g) for g in m.groups()] if m else None


def ms(us):
    return f"{us / 1000:.3g} ms"


def rows(d):
    out = []

    def row(name, urio, blocking, ratio, target, met):
        mark = "" if met is None else (" (met)" if met else " (missed)")
        out.append(f"| {name} | {urio} | {blocking} | {ratio} | "
                   f"{target}{mark} |")

    def missing(name):
        out.append(f"| {name} | missing | missing | | |")

    r = read(d, "redis")
    rps = find(r, r"^requests/s, pool\s+" + NUM + r"\s+" + NUM)
    p99 = find(r, r"^p99 latency\s+" + NUM + r"us\s+" + NUM + "us")
    if rps and p99:
        ok = rps[0] >= 2 * rps[1] and p99[0] <= p99[1]
        row("Redis GET/SET, 1000 requesters: urio-redis pool of 16 vs hiredis "
            "blocking, a thread + connection per requester (req/s, p99)",
            f"{rps[0]:.0f}/s, {ms(p99[0])}", f"{rps[1]:.0f}/s, {ms(p99[1])}",
            f"{rps[0] / rps[1]:.2f}x, p99 {p99[0] / p99[1]:.2f}x",
            ">= 2x at <= p99", ok)
    else:
        missing("Redis, 1000 requesters")
    pipe = find(r, r"^pipeline \(ops/s\): batched vs one\s+" + NUM + r"\s+" +
                NUM)
    if pipe:
        row("Redis pipelining: batches of 100 vs one command at a time "
            "(commands/s)", f"{pipe[0]:.0f}/s", f"{pipe[1]:.0f}/s",
            f"{pipe[0] / pipe[1]:.1f}x", ">= 10x", pipe[0] >= 10 * pipe[1])
    else:
        missing("Redis pipelining")

    p = read(d, "pg")

    def pg(mode):
        return find(p, r"^" + mode + r"\s+requesters=\d+ conns=\d+\s+" + NUM +
                    r" req/s\s+p50\s+" + NUM + r" ms\s+p99\s+" + NUM + " ms")

    for um, bm, label, target in (
            ("urio-mux", "blk-conn", "urio-pg mux (16 pipelined connections) "
             "vs libpq blocking, a thread + connection per requester", True),
            ("urio-mux", "blk-pool", "(ref) urio-pg mux vs libpq blocking, "
             "1000 threads sharing 16 connections", False),
            ("urio-prep", "blk-conn", "(ref) urio-pg mux with its statement "
             "cache (prepared once per connection) vs the same blocking "
             "client (unnamed statements)", False),
            ("urio-pool", "blk-conn", "(ref) urio-pg pool of 16, a lease "
             "per query, vs libpq blocking, a thread + connection per "
             "requester", False)):
        u, b = pg(um), pg(bm)
        name = "PostgreSQL SELECT $1, 1000 requesters: " + label
        if not u or not b:
            missing(name)
            continue
        ok = u[0] >= 2 * b[0] and u[2] <= b[2]
        row(name + " (req/s, p99)", f"{u[0]:.0f}/s, {u[2]:.3g} ms",
            f"{b[0]:.0f}/s, {b[2]:.3g} ms",
            f"{u[0] / b[0]:.2f}x, p99 {u[2] / b[2]:.2f}x",
            ">= 2x at <= p99" if target else "", ok if target else None)

    h = read(d, "http")

    def http(mode):
        return find(h, r"^" + mode + r"\s+\d+\s+\d+\s+\d+\s+" + NUM + r"\s+" +
                    NUM + r"\s+" + NUM + r"\s+" + NUM)

    blk = ("blocking sockets + http-parser, a thread + keep-alive "
           "connection per requester")
    for um, bm, label, target in (
            ("urio-http-pipe", "blocking", "urio-http pipelined (pool of "
             "16, pipeline_depth 64) vs " + blk, True),
            ("urio-http", "blocking", "(ref) urio-http pool of 16 without "
             "pipelining, a lease per request, vs " + blk, False),
            ("urio-http", "blocking-pool", "(ref) urio-http pool of 16 vs "
             "blocking, 1000 threads sharing 16 connections", False)):
        u, b = http(um), http(bm)
        name = "HTTP GET to nginx, 1000 requesters: " + label
        if not u or not b:
            missing(name)
            continue
        ok = u[0] >= 2 * b[0] and u[2] <= b[2]
        row(name + " (req/s, p99; client CPU/req)",
            f"{u[0]:.0f}/s, {u[2]:.3g} ms; {u[3]:.3g} us",
            f"{b[0]:.0f}/s, {b[2]:.3g} ms; {b[3]:.3g} us",
            f"{u[0] / b[0]:.2f}x, p99 {u[2] / b[2]:.2f}x",
            ">= 2x at <= p99" if target else "", ok if target else None)
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "build-bench/results"
    print("| benchmark | urio | blocking | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    for line in rows(d):
        print(line)


if __name__ == "__main__":
    main()
