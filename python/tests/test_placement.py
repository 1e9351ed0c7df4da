"""Key placement: the same server as pylibmc for every hash, distribution
and ketama behavior combination, checked with pylibmc's own hash() and with
where keys really land on a 3-server cluster."""

from __future__ import annotations

import itertools

import pytest

KEYS = [f"key{i}" for i in range(150)] + ["", "ключ", "🔑", "a b", "x" * 250] + [f"user:{i}:session" for i in range(50)]
BYTE_KEYS = [bytes([i, 255 - i, 0x80 | i]) for i in range(40)]
HASHES = ["default", "md5", "crc", "fnv1_64", "fnv1a_64", "fnv1_32", "fnv1a_32", "murmur", "jenkins"]
DISTRIBUTIONS = ["modula", "consistent", "consistent ketama", "consistent weighted"]
# hash() needs no connection: these are never contacted. Loopback literals
# (a host name would make libmemcached ask a resolver).
NAMED = ["127.0.0.2", "127.0.0.3:11211", "127.0.0.4:22122"]
WEIGHTED = ["127.0.0.2:11211:1", "127.0.0.3:11211:2", "127.0.0.4:22122:3"]


def behavior_sets():
    for h, d in itertools.product(HASHES, DISTRIBUTIONS):
        yield {"hash": h, "distribution": d}
    for h in HASHES:
        yield {"ketama": True, "hash": h}
        yield {"ketama_weighted": True, "hash": h}
        yield {"ketama": True, "ketama_hash": h}
    yield {"ketama": True, "ketama_weighted": True}
    yield {"ketama_weighted": False}
    yield {"ketama": False, "hash": "md5"}
    yield {"distribution": "consistent ketama", "ketama_weighted": True}


def placements(client):
    return [client.hash(k) for k in KEYS + BYTE_KEYS]


@pytest.mark.parametrize("servers", [NAMED, WEIGHTED, ["127.0.0.5"]], ids=["named", "weighted", "single"])
@pytest.mark.parametrize("behaviors", list(behavior_sets()), ids=repr)
def test_hash_matches_pylibmc(quickmc, pylibmc, servers, behaviors):
    ours = quickmc.Client(servers, binary=True, behaviors=behaviors)
    theirs = pylibmc.Client(servers, binary=True, behaviors=behaviors)
    assert ours.behaviors["hash"] == theirs.behaviors["hash"]
    assert ours.behaviors["distribution"] == theirs.behaviors["distribution"]
    assert ours.behaviors["ketama"] == theirs.behaviors["ketama"]
    assert ours.behaviors["ketama_weighted"] == theirs.behaviors["ketama_weighted"]
    assert placements(ours) == placements(theirs)


@pytest.mark.parametrize("behaviors", [{"hash": "md5", "ketama": True}, {"distribution": "consistent weighted"}])
def test_behaviors_set_after_construction_place_the_same(quickmc, pylibmc, behaviors):
    ours = quickmc.Client(NAMED, binary=True)
    theirs = pylibmc.Client(NAMED, binary=True)
    ours.behaviors = behaviors
    theirs.behaviors = behaviors
    assert placements(ours) == placements(theirs)
    # Changing the hash later: libmemcached keeps the continuum it built
    # with the old hash (and hashes keys with the new one); quickmc rebuilds
    # it, placing keys as a pylibmc client configured that way from the start.
    ours.behaviors["hash"] = "crc"
    fresh = pylibmc.Client(NAMED, binary=True, behaviors={**behaviors, "hash": "crc"})
    assert placements(ours) == placements(fresh)


