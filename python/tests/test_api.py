"""Every Client method: arguments, defaults and return values as pylibmc 1.6.3
(binary mode) gives them, checked side by side with the real pylibmc."""

from __future__ import annotations

import time

import pytest


def test_module_surface_matches_pylibmc(quickmc, pylibmc):
    for name in ["Client", "ClientPool", "ThreadMappedPool", "hashers", "distributions", "all_behaviors",
                 "all_callbacks", "__version__", "libmemcached_version", "support_sasl",
                 "support_compression", "build_info", "exceptions", "MemcachedError",
                 "server_type_tcp", "server_type_udp", "server_type_unix"]:
        assert hasattr(quickmc, name), name
    assert quickmc.hashers == pylibmc.hashers
    assert quickmc.distributions == pylibmc.distributions
    assert quickmc.all_behaviors == pylibmc.all_behaviors
    assert quickmc.all_callbacks == pylibmc.all_callbacks
    assert [n for n, _ in quickmc.exceptions] == [n for n, _ in pylibmc.exceptions]
    for name in dir(pylibmc):
        if name.startswith(("hash_", "distribution_")):
            assert getattr(quickmc, name) == getattr(pylibmc, name), name
    assert "quickmc" in quickmc.build_info()
    assert "none" in quickmc.libmemcached_version
    assert quickmc.support_sasl is True and quickmc.support_compression is True


def test_submodules_offer_the_names_pylibmc_client_and_consts_offer():
    import pylibmc.client
    import pylibmc.consts
    import quickmc.client
    import quickmc.consts

    for theirs, ours in ((pylibmc.client, quickmc.client), (pylibmc.consts, quickmc.consts)):
        public = {n for n in dir(theirs) if not n.startswith("_")}
        public -= {"sys", "modself", "modpkg", "name", "exc", "key", "value"}  # pylibmc's loop variables
        assert public <= set(dir(ours)), sorted(public - set(dir(ours)))
    assert quickmc.client.server_type_map == pylibmc.client.server_type_map
    assert quickmc.client.hashers == pylibmc.client.hashers
    assert [e.__name__ for e in quickmc.consts.errors] == [e.__name__ for e in pylibmc.consts.errors]
    assert quickmc.consts.NotFound is quickmc.NotFound


def test_exception_classes_have_pylibmc_names_hierarchy_and_retcodes(quickmc, pylibmc):
    assert issubclass(quickmc.Error, Exception)
    assert quickmc.MemcachedError is quickmc.Error
    for (name, ours), (_, theirs) in zip(quickmc.exceptions, pylibmc.exceptions):
        assert getattr(quickmc, name) is ours
        assert ours.__name__ == theirs.__name__
        assert [c.__name__ for c in ours.__mro__[:-3]] == [c.__name__ for c in theirs.__mro__[:-3]]
        assert getattr(ours, "retcode", None) == getattr(theirs, "retcode", None), name
    assert issubclass(quickmc.Timeout, quickmc.Error)
    # quickmc's own TLS errors: a failed handshake is a failed connect.
    assert issubclass(quickmc.TLSError, quickmc.ConnectionError)
    assert issubclass(quickmc.TLSConfigError, quickmc.Error)
    assert "TLSError" not in dict(quickmc.exceptions)


def test_repr_and_str_like_pylibmc(quickmc, pylibmc, server):
    for binary in (False, True):
        ours = quickmc.Client([server.address], binary=binary)
        theirs = pylibmc.Client([server.address], binary=binary)
        assert repr(ours) == repr(theirs)
        assert str(ours) == str(theirs)


def test_get_default_and_empty_key(mc):
    assert mc.get("missing") is None
    assert mc.get("missing", 5) == 5
    assert mc.get(key="missing", default="d") == "d"
    assert mc.get("") is None
    assert mc.set("k", "v")
    assert mc.get("k") == "v"
    assert mc.get(b"k") == "v"


def test_gets_and_cas(mc, real, quickmc, pylibmc):
    assert mc.gets("missing") == (None, None)
    assert mc.gets("") == (None, None)
    mc.set("n", 5)
    value, cas = mc.gets("n")
    assert value == 5 and isinstance(cas, int)
    assert real.gets("n") == (5, cas)
    assert mc.cas("n", 6, cas + 1) is False
    assert mc.cas("n", 7, cas) is True
    assert mc.get("n") == 7
    assert mc.cas(key="n", val=8, cas=mc.gets("n")[1], time=0) is True
    with pytest.raises(quickmc.NotFound):
        mc.cas("missing", 1, 123)
    for client, module in ((mc, quickmc), (real, pylibmc)):
        with pytest.raises(module.BadKeyProvided):
            client.cas("", 1, 1)


