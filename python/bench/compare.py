"""quickmc against pylibmc in one run, side by side.

Starts one memcached on a free 127.0.0.1 port, then times each workload
for both clients in alternation (20 short chunks each per round, so load
from elsewhere on the machine hits both alike), three rounds, and prints
the medians of the rounds:
get, set, get_multi of 100 keys and set_multi of 100 keys from one thread;
then 8 threads doing gets — one quickmc Client shared by all of them
(pooled, and in the pipelined mode: 2 connections per server shared by
every thread) against pylibmc's ThreadMappedPool (a clone per thread, as
pylibmc users must). Both clients use the binary protocol.

    pip install ./python            # a release build
    python python/bench/compare.py  # from a venv that also sees pylibmc
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

import pylibmc
import quickmc


def start_memcached() -> tuple[subprocess.Popen, str]:
    binary = shutil.which("memcached")
    if binary is None:
        sys.exit("memcached not found: apt-get install memcached")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "256", "-t", "4", "-c", "1024"]
    if os.geteuid() == 0:
        args[1:1] = ["-u", "root"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.01)
    proc.kill()
    sys.exit("memcached did not start")


VALUE = b"v" * 100
CHUNKS = 20
KEYS = [f"bench:{i}" for i in range(100)]
MAPPING = {k: VALUE for k in KEYS}


def cpu_seconds() -> float:
    """This process's CPU time (user + system), every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def single_thread(client, op: str, n: int) -> float:
    """Operations per second of `op` repeated n times."""
    if op == "get":
        f, args = client.get, ("bench:0",)
    elif op == "set":
        f, args = client.set, ("bench:0", VALUE)
    elif op == "get_multi 100":
        f, args = client.get_multi, (KEYS,)
    else:
        f, args = client.set_multi, (MAPPING,)
    start = time.perf_counter()
    for _ in range(n):
        f(*args)
    return n / (time.perf_counter() - start)


def threaded_gets(get_client, threads: int, seconds: float) -> float:
    """Total gets per second of `threads` threads for `seconds`."""
    counts = [0] * threads
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()

    def work(i):
        with get_client() as mc:
            barrier.wait()
            n = 0
            get = mc.get
            while not stop.is_set():
                for _ in range(100):
                    get("bench:0")
                n += 100
            counts[i] = n

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join(timeout=30)
    return sum(counts) / (time.perf_counter() - start)


class Shared:
    """One client for every thread (quickmc)."""

    def __init__(self, mc):
        self.mc = mc

    def __call__(self):
        return self

    def __enter__(self):
        return self.mc

    def __exit__(self, *exc):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="single-key operations per measurement")
    parser.add_argument("--n-multi", type=int, default=2000, help="multi-key operations per measurement")
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of a threaded measurement")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    proc, address = start_memcached()
    try:
        clients = {
            "pylibmc": pylibmc.Client([address], binary=True),
            "quickmc": quickmc.Client([address], binary=True),
        }
        clients["quickmc"].set_multi(MAPPING)
        # The pipelined mode: threads share 2 connections per server.
        pipelined = quickmc.Client([address], binary=True, behaviors={"pipelined": 2})
        results: dict[tuple[str, str], list[float]] = {}
        cpu_per_op: dict[tuple[str, str], list[float]] = {}
        ops = ["get", "set", "get_multi 100", "set_multi 100"]
        for name, client in clients.items():  # warm up connections
            single_thread(client, "get", 500)
        for _round in range(3):
            for op in ops:
                # Alternate in short chunks so that a change in the machine's
                # load during a round hits both clients alike.
                n = args.n if "multi" not in op else args.n_multi
                chunk = max(1, n // CHUNKS)
                elapsed = {name: 0.0 for name in clients}
                cpu = {name: 0.0 for name in clients}
                for turn in range(CHUNKS):
                    # Each goes first in half the chunks: switching clients
                    # costs whichever runs right after the switch.
                    order = list(clients.items())
                    for name, client in order if turn % 2 == 0 else reversed(order):
                        before = cpu_seconds()
                        elapsed[name] += chunk / single_thread(client, op, chunk)
                        cpu[name] += cpu_seconds() - before
                for name in clients:
                    results.setdefault((op, name), []).append(chunk * CHUNKS / elapsed[name])
                    cpu_per_op.setdefault((op, name), []).append(cpu[name] / (chunk * CHUNKS) * 1e6)
            # pylibmc: a clone per thread from its ThreadMappedPool;
            # quickmc: one Client shared by every thread.
            reserve = {
                "pylibmc": pylibmc.ThreadMappedPool(clients["pylibmc"]).reserve,
                "quickmc": Shared(clients["quickmc"]),
                "quickmc pipelined": Shared(pipelined),
            }
            rates: dict[str, list[float]] = {name: [] for name in reserve}
            for turn in range(4):
                order = list(reserve.items())
                for name, get_client in order if turn % 2 == 0 else reversed(order):
                    rates[name].append(threaded_gets(get_client, args.threads, args.seconds / 4))
            for name in reserve:
                results.setdefault((f"get, {args.threads} threads", name), []).append(statistics.mean(rates[name]))

        print(f"memcached {address}; {os.cpu_count()} cores; python {sys.version.split()[0]}; "
              f"pylibmc {pylibmc.__version__}, quickmc {quickmc.__version__}; medians of 3 rounds")
        print(f"{'workload':<22} {'pylibmc ops/s':>14} {'quickmc ops/s':>14} {'quickmc/pylibmc':>16}"
              f" {'CPU µs/op pylibmc':>18} {'quickmc':>8}")
        for op in ops + [f"get, {args.threads} threads"]:
            theirs = statistics.median(results[(op, "pylibmc")])
            ours = statistics.median(results[(op, "quickmc")])
            line = f"{op:<22} {theirs:>14,.0f} {ours:>14,.0f} {ours / theirs:>15.2f}x"
            if (op, "pylibmc") in cpu_per_op:
                line += (f" {statistics.median(cpu_per_op[(op, 'pylibmc')]):>18.1f}"
                         f" {statistics.median(cpu_per_op[(op, 'quickmc')]):>8.1f}")
            print(line)
        op = f"get, {args.threads} threads"
        theirs = statistics.median(results[(op, "pylibmc")])
        ours = statistics.median(results[(op, "quickmc pipelined")])
        print(f"{op + ', pipelined':<22} {theirs:>14,.0f} {ours:>14,.0f} {ours / theirs:>15.2f}x")
        load = os.getloadavg()[0]
        print(f"load average during the run: {load:.1f} (other work on the machine skews ops/s; "
              "CPU µs/op, this process's user+system time per operation, much less)")
    finally:
        proc.terminate()
        proc.wait(timeout=5)


if __name__ == "__main__":
    main()
