"""Every behavior pylibmc lists: accepted, read back as pylibmc reads it
back, and (for those quickmc honours) in effect."""

from __future__ import annotations

import pickle
import socket
import threading
import time

import pytest

# A value pylibmc accepts for each behavior (side-effect-free ones).
SAMPLES = {
    "no_block": True, "tcp_nodelay": True, "tcp_keepalive": True, "cas": True, "buffer_requests": True,
    "connect_timeout": 1234, "send_timeout": 50000, "receive_timeout": 60000, "num_replicas": 2,
    "auto_eject": True, "retry_timeout": 9, "remove_failed": 3, "failure_limit": 3,
    "_io_msg_watermark": 10, "_io_bytes_watermark": 11, "_io_key_prefetch": 12, "_hash_with_prefix_key": 1,
    "_noreply": 1, "_sort_hosts": 1, "_poll_timeout": 100, "_socket_send_size": 4096,
    "_socket_recv_size": 8192, "dead_timeout": 7, "pickle_protocol": 2, "hash": "md5", "ketama_hash": "crc",
    "ketama": True, "ketama_weighted": True, "distribution": "consistent",
}


OS_REPORTED = {"tcp_nodelay", "_socket_send_size", "_socket_recv_size"}


def comparable(behaviors, name):
    return {k: v for k, v in behaviors.items() if k not in OS_REPORTED or k == name}


def test_every_pylibmc_behavior_is_reported(quickmc, pylibmc, server):
    ours = quickmc.Client([server.address], binary=True).behaviors
    theirs = pylibmc.Client([server.address], binary=True).behaviors
    assert set(theirs) <= set(ours)
    assert set(ours) - set(theirs) == {"compression", "max_connections", "pipelined", "pipeline_spin"}
    for name, value in theirs.items():
        # quickmc turns TCP_NODELAY on by default; libmemcached reports the
        # OS's socket buffer sizes when unset (it connects to ask), quickmc 0.
        if name not in OS_REPORTED:
            assert ours[name] == value, name
    assert ours["tcp_nodelay"] == 1


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_behavior_reads_back_as_pylibmc(quickmc, pylibmc, server, name):
    ours = quickmc.Client([server.address], binary=True, behaviors={name: SAMPLES[name]})
    theirs = pylibmc.Client([server.address], binary=True, behaviors={name: SAMPLES[name]})
    assert comparable(ours.behaviors, name) == {
        **comparable(theirs.behaviors, name), "compression": "zlib", "max_connections": 16, "pipelined": 0,
        "pipeline_spin": 200}
    ours.get("x")  # still works


def test_behaviors_dict_assignment_and_update(mc):
    mc.behaviors = {"hash": "md5"}
    assert mc.behaviors["hash"] == "md5"
    behaviors = mc.behaviors
    behaviors["hash"] = "crc"
    assert mc.behaviors["hash"] == "crc"
    mc.behaviors.update({"distribution": "consistent ketama"})
    assert mc.get_behaviors()["distribution"] == "consistent ketama"
    assert mc.set_behaviors({"_retry_timeout": 4}) is None
    assert mc.behaviors["retry_timeout"] == 4
    assert type(mc.behaviors).__mro__[1] is dict
    with pytest.raises(AttributeError):
        mc.behaviours


def test_bad_behaviors_like_pylibmc(mc, real):
    for client in (mc, real):
        with pytest.raises(ValueError, match="unknown behavior names: bogus"):
            client.behaviors = {"bogus": 1}
        with pytest.raises(TypeError, match="must be int"):
            client.behaviors = {"connect_timeout": "x"}
        with pytest.raises(KeyError):
            client.behaviors = {"hash": "bogus"}


NUMERIC = [
    "connect_timeout", "send_timeout", "receive_timeout", "_poll_timeout", "retry_timeout", "dead_timeout",
    "failure_limit", "num_replicas", "pickle_protocol", "_io_msg_watermark", "_io_bytes_watermark",
    "_io_key_prefetch", "_socket_send_size", "_socket_recv_size", "ketama_hash",
]


@pytest.mark.parametrize("value", [-1, -2, 2**31, 2**32 + 5, 2**63, -(2**31) - 1, 2**64], ids=repr)
def test_out_of_range_numbers_read_back_wrapped_as_pylibmc(quickmc, pylibmc, value):
    # libmemcached keeps these in 32-bit fields; pylibmc reads a C long first.
    for name in NUMERIC:
        ours = quickmc.Client(["127.0.0.1:1"], binary=True, behaviors={name: value}).behaviors
        theirs = pylibmc.Client(["127.0.0.1:1"], binary=True, behaviors={name: value}).behaviors
        assert ours[name] == theirs[name], name


