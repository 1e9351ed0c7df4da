"""Pools, as pylibmc's: ``ClientPool`` (a queue of clones) and
``ThreadMappedPool`` (a clone per thread).

A quickmc Client is already safe to share between threads and its clones
share connection pools, so these are only needed by code written for
pylibmc; they work exactly as pylibmc's do.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from queue import Queue
from typing import Any, Iterator, Optional

__all__ = ["ClientPool", "ThreadMappedPool"]


class ClientPool(Queue):
    """A queue of clients.

    >>> pool = ClientPool(mc, 4)           # doctest: +SKIP
    >>> with pool.reserve() as mc:         # doctest: +SKIP
    ...     mc.set("hi", "ho")
    """

    def __init__(self, mc: Any = None, n_slots: int = 0) -> None:
        Queue.__init__(self, n_slots)
        if mc and n_slots:
            self.fill(mc, n_slots)

    @contextmanager
    def reserve(self, block: bool = False) -> Iterator[Any]:
        """Context manager reserving a client; with ``block=False`` (the
        default) an exhausted pool raises ``queue.Empty`` at once."""
        mc = self.get(block)
        try:
            yield mc
        finally:
            self.put(mc)

    def fill(self, mc: Any, n_slots: int) -> None:
        """Fill *n_slots* of the pool with clones of *mc*."""
        for _ in range(n_slots):
            self.put(mc.clone())


class ThreadMappedPool(dict):
    """A client per thread, cloned from *master* on the thread's first
    ``reserve()``; call ``relinquish()`` before the thread exits."""

    def __new__(cls, master: Any) -> "ThreadMappedPool":
        return super().__new__(cls)

    def __init__(self, master: Any) -> None:
        self.master = master

    @property
    def current_key(self) -> Optional[int]:
        return threading.current_thread().ident

    @contextmanager
    def reserve(self) -> Iterator[Any]:
        """Reserve this thread's client (cloning the master the first time)."""
        key = self.current_key
        mc = self.pop(key, None)
        if mc is None:
            mc = self.master.clone()
        try:
            yield mc
        finally:
            self[key] = mc

    def relinquish(self) -> Any:
        """Drop this thread's client; returns it (or None)."""
        return self.pop(self.current_key, None)
