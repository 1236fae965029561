"""``BoundedCache``: a thread-safe least-recently-used memo bounded in entries *and* in bytes.

``functools.lru_cache`` bounds only the number of entries; the shop caches rendered pages, whose size the request
decides (a long product description, many options), so a page-count bound alone does not bound memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """Memoise ``fn(*key)``, keeping at most ``max_entries`` results and at most ``max_bytes`` of them.

    Args:
        fn: the function to memoise (its arguments must be hashable).
        max_entries: most results kept; 0 disables caching.
        max_bytes: most bytes kept, as measured by ``size``; a result larger than this is returned, not kept.
        size: a result's size in bytes (an estimate is fine: it only decides evictions).
    """

    def __init__(self, fn: Callable[..., V], *, max_entries: int, max_bytes: int, size: Callable[[V], int]) -> None:
        if max_entries < 0 or max_bytes < 0:
            raise ValueError(f"max_entries and max_bytes must be >= 0, got {max_entries} and {max_bytes}")
        self.fn = fn
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._size = size
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = self.misses = 0

    def __call__(self, *key: Hashable) -> V:
        """``fn(*key)``, from the cache when it holds it (the least recently used results are evicted first)."""
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return item[0]
            self.misses += 1
        value = self.fn(*key)  # outside the lock: two threads may compute the same page, never block each other
        nbytes = self._size(value)
        if self.max_entries == 0 or nbytes > self.max_bytes:
            return value
        with self._lock:
            if key not in self._items:
                self._items[key] = (value, nbytes)
                self.bytes += nbytes
            while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self.bytes -= dropped
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget every result."""
        with self._lock:
            self._items.clear()
            self.bytes = 0
