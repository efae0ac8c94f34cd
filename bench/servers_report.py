#!/usr/bin/env python3
"""Turns tools/bench_servers.sh's points (TSV) into the markdown report:
each point's median over the rounds, then each target as a ratio from the
same run; the medians also go to MEDIANS.tsv for the plot.

usage: servers_report.py POINTS.tsv OUT.md NOTE MEDIANS.tsv"""
import csv
import statistics
import sys

FIELDS = ("rps", "p50_us", "p99_us", "cpu_us")


def load(path):
    runs = {}
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            key = (r["group"], r["server"], int(r["conns"]))
            runs.setdefault(key, []).append({k: float(r[k] or -1) for k in FIELDS})
    return {key: {k: statistics.median(x[k] for x in rs) for k in FIELDS}
            for key, rs in runs.items()}


def write_medians(pts, path):
    with open(path, "w") as f:
        f.write("group\tserver\tconns\t" + "\t".join(FIELDS) + "\n")
        for (g, s, c), p in sorted(pts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
            f.write(f"{g}\t{s}\t{c}\t" + "\t".join(f"{p[k]:.3f}" for k in FIELDS) + "\n")


def fmt_rate(v):
    return f"{v / 1e3:.1f}K" if v >= 1e3 else f"{v:.0f}"


def main():
    pts = load(sys.argv[1])
    note = sys.argv[3] if len(sys.argv) > 3 else ""
    out = [f"Servers under load ({note}).", "",
           "| shape | server | connections | requests/s | p50 | p99 | server CPU per request |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    shapes = {"echo": "echo 64 B ping-pong", "stream": "echo 64 B pipelined, depth 16",
              "rate": "echo 64 B ping-pong at 5000 requests/s",
              "http": "HTTP fixed 200 (wrk -t1)",
              "http-rate": "HTTP fixed 200 at 5000 requests/s (urio-load)"}
    shown = [kv for kv in pts.items() if kv[0][0] in shapes]  # "wrk": the load's CPU
    for (g, s, c), p in sorted(shown, key=lambda kv: (list(shapes).index(kv[0][0]), kv[0][2], kv[0][1])):
        if p["rps"] <= 0:  # the load generator got no answer at all
            out.append(f"| {shapes[g]} | {s} | {c} | 0 | — | — | — |")
            continue
        out.append(f"| {shapes[g]} | {s} | {c} | {fmt_rate(p['rps'])} | {p['p50_us']:.0f} µs | "
                   f"{p['p99_us']:.0f} µs | {p['cpu_us']:.2f} µs |")

    out += ["", "| target | urio | peer | ratio | target | met? |", "| --- | --- | --- | --- | --- | --- |"]
    conns = sorted({c for (_, _, c) in pts})

    def row(name, a, b, ratio, target, ok, ref=False):
        met = "—" if ref else ("yes" if ok else "**no**")
        out.append(f"| {'(ref) ' if ref else ''}{name} | {a} | {b} | {ratio:.2f}x | {target} | {met} |")

    def cpu_row(name, ga, sa, gb, sb, c, limit, ref=False):
        a, b = pts.get((ga, sa, c)), pts.get((gb, sb, c))
        if a and b and a["cpu_us"] > 0 and b["cpu_us"] > 0:
            r = a["cpu_us"] / b["cpu_us"]
            row(f"{name}, {c} conns: CPU per request", f"{a['cpu_us']:.2f} µs",
                f"{b['cpu_us']:.2f} µs ({sb})", r, f"<= {limit}x" if not ref else "",
                r <= limit, ref)

    def rps_row(name, ga, sa, gb, sb, c, limit, ref=False):
        a, b = pts.get((ga, sa, c)), pts.get((gb, sb, c))
        if a and b and b["rps"] > 0:
            r = a["rps"] / b["rps"]
            row(f"{name}, {c} conns: requests/s", fmt_rate(a["rps"]),
                f"{fmt_rate(b['rps'])} ({sb})", r, f">= {limit}x" if not ref else "",
                r >= limit, ref)

    for c in conns:
        cpu_row("urio-echo vs raw liburing", "echo", "urio-echo", "echo", "echo-uring", c, 1.1)
        cpu_row("urio-echo vs epoll", "echo", "urio-echo", "echo", "echo-epoll", c, 1.0)
        cpu_row("urio-echo vs libuv", "echo", "urio-echo", "echo", "echo-uv", c, 1.0)
    if 1000 in conns:
        rps_row("urio-echo vs thread per connection", "echo", "urio-echo", "echo", "echo-threads", 1000, 1.5)
    for c in conns:
        rps_row("urio-httpd vs nginx", "http", "urio-httpd", "http", "nginx", c, 1.0)
        cpu_row("urio-httpd vs nginx", "http", "urio-httpd", "http", "nginx", c, 1.0)
    for c in conns:
        cpu_row("wrk's own CPU: against urio-httpd vs nginx", "wrk", "urio-httpd",
                "wrk", "nginx", c, 1.0, ref=True)
    for c in conns:
        rps_row("urio-httpd vs http-threads", "http", "urio-httpd", "http", "http-threads", c, 1.0, ref=True)
    for c in conns:
        cpu_row("urio-echo vs raw liburing with a plain recv per message", "echo", "urio-echo",
                "echo", "echo-uring-1shot", c, 1.1, ref=True)
    for peer in ("echo-uring", "echo-uring-1shot", "echo-epoll", "echo-uv", "echo-threads"):
        cpu_row("pipelined echo: urio-echo vs " + peer, "stream", "urio-echo", "stream", peer, 100, 1.1, ref=True)
    cpu_row("fixed 5000 requests/s: urio-echo vs raw liburing", "rate", "urio-echo", "rate",
            "echo-uring", 100, 1.1, ref=True)
    cpu_row("fixed 5000 requests/s: urio-echo vs epoll", "rate", "urio-echo", "rate",
            "echo-epoll", 100, 1.0, ref=True)
    cpu_row("fixed 5000 requests/s: urio-echo vs libuv", "rate", "urio-echo", "rate",
            "echo-uv", 100, 1.0, ref=True)
    cpu_row("fixed 5000 requests/s: urio-httpd vs nginx", "http-rate", "urio-httpd", "http-rate",
            "nginx", 100, 1.0, ref=True)
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")
    if len(sys.argv) > 4:
        write_medians(pts, sys.argv[4])


if __name__ == "__main__":
    main()