def test_set_add_replace_like_pylibmc(mc, real, quickmc, pylibmc):
    for client, module in ((mc, quickmc), (real, pylibmc)):
        client.flush_all()
        assert client.set(key="a", val="x", time=0, min_compress_len=0, compress_level=-1) is True
        assert client.add("a", "y") is False
        assert client.add("b", "y") is True
        assert client.replace("a", "z") is True
        # pylibmc's binary mode raises NotFound for replace of a missing key.
        with pytest.raises(module.NotFound):
            client.replace("missing", 1)
        assert client.set("", 1) is False
        assert client.get("a") == "z"


def test_replace_of_a_missing_key_is_false_without_binary(quickmc, server):
    text = quickmc.Client([server.address])  # binary=False: pylibmc's text mode answers False
    assert text.replace("surely-missing", 1) is False


def test_append_prepend(mc):
    assert mc.append("missing", "x") is False
    assert mc.prepend("missing", "x") is False
    mc.set("s", "b")
    assert mc.append("s", "c") is True
    assert mc.prepend(key="s", val="a") is True
    assert mc.get("s") == "abc"


def test_delete(mc):
    mc.set("d", 1)
    assert mc.delete("d") is True
    assert mc.delete("d") is False
    assert mc.delete("") is False


def test_incr_decr(mc, quickmc):
    mc.set("n", 10)
    assert mc.incr("n") == 11
    assert mc.incr("n", 5) == 16
    assert mc.decr("n", 100) == 0
    assert mc.get("n") == 0
    mc.set("n", 2**64 - 1)
    assert mc.incr("n") == 0  # wraps, as memcached does
    mc.set("t", "10")
    assert mc.incr("t") == 11
    assert mc.get("t") == "11"
    mc.set("n", 10)
    assert mc.decr("n", 1) == 9
    assert mc.get("n") == 9  # memcached pads "9 ": still an int
    with pytest.raises(quickmc.NotFound):
        mc.incr("missing")
    with pytest.raises(quickmc.NotFound):
        mc.decr("missing")
    with pytest.raises(ValueError, match="delta must be positive"):
        mc.incr("n", -1)
    mc.set("word", "abc")
    with pytest.raises(quickmc.Error):
        mc.incr("word")


def test_touch(mc):
    assert mc.touch("missing", 10) is False
    mc.set("t", 1)
    assert mc.touch("t", 1) is True
    deadline = time.monotonic() + 5
    while mc.get("t") is not None and time.monotonic() < deadline:
        time.sleep(0.25)
    assert mc.get("t") is None


def test_expiration(mc):
    mc.set("e", 1, time=1)
    assert mc.get("e") == 1
    deadline = time.monotonic() + 5
    while mc.get("e") is not None and time.monotonic() < deadline:
        time.sleep(0.25)
    assert mc.get("e") is None


def test_get_multi_returns_caller_keys(mc):
    assert mc.set_multi({"x": 1, "y": 2, b"z": 3}, key_prefix="p:") == []
    got = mc.get_multi(["x", "y", b"z", "", "nope"], key_prefix="p:")
    assert got == {"x": 1, "y": 2, b"z": 3}
    assert [type(k) for k in sorted(got, key=str)] == [bytes, str, str]
    assert mc.get_multi(keys=["x"], key_prefix="p:") == {"x": 1}
    assert mc.get_multi(k for k in ["y"]) == {}
    assert mc.get_multi((k for k in ["y"]), "p:") == {"y": 2}
    assert mc.get_multi([]) == {}
    assert mc.get_multi(["x", "x"], key_prefix="p:") == {"x": 1}


def test_with_a_key_prefix_the_empty_key_is_the_prefix_itself_as_pylibmc(mc, real):
    calls = [
        ("set_multi", ({"": 5, "x": 1},)), ("get_multi", (["", "x"],)), ("add_multi", ({"": 6},)),
        ("incr_multi", ([""],)), ("get_multi", ([""],)), ("delete_multi", ([""],)), ("get_multi", ([""],)),
    ]
    for client in (real, mc):
        client.flush_all()
        results = [getattr(client, name)(*args, key_prefix="ep:") for name, args in calls]
        results.append(client.get("ep:"))
        if client is real:
            expected = results
    assert results == expected == [[], {"": 5, "x": 1}, [""], None, {"": 6}, True, {}, None]
    # Without a prefix the empty key is still skipped or refused.
    assert mc.get_multi([""]) == {} and mc.set_multi({"": 1}) == [""] and mc.delete_multi([""]) is False


