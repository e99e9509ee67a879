"""Per-episode database: copy-on-write over the shared pristine data, with an incremental hash.

Entries (one order, one user, one product) are shared with :class:`RetailData` until a write tool asks
for a writable copy (:meth:`RetailDB.order_for_write` / :meth:`RetailDB.user_for_write`).  So a reset
costs two shallow dict copies, and the canonical hash (spec section 6) only re-renders the entries that
were written since the last hash; the rest of the canonical string is reused from the pristine data.
The result is byte-identical to ``sha256(str(to_canonical(db)))`` (checked by the tests).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .data import RetailData, copy_json, entry_fragment


class RetailDB:
    """The mutable DB of one episode: ``db["orders"]``, ``db["products"]``, ``db["users"]``.

    Tools may read any entry directly but must mutate only objects obtained through
    :meth:`order_for_write` / :meth:`user_for_write` (products are never mutated).
    """

    __slots__ = ("base", "orders", "products", "users", "_owned", "_dirty", "_frags", "_hash")
    #: renders one entry's piece of the hashed text (v1: ``str`` of its canonical pair); a subclass may differ
    fragment = staticmethod(entry_fragment)

    def __init__(self, base: RetailData) -> None:
        self.base = base
        self.orders: dict[str, Any] = dict(base.orders)
        self.users: dict[str, Any] = dict(base.users)
        self.products: dict[str, Any] = base.products  # read-only: no tool writes products
        self._owned: set[tuple[str, str]] = set()
        self._dirty: set[tuple[str, str]] = set()
        self._frags: dict[int, bytes] = {}
        self._hash: str | None = base.initial_hash

    def __getitem__(self, section: str) -> dict[str, Any]:
        if section == "orders":
            return self.orders
        if section == "users":
            return self.users
        if section == "products":
            return self.products
        raise KeyError(section)

    def _for_write(self, section: str, table: dict[str, Any], key: str) -> dict[str, Any]:
        k = (section, key)
        if k not in self._owned:
            table[key] = copy_json(table[key])
            self._owned.add(k)
        self._dirty.add(k)
        self._hash = None
        return table[key]

    def order_for_write(self, order_id: str) -> dict[str, Any]:
        """Writable order (copied from the pristine data on first write); marks it for re-hashing."""
        return self._for_write("orders", self.orders, order_id)

    def user_for_write(self, user_id: str) -> dict[str, Any]:
        """Writable user record; marks it for re-hashing."""
        return self._for_write("users", self.users, user_id)

    @property
    def written(self) -> frozenset[tuple[str, str]]:
        """``(section, key)`` of every entry a write tool has touched in this episode."""
        return frozenset(self._owned)

    def hash(self) -> str:
        """Canonical DB hash (spec section 6); cached until the next write."""
        if self._hash is not None:
            return self._hash
        base = self.base
        for section, key in self._dirty:
            pos = base.chunk_index[(section, key)]
            self._frags[pos] = self.fragment(key, self[section][key])
        self._dirty.clear()
        if self._frags:
            chunks = list(base.chunks)
            for pos, frag in self._frags.items():
                chunks[pos] = frag
            self._hash = hashlib.sha256(b"".join(chunks)).hexdigest()
        else:
            self._hash = base.initial_hash
        return self._hash

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the whole DB as plain JSON-like data."""
        return {
            "orders": copy_json(self.orders),
            "products": copy_json(self.products),
            "users": copy_json(self.users),
        }
