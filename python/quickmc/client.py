"""The Python-level client, as ``pylibmc.client.Client``: server specs,
behaviors, ``repr``, the mapping interface and ``clone`` around the Rust
base class, which does every operation."""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Optional, Union

from . import _behaviors, _quickmc
from .consts import (  # noqa: F401 - pylibmc.client offers these names too
    BehaviorDict,
    all_behaviors,
    all_callbacks,
    distributions,
    distributions_rvs,
    hashers,
    hashers_rvs,
)

__all__ = ["Client", "translate_server_spec", "translate_server_specs"]

#: pylibmc's server type numbers (``pylibmc.server_type_*``).
server_type_tcp = 1
server_type_udp = 2
server_type_unix = 4
server_type_map = {"tcp": server_type_tcp, "udp": server_type_udp, "unix": server_type_unix}

ServerSpec = Union[str, tuple]
#: A file path, as ``open`` takes it.
StrPath = Union[str, "os.PathLike[str]"]

#: The scheme of a server spoken to over TLS (``tls://host:port``).
TLS_SCHEME = "tls://"

_MISS_SENTINEL = object()


def _split_spec_type(spec: str) -> tuple[str, str]:
    if spec.startswith("/"):
        return ("unix", spec)
    if spec.startswith("udp:"):
        return ("udp", spec[4:])
    return ("tcp", spec)


def _unpack_addr(spec: str, port: Any = None, weight: Any = 1) -> tuple[str, Any, Any]:
    if spec.startswith("["):
        if "]" not in spec:
            raise ValueError(spec)
        if spec.endswith("]"):
            addr = spec[1:-1]
        else:
            (addr, port) = spec[1:].rsplit("]:", 1)
    elif ":" in spec:
        (addr, port) = spec.split(":", 1)
    else:
        addr = spec
    if isinstance(port, str) and ":" in port:
        (port, weight) = port.split(":", 1)
    return (addr, port, weight)


def translate_server_spec(server: str, port: int = 11211, weight: int = 1) -> tuple[int, str, int, int]:
    """Translate a spec into (type, address, port, weight), as pylibmc does.

    >>> translate_server_spec("127.0.0.1:22122:3")
    (1, '127.0.0.1', 22122, 3)
    >>> translate_server_spec("/var/run/memcached.sock")
    (4, '/var/run/memcached.sock', 0, 1)
    """
    (scheme, spec) = _split_spec_type(server)
    stype = server_type_map[scheme]
    if scheme == "unix":
        (addr, port) = (spec, 0)
    else:
        (addr, port, weight) = _unpack_addr(spec, port=port, weight=weight)
    return (stype, str(addr), int(port), int(weight))


def translate_server_specs(servers: Iterable[ServerSpec]) -> list[tuple[int, str, int, int]]:
    """Every spec as (type, address, port, weight); 3- and 4-tuples as given."""
    out = []
    for server in servers:
        if isinstance(server, tuple) and len(server) in (3, 4):
            stype, addr, port = server[:3]
            weight = server[3] if len(server) == 4 else 1
            out.append((int(stype), str(addr), int(port), int(weight)))
        else:
            if isinstance(server, bytes):
                server = server.decode()
            out.append(translate_server_spec(server))
    return out


def _split_tls(server: ServerSpec) -> tuple[ServerSpec, bool]:
    """A spec without its ``tls://`` scheme, and whether it had one."""
    if isinstance(server, bytes):
        server = server.decode()
    if isinstance(server, str) and server.startswith(TLS_SCHEME):
        return (server[len(TLS_SCHEME):], True)
    return (server, False)


def _canonical(spec: tuple[int, str, int, int], tls: bool = False) -> str:
    """The spec string the Rust core parses (``tls://`` first for a server
    spoken to over TLS)."""
    stype, addr, port, weight = spec
    if stype == server_type_unix:
        if tls:
            raise _quickmc.InvalidHostProtocolError(
                f"server {addr!r}: TLS is spoken over TCP, not over a Unix socket"
            )
        return addr
    if stype != server_type_tcp:
        raise _quickmc.InvalidHostProtocolError(
            f"server {addr!r}: quickmc speaks TCP and Unix sockets, not UDP"
        )
    host = f"[{addr}]" if ":" in addr else addr
    scheme = TLS_SCHEME if tls else ""
    return f"{scheme}{host}:{port or 11211}:{weight}"


