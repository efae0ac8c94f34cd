"""Rows of the benchmark report for sync/, pools, streams and urio-grep.
report.py calls add_rows with its table, its loader and itself (h: pick,
si, x, dur, Missing), so a missing input makes a row say so as its own do.
Each row compares figures of one run."""


def add_rows(t, bench, results_dir, h):
    pick, si, x, dur = h.pick, h.si, h.x, h.dur

    def ns(prog, name):
        return pick(bench(prog), name, "real_time_ns")

    # --- sync/ -------------------------------------------------------------
    def uncontended(name):
        def row():
            u = ns("sync", name)
            p = ns("sync", "BM_uncontended_pthread_mutex")
            return dur(u), dur(p), f"{x(u / p)} the time", "<= 1.0x", u <= p
        return row

    def handoff():
        d = bench("sync")
        u = pick(d, "BM_mutex_handoff_urio/workers:2", "handoffs")
        p = pick(d, "BM_mutex_handoff_pthread", "handoffs")
        return (si(u, "hand-offs/s"), si(p, "hand-offs/s"),
                f"{u / p:.3g}x faster", ">= 20x", u / p >= 20)

    def handoff_one():
        d = bench("sync")
        u = pick(d, "BM_mutex_handoff_urio/workers:1", "handoffs")
        p = pick(d, "BM_mutex_handoff_pthread", "handoffs")
        return (si(u, "hand-offs/s"), si(p, "hand-offs/s"),
                f"{u / p:.3g}x faster", "", None)

    def pingpong():
        u = ns("sync", "BM_pingpong_chan_urio")
        p = ns("sync", "BM_pingpong_condvar_threads")
        return dur(u), dur(p), f"{p / u:.3g}x faster", ">= 20x", p / u >= 20

    t.add("semaphore acquire+release, uncontended, vs pthread mutex "
          "lock+unlock", uncontended("BM_uncontended_sem_urio"))
    t.add("urio mutex lock+unlock, uncontended, vs pthread mutex",
          uncontended("BM_uncontended_mutex_urio"))
    t.add("contended mutex hand-off between 2 tasks on 2 workers vs pthread "
          "mutex between 2 threads", handoff)
    t.add("channel ping-pong round trip between 2 tasks vs mutex+condvar "
          "queues between 2 threads", pingpong)
    t.add("(ref) mutex hand-off with both tasks on 1 worker (no OS thread to "
          "schedule) vs pthread mutex between 2 threads", handoff_one)

    # --- pools -------------------------------------------------------------
    def pool(peer, target):
        def row():
            d = bench("pool")
            u = pick(d, "BM_pool_16_conns", "requests")
            p = pick(d, peer, "requests")
            return (si(u, "req/s"), si(p, "req/s"), f"{u / p:.3g}x",
                    f">= {target}x", u / p >= target)
        return row

    def handshake():
        c = ns("pool", "BM_connect_only")
        r = ns("pool", "BM_connect_per_request")
        return dur(c), dur(r), f"{c / r:.0%} of a request's time", "", None

    t.add("10k echo requests: pool of 16 TCP connections vs connect per "
          "request", pool("BM_connect_per_request", 2))
    t.add("10k echo requests: pool of 16 TCP connections vs blocking thread "
          "per request", pool("BM_blocking_thread_per_request", 3))
    t.add("(ref) the TCP handshake: connect+close alone vs connect+request+"
          "close (10k each)", handshake)

    # --- streams -----------------------------------------------------------
    def gbs(name):
        return pick(bench("stream"), name, "bytes_per_second")

    def lines(peer, target):
        def row():
            u, p = gbs("BM_lines_urio"), gbs(peer)
            return (si(u, "B/s"), si(p, "B/s"), x(u / p), f">= {target}x",
                    u / p >= target)
        return row

    def lines_ref():
        u, p = gbs("BM_lines_urio"), gbs("BM_lines_read_memchr")
        return si(u, "B/s"), si(p, "B/s"), x(u / p), "", None

    def gen(peer, target):
        def row():
            u = ns("stream", "BM_handoff_gen")
            p = ns("stream", peer)
            if target is None:
                return dur(u), dur(p), f"{x(u / p)} the time", "", None
            return (dur(u), dur(p), f"{x(u / p)} the time",
                    f"<= {target}x", u / p <= target)
        return row

    t.add("line iteration over a 1 GiB log, page cache warm (1 worker) vs "
          "blocking getline loop", lines("BM_lines_getline", 2))
    t.add("line iteration over a 1 GiB log, page cache warm (1 worker) vs "
          "wc -l", lines("BM_lines_wc_l", 0.6))
    t.add("(ref) line iteration vs read(2) of the same chunks + the same "
          "memchr split (1 thread)", lines_ref)
    t.add("generator hand-off (next+yield) vs one urio_yield round between "
          "two tasks", gen("BM_handoff_yield", 2))
    t.add("(ref) generator hand-off vs a channel of one item",
          gen("BM_handoff_chan", None))
