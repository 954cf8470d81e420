"""A bounded memo for the pure parts of the decision (credentials, Content-Type, body).

The same Authorization value, Content-Type and body bytes come back request after
request (a test suite, a load generator, a client with one user), and what the
rules make of them depends on nothing else: settings are fixed for a service's
life. So the outcome is kept, for at most ``size`` inputs; past that the oldest
is forgotten. Values must be immutable (or never changed by their users): every
hit hands out the same object.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    __slots__ = ("_data", "get", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a memo holds at least one entry")
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        # The dict's own get: a hit costs one C call, no Python frame.
        self.get = self._data.get

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` for ``key`` (forgetting the oldest entry when full) and return it."""
        data = self._data
        # No lock: each dict operation is atomic, and a put racing another may only forget one
        # entry more than it had to; the loop brings the size back within the bound.
        while len(data) >= self.size and key not in data:
            try:
                data.popitem(last=False)
            except KeyError:  # emptied by a racing clear()
                break
        data[key] = value
        return value

    def __len__(self) -> int:
        return len(self._data)

    def values(self) -> list[V]:
        return list(self._data.values())

    def clear(self) -> None:
        self._data.clear()