@pytest.mark.parametrize("behaviors", [
    {"hash": 1}, {"hash": None}, {"distribution": 1}, {"distribution": None}, {"ketama_hash": "bogus"},
    {"ketama_hash": None}, {"ketama_hash": 1.5},
], ids=repr)
def test_hash_and_distribution_take_names_only_as_pylibmc(quickmc, pylibmc, behaviors):
    with pytest.raises((KeyError, TypeError)) as theirs:
        pylibmc.Client(["127.0.0.1:1"], binary=True, behaviors=behaviors)
    with pytest.raises(theirs.type) as ours:
        quickmc.Client(["127.0.0.1:1"], binary=True, behaviors=behaviors)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("steps", [
    [{"ketama_weighted": 1}, {"ketama": 0}], [{"ketama_weighted": 1, "distribution": "modula"}],
    [{"ketama": 1}, {"ketama": 0}], [{"ketama_weighted": 1}, {"distribution": "consistent weighted"}],
], ids=repr)
def test_ketama_weighted_reads_back_as_pylibmc_after_leaving_the_continuum(quickmc, pylibmc, steps):
    servers = ["127.0.0.1:1", "127.0.0.1:2:3"]
    ours, theirs = quickmc.Client(servers, binary=True), pylibmc.Client(servers, binary=True)
    for step in steps:
        ours.behaviors, theirs.behaviors = step, step
    assert ours.behaviors["ketama_weighted"] == theirs.behaviors["ketama_weighted"]
    assert ours.behaviors["distribution"] == theirs.behaviors["distribution"]


def test_negative_timeouts_are_accepted_and_the_client_works(quickmc, server):
    mc = quickmc.Client([server.address], binary=True, behaviors={
        "_poll_timeout": -1, "connect_timeout": -1, "receive_timeout": -1, "retry_timeout": -1})
    mc.set("neg:k", b"v")
    assert mc.get("neg:k") == b"v"


def test_a_negative_poll_timeout_waits_for_ever(quickmc, silent):
    # libmemcached's poll(-1): the get below is still waiting when a 300 ms
    # timeout would long have failed, and ends when the server goes away.
    mc = quickmc.Client([silent.address], behaviors={"_poll_timeout": -1})
    outcome = []

    def get():
        try:
            outcome.append(mc.get("k"))
        except quickmc.Error as e:
            outcome.append(e)

    waiter = threading.Thread(target=get, daemon=True)
    waiter.start()
    waiter.join(0.8)
    assert waiter.is_alive() and not outcome
    silent.close()
    waiter.join(10)
    assert not waiter.is_alive() and isinstance(outcome[0], quickmc.Error)


def test_a_negative_retry_timeout_tries_a_failed_server_again_at_once(quickmc, dead_address):
    retrying = quickmc.Client([dead_address], behaviors={"retry_timeout": -1})
    waiting = quickmc.Client([dead_address], behaviors={"retry_timeout": 60})
    for mc in (retrying, waiting):
        with pytest.raises(quickmc.ConnectionError):
            mc.get("k")
    with pytest.raises(quickmc.ConnectionError) as again:
        retrying.get("k")
    assert type(again.value) is quickmc.ConnectionError
    with pytest.raises(quickmc.ServerDown):
        waiting.get("k")


def test_a_negative_receive_timeout_leaves_the_poll_timeout_in_charge(quickmc, silent):
    mc = quickmc.Client([silent.address], behaviors={"receive_timeout": -1, "_poll_timeout": 300})
    start = time.monotonic()
    with pytest.raises(quickmc.Timeout):
        mc.get("k")
    assert 0.2 < time.monotonic() - start < 3


def test_namespace_is_refused(quickmc, server):
    with pytest.raises(quickmc.NotSupportedError):
        quickmc.Client([server.address], behaviors={"namespace": "ns:"})


def test_pickle_protocol(quickmc, pylibmc, server):
    for protocol in (0, 2, -1, True):
        ours = quickmc.Client([server.address], behaviors={"pickle_protocol": protocol})
        theirs = pylibmc.Client([server.address], behaviors={"pickle_protocol": protocol})
        assert ours.serialize({"a": 1}) == theirs.serialize({"a": 1})
        assert ours.serialize({"a": 1})[0] == pickle.dumps({"a": 1}, int(protocol))
    too_high = quickmc.Client([server.address], behaviors={"pickle_protocol": 99})
    with pytest.raises(ValueError):
        too_high.set("k", {"a": 1})


