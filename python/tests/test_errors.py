"""Errors raised as pylibmc's exception classes: a down server, a value too
big, bad keys — each compared with what the real pylibmc raises."""

from __future__ import annotations

import pytest


def raised(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return type(e).__name__
    return None


def test_down_server_like_pylibmc(quickmc, pylibmc, dead_address):
    ours = quickmc.Client([dead_address], binary=True)
    theirs = pylibmc.Client([dead_address], binary=True)
    # First the failed connect, then the server is skipped until retry_timeout.
    for op in (lambda c: c.get("a"), lambda c: c.get("a"), lambda c: c.set("a", 1),
               lambda c: c.delete("a"), lambda c: c.get_multi(["a"]), lambda c: c.set_multi({"a": 1}),
               lambda c: c.add("a", 1), lambda c: c.append("a", "x"), lambda c: c.incr("a"),
               lambda c: c.delete_multi(["a"]), lambda c: c.touch("a", 5)):
        assert raised(lambda: op(ours)) == raised(lambda: op(theirs))
    assert issubclass(quickmc.ServerDown, quickmc.Error)
    for op in (lambda c: c.get_stats(), lambda c: c.flush_all()):
        assert raised(lambda: op(ours)) == raised(lambda: op(theirs)) == "SomeErrors"
    with pytest.raises(quickmc.ServerDown):
        ours.incr("a")


def test_down_server_in_a_cluster_keeps_the_others_working(quickmc, server, dead_address):
    mc = quickmc.Client([server.address, dead_address], binary=True)
    keys = [f"k{i}" for i in range(40)]
    live = [k for k in keys if mc.hash(k) == 0]
    failed = mc.set_multi({k: k for k in keys})
    assert sorted(failed) == sorted(k for k in keys if k not in live)
    assert mc.get_multi(keys) == {k: k for k in live}


def test_too_big_like_pylibmc(mc, real, quickmc):
    big = b"x" * (2 << 20)
    for client in (mc, real):
        with pytest.raises(Exception) as info:
            client.set("big", big)
        assert type(info.value).__name__ == "TooBig"
        with pytest.raises(Exception) as info:
            client.set_multi({"big": big, "small": 1})
        assert type(info.value).__name__ == "TooBig"
    with pytest.raises(quickmc.TooBig):
        mc.add("big", big)


def test_bad_keys_like_pylibmc(mc, real):
    long_key = "k" * 251
    for call in (lambda c: c.get(long_key), lambda c: c.set(long_key, 1), lambda c: c.get_multi([long_key]),
                 lambda c: c.set_multi({long_key: 1}), lambda c: c.get(1), lambda c: c.delete(long_key)):
        assert raised(lambda: call(mc)) == raised(lambda: call(real))
    with pytest.raises(ValueError, match="key length 251 too long, max is 250"):
        mc.get(long_key)
    assert mc.set("k" * 250, 1)
    with pytest.raises(ValueError):
        mc.incr("x", -1)


def test_non_numeric_incr(mc, real):
    mc.set("word", "abc")
    assert raised(lambda: mc.incr("word")) == raised(lambda: real.incr("word")) == "UnknownReadFailure"


def test_incr_multi_failures_raise_the_class_and_message_pylibmc_raises(quickmc, pylibmc, server):
    for binary in (False, True):
        ours = quickmc.Client([server.address], binary=binary)
        theirs = pylibmc.Client([server.address], binary=binary)
        ours.set("im:word", "abc")
        ours.set("im:word2", "xyz")
        ours.set("im:n", 1)
        for keys in (["im:word", "im:nope", "im:n"], ["im:nope", "im:word"], ["im:word", "im:nope"],
                     ["im:nope", "im:n"], ["", "im:n"], ["im:n", ""], ["im:word"], ["", ""],
                     ["im:word", "im:word2"], ["im:word", "im:nope", "im:word"], ["im:word", ""],
                     ["", "im:word"], ["im:nope", "im:n", "im:nope"]):
            outcomes = []
            for client in (ours, theirs):
                with pytest.raises(Exception) as info:
                    client.incr_multi(keys)
                outcomes.append((type(info.value).__name__, str(info.value)))
            assert outcomes[0] == outcomes[1], (binary, keys)


def test_incr_multi_with_its_server_down_raises_as_pylibmc(quickmc, pylibmc, dead_address):
    for keys in (["a"], ["a", "b"]):
        outcomes = []
        for module in (quickmc, pylibmc):
            client = module.Client([dead_address], binary=True)
            with pytest.raises(Exception) as info:
                client.incr_multi(keys)
            outcomes.append((type(info.value).__name__, str(info.value)))
        assert outcomes[0] == outcomes[1], keys


def test_incr_multi_increments_the_keys_it_can_send_as_pylibmc(quickmc, pylibmc, server):
    prefix = "q" * 235
    for keys in (["x" * 20, "a"], ["", "x" * 20, "a"], ["x" * 20, "nope", "a"], ["x" * 20, "y" * 20, "a"],
                 ["a", "x" * 20]):
        outcomes = []
        for module in (quickmc, pylibmc):
            mc = module.Client([server.address], binary=True)
            mc.set(prefix + "a", 1)
            with pytest.raises(Exception) as info:
                mc.incr_multi(keys, key_prefix=prefix)
            outcomes.append((type(info.value).__name__, str(info.value), mc.get(prefix + "a")))
        assert outcomes[0] == outcomes[1], keys
    for module in (quickmc, pylibmc):
        mc = module.Client([server.address], behaviors={"verify_keys": True})
        mc.set("vk:n", 1)
        with pytest.raises(module.Error):
            mc.incr_multi(["vk:x y", "vk:n"])
        assert mc.get("vk:n") == 2, module.__name__


def test_cas_of_a_key_verify_keys_refuses_raises_as_pylibmc(quickmc, pylibmc, server):
    for module in (quickmc, pylibmc):
        mc = module.Client([server.address], behaviors={"verify_keys": True, "cas": True})
        with pytest.raises(module.BadKeyProvided):
            mc.cas("vk:a b", 1, 1)


def test_a_prefix_that_makes_keys_too_long_raises_as_pylibmc(mc, real, quickmc):
    prefix = "p" * 250
    for call in (lambda c: c.get_multi(["x"], key_prefix=prefix), lambda c: c.set_multi({"x": 1}, key_prefix=prefix),
                 lambda c: c.delete_multi(["x"], key_prefix=prefix), lambda c: c.incr_multi(["x"], key_prefix=prefix),
                 lambda c: c.incr_multi(["x", "y"], key_prefix=prefix)):
        assert raised(lambda: call(mc)) == raised(lambda: call(real))
    with pytest.raises(quickmc.BadKeyProvided):
        mc.get_multi(["x"], key_prefix=prefix)


def test_missing_keys(mc, real):
    for call in (lambda c: c.incr("nope"), lambda c: c.decr("nope"), lambda c: c.cas("nope", 1, 1),
                 lambda c: c.replace("nope", 1), lambda c: c.incr_multi(["nope"])):
        assert raised(lambda: call(mc)) == raised(lambda: call(real)) == "NotFound"


def test_empty_server_list_and_bad_specs(quickmc):
    with pytest.raises(quickmc.Error, match="empty server list"):
        quickmc.Client([])
    with pytest.raises(ValueError):
        quickmc.Client(["127.0.0.1:abc"])
    with pytest.raises(quickmc.InvalidHostProtocolError):
        quickmc.Client(["udp:127.0.0.1"])


def test_server_spec_forms(quickmc):
    mc = quickmc.Client(["127.0.0.1", "127.0.0.1:11212:3", "[::1]:11213", "/tmp/quickmc-none.sock",
                         (1, "127.0.0.1", 11214)])
    assert repr(mc) == ("Client(['127.0.0.1', '127.0.0.1:11212:3', '[::1]:11213', "
                        "'/tmp/quickmc-none.sock', (1, '127.0.0.1', 11214)], binary=False)")
    one = quickmc.Client("127.0.0.1:11211")  # a single spec string is one server
    assert one.hash("x") == 0


def test_unix_socket_server(quickmc, pylibmc, start_memcached, tmp_path):
    path = str(tmp_path / "mc.sock")
    server = start_memcached(unix=path)
    ours = quickmc.Client([path], binary=True)
    theirs = pylibmc.Client([path], binary=True)
    assert ours.set("u", "unix") and theirs.get("u") == "unix"
    assert ours.get_stats()[0][0] == f"{path}:0 (0)".encode() == theirs.get_stats()[0][0]


def test_sasl_with_pylibmc_credentials(quickmc, pylibmc, tmp_path):
    from conftest import SASL_PASSWORD, SASL_USER, start_sasl_memcached

    server = start_sasl_memcached(tmp_path)
    try:
        ours = quickmc.Client([server.address], binary=True, username=SASL_USER, password=SASL_PASSWORD)
        theirs = pylibmc.Client([server.address], binary=True, username=SASL_USER, password=SASL_PASSWORD)
        assert ours.set("s", "authenticated")
        assert theirs.get("s") == "authenticated"
        assert ours.get_multi(["s"]) == {"s": "authenticated"}
        wrong = quickmc.Client([server.address], binary=True, username=SASL_USER, password="wrong")
        with pytest.raises(quickmc.Error):
            wrong.get("s")
        anonymous = quickmc.Client([server.address], binary=True)
        with pytest.raises(quickmc.Error):
            anonymous.get("s")
    finally:
        server.stop()


@pytest.mark.parametrize("binary", [False, True])
def test_incr_of_a_value_that_is_not_a_number_raises_pylibmcs_class(quickmc, pylibmc, server, binary):
    """pylibmc raises ClientError in its text mode (memcached's
    CLIENT_ERROR) and UnknownReadFailure in its binary mode."""
    raised = {}
    for module in (pylibmc, quickmc):
        mc = module.Client([server.address], binary=binary)
        key = f"non_numeric:{binary}:{module.__name__}"
        mc.set(key, "word")
        try:
            mc.incr(key)
        except module.Error as e:
            raised[module.__name__] = type(e).__name__
    assert raised["quickmc"] == raised["pylibmc"]
    assert raised["quickmc"] == ("UnknownReadFailure" if binary else "ClientError")


def test_a_host_that_does_not_resolve_raises_host_lookup_error_then_server_down_as_pylibmc(quickmc, pylibmc):
    # A label over 63 bytes fails before any resolver is asked (no network).
    host = "a" * 64 + ".invalid:11211"
    ours = quickmc.Client([host], binary=True)
    theirs = pylibmc.Client([host], binary=True)
    for op in (lambda c: c.get("a"), lambda c: c.set("a", 1), lambda c: c.get("a")):
        assert raised(lambda: op(ours)) == raised(lambda: op(theirs))
    fresh = quickmc.Client([host], binary=True)
    with pytest.raises(quickmc.HostLookupError):
        fresh.get("a")
