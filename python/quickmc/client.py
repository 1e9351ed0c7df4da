"""The Python-level client, as ``pylibmc.client.Client``: server specs,
behaviors, ``repr``, the mapping interface and ``clone`` around the Rust
base class, which does every operation."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Union

from . import _behaviors, _quickmc
from .consts import BehaviorDict

__all__ = ["Client", "translate_server_spec", "translate_server_specs"]

#: pylibmc's server type numbers (``pylibmc.server_type_*``).
server_type_tcp = 1
server_type_udp = 2
server_type_unix = 4

ServerSpec = Union[str, tuple]

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
    stype = {"tcp": server_type_tcp, "udp": server_type_udp, "unix": server_type_unix}[scheme]
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


def _canonical(spec: tuple[int, str, int, int]) -> str:
    """The spec string the Rust core parses."""
    stype, addr, port, weight = spec
    if stype == server_type_unix:
        return addr
    if stype != server_type_tcp:
        raise _quickmc.InvalidHostProtocolError(
            f"server {addr!r}: quickmc speaks TCP and Unix sockets, not UDP"
        )
    host = f"[{addr}]" if ":" in addr else addr
    return f"{host}:{port or 11211}:{weight}"


class Client(_quickmc.Client):
    """A memcached client with pylibmc's API, on quickmc's Rust core.

    Safe to share between threads: every operation releases the GIL during
    its I/O and takes a pooled connection of the key's server. quickmc always
    speaks memcached's binary protocol; ``binary=False`` is accepted (and
    shown in ``repr``) for compatibility.
    """

    def __init__(
        self,
        servers: Iterable[ServerSpec] | str,
        behaviors: Mapping[str, Any] | None = None,
        binary: bool = False,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        super().__init__()
        if isinstance(servers, (str, bytes)):
            servers = [servers]
        self.binary = binary
        self.addresses = list(servers)
        if (username is None) != (password is None):
            raise TypeError("SASL requires both username and password")
        self._credentials = (username, password)
        self._specs = translate_server_specs(self.addresses)
        if not self._specs:
            raise _quickmc.Error("empty server list")
        for spec in self._specs:
            _canonical(spec)
        self._behaviors: dict[str, Any] = dict(_behaviors.DEFAULTS)
        applied = _behaviors.apply(self._behaviors, behaviors)
        # libmemcached adds servers after the behaviors; a weight above 1
        # under a consistent distribution turns weighted ketama on.
        if applied["ketama"] and any(spec[3] > 1 for spec in self._specs):
            applied["ketama_weighted"] = 1
        self._reconfigure(applied)

    def _reconfigure(self, behaviors: dict[str, Any]) -> None:
        specs = self._specs
        if behaviors["_sort_hosts"]:
            specs = sorted(specs, key=lambda s: (s[1].encode(), s[2]))
        options = dict(behaviors)
        options["binary"] = bool(self.binary)
        options["username"], options["password"] = self._credentials
        self._configure([_canonical(s) for s in specs], options)
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
        obj._behaviors = dict(self._behaviors)
        return obj
