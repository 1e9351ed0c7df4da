"""One Client shared by many threads; the GIL released during I/O; the
pylibmc pools working as written."""

from __future__ import annotations

import queue
import threading
import time

import pytest


def run_threads(n, target, timeout=60):
    errors = []

    def wrapped(i):
        try:
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "threads did not finish in time"
    assert not errors, errors


def test_one_client_shared_by_eight_threads(mc):
    def work(i):
        for j in range(300):
            key = f"t{i}:{j % 20}"
            assert mc.set(key, (i, j))
            assert mc.get(key) == (i, j)
            if j % 50 == 0:
                assert mc.set_multi({f"m{i}:{k}": k for k in range(20)}) == []
                assert mc.get_multi([f"m{i}:{k}" for k in range(20)]) == {f"m{i}:{k}": k for k in range(20)}
        mc.set(f"n{i}", 0)
        for _ in range(100):
            mc.incr(f"n{i}")
        assert mc.get(f"n{i}") == 100

    run_threads(8, work)


def test_shared_counter_is_exact(mc):
    mc.set("shared", 0)
    run_threads(8, lambda i: [mc.incr("shared") for _ in range(250)])
    assert mc.get("shared") == 2000


class Silent:
    def __init__(self):
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]


def test_the_gil_is_released_during_io(quickmc):
    """A thread waiting on a server that never answers does not stop the
    others from running Python code."""
    silent = Silent()
    try:
        mc = quickmc.Client([silent.address], behaviors={"receive_timeout": 1_500_000})
        done = threading.Event()

        def blocked():
            try:
                mc.get("k")
            except quickmc.Timeout:
                pass
            done.set()

        t = threading.Thread(target=blocked)
        t.start()
        time.sleep(0.1)
        counted = 0
        start = time.monotonic()
        while not done.is_set() and time.monotonic() - start < 5:
            counted += 1
        t.join(timeout=5)
        assert done.is_set()
        assert counted > 100_000, counted  # the main thread ran meanwhile
    finally:
        silent.sock.close()


def test_client_pool_as_in_pylibmc(quickmc, pylibmc, server):
    for module in (quickmc, pylibmc):
        mc = module.Client([server.address], binary=True)
        pool = module.ClientPool()
        pool.fill(mc, 2)
        with pool.reserve() as a:
            assert a.set("hi", "ho")
            with pool.reserve() as b:
                assert b.get("hi") == "ho"
                with pytest.raises(queue.Empty):
                    with pool.reserve():
                        pass
        pool2 = module.ClientPool(mc, 4)
        assert pool2.qsize() == 4

        def work(i):
            for _ in range(50):
                with pool2.reserve(block=True) as c:
                    c.set(f"p{i}", i)
                    assert c.get(f"p{i}") == i

        run_threads(8, work)


def test_thread_mapped_pool_as_in_pylibmc(quickmc, server):
    mc = quickmc.Client([server.address], binary=True)
    pool = quickmc.ThreadMappedPool(mc)
    seen = []

    def work(i):
        with pool.reserve() as c:
            c.set(f"tm{i}", i)
            seen.append(id(c))
        with pool.reserve() as c:
            assert c.get(f"tm{i}") == i
        assert pool.relinquish() is not None
        assert pool.relinquish() is None

    run_threads(8, work)
    assert len(pool) == 0 and len(seen) == 8
