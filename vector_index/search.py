"""Search the live version of an (entity, model) through its alias.

``VectorSearcher`` resolves the alias to its collection (re-checked every few seconds, so an
alias swap by another process is picked up), knows the collection's dimension and content types,
validates every input, binds filters from templates, and returns ids with scores.
"""

from __future__ import annotations

import operator
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gfm.config import IndexConfig
from gfm.errors import DimensionError, NotFoundError
from vector_index.client import ensure_loaded
from vector_index.filters import TypeFilter, bind_filter
from vector_index.schema import ID_FIELD, VECTOR_FIELD, alias_name, search_params
from vector_index.versions import CollectionInfo, collection_info, live_version

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = ["Hit", "VectorSearcher"]

_REFRESH_S = 5.0
MAX_EXCLUDE = 10_000
# Up to this many excluded ids are left out by over-fetching ``k + len(exclude)`` hits and
# dropping them here: the filter then holds only the type (which Milvus prunes partitions on) and
# no long ``id not in [...]`` list to parse and test per candidate. Above it, the cost of a very
# deep top-k outweighs that, and the ids go into the filter instead.
OVERFETCH_MAX = 1_000


@dataclass(frozen=True)
class Hit:
    """One search result."""

    id: int
    score: float


class VectorSearcher:
    """Searches one alias (e.g. ``item_two_tower``) with validated inputs.

    Args:
        client: The process's Milvus client.
        cfg: Index settings (search ef, consistency level, metric).
        entity: ``item`` or ``user``.
        model: ``two_tower`` or ``hgnn``.

    """

    def __init__(self, client: MilvusClient, cfg: IndexConfig, entity: str, model: str) -> None:
        self.client = client
        self.cfg = cfg
        self.alias = alias_name(entity, model)
        self._info: CollectionInfo | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    # ---- the live collection --------------------------------------------------------------
    def info(self) -> CollectionInfo:
        """Describe the live collection (cached; re-resolved every few seconds).

        Raises:
            NotFoundError: If no version of this alias has been published.

        """
        now = time.monotonic()
        with self._lock:
            if self._info is None or now - self._checked > _REFRESH_S:
                version = live_version(self.client, self.alias)
                if version is None:
                    raise NotFoundError(f"no live version for {self.alias!r} (run `gfm index load --live`)")
                name = f"{self.alias}_{version}"
                if self._info is None or self._info.name != name:
                    ensure_loaded(self.client, name)
                    self._info = collection_info(self.client, name)
                self._checked = now
            return self._info

    @property
    def dim(self) -> int:
        """Vector dimension of the live version."""
        return self.info().dim

    @property
    def content_types(self) -> list[str]:
        """Known content types of the live version (the allowlist of type filters)."""
        return self.info().content_types

    # ---- lookups ------------------------------------------------------------------------
    def get_vector(self, entity_id: int) -> np.ndarray:
        """Return the stored vector of one id.

        Raises:
            NotFoundError: If the id is not in the live version.

        """
        found = self.get_vectors([int(entity_id)])
        if not found:
            raise NotFoundError(f"unknown id {entity_id} in {self.alias} ({self.info().version})")
        return found[int(entity_id)]

    def get_vectors(self, entity_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vectors of the ids that the live version holds (one query; unknown ids left out)."""
        info = self.info()
        wanted = [operator.index(i) for i in entity_ids]
        if not wanted:
            return {}
        rows = self.client.get(info.name, ids=wanted, output_fields=[VECTOR_FIELD])
        found = {int(r[ID_FIELD]): np.asarray(r[VECTOR_FIELD], dtype=np.float32) for r in rows}
        return {i: found[i] for i in wanted if i in found}

    def search(
        self,
        vectors: np.ndarray | Sequence[float] | Sequence[Sequence[float]],
        k: int,
        content_type: str | None = None,
        exclude_ids: Sequence[int] | None = None,
    ) -> list[list[Hit]]:
        """Top-``k`` neighbours of each query vector.

        Args:
            vectors: Query vectors, shape (n, dim) (or one vector of shape (dim,)).
            k: Results per query (>= 1).
            content_type: Keep only this content type; must be a known type.
            exclude_ids: Ids left out of every result (consumed items, the query item). Up to
                ``OVERFETCH_MAX`` of them are dropped from ``k + len(exclude_ids)`` fetched hits
                (exact: they can take at most that many places); more go into the filter.

        Returns:
            One list of hits per query, best first.

        Raises:
            DimensionError: If the vectors have the wrong dimension or hold NaN/Inf.
            FilterError: If ``content_type`` is not a known type.
            ValueError: If ``k`` < 1 or too many ids are excluded.

        """
        info = self.info()
        queries = np.asarray(vectors, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if queries.ndim != 2 or queries.shape[1] != info.dim:
            raise DimensionError(f"query vectors have shape {queries.shape}; expected (n, {info.dim})")
        if not np.isfinite(queries).all():
            raise DimensionError("query vectors hold NaN or Inf")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        excluded = [operator.index(i) for i in exclude_ids] if exclude_ids is not None else []
        if len(excluded) > MAX_EXCLUDE:
            raise ValueError(f"at most {MAX_EXCLUDE} ids can be excluded, got {len(excluded)}")
        in_python = len(excluded) <= OVERFETCH_MAX
        limit = k + len(excluded) if in_python else k
        expr = self._filter(info, content_type, None if in_python else excluded)
        results = self.client.search(
            info.name,
            data=list(queries),
            limit=limit,
            filter=expr,
            output_fields=[ID_FIELD],
            search_params=search_params(self.cfg, limit),
            consistency_level=self.cfg.consistency_level,
        )
        drop = set(excluded) if in_python else set()
        return [
            [Hit(int(h["id"]), float(h["distance"])) for h in hits if int(h["id"]) not in drop][:k]
            for hits in results
        ]

    def _filter(
        self, info: CollectionInfo, content_type: str | None, exclude_ids: Sequence[int] | None
    ) -> str:
        parts: list[str] = []
        params: dict[str, object] = {}
        if content_type is not None:
            parts.append("content_type == {t}")
            params["t"] = TypeFilter(content_type, info.content_types)
        if exclude_ids:
            parts.append("id not in {ex}")
            params["ex"] = list(exclude_ids)
        return bind_filter(" and ".join(parts), params)
