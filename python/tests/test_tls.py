"""TLS from Python (beyond pylibmc): memcached started with -Z and a test
CA, certificates made by the tests (conftest.Pki). Every operation over
TLS, what quickmc writes read back by pylibmc through the server's plain
listener, servers marked tls://, the server name override, mutual TLS, and
each failure as a typed error."""

from __future__ import annotations

import pathlib
import threading

import pytest

from conftest import start_tls_memcached


def tls_client(quickmc, server, pki, **kwargs):
    return quickmc.Client([server.address], binary=True, tls=True, tls_ca=pki.ca, **kwargs)


def test_every_operation_over_tls(quickmc, pylibmc, tls_server, pki):
    mc = tls_client(quickmc, tls_server, pki)
    assert mc.flush_all()
    assert mc.set("s", "text") and mc.get("s") == "text"
    assert mc.set(b"b", b"\x00bytes") and mc.get(b"b") == b"\x00bytes"
    assert mc.set("i", 41) and mc.incr("i") == 42 and mc.decr("i", 2) == 40
    assert mc.set("p", {"a": [1, 2]}) and mc.get("p") == {"a": [1, 2]}
    assert mc.set("z", "x" * 5000, min_compress_len=100) and mc.get("z") == "x" * 5000
    assert mc.add("s", "other") is False and mc.add("new", "v") is True
    assert mc.replace("new", "w") and mc.append("new", "+") and mc.prepend("new", "-")
    assert mc.get("new") == "-w+"
    value, cas = mc.gets("s")
    assert value == "text" and mc.cas("s", "swapped", cas) and mc.get("s") == "swapped"
    assert mc.touch("s", 100) and mc.delete("s") and mc.get("s") is None
    mc["m"] = 7
    assert "m" in mc and mc["m"] == 7
    del mc["m"]
    with pytest.raises(KeyError):
        mc["m"]
    items = {f"k{i}": f"v{i}" * (i % 7) for i in range(2000)}
    assert mc.set_multi(items, key_prefix="multi:") == []
    assert mc.get_multi(list(items), key_prefix="multi:") == {k: v for k, v in items.items()}
    assert mc.delete_multi(list(items)[:100], key_prefix="multi:")
    (name, stats), = mc.get_stats()
    assert name == f"{tls_server.address} (0)".encode() and int(stats["pid"]) > 0
    # pylibmc has no TLS: it reads what quickmc wrote through the plain listener.
    plain = pylibmc.Client([tls_server.plain_address], binary=True)
    assert plain.get("z") == "x" * 5000 and plain.get("p") == {"a": [1, 2]} and plain.get("i") == 40
    assert plain.get_multi([f"multi:k{i}" for i in range(100, 2000)]) == {
        f"multi:k{i}": items[f"k{i}"] for i in range(100, 2000)
    }


def test_only_servers_marked_tls_speak_it_and_no_key_moves(quickmc, tls_server, server, pki):
    servers = [f"tls://{tls_server.address}", server.address]
    mc = quickmc.Client(servers, binary=True, tls_ca=pathlib.Path(pki.ca))
    assert repr(mc) == f"Client({servers!r}, binary=True)"
    keys = [f"key{i}" for i in range(200)]
    assert mc.set_multi({k: k for k in keys}) == []
    assert mc.get_multi(keys) == {k: k for k in keys}
    assert {mc.hash(k) for k in keys} == {0, 1}
    names = [name for name, _ in mc.get_stats()]
    assert names == [f"{tls_server.address} (0)".encode(), f"{server.address} (1)".encode()]
    # The same placement as without TLS, weights and ketama included.
    for behaviors in ({}, {"ketama": True}):
        weighted = [f"tls://{tls_server.address}:3", f"{server.address}:1"]
        marked = quickmc.Client(weighted, tls_ca=pki.ca, behaviors=behaviors)
        plain = quickmc.Client([f"{tls_server.address}:3", f"{server.address}:1"], behaviors=behaviors)
        assert [marked.hash(k) for k in keys] == [plain.hash(k) for k in keys]


def test_clones_pools_and_new_behaviors_keep_tls(quickmc, tls_server, pki):
    mc = tls_client(quickmc, tls_server, pki)
    assert mc.set("kept", "yes")
    assert mc.clone().get("kept") == "yes"
    pool = quickmc.ClientPool(mc, 2)
    with pool.reserve() as c:
        assert c.get("kept") == "yes"
    mc.behaviors = {"hash": "md5", "connect_timeout": 2000}
    assert mc.get("kept") == "yes"