def _tls_options(
    tls: bool,
    tls_ca: Optional[StrPath],
    tls_cert: Optional[StrPath],
    tls_key: Optional[StrPath],
    tls_server_name: Optional[str],
    tls_dangerously_skip_verification: bool,
) -> dict[str, Any]:
    """The TLS keyword arguments as the Rust core takes them (paths as str)."""
    if (tls_cert is None) != (tls_key is None):
        raise TypeError("a client certificate requires both tls_cert and tls_key")
    if tls_server_name is not None and not isinstance(tls_server_name, str):
        raise TypeError(f"tls_server_name must be str, not {type(tls_server_name).__name__}")

    def path(value: Optional[StrPath]) -> Optional[str]:
        return None if value is None else os.fspath(value)

    return {
        "tls": bool(tls),
        "tls_ca": path(tls_ca),
        "tls_cert": path(tls_cert),
        "tls_key": path(tls_key),
        "tls_server_name": tls_server_name,
        "tls_dangerously_skip_verification": bool(tls_dangerously_skip_verification),
    }


class Client(_quickmc.Client):
    """A memcached client with pylibmc's API, on quickmc's Rust core.

    Safe to share between threads: every operation releases the GIL during
    its I/O and takes a pooled connection of the key's server (or, with the
    ``pipelined`` behavior, shares a few connections per server between all
    threads). quickmc always speaks memcached's binary protocol;
    ``binary=False`` is accepted (and shown in ``repr``) for compatibility;
    as in pylibmc, ``username``/``password`` (SASL) need ``binary=True``.

    TLS (memcached started with ``-Z``), keyword-only, beyond pylibmc:

    - ``tls``: speak TLS to every server. Without it, only the servers given
      as ``"tls://host:port"`` (weight too: ``"tls://host:port:2"``) do,
      with the options below. TLS never moves a key.
    - ``tls_ca``: a PEM file of the CA certificates to trust (default: the
      platform's roots).
    - ``tls_cert``, ``tls_key``: a PEM client certificate chain and its
      private key (mutual TLS; both or neither).
    - ``tls_server_name``: the name the servers' certificates must carry
      (default: each server's host), to connect by IP address to a
      certificate issued for a name.
    - ``tls_dangerously_skip_verification``: accept any server certificate,
      unverified. Anyone on the path can then read and change everything:
      for a test server only.

    A file that cannot be used raises :class:`TLSConfigError` here; a
    handshake that fails raises :class:`TLSError` (a ``ConnectionError``)
    from the operation that connects.
    """

    def __init__(
        self,
        servers: Iterable[ServerSpec] | str,
        behaviors: Mapping[str, Any] | None = None,
        binary: bool = False,
        username: str | None = None,
        password: str | None = None,
        *,
        tls: bool = False,
        tls_ca: StrPath | None = None,
        tls_cert: StrPath | None = None,
        tls_key: StrPath | None = None,
        tls_server_name: str | None = None,
        tls_dangerously_skip_verification: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(servers, (str, bytes)):
            servers = [servers]
        self.binary = binary
        self.addresses = list(servers)
        if (username is None) != (password is None):
            raise TypeError("SASL requires both username and password")
        self._credentials = (username, password)
        split = [_split_tls(server) for server in self.addresses]
        self._specs = translate_server_specs([spec for spec, _ in split])
        self._tls_marked = [marked for _, marked in split]
        if username is not None and not binary:
            # As pylibmc (after parsing the servers): SASL is a
            # binary-protocol command. quickmc speaks binary either way;
            # refusing keeps code portable to pylibmc.
            raise TypeError("SASL requires the memcached binary protocol")
        if not self._specs:
            raise _quickmc.Error("empty server list")
        for spec, marked in zip(self._specs, self._tls_marked):
            _canonical(spec, marked)
        self._tls = _tls_options(tls, tls_ca, tls_cert, tls_key, tls_server_name,
                                 tls_dangerously_skip_verification)
        if not tls and not any(self._tls_marked) and any(
            v for k, v in self._tls.items() if k != "tls"
        ):
            raise ValueError(
                "TLS options given, but no server uses TLS: pass tls=True, "
                "or give servers as 'tls://host:port'"
            )
        self._behaviors: dict[str, Any] = dict(_behaviors.DEFAULTS)
        applied = _behaviors.apply(self._behaviors, behaviors)
        # libmemcached adds servers after the behaviors.
        self._reconfigure(self._servers_added(applied))

    def _servers_added(self, behaviors: dict[str, Any]) -> dict[str, Any]:
        """The behaviors once libmemcached has added the servers: a weight
        above 1 under a consistent distribution turns weighted ketama on."""
        if behaviors["ketama"] and any(spec[3] > 1 for spec in self._specs):
            behaviors["ketama_weighted"] = 1
        return behaviors

    def _reconfigure(self, behaviors: dict[str, Any]) -> None:
        specs = list(zip(self._specs, self._tls_marked))
        if behaviors["_sort_hosts"]:
            specs.sort(key=lambda s: (s[0][1].encode(), s[0][2]))
        if not behaviors["ketama_weighted"]:
            # libmemcached weighs servers only while its weighted-ketama flag
            # (read back as ketama_weighted) is on: set when servers with a
            # weight above 1 are added under a consistent distribution, or
            # by ketama_weighted; cleared when ketama is switched on later.
            specs = [((stype, addr, port, 1), tls) for (stype, addr, port, _), tls in specs]
        options = dict(behaviors)
        options["binary"] = bool(self.binary)
        options["username"], options["password"] = self._credentials
        options.update(self._tls)
        self._configure([_canonical(spec, tls) for spec, tls in specs], options)
        self._behaviors = behaviors

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.addresses!r}, binary={self.binary!r})"

    def __str__(self) -> str:
        addrs = ", ".join(map(str, self.addresses))
        return f"<{self.__class__.__name__} for {addrs}, binary={self.binary!r}>"

    # {{{ Mapping interface
    def __getitem__(self, key: Union[str, bytes]) -> Any:
        value = self.get(key, _MISS_SENTINEL)
        if value is _MISS_SENTINEL:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Union[str, bytes], value: Any) -> None:
        if not self.set(key, value):
            raise KeyError(f"failed setting {key!r}")

    def __delitem__(self, key: Union[str, bytes]) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def __contains__(self, key: Union[str, bytes]) -> bool:
        return self.get(key, _MISS_SENTINEL) is not _MISS_SENTINEL
    # }}}

    # {{{ Behaviors
    def get_behaviors(self) -> BehaviorDict:
        """The behaviors, ``hash`` and ``distribution`` as names."""
        return BehaviorDict(self, self._behaviors)

    def set_behaviors(self, behaviors: Mapping[str, Any]) -> None:
        """Sets behaviors (pylibmc names; ValueError for unknown ones). The
        Rust client is rebuilt: pooled connections are reopened on demand."""
        self._reconfigure(_behaviors.apply(self._behaviors, behaviors))

    behaviors = property(get_behaviors, set_behaviors)

    @property
    def behaviours(self) -> None:
        raise AttributeError("nobody uses british spellings")
    # }}}

    def clone(self) -> "Client":
        """A client sharing this one's connection pools and behaviors. Cheap;
        with quickmc a client is already safe to share between threads."""
        obj = super().clone()
        obj.addresses = list(self.addresses)
        obj.binary = self.binary
        obj._credentials = self._credentials
        obj._specs = list(self._specs)
        obj._tls_marked = list(self._tls_marked)
        obj._tls = dict(self._tls)
        obj._behaviors = dict(self._behaviors)
        # pylibmc's clone (and so its pools) adds the servers again, which
        # can turn weighted ketama back on: that clone places keys anew.
        behaviors = obj._servers_added(dict(self._behaviors))
        if behaviors != self._behaviors:
            obj._reconfigure(behaviors)
        return obj
