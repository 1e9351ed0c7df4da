"""The pipelined mode (behavior ``pipelined``, beyond pylibmc): many Python
threads share a few connections per server, and every value is still the
one its key was written with — checked by quickmc itself and by the real
pylibmc reading what quickmc wrote."""

from __future__ import annotations

import random
import threading
import zlib

import pytest

THREADS = 16
KEYS = [f"pipe:{i}" for i in range(600)]


def value_for(key: str):
    """The value ``key`` always holds: every pylibmc type, some compressed."""
    h = zlib.crc32(key.encode())
    kind = h % 6
    if kind == 0:
        return f"str {key} ✓"
    if kind == 1:
        return key.encode() * 3
    if kind == 2:
        return h
    if kind == 3:
        return (key, h, [1.5, None])
    if kind == 4:
        return f"{key} " * 400  # compressed (min_compress_len below)
    return h % 2 == 0  # bool, read back as 1 / 0


def read_back(key: str):
    value = value_for(key)
    return int(value) if isinstance(value, bool) else value


def connections(observer) -> int:
    """The server's total_connections, asked on the observer's one connection."""
    (_, stats), = observer.get_stats()
    return int(stats["total_connections"])


def run_threads(n, target, timeout=120):
    errors = []

    def wrapped(i):
        try:
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "threads did not finish in time"
    assert not errors, errors


def test_the_behavior_reads_back_and_switches_modes(quickmc, server):
    mc = quickmc.Client([server.address], binary=True)
    assert mc.behaviors["pipelined"] == 0
    mc = quickmc.Client([server.address], binary=True, behaviors={"pipelined": 2})
    assert mc.behaviors["pipelined"] == 2
    assert mc.set("mode", "pipelined") and mc.get("mode") == "pipelined"
    mc.behaviors = {"pipelined": 0}
    assert mc.behaviors["pipelined"] == 0 and mc.get("mode") == "pipelined"
    mc.behaviors = {"pipelined": 1}
    assert mc.clone().get("mode") == "pipelined"
    with pytest.raises(ValueError, match="pipelined"):
        quickmc.Client([server.address], behaviors={"pipelined": -1})
    with pytest.raises(TypeError):
        quickmc.Client([server.address], behaviors={"pipelined": "2"})


def test_pipeline_spin_reads_back_and_threads_that_never_spin_get_their_own_values(quickmc, server):
    assert quickmc.Client([server.address], binary=True).behaviors["pipeline_spin"] == 200
    mc = quickmc.Client([server.address], binary=True, behaviors={"pipelined": 2, "pipeline_spin": 0})
    assert mc.behaviors["pipeline_spin"] == 0

    def work(i):
        for n in range(200):
            key = f"nospin:{i}:{n % 20}"
            assert mc.set(key, f"{i}/{n}")
            assert mc.get(key) == f"{i}/{n}"

    run_threads(8, work)
    mc.behaviors = {"pipeline_spin": 50}
    assert mc.behaviors["pipeline_spin"] == 50 and mc.get("nospin:0:19") == "0/199"
    with pytest.raises(ValueError, match="pipeline_spin"):
        quickmc.Client([server.address], behaviors={"pipelined": 2, "pipeline_spin": -1})


def test_threads_share_few_connections_with_zero_mismatches(quickmc, pylibmc, start_memcached):
    server = start_memcached()
    observer = pylibmc.Client([server.address], binary=True)
    before = connections(observer)
    mc = quickmc.Client([server.address], binary=True, behaviors={"pipelined": 2})
    mismatches: list = []
    lock = threading.Lock()

    def check(key, got, op):
        if got is not None and got != read_back(key):
            with lock:
                mismatches.append((op, key, got))

    def work(i):
        rng = random.Random(i)
        # Every key written once first (each thread its share), so pylibmc
        # finds them all afterwards.
        for key in KEYS[i::THREADS]:
            assert mc.set(key, value_for(key), min_compress_len=1024)
        for n in range(300):
            key = rng.choice(KEYS)
            op = n % 6
            if op == 0:
                assert mc.set(key, value_for(key), min_compress_len=1024)
            elif op in (1, 2):
                check(key, mc.get(key), "get")
            elif op == 3:
                batch = rng.sample(KEYS, 20)
                got = mc.get_multi(batch)
                for k, v in got.items():
                    check(k, v, "get_multi")
            elif op == 4:
                batch = rng.sample(KEYS, 20)
                assert mc.set_multi({k: value_for(k) for k in batch}, min_compress_len=1024) == []
            else:
                check(key, mc.gets(key)[0], "gets")
        # A counter every thread increments: exact.
        for _ in range(25):
            mc.incr("pipe:counter")

    assert mc.set("pipe:counter", 0)
    run_threads(THREADS, work)
    assert mismatches == []
    assert mc.get("pipe:counter") == THREADS * 25
    # Sixteen threads, and quickmc opened at most the two shared connections.
    assert connections(observer) - before <= 2
    # The real pylibmc reads back every key as quickmc wrote it.
    assert observer.get_multi(KEYS) == {k: read_back(k) for k in KEYS}
    for key in KEYS[:60]:
        assert observer.get(key) == read_back(key), key
    assert observer.get("pipe:counter") == THREADS * 25


