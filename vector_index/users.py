"""Where the service gets user vectors and the items each user already consumed.

The user vector source is injectable: production reads the Feast online store
(``FeastUserVectors``, through ``feature_repo.client.EmbeddingClient``); tests and offline tools can read
an exported ``users.parquet`` (``ParquetUserVectors``) with the same interface.
"""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from collections.abc import Container
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow.parquet as pq

from gfm.errors import NotFoundError

if TYPE_CHECKING:
    from gfm.config import Config

__all__ = [
    "CachedUserVectors",
    "ConsumedItems",
    "FeastUserVectors",
    "ParquetUserVectors",
    "UserVectorSource",
]


class UserVectorSource(Protocol):
    """Anything that returns a user's vector, or None for an unknown user."""

    def get(self, user_id: int) -> np.ndarray | None:
        """Return the user's vector (float32, 1-d), or None if the user is unknown."""
        ...


class ParquetUserVectors:
    """User vectors held in memory from an exported ``users.parquet``."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise NotFoundError(f"no user vectors at {path}")
        table = pq.read_table(path, columns=["user_id", "vector"])
        ids = table.column("user_id").to_numpy()
        arr = table.column("vector").combine_chunks()
        dim = len(arr[0]) if len(arr) else 0
        vectors = np.asarray(arr.flatten(), dtype=np.float32).reshape(len(ids), dim)
        self._index = {int(u): i for i, u in enumerate(ids)}
        self._vectors = vectors

    @classmethod
    def empty(cls) -> ParquetUserVectors:
        """Build a source that knows no user (before any version is published)."""
        source = cls.__new__(cls)
        source._index, source._vectors = {}, np.zeros((0, 0), dtype=np.float32)
        return source

    def get(self, user_id: int) -> np.ndarray | None:
        """Return the user's vector, or None."""
        row = self._index.get(int(user_id))
        return None if row is None else self._vectors[row]


class FeastUserVectors:
    """User vectors from the Feast online store (the production path).

    ``get(user_id, version)`` reads the given version's view, so the service pairs a user vector
    with the item collection of the same version (the one its Milvus alias points at), whatever
    Feast's current pointer says at that instant.
    """

    def __init__(self, cfg: Config, model: str = "two_tower") -> None:
        from feature_repo.client import EmbeddingClient  # heavy (imports feast); only when serving

        self._client = EmbeddingClient(cfg)
        self._model = model

    def get(self, user_id: int, version: str | None = None) -> np.ndarray | None:
        """Return the user's vector of ``version`` (None: Feast's current), or None if it has none."""
        try:
            vector = self._client.get_user_embedding(int(user_id), model=self._model, version=version)
        except NotFoundError:
            return None
        if vector is None:
            return None
        return np.asarray(vector, dtype=np.float32)


class CachedUserVectors:
    """An LRU cache in front of a user vector source, emptied when the live version changes.

    The version given to ``get`` is passed on to a source that takes one, so the vector comes from
    that version and never from another embedding space.

    A Feast online read costs 0.1-0.4 s (STACK-NOTES); a user's vector only changes with a new
    published version, so the service asks once per (live version, user). Unknown users are not
    cached: a later materialization may add them.

    Args:
        source: Where misses are read.
        maxsize: Users kept (least recently used dropped first).
        forgotten: Users removed by ``gfm forget`` (``gfm.tombstones.ForgottenUsers``): never
            answered, and dropped from the cache, even while the source still holds them.

    """

    def __init__(
        self, source: UserVectorSource, maxsize: int = 100_000, forgotten: Container[int] = frozenset()
    ) -> None:
        self.source = source
        self.forgotten = forgotten
        # a source whose get takes a version (FeastUserVectors) is asked for that version's vector
        self._pins = "version" in inspect.signature(source.get).parameters
        self.maxsize = maxsize
        self._version: str | None = None
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user_id: int, version: str) -> np.ndarray | None:
        """Return the user's vector for the live ``version`` (None if the source has none)."""
        key = int(user_id)
        if key in self.forgotten:
            with self._lock:
                self._cache.pop(key, None)
            return None
        with self._lock:
            if version != self._version:
                self._cache.clear()
                self._version = version
            vector = self._cache.get(key)
            if vector is not None:
                self._cache.move_to_end(key)
                return vector
        # outside the lock: misses of other users run in parallel
        vector = self.source.get(key, version) if self._pins else self.source.get(key)  # type: ignore[call-arg]
        if vector is not None:
            with self._lock:
                if version == self._version:
                    self._cache[key] = vector
                    if len(self._cache) > self.maxsize:
                        self._cache.popitem(last=False)
        return vector

    def __len__(self) -> int:
        return len(self._cache)


class ConsumedItems:
    """Items each user consumed in the training window (``fct_interactions.is_consumed``)."""

    def __init__(self, by_user: dict[int, np.ndarray]) -> None:
        self._by_user = by_user
        self._items: frozenset[int] | None = None

    @property
    def items(self) -> frozenset[int]:
        """Every item someone consumed (the others are fresh to the models: ``vector_index.blend``)."""
        if self._items is None:
            every = np.concatenate([np.zeros(0, dtype=np.int64), *self._by_user.values()])
            self._items = frozenset(np.unique(every).tolist())
        return self._items

    @classmethod
    def from_marts(cls, marts_dir: Path) -> ConsumedItems:
        """Read ``fct_interactions.parquet``; an absent file means nothing is excluded."""
        path = marts_dir / "fct_interactions.parquet"
        if not path.exists():
            return cls({})
        frame = pq.read_table(path, columns=["user_id", "item_id", "is_consumed"]).to_pandas()
        frame = frame[frame["is_consumed"].astype(bool)]
        groups = frame.groupby("user_id")["item_id"]
        return cls({int(u): items.to_numpy(dtype=np.int64) for u, items in groups})

    def user_ids(self) -> list[int]:
        """Every user with a consumed item, ascending."""
        return sorted(self._by_user)

    def get(self, user_id: int) -> list[int]:
        """Item ids the user consumed (empty for unknown users)."""
        items = self._by_user.get(int(user_id))
        return [] if items is None else items.tolist()

    def __len__(self) -> int:
        return len(self._by_user)