def test_get_multi_answers_in_the_order_asked_as_pylibmc(mc, real):
    keys = [f"order:{c}" for c in "ecadbfhg"]
    mc.set_multi({k: 1 for k in keys})
    asked = keys[::2] + ["order:nope"] + keys[1::2] + keys[:2]
    assert list(mc.get_multi(asked)) == list(real.get_multi(asked)) == keys[::2] + keys[1::2]


def test_get_multi_answers_a_key_given_as_str_and_bytes_once_under_the_str_as_pylibmc(mc, real):
    mc.set_multi({"sb:a": 1, "sb:b": 2})
    mc.set("sb:c", 3)
    for keys in (["sb:a", b"sb:a", "sb:b"], [b"sb:a", "sb:a", b"sb:b"], [b"sb:a", b"sb:a"],
                 ["sb:c", b"sb:a", "sb:b", "sb:a", b"sb:c"], [b"sb:b", "sb:c", b"sb:a", "sb:b"]):
        ours, theirs = mc.get_multi(keys), real.get_multi(keys)
        assert ours == theirs
        assert list(ours) == list(theirs), keys  # the same order, and the same spelling
    assert list(mc.get_multi(["sb:a", b"sb:a"])) == ["sb:a"]


def test_set_multi_and_add_multi(mc):
    assert mc.set_multi(keys={"a": 1, "b": "two"}, time=0, key_prefix="m:", min_compress_len=0, compress_level=-1) == []
    assert mc.set_multi({"": 1, "ok": 2}) == [""]
    assert mc.get_multi(["a", "b"], "m:") == {"a": 1, "b": "two"}
    assert sorted(mc.add_multi({"a": 9, "c": 3}, key_prefix="m:")) == ["a"]
    assert mc.get("m:c") == 3 and mc.get("m:a") == 1
    assert mc.set_multi([("pair", 1)]) == []  # pairs work too (pylibmc wants a dict)


def test_delete_multi(mc):
    mc.set_multi({"a": 1, "b": 2}, key_prefix="d:")
    assert mc.delete_multi(["a", "nope"], "d:") is False
    assert mc.delete_multi(["b"], key_prefix="d:") is True
    assert mc.delete_multi([]) is True
    with pytest.raises(TypeError):
        mc.delete_multi({"a": 1})


def test_incr_multi(mc, quickmc):
    mc.set_multi({"a": 1, "b": 2}, key_prefix="i:")
    assert mc.incr_multi(["a", "b"], key_prefix="i:", delta=5) is None
    assert mc.get_multi(["a", "b"], "i:") == {"a": 6, "b": 7}
    assert mc.incr_multi(["a"], "i:") is None
    assert mc.get("i:a") == 7
    with pytest.raises(quickmc.NotFound, match="1 keys not found"):
        mc.incr_multi(["a", "nope"], key_prefix="i:")
    assert mc.get("i:a") == 8  # the other keys were still incremented


def test_hash_is_a_server_index(mc):
    assert mc.hash("foo") == 0
    assert mc.hash(b"foo") == 0


def test_get_stats(mc, real, server):
    ours = mc.get_stats()
    theirs = real.get_stats()
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    assert ours[0][0] == f"{server.address} (0)".encode()
    stats = ours[0][1]
    assert stats["pid"] == theirs[0][1]["pid"]
    assert set(theirs[0][1]) <= set(stats)  # quickmc returns every stat the server sends
    assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in stats.items())
    mc.set("x", 1)
    items = dict(mc.get_stats("items")[0][1])
    assert any(k.startswith("items:") for k in items)
    assert "maxbytes" in mc.get_stats("settings")[0][1]
    assert mc.get_stats(None)[0][0] == ours[0][0]


def test_flush_all(mc):
    mc.set("f", 1)
    assert mc.flush_all() is True
    assert mc.get("f") is None
    assert mc.flush_all(time=0) is True


def test_disconnect_all_reconnects(mc):
    mc.set("c", 1)
    assert mc.disconnect_all() is None
    assert mc.get("c") == 1


