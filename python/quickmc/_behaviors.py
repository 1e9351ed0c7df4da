"""Behaviors: pylibmc's names, values and side effects, checked here and
handed to the Rust core (python/src/config.rs) as one dict.

A new option of the Rust core is a default below (and, when it takes a
string, a line in ``_STRINGS``) plus one line in config.rs.

Honoured: hash, distribution, ketama, ketama_weighted, connect_timeout (ms),
send_timeout / receive_timeout (µs), _poll_timeout (ms, the I/O timeout when
both are 0), retry_timeout (s), dead_timeout (s; 0 = retry_timeout),
failure_limit, remove_failed / auto_eject, tcp_nodelay, tcp_keepalive,
verify_keys, _sort_hosts, pickle_protocol, and quickmc's compression,
max_connections, pipelined (connections per server shared by every
thread; 0, the default, is the pooled mode) and pipeline_spin (µs a thread
waiting on a shared connection may spin before it sleeps; 0 sleeps at once).

Numbers are kept as libmemcached keeps them (pylibmc reads a C long, which
a 32-bit field wraps), so they read back as pylibmc reads them back;
config.rs gives negative timeouts libmemcached's meaning.

TLS is not a behavior: it is set by the constructor's ``tls*`` keyword
arguments (and ``tls://`` server specs), as SASL is by ``username`` and
``password``.

Accepted and reported back, with no effect: cas (gets/cas always work),
no_block (quickmc's I/O always has deadlines), buffer_requests and _noreply
(every write waits for its reply), ketama_hash (libmemcached places keys
the same whatever its value), num_replicas, _io_msg_watermark,
_io_bytes_watermark, _io_key_prefetch, _hash_with_prefix_key,
_socket_send_size, _socket_recv_size.
"""

from __future__ import annotations

from typing import Any, Mapping

from . import _quickmc
from .consts import all_behaviors, all_callbacks, distributions, hashers, hashers_rvs, quickmc_behaviors

#: What a new client reports, as pylibmc 1.6.3 reports it (except
#: tcp_nodelay, which quickmc turns on), plus quickmc's own behaviors.
DEFAULTS: dict[str, Any] = {
    "no_block": 0,
    "tcp_nodelay": 1,
    "tcp_keepalive": 0,
    "hash": "default",
    "ketama_hash": 0,
    "ketama": 0,
    "ketama_weighted": 0,
    "distribution": "modula",
    "cas": 0,
    "buffer_requests": 0,
    "verify_keys": 0,
    "connect_timeout": 4000,
    "send_timeout": 0,
    "receive_timeout": 0,
    "num_replicas": 0,
    "auto_eject": 0,
    "retry_timeout": 2,
    "remove_failed": 0,
    "failure_limit": 5,
    "_io_msg_watermark": 500,
    "_io_bytes_watermark": 66560,
    "_io_key_prefetch": 0,
    "_hash_with_prefix_key": 0,
    "_noreply": 0,
    "_sort_hosts": 0,
    "_poll_timeout": 5000,
    "_socket_send_size": 0,
    "_socket_recv_size": 0,
    "dead_timeout": 0,
    "pickle_protocol": -1,
    # quickmc's own
    "compression": "zlib",
    "max_connections": 16,
    "pipelined": 0,
    "pipeline_spin": 200,
}

#: Behaviors read back as 0 or 1 whatever true value was given.
_FLAGS = {
    "no_block", "tcp_nodelay", "tcp_keepalive", "cas", "buffer_requests",
    "verify_keys", "auto_eject", "remove_failed", "_hash_with_prefix_key",
    "_noreply", "_sort_hosts",
}
#: Behaviors libmemcached keeps as a 32-bit signed or unsigned number (what
#: pylibmc reads back after wrapping a larger value).
_INT32 = {
    "connect_timeout", "send_timeout", "receive_timeout", "_poll_timeout",
    "retry_timeout", "dead_timeout", "pickle_protocol", "_socket_send_size",
    "_socket_recv_size",
}
_UINT32 = {"ketama_hash", "failure_limit", "num_replicas", "_io_msg_watermark", "_io_bytes_watermark", "_io_key_prefetch"}
#: Behaviors whose value is a string.
_STRINGS = {"compression": ("zlib", "zstd")}
#: Distributions the Rust core places keys for.
_SUPPORTED_DISTRIBUTIONS = {"modula", "consistent", "consistent ketama", "consistent weighted"}
_KNOWN = set(all_behaviors) | set(all_callbacks) | set(quickmc_behaviors)