def test_pipelined_clones_and_pools_share_the_connections(quickmc, pylibmc, start_memcached):
    server = start_memcached()
    observer = pylibmc.Client([server.address], binary=True)
    before = connections(observer)
    mc = quickmc.Client([server.address], binary=True, behaviors={"pipelined": 1})
    pool = quickmc.ThreadMappedPool(mc)
    client_pool = quickmc.ClientPool(mc, 4)

    def work(i):
        for j in range(100):
            key = f"pool:{i}:{j % 10}"
            if i % 2:
                with pool.reserve() as c:
                    c.set(key, (i, j))
                    assert c.get(key) == (i, j)
            else:
                with client_pool.reserve(block=True) as c:
                    c.set(key, (i, j))
                    assert c.get(key) == (i, j)

    run_threads(8, work)
    assert connections(observer) - before <= 1


def test_a_down_server_fails_as_in_the_pooled_mode(quickmc, dead_address):
    def raised(op, client):
        try:
            op(client)
        except Exception as e:  # noqa: BLE001 - the class is compared
            return type(e).__name__
        return None

    pooled = quickmc.Client([dead_address], binary=True)
    shared = quickmc.Client([dead_address], binary=True, behaviors={"pipelined": 2})
    # The failed connect, then the server skipped until retry_timeout.
    ops = (lambda c: c.get("a"), lambda c: c.get("a"), lambda c: c.set("a", 1), lambda c: c.delete("a"),
           lambda c: c.get_multi(["a"]), lambda c: c.set_multi({"a": 1}), lambda c: c.get_stats())
    results = [raised(op, shared) for op in ops]
    assert results == [raised(op, pooled) for op in ops]
    assert results[0] == "ConnectionError" and results[1] == "ServerDown", results


DISCONNECT_UNDER_LOAD = r"""
import json, sys, threading, time
import quickmc
servers, pipelined = json.loads(sys.argv[1]), int(sys.argv[2])
behaviors = {"retry_timeout": 60, "pipelined": pipelined}
mc = quickmc.Client(servers, binary=True, behaviors=behaviors)
stop = threading.Event()
errors = []

def work(w):
    for i in range(100_000):
        if stop.is_set():
            return
        key = f"disconnect:{pipelined}:{w}:{i % 10}"
        try:
            mc.set(key, i)
            got = mc.get(key)
            if got != i:
                errors.append(f"mismatch {key}: {got!r} != {i!r}")
        except quickmc.Error as e:
            errors.append(type(e).__name__)

workers = [threading.Thread(target=work, args=(w,)) for w in range(5)]
for t in workers:
    t.start()
for _ in range(100):
    time.sleep(0.005)
    mc.disconnect_all()
stop.set()
for t in workers:
    t.join()
mc.set("disconnect:after", 1)
print(json.dumps(errors))
"""


@pytest.mark.parametrize("pipelined", [0, 1])
def test_disconnect_all_under_load_returns_and_never_marks_a_server_down(cluster, pipelined):
    """``disconnect_all`` while other threads keep working returns (it used
    to spin for ever, holding the GIL, on the connections the workers kept
    returning), a pooled call never fails, and on shared connections a call
    cut off is a ConnectionError, never ServerDown. Run in a child process:
    a hang there is killed by the timeout instead of hanging the suite."""
    import json
    import subprocess
    import sys

    servers = json.dumps([s.address for s in cluster[:2]])
    try:
        done = subprocess.run([sys.executable, "-c", DISCONNECT_UNDER_LOAD, servers, str(pipelined)],
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("disconnect_all under load hung")
    assert done.returncode == 0, done.stderr
    errors = json.loads(done.stdout)
    if pipelined == 0:
        assert errors == []
    assert set(errors) <= {"ConnectionError"}, errors