def test_clone_is_cheap_and_equivalent(mc, quickmc):
    mc.behaviors = {"cas": True, "ketama": True}
    copy = mc.clone()
    assert type(copy) is type(mc)
    assert repr(copy) == repr(mc)
    assert copy.behaviors == mc.behaviors
    mc.set("shared", 1)
    assert copy.get("shared") == 1


def test_mapping_interface(mc):
    mc["k"] = "v"
    assert mc["k"] == "v"
    assert "k" in mc
    del mc["k"]
    assert "k" not in mc
    with pytest.raises(KeyError):
        mc["k"]
    with pytest.raises(KeyError):
        del mc["k"]


def test_serialize_like_pylibmc(mc, real):
    import enum
    import fractions

    class Color(enum.IntEnum):
        RED = 3

    values = [b"x", "x", "héllo", 1, -5, 2**70, True, False, 0, Color.RED, None, 1.5, [1, 2],
              {"a": (1, 2)}, fractions.Fraction(1, 3), bytearray(b"ab"), 4 + 3j]
    for value in values:
        assert mc.serialize(value) == real.serialize(value), value
    for data, flags in [(b" 9 ", 4), (b"9 ", 2), (b"2", 2), (b"x", 0), (b"x", 16), (b"x", 24), (b"x", 8),
                        (b"x", 64), (b"x", 32), (real.serialize({"a": 1})[0], 1), (b"123456789012345678901234", 4)]:
        assert mc.deserialize(data, flags) == real.deserialize(data, flags), (data, flags)


def test_deserialize_errors_like_pylibmc(mc, real, quickmc, pylibmc):
    for data, flags, exc in [(b"x", 3, "Error"), (b"x", 17, "Error"), (b"abc", 4, "ValueError"),
                             (b"\xff", 16, "UnicodeDecodeError")]:
        for client, module in ((mc, quickmc), (real, pylibmc)):
            with pytest.raises(Exception) as info:
                client.deserialize(data, flags)
            assert type(info.value).__name__ == exc
        assert str(pytest.raises(Exception, mc.deserialize, data, flags).value) == \
            str(pytest.raises(Exception, real.deserialize, data, flags).value)
    # Not bytes: pylibmc reads the object's memory (or returns it as is, for
    # flags 0); quickmc says what it needs.
    with pytest.raises(TypeError, match="bytes-like object is required, not 'str'"):
        mc.deserialize("123", 2)


def test_subclass_serialize_deserialize_and_cache_miss(quickmc, server):
    class Codec(quickmc.Client):
        def serialize(self, value):
            if isinstance(value, str) and value.startswith("json:"):
                return value[5:].encode(), 1 << 10
            return super().serialize(value)

        def deserialize(self, data, flags):
            if data == b"stale":
                raise quickmc.CacheMiss()
            if flags == 1 << 10:
                return "json:" + data.decode()
            return super().deserialize(data, flags)

    mc = Codec([server.address])
    mc.set("custom", "json:{}")
    assert mc.get("custom") == "json:{}"
    mc.set("plain", 5)
    assert mc.get("plain") == 5
    mc.set("old", b"stale")
    assert mc.get("old") is None
    assert mc.get("old", "dflt") == "dflt"
    assert mc.gets("old") == (None, None)
    assert "old" not in mc
    assert mc.get_multi(["old", "plain", "custom"]) == {"plain": 5, "custom": "json:{}"}
    mc.set_multi({"m": "json:[]"})
    assert mc.get("m") == "json:[]"
    assert mc.clone().get("old") is None


def test_keys_are_str_or_bytes(mc):
    with pytest.raises(TypeError):
        mc.get(1)
    with pytest.raises(TypeError):
        mc.set_multi({1: 1})
    mc.set(b"k\x00z", 1)  # binary protocol: any byte
    assert mc.get(b"k\x00z") == 1
    mc.set("ключ", "значение")
    assert mc.get("ключ".encode()) == "значение"


def test_compression_arguments(mc, real):
    value = "a" * 1000
    assert mc.set("z", value, min_compress_len=10)
    assert mc.get("z") == value and real.get("z") == value
    with pytest.raises(ValueError, match="between 0 and 9"):
        mc.set("z", value, min_compress_len=10, compress_level=10)
    assert mc.set("z", value, min_compress_len=10, compress_level=0)  # level 0: not compressed
    assert mc.get("z") == value