@pytest.mark.parametrize(
    "construct, later",
    [({}, [{"ketama": True}]), ({"ketama": True}, [{"ketama": False}, {"ketama": True}]),
     ({"ketama": True}, [{"tcp_nodelay": False}]), ({}, [{"distribution": "consistent ketama"}]),
     ({}, [{"ketama_weighted": True}])],
    ids=repr,
)
def test_weights_count_after_construction_only_while_pylibmc_counts_them(quickmc, pylibmc, construct, later):
    """libmemcached weighs ketama's servers while its weighted flag is on:
    servers with weights added under ketama turn it on, switching ketama on
    afterwards turns it off."""
    ours = quickmc.Client(WEIGHTED, binary=True, behaviors=construct)
    theirs = pylibmc.Client(WEIGHTED, binary=True, behaviors=construct)
    for step in later:
        ours.behaviors = step
        theirs.behaviors = step
    assert ours.behaviors["ketama_weighted"] == theirs.behaviors["ketama_weighted"]
    assert placements(ours) == placements(theirs)
    # pylibmc's clone, which its pools use, adds the servers again.
    assert ours.clone().behaviors["ketama_weighted"] == theirs.clone().behaviors["ketama_weighted"]
    assert placements(ours.clone()) == placements(theirs.clone())
    with quickmc.ThreadMappedPool(ours).reserve() as a, pylibmc.ThreadMappedPool(theirs).reserve() as b:
        assert placements(a) == placements(b)


def test_sort_hosts_places_like_pylibmc(quickmc, pylibmc):
    servers = ["127.0.0.9", "127.0.0.10:11300", "127.0.0.5"]
    ours = quickmc.Client(servers, behaviors={"_sort_hosts": True})
    theirs = pylibmc.Client(servers, behaviors={"_sort_hosts": True})
    assert placements(ours) == placements(theirs)


@pytest.mark.parametrize(
    "behaviors",
    [{}, {"ketama": True}, {"ketama_weighted": True}, {"hash": "fnv1a_32", "distribution": "consistent"},
     {"hash": "murmur", "distribution": "modula"}],
    ids=repr,
)
def test_keys_land_where_pylibmc_puts_them(quickmc, pylibmc, cluster, behaviors):
    addresses = [s.address for s in cluster]
    ours = quickmc.Client(addresses, binary=True, behaviors=behaviors)
    theirs = pylibmc.Client(addresses, binary=True, behaviors=behaviors)
    per_server = [pylibmc.Client([a], binary=True) for a in addresses]
    ours.flush_all()
    keys = [k for k in KEYS if k][:120]
    assert ours.set_multi({k: k for k in keys}) == []
    for key in keys:
        holders = [i for i, one in enumerate(per_server) if one.get(key) == key]
        assert holders == [theirs.hash(key)], key
        assert theirs.get(key) == key
    ours.flush_all()
    for key in keys:
        theirs.set(key, key)
    assert ours.get_multi(keys) == {k: k for k in keys}
    for key in keys[:20]:
        assert ours.get(key) == key
        assert ours.hash(key) == theirs.hash(key)


def test_unsupported_distributions_and_hashes_are_refused(quickmc):
    for distribution in ["random", "virtual bucket", "consistent ketama spy", "consistent max"]:
        with pytest.raises(quickmc.NotSupportedError):
            quickmc.Client(NAMED, behaviors={"distribution": distribution})
    with pytest.raises(quickmc.NotSupportedError):
        quickmc.Client(NAMED, behaviors={"hash": "hsieh"})
    with pytest.raises(KeyError):
        quickmc.Client(NAMED, behaviors={"hash": "bogus"})
    with pytest.raises(KeyError):
        quickmc.Client(NAMED, behaviors={"distribution": "bogus"})


@pytest.mark.parametrize("behaviors", [{}, {"ketama": True}, {"ketama_weighted": True},
                                       {"distribution": "consistent", "hash": "crc"}], ids=repr)
def test_a_behaviors_dict_copied_from_another_client_places_the_same(quickmc, pylibmc, behaviors):
    theirs = pylibmc.Client(NAMED, binary=True, behaviors=behaviors)
    from_pylibmc = quickmc.Client(NAMED, binary=True, behaviors=dict(theirs.behaviors))
    from_quickmc = quickmc.Client(NAMED, binary=True, behaviors=from_pylibmc.behaviors)
    assert placements(from_pylibmc) == placements(from_quickmc) == placements(theirs)