def test_verify_keys_refuses_keys_as_pylibmc_writes_false_reads_raise(quickmc, pylibmc, server):
    """libmemcached's verify_key takes printable ASCII only. pylibmc then
    returns False from a write (a write batch lists the key as not stored
    and stores the others) and raises BadKeyProvided from a read."""
    outcomes = []
    for module in (quickmc, pylibmc):
        mc = module.Client([server.address], behaviors={"verify_keys": True})
        mc.set("vk:ok", 1)
        seen = []
        for call in (lambda: mc.set("vk:a b", 1), lambda: mc.add("vk:a b", 1), lambda: mc.replace("vk:ok\x7f", 1),
                     lambda: mc.append("vk:a\tb", "x"), lambda: mc.prepend("vk:a b", "x"), lambda: mc.delete("vk:a b"),
                     lambda: mc.touch("vk:a b", 10), lambda: mc.set("vk:ké", 1),
                     lambda: mc.set_multi({"vk:s1": 1, "vk:s b": 2, "vk:s3": 3}),
                     lambda: mc.add_multi({"vk:a1": 1, "vk:a é": 2}),
                     lambda: mc.delete_multi(["vk:s1", "vk:x y"]), lambda: mc.get_multi(["vk:s3"]),
                     lambda: mc.get("vk:a b"), lambda: mc.get("vk:ké"), lambda: mc.get_multi(["vk:ok", "vk:a b"])):
            try:
                seen.append(call())
            except Exception as e:  # noqa: BLE001 - the class is what is compared
                seen.append(type(e).__name__)
        outcomes.append(seen)
        mc.delete_multi(["vk:ok", "vk:s3", "vk:a1"])
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:8] == [False] * 8
    assert outcomes[0][8:12] == [["vk:s b"], ["vk:a é"], False, {"vk:s3": 3}]
    assert outcomes[0][12:] == ["BadKeyProvided"] * 3
    loose = quickmc.Client([server.address])
    assert loose.set("a b", 1) and loose.get("a b") == 1


def test_cas_behavior_is_accepted_and_gets_always_works(quickmc, server):
    for cas in (False, True):
        mc = quickmc.Client([server.address], behaviors={"cas": cas})
        mc.set("c", 1)
        value, cas_id = mc.gets("c")
        assert value == 1 and mc.cas("c", 2, cas_id)


def test_compression_behavior(quickmc, server):
    with pytest.raises(ValueError):
        quickmc.Client([server.address], behaviors={"compression": "lz4"})
    mc = quickmc.Client([server.address], behaviors={"compression": "zstd"})
    assert mc.set("z", "x" * 5000, min_compress_len=1, compress_level=22)
    assert mc.get("z") == "x" * 5000