def test_the_server_name_override(quickmc, pki):
    server = start_tls_memcached(pki.named)
    try:
        # A certificate for cache.test only: connecting by IP fails...
        with pytest.raises(quickmc.TLSError) as failed:
            tls_client(quickmc, server, pki).get("k")
        assert server.address in str(failed.value)
        # ...unless the client is told the name to expect.
        mc = tls_client(quickmc, server, pki, tls_server_name="cache.test")
        assert mc.set("k", "v") and mc.get("k") == "v"
    finally:
        server.stop()


def test_a_certificate_the_client_does_not_trust(quickmc, tls_server, pki):
    with pytest.raises(quickmc.TLSError):
        quickmc.Client([tls_server.address], tls=True, tls_ca=pki.other_ca).get("k")
    # The platform's roots do not know the test CA either.
    with pytest.raises(quickmc.TLSError):
        quickmc.Client([f"tls://{tls_server.address}"]).get("k")
    # A failed handshake is a failed connect, for code written for pylibmc.
    assert issubclass(quickmc.TLSError, quickmc.ConnectionError)


def test_dangerously_skipping_verification(quickmc, tls_server):
    mc = quickmc.Client([tls_server.address], tls=True, tls_dangerously_skip_verification=True)
    assert mc.set("unverified", 1) and mc.get("unverified") == 1


def test_mutual_tls(quickmc, pki):
    server = start_tls_memcached(pki.server, ca=pki.ca)
    try:
        cert, key = pki.client
        mc = tls_client(quickmc, server, pki, tls_cert=cert, tls_key=key)
        assert mc.set("mutual", "ok") and mc.get("mutual") == "ok"
        # Without a client certificate the server hangs up after the handshake.
        with pytest.raises(quickmc.TLSError):
            tls_client(quickmc, server, pki).get("mutual")
    finally:
        server.stop()


def test_tls_to_a_plain_server(quickmc, server, pki):
    with pytest.raises(quickmc.TLSError):
        quickmc.Client([server.address], tls=True, tls_ca=pki.ca, behaviors={"connect_timeout": 2000}).get("k")


def test_files_that_cannot_be_used(quickmc, server, pki, tmp_path):
    with pytest.raises(quickmc.TLSConfigError) as missing:
        quickmc.Client([server.address], tls=True, tls_ca=tmp_path / "missing.pem")
    assert "tls_ca" in str(missing.value) and "missing.pem" in str(missing.value)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(quickmc.TLSConfigError, match="tls_ca"):
        quickmc.Client([server.address], tls=True, tls_ca=junk)
    with pytest.raises(quickmc.TLSConfigError, match="tls_cert"):
        quickmc.Client([server.address], tls=True, tls_ca=pki.ca, tls_cert=junk, tls_key=pki.client[1])
    with pytest.raises(quickmc.TLSConfigError, match="tls_cert"):
        quickmc.Client([server.address], tls=True, tls_ca=pki.ca, tls_cert=pki.client[0], tls_key=junk)
    assert issubclass(quickmc.TLSConfigError, quickmc.Error)


def test_options_that_do_not_fit(quickmc, server, pki):
    with pytest.raises(TypeError, match="tls_key"):
        quickmc.Client([server.address], tls=True, tls_cert=pki.client[0])
    with pytest.raises(ValueError, match="no server uses TLS"):
        quickmc.Client([server.address], tls_ca=pki.ca)
    with pytest.raises(quickmc.InvalidHostProtocolError):
        quickmc.Client(["tls:///tmp/memcached.sock"], tls_ca=pki.ca)
    with pytest.raises(TypeError):
        quickmc.Client([server.address], tls=True, tls_server_name=b"cache.test")


def test_threads_share_a_pipelined_tls_client(quickmc, tls_server, pki):
    mc = tls_client(quickmc, tls_server, pki, behaviors={"pipelined": 2})
    mismatches = []

    def work(i):
        for j in range(200):
            key = f"tls:{i}:{j % 25}"
            mc.set(key, (key, j))
            if mc.get(key) != (key, j):
                mismatches.append(key)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert mismatches == []
