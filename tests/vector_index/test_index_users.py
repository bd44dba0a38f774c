"""The user vector cache in front of the (slow) Feast online store."""

from __future__ import annotations

import numpy as np

from vector_index.users import CachedUserVectors


class CountingSource:
    """A user vector source that counts reads (beside the real Feast test in test_index_service)."""

    def __init__(self) -> None:
        self.reads: list[int] = []

    def get(self, user_id: int) -> np.ndarray | None:
        self.reads.append(user_id)
        return None if user_id < 0 else np.full(4, float(user_id), dtype=np.float32)


def test_each_user_is_read_once_per_live_version() -> None:
    source = CountingSource()
    cache = CachedUserVectors(source)
    for _ in range(3):
        vector = cache.get(7, "v1")
        assert vector is not None and vector[0] == 7.0
    assert source.reads == [7]
    cache.get(7, "v2")  # a new live version empties the cache
    assert source.reads == [7, 7]


def test_unknown_users_are_not_cached_and_size_is_bounded() -> None:
    source = CountingSource()
    cache = CachedUserVectors(source, maxsize=2)
    assert cache.get(-1, "v1") is None and cache.get(-1, "v1") is None
    assert source.reads == [-1, -1]
    for user in (1, 2, 3):
        cache.get(user, "v1")
    assert len(cache) == 2
    cache.get(1, "v1")  # evicted as least recently used: read again
    assert source.reads[-1] == 1 and len(source.reads) == 6
