"""pylibmc's constants: hashers, distributions, behavior names.

The numbers are libmemcached's (``MEMCACHED_HASH_*``,
``MEMCACHED_DISTRIBUTION_*``), as pylibmc exposes them, so code that reads
``pylibmc.hashers["md5"]`` gets the same value here.
"""

from __future__ import annotations

from . import _quickmc

#: Hash name -> libmemcached constant (pylibmc.hashers). quickmc computes
#: every one bit for bit as libhashkit 1.1.4 does, except ``hsieh``
#: (Debian's libhashkit lacks it too: setting it raises NotSupportedError).
hashers: dict[str, int] = {
    "default": 0,
    "md5": 1,
    "crc": 2,
    "fnv1_64": 3,
    "fnv1a_64": 4,
    "fnv1_32": 5,
    "fnv1a_32": 6,
    "hsieh": 7,
    "murmur": 8,
    "jenkins": 9,
}
hashers_rvs: dict[int, str] = {v: k for k, v in hashers.items()}

#: Distribution name -> libmemcached constant (pylibmc.distributions).
#: quickmc places keys as libmemcached does for ``modula``, ``consistent``,
#: ``consistent ketama`` and ``consistent weighted``; the others (random,
#: virtual bucket, ketama spy, max) raise NotSupportedError when set.
distributions: dict[str, int] = {
    "modula": 0,
    "consistent": 1,
    "consistent ketama": 2,
    "random": 3,
    "consistent ketama spy": 4,
    "consistent weighted": 5,
    "virtual bucket": 6,
    "consistent max": 7,
}
distributions_rvs: dict[int, str] = {v: k for k, v in distributions.items()}

#: Every behavior name pylibmc accepts, in the order pylibmc applies them.
all_behaviors: list[str] = [
    "no_block",
    "tcp_nodelay",
    "tcp_keepalive",
    "hash",
    "ketama_hash",
    "ketama",
    "ketama_weighted",
    "distribution",
    "cas",
    "buffer_requests",
    "verify_keys",
    "connect_timeout",
    "send_timeout",
    "receive_timeout",
    "num_replicas",
    "auto_eject",
    "retry_timeout",
    "remove_failed",
    "failure_limit",
    "_io_msg_watermark",
    "_io_bytes_watermark",
    "_io_key_prefetch",
    "_hash_with_prefix_key",
    "_noreply",
    "_sort_hosts",
    "_poll_timeout",
    "_socket_send_size",
    "_socket_recv_size",
    "dead_timeout",
    "pickle_protocol",
]

#: pylibmc's callback names (settable through ``behaviors``).
all_callbacks: list[str] = ["namespace"]

#: Behaviors quickmc adds (pylibmc has no such names).
quickmc_behaviors: list[str] = [
    # "zlib" (default: flag 8, what pylibmc reads) or "zstd" (quickmc's own
    # flag 512: smaller and faster, but pylibmc cannot read such values).
    "compression",
    # Pooled connections per server, shared by every thread using the client.
    "max_connections",
    # The pipelined mode: this many connections per server (0: off, the
    # pooled mode; 2 is a good start), each shared by every thread, whose
    # requests go out together in shared writes. max_connections then does
    # not apply.
    "pipelined",
    # In the pipelined mode, how long (µs, default 200) a thread waiting for
    # its reply may spin, yielding the processor every few looks, before it
    # sleeps: a reply from a nearby server often comes back sooner than a
    # sleeping thread wakes. Adaptive (a thread whose replies take longer
    # soon stops spinning); 0 sleeps at once (for servers a network hop
    # away, where replies take about that long, lower it or use 0).
    "pipeline_spin",
]


class BehaviorDict(dict):
    """The ``behaviors`` dict: assigning a key sets that behavior on the client."""

    def __init__(self, client, *args, **kwds):
        super().__init__(*args, **kwds)
        self.client = client

    def __setitem__(self, name, value):
        super().__setitem__(name, value)
        self.client.set_behaviors({name: value})

    def update(self, d):
        super().update(d)
        self.client.set_behaviors(d.copy())


#: pylibmc's exception classes, as ``pylibmc.consts`` also offers them:
#: every one by name, and ``errors``, the tuple of them.
errors: tuple[type, ...] = tuple(exc for _, exc in _quickmc.exceptions)
globals().update(dict(_quickmc.exceptions))
