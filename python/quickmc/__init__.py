"""quickmc: a drop-in replacement for pylibmc, on quickmc's Rust core.

Switch with one line::

    import quickmc as pylibmc

    mc = pylibmc.Client(["127.0.0.1"], binary=True, behaviors={"ketama": True})
    mc.set("some_key", "Some value")
    mc.get("some_key")

Same API, same exceptions, same value flags (pickle, zlib) and the same key
placement as pylibmc 1.6, so both can share a cluster. Differences: quickmc
always speaks the binary protocol, one Client is safe to share between
threads (the GIL is released during I/O), multi-key operations reach every
server at once, zstd compression is available (behavior
``compression="zstd"``), TLS too (``Client(servers, tls=True,
tls_ca="ca.pem")``, or ``"tls://host:port"`` specs), and the pipelined
mode (behavior ``pipelined``: a few connections per server shared by
every thread). No libmemcached: the wheel is all it needs.
"""

from __future__ import annotations

from . import _quickmc
from ._quickmc import (
    AllocationError,
    BadKeyProvided,
    CacheMiss,
    ClientError,
    ConnectionBindError,
    ConnectionError,
    DataDoesNotExist,
    DataExists,
    Error,
    Failure,
    FetchNotFinished,
    HostLookupError,
    InvalidHostProtocolError,
    MemcachedError,
    NoServers,
    NotFound,
    NotSupportedError,
    ProtocolError,
    ReadError,
    ServerDead,
    ServerDown,
    ServerError,
    SocketCreateError,
    SomeErrors,
    Timeout,
    TLSConfigError,
    TLSError,
    TooBig,
    UnixSocketError,
    UnknownReadFailure,
    UnknownStatKey,
    WriteError,
    exceptions,
)
from .client import Client, server_type_tcp, server_type_udp, server_type_unix
from .consts import all_behaviors, all_callbacks, distributions, hashers
from .pools import ClientPool, ThreadMappedPool

#: quickmc's version (pylibmc reports its own here).
__version__: str = _quickmc.__version__
#: There is no libmemcached under quickmc: the Rust core speaks memcached's
#: binary protocol itself. Kept for code that prints it.
libmemcached_version: str = f"none (quickmc {__version__} speaks the memcached binary protocol itself)"
libmemcached_version_hex: int = 0
#: SASL PLAIN (username=, password=) is supported.
support_sasl: bool = True
#: zlib (pylibmc's) and zstd compression are supported.
support_compression: bool = True

# pylibmc's module constants: hash_md5, distribution_consistent_ketama, ...
for _name, _value in hashers.items():
    globals()[f"hash_{_name}"] = _value
for _name, _value in distributions.items():
    globals()[f"distribution_{_name.replace(' ', '_')}"] = _value
callback_namespace = 0
del _name, _value


def build_info() -> str:
    """One line describing the build, as pylibmc's build_info()."""
    return (
        f"quickmc {__version__} (pylibmc 1.6 API) on the quickmc Rust core, no libmemcached "
        f"(compression={support_compression}, sasl={support_sasl}, zstd=True)"
    )


__all__ = [
    "hashers",
    "distributions",
    "Client",
    "ClientPool",
    "ThreadMappedPool",
    "all_behaviors",
    "all_callbacks",
    "build_info",
    "exceptions",
    "libmemcached_version",
    "support_compression",
    "support_sasl",
    "MemcachedError",
    "Timeout",
    "TLSError",
    "TLSConfigError",
] + [name for name, _ in exceptions]