def test_max_connections_bounds_the_pool(quickmc, server):
    mc = quickmc.Client([server.address], behaviors={"max_connections": 1})
    errors = []

    def work():
        try:
            for i in range(50):
                mc.set(f"k{i}", i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    with pytest.raises(ValueError):
        quickmc.Client([server.address], behaviors={"max_connections": 0})


class SilentServer:
    """Accepts connections on loopback and never answers (bounded lifetime)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = []
        self.sock.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent():
    s = SilentServer()
    yield s
    s.close()


@pytest.mark.parametrize("behaviors", [{"receive_timeout": 300_000}, {"_poll_timeout": 300}], ids=repr)
def test_io_timeouts_are_honoured(quickmc, silent, behaviors):
    mc = quickmc.Client([silent.address], behaviors=behaviors)
    start = time.monotonic()
    with pytest.raises(quickmc.Timeout):
        mc.get("k")
    assert 0.2 < time.monotonic() - start < 3


def test_get_multi_answers_what_arrived_when_servers_time_out_as_pylibmc(quickmc, pylibmc, silent, server):
    behaviors = {"_poll_timeout": 300}
    for module in (quickmc, pylibmc):
        mc = module.Client([silent.address], binary=True, behaviors=behaviors)
        assert mc.get_multi(["a", "b"]) == {}, module.__name__
        with pytest.raises(module.Error):
            mc.get("a")
        with pytest.raises(module.Error):
            mc.set_multi({"a": 1})
    both = quickmc.Client([server.address, silent.address], binary=True, behaviors=behaviors)
    keys = [f"tm:{i}" for i in range(20)]
    live = [k for k in keys if both.hash(k) == 0]
    quickmc.Client([server.address]).set_multi({k: k for k in live})
    assert both.get_multi(keys) == {k: k for k in live}


def test_retry_timeout_then_server_down(quickmc, dead_address):
    mc = quickmc.Client([dead_address], behaviors={"retry_timeout": 1})
    with pytest.raises(quickmc.ConnectionError):
        mc.get("k")
    with pytest.raises(quickmc.ServerDown):
        mc.get("k")
    time.sleep(1.2)
    with pytest.raises(quickmc.ConnectionError):
        mc.get("k")  # retried after retry_timeout


@pytest.mark.parametrize("eject", ["remove_failed", "auto_eject"])
def test_remove_failed_ejects_a_dead_server_from_ketama(quickmc, start_memcached, dead_address, eject):
    alive = start_memcached()
    mc = quickmc.Client([alive.address, dead_address],
                        behaviors={"ketama": True, eject: 1, "failure_limit": 2, "retry_timeout": 0,
                                   "dead_timeout": 30})
    keys = [f"k{i}" for i in range(40)]
    dead_keys = [k for k in keys if mc.hash(k) == 1]
    assert dead_keys
    for _ in range(5):
        try:
            mc.set(dead_keys[0], 1)
        except quickmc.Error:
            pass
    assert all(mc.hash(k) == 0 for k in keys)
    assert mc.set(dead_keys[0], 1) and mc.get(dead_keys[0]) == 1


def test_an_ejected_server_comes_back_after_dead_timeout(quickmc, start_memcached):
    a, b = start_memcached(), start_memcached()
    mc = quickmc.Client([a.address, b.address],
                        behaviors={"ketama": True, "remove_failed": 1, "failure_limit": 1, "retry_timeout": 0,
                                   "dead_timeout": 1})
    key = next(f"k{i}" for i in range(100) if mc.hash(f"k{i}") == 1)
    b.stop()
    for _ in range(3):
        try:
            mc.set(key, 1)
        except quickmc.Error:
            pass
    assert mc.hash(key) == 0  # ejected: its keys went to the other server
    start_memcached(port=b.port)
    time.sleep(1.5)
    assert mc.hash(key) == 1  # back after dead_timeout
    assert mc.set(key, "back") and mc.get(key) == "back"


def test_without_remove_failed_the_dead_server_keeps_its_keys(quickmc, start_memcached, dead_address):
    alive = start_memcached()
    mc = quickmc.Client([alive.address, dead_address], behaviors={"ketama": True, "retry_timeout": 0})
    dead_key = next(f"k{i}" for i in range(100) if mc.hash(f"k{i}") == 1)
    for _ in range(8):
        with pytest.raises(quickmc.Error):
            mc.set(dead_key, 1)
    assert mc.hash(dead_key) == 1


def test_connect_timeout_is_accepted_and_a_refused_connect_fails_fast(quickmc, dead_address):
    mc = quickmc.Client([dead_address], behaviors={"connect_timeout": 200})
    start = time.monotonic()
    with pytest.raises(quickmc.ConnectionError):
        mc.get("k")
    assert time.monotonic() - start < 1


def test_tcp_options_and_accepted_only_behaviors_keep_working(quickmc, server):
    behaviors = {"tcp_nodelay": False, "tcp_keepalive": True, "no_block": True, "buffer_requests": True,
                 "_noreply": True, "num_replicas": 1, "_io_msg_watermark": 1, "_io_bytes_watermark": 1,
                 "_io_key_prefetch": 1, "_hash_with_prefix_key": 1, "_socket_send_size": 1,
                 "_socket_recv_size": 1, "ketama_hash": "md5"}
    mc = quickmc.Client([server.address], behaviors=behaviors)
    assert mc.set("t", 1) and mc.get("t") == 1
    assert mc.set_multi({"a": 1, "b": 2}) == [] and mc.get_multi(["a", "b"]) == {"a": 1, "b": 2}


def test_sasl_needs_both_username_and_password(quickmc, server):
    with pytest.raises(TypeError, match="both username and password"):
        quickmc.Client([server.address], username="u")


def test_sasl_without_binary_is_a_type_error_as_in_pylibmc(quickmc, pylibmc, server):
    for module in (quickmc, pylibmc):
        with pytest.raises(TypeError, match="SASL requires the memcached binary protocol"):
            module.Client([server.address], username="u", password="p")
        # The servers are read first.
        with pytest.raises(ValueError):
            module.Client(["bad:host:spec:x"], username="u", password="p")


def test_sasl_credentials_fail_against_a_server_without_sasl(quickmc, server):
    # A server without SASL: quickmc authenticates on connect and reports it.
    mc = quickmc.Client([server.address], binary=True, username="u", password="p")
    with pytest.raises(quickmc.Error):
        mc.get("k")