def _int(name: str, value: Any) -> int:
    if not isinstance(value, int):
        raise TypeError(f"behavior {name} must be int, not {type(value).__name__}")
    return int(value)


def _stored(name: str, value: Any) -> int:
    """``value`` as libmemcached stores it: pylibmc reads a C long (-1 when
    the number does not fit), which the field then wraps to 32 bits."""
    n = _int(name, value)
    if not -(2**63) <= n < 2**63:
        n = -1
    if name in _UINT32:
        return n & 0xFFFFFFFF
    if name in _INT32:
        n = (n + 2**31) % 2**32 - 2**31
        # A socket buffer size of -1 reads back as the (unset) size.
        return 0 if n == -1 and name.startswith("_socket") else n
    return n


def _hash_name(value: Any) -> str:
    if value is None:
        raise TypeError("behavior hash must be int, not NoneType")
    hashers[value]  # KeyError for a name (or a number) pylibmc lacks
    name = value
    if name == "hsieh":
        raise _quickmc.NotSupportedError("hash 'hsieh' is not supported (libhashkit builds usually lack it)")
    return name


def apply(current: Mapping[str, Any], changes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The behaviors after applying ``changes`` to ``current``, with
    libmemcached's side effects, in pylibmc's order. Raises ValueError for
    unknown names, as pylibmc does."""
    new = dict(current)
    if not changes:
        return new
    changes = dict(changes)
    if "_retry_timeout" in changes:
        changes.setdefault("retry_timeout", changes.pop("_retry_timeout"))
    unknown = set(changes).difference(_KNOWN)
    if unknown:
        names = ", ".join(map(str, sorted(unknown)))
        raise ValueError(f"unknown behavior names: {names}")
    weighted = bool(new["ketama_weighted"])
    for name in all_behaviors + quickmc_behaviors:
        if name not in changes:
            continue
        value = changes[name]
        if name == "hash":
            new["hash"] = _hash_name(value)
        elif name == "ketama_hash":
            number = _stored(name, hashers.get(value, value) if isinstance(value, str) else value)
            if number in hashers_rvs:  # libmemcached ignores any other
                new["ketama_hash"] = number
        elif name == "ketama":
            if _int(name, value):
                new["distribution"], weighted = "consistent ketama", False
            else:
                new["distribution"] = "modula"
        elif name == "ketama_weighted":
            if _int(name, value):
                new["hash"], new["ketama_hash"] = "md5", hashers["md5"]
                new["distribution"], weighted = "consistent weighted", True
            else:
                new["distribution"], weighted = "consistent ketama", False
        elif name == "distribution":
            if value is None:
                raise TypeError("behavior distribution must be int, not NoneType")
            dist = value
            distributions[dist]  # KeyError for a name (or a number) pylibmc lacks
            if dist not in _SUPPORTED_DISTRIBUTIONS:
                raise _quickmc.NotSupportedError(f"distribution {dist!r} is not supported by quickmc")
            new["distribution"] = dist
            if dist.startswith("consistent"):
                weighted = dist == "consistent weighted"
        elif name in ("auto_eject", "remove_failed"):
            # One libmemcached flag under two names.
            new["auto_eject"] = new["remove_failed"] = int(bool(_int(name, value)))
        elif name in _STRINGS:
            if value not in _STRINGS[name]:
                raise ValueError(f"behavior {name} must be one of {_STRINGS[name]}, not {value!r}")
            new[name] = value
        elif name in _FLAGS:
            new[name] = int(bool(_int(name, value)))
        else:
            new[name] = _stored(name, value)
    if changes.get("namespace"):
        raise _quickmc.NotSupportedError("the namespace callback is not supported; use key_prefix")
    new["ketama"] = int(new["distribution"].startswith("consistent"))
    # Weights count only on a continuum (modula reads back unweighted).
    new["ketama_weighted"] = int(weighted and bool(new["ketama"]))
    if new["max_connections"] < 1:
        raise ValueError("behavior max_connections must be at least 1")
    if new["pipelined"] < 0:
        raise ValueError("behavior pipelined must be 0 (off) or a number of connections per server")
    if new["pipeline_spin"] < 0:
        raise ValueError("behavior pipeline_spin must be 0 (never spin) or a number of microseconds")
    return new
