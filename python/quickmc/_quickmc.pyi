"""Type stubs for quickmc._quickmc, the Rust half of quickmc (PyO3, abi3).

Use ``quickmc.Client``; this base class is what it builds on, as pylibmc's
``Client`` builds on ``_pylibmc.client``.
"""

from typing import Any, Iterable, Mapping, Optional, Union

Key = Union[str, bytes]

__version__: str

class Client:
    """pylibmc's operations on quickmc's Rust core. Every network call
    releases the GIL; one instance is safe to share between threads."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "Client": ...
    def _configure(self, servers: list[str], options: Mapping[str, Any]) -> None:
        """(Re)builds the Rust client for canonical server specs
        (``tls://host:port:weight`` for a server spoken to over TLS) and
        options: the behaviors (``pipelined`` included), ``binary``,
        ``username``/``password``, and the TLS options ``tls``, ``tls_ca``,
        ``tls_cert``, ``tls_key``, ``tls_server_name``,
        ``tls_dangerously_skip_verification`` (used by ``quickmc.Client``).
        TLSConfigError if a TLS file cannot be used."""
    def get(self, key: Key, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` on a miss (an empty key is a miss)."""
    def gets(self, key: Key) -> tuple[Any, Optional[int]]:
        """``(value, cas_id)``, or ``(None, None)`` on a miss. Works whether
        or not the ``cas`` behavior is set."""
    def set(self, key: Key, val: Any, time: int = 0, min_compress_len: int = 0, compress_level: int = -1) -> bool:
        """Stores ``val``; True if stored. ``time``: seconds (or a unix time
        past 30 days). Compresses with zlib (or zstd) when ``min_compress_len``
        > 0, the value is at least that long, and it shrinks. TooBig when
        the server refuses the size."""
    def add(self, key: Key, val: Any, time: int = 0, min_compress_len: int = 0, compress_level: int = -1) -> bool:
        """Stores only if ``key`` is missing; False if it exists."""
    def replace(self, key: Key, val: Any, time: int = 0, min_compress_len: int = 0, compress_level: int = -1) -> bool:
        """Stores only if ``key`` exists. A missing key: NotFound with
        ``binary=True`` (pylibmc's binary mode), False otherwise."""
    def append(self, key: Key, val: Any, time: int = 0, min_compress_len: int = 0, compress_level: int = -1) -> bool:
        """Appends the serialized bytes of ``val``; False if ``key`` is missing."""
    def prepend(self, key: Key, val: Any, time: int = 0, min_compress_len: int = 0, compress_level: int = -1) -> bool:
        """Prepends the serialized bytes of ``val``; False if ``key`` is missing."""
    def cas(self, key: Key, val: Any, cas: int, time: int = 0) -> bool:
        """Stores only if the CAS id is still ``cas``: False on a mismatch,
        NotFound if the key is missing. Never compresses."""
    def delete(self, key: Key) -> bool:
        """Deletes ``key``; False if it was missing."""
    def incr(self, key: Key, delta: int = 1) -> int:
        """Adds ``delta`` (>= 0) and returns the new value; NotFound if
        missing, UnknownReadFailure if not a number."""
    def decr(self, key: Key, delta: int = 1) -> int:
        """Subtracts ``delta`` (stopping at 0) and returns the new value."""
    def touch(self, key: Key, time: int) -> bool:
        """Sets a new expiration; False if ``key`` is missing."""
    def get_multi(self, keys: Iterable[Key], key_prefix: Optional[Key] = None) -> dict[Any, Any]:
        """The hits among ``keys`` (looked up as ``key_prefix + key``), keyed
        by the caller's own key objects. Every server is asked at once."""
    def set_multi(self, keys: Union[Mapping[Any, Any], Iterable[tuple[Any, Any]]], time: int = 0,
                  key_prefix: Optional[Key] = None, min_compress_len: int = 0,
                  compress_level: int = -1) -> list[Any]:
        """Stores every pair; returns the keys not stored (TooBig if a value
        is too large, as pylibmc)."""
    def add_multi(self, keys: Union[Mapping[Any, Any], Iterable[tuple[Any, Any]]], time: int = 0,
                  key_prefix: Optional[Key] = None, min_compress_len: int = 0,
                  compress_level: int = -1) -> list[Any]:
        """Stores each pair whose key is missing; returns the keys not stored."""
    def delete_multi(self, keys: Iterable[Key], key_prefix: Optional[Key] = None, *, time: Any = None) -> bool:
        """Deletes every key; True only if every one existed."""
    def incr_multi(self, keys: Iterable[Key], key_prefix: Optional[Key] = None, delta: int = 1) -> None:
        """Increments every key; NotFound ("N keys not found") if any was
        missing (the others are still incremented)."""
    def hash(self, key: Key) -> int:
        """The index of the server ``key`` maps to (libmemcached's placement)."""
    def get_stats(self, arg: Optional[Key] = None) -> list[tuple[bytes, dict[str, bytes]]]:
        """``[(b"host:port (index)", {name: value}), ...]`` for every server;
        ``arg`` names a group ("items", "slabs", "settings", ...).
        SomeErrors if a server fails."""
    def flush_all(self, time: int = 0) -> bool:
        """Invalidates every item on every server (after ``time`` seconds)."""
    def disconnect_all(self) -> None:
        """Closes every pooled connection; operations reconnect on demand."""
    def clone(self) -> "Client":
        """A client of the same type sharing this one's connection pools."""
    def serialize(self, value: Any) -> tuple[bytes, int]:
        """pylibmc's encoding: bytes 0, str 16, bool 2, int 4, else pickle 1.
        Override in a subclass to store values your own way."""
    def deserialize(self, bytes: bytes, flags: int) -> Any:
        """pylibmc's decoding of stored bytes and flags. Override in a
        subclass; raise CacheMiss to turn the key into a miss. As in
        pylibmc, ``bytes`` is already decompressed and ``flags`` are as
        stored, the compression bit included."""

class Error(Exception):
    """Base class of every quickmc error (pylibmc.Error)."""

MemcachedError = Error

class CacheMiss(Error):
    """Raise in ``deserialize`` to turn a key into a miss."""

class Failure(Error): ...
class HostLookupError(Error): ...
class ConnectionError(Error):
    """Connecting failed, or the connection broke mid-operation."""
class ConnectionBindError(Error): ...
class WriteError(Error): ...
class ReadError(Error): ...
class UnknownReadFailure(Error):
    """The server refused the operation (incr/decr of a non-number)."""
class ProtocolError(Error): ...
class ClientError(Error): ...
class ServerError(Error): ...
class SocketCreateError(Error): ...
class DataExists(Error): ...
class DataDoesNotExist(Error): ...
class NotFound(Error):
    """The key is not in the cache."""
class AllocationError(Error): ...
class SomeErrors(Error):
    """A server failed in an operation on every server."""
class NoServers(Error): ...
class UnixSocketError(Error): ...
class NotSupportedError(Error):
    """A behavior or option quickmc does not support."""
class FetchNotFinished(Error): ...
class BadKeyProvided(Error):
    """A key was refused (verify_keys, or a key_prefix making it too long)."""
class InvalidHostProtocolError(Error):
    """A server spec with a transport quickmc does not speak (UDP)."""
class ServerDead(Error): ...
class ServerDown(Error):
    """Connecting to the server failed recently: it is skipped until
    retry_timeout passes."""
class TooBig(Error):
    """The value is larger than the server accepts."""
class UnknownStatKey(Error): ...
class Timeout(Error):
    """quickmc's own: a server did not answer in time."""
class TLSError(ConnectionError):
    """quickmc's own: the TLS handshake with a server failed (a certificate
    not signed by the trusted CA, not for the server's name, or expired; a
    client certificate the server refused; a server that does not speak
    TLS). A ConnectionError: it counts as a failed connect."""
class TLSConfigError(Error):
    """quickmc's own: a TLS option cannot be used (a ``tls_ca``,
    ``tls_cert`` or ``tls_key`` file missing, unreadable, or holding no
    PEM certificate or key). Raised by the constructor."""

#: (name, class) for every pylibmc exception, in pylibmc's order.
exceptions: list[tuple[str, type[Error]]]
