"""Each HGNN version's graph partners: the items every item shares a co-consumption edge with.

``embeddings/hgnn/<version>/partners.parquet`` (``gfm.naming.export_path(..., "partner")``) is
written beside the version's vectors from the graph they were exported from, and holds one row
per direction of every edge (self-loops and repeats dropped): ``item_id`` BIGINT, ``partner_id``
BIGINT, ``partner_type`` VARCHAR (the partner's content type), sorted by ``item_id``.

The served 2T-HGNN reads each consumed item's HGNN softmax over these partners rather than over
its nearest items (``two_tower.mixture_reads``; round 37 in docs/results.md says why): the HGNN
was trained to tell an item's partners apart, and its nearest items include look-alikes that
share no edge with it. This module imports no torch, so the search service reads it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from embedding_jobs.export import write_table_atomic
from gfm.errors import NotFoundError

__all__ = ["Partners"]


@dataclass(frozen=True)
class Partners:
    """Each item's partners, as sorted arrays (one CSR row per item with a partner).

    Attributes:
        item_ids: Items with at least one partner, ascending.
        indptr: Row ``r``'s partners are ``partner_ids[indptr[r]:indptr[r + 1]]``.
        partner_ids: The partners, ascending within a row.
        partner_types: Index into ``types`` of each partner's content type.
        types: The content types, ascending.

    """

    item_ids: np.ndarray
    indptr: np.ndarray
    partner_ids: np.ndarray
    partner_types: np.ndarray
    types: tuple[str, ...]

    @classmethod
    def from_edges(cls, src: np.ndarray, dst: np.ndarray, ids: np.ndarray, types: np.ndarray) -> Partners:
        """Both directions of each undirected edge ``(src[i], dst[i])``.

        Args:
            src: One end of each edge.
            dst: The other end.
            ids: Every item that ends an edge, ascending.
            types: Each of ``ids``' content type.

        """
        a = np.concatenate([src, dst]).astype(np.int64)
        b = np.concatenate([dst, src]).astype(np.int64)
        order = np.lexsort((b, a))
        a, b = a[order], b[order]
        keep = (a != b) & np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
        a, b = a[keep], b[keep]
        names, codes = np.unique(np.asarray(types, dtype=str), return_inverse=True)
        partner_types = codes[np.searchsorted(ids, b)].astype(np.int32)
        items, starts = np.unique(a, return_index=True)
        indptr = np.append(starts, len(a)).astype(np.int64)
        return cls(items, indptr, b, partner_types, tuple(str(t) for t in names))

    def of(self, item_id: int, content_type: str | None = None) -> np.ndarray:
        """The partners of one item (of ``content_type`` only, when given); empty when it has none."""
        row = int(np.searchsorted(self.item_ids, item_id))
        if row >= len(self.item_ids) or self.item_ids[row] != item_id:
            return np.zeros(0, dtype=np.int64)
        lo, hi = self.indptr[row], self.indptr[row + 1]
        mates = self.partner_ids[lo:hi]
        if content_type is None:
            return mates
        if content_type not in self.types:
            return np.zeros(0, dtype=np.int64)
        same: np.ndarray = mates[self.partner_types[lo:hi] == self.types.index(content_type)]
        return same

    def matrix(self, rows: np.ndarray, columns: np.ndarray) -> sp.csr_matrix:
        """A boolean ``(len(rows), len(columns))`` matrix: which of ``columns`` each of ``rows`` partners.

        ``rows`` and ``columns`` are item ids (an evaluation's vector rows and a task's candidates).
        """
        owners = np.repeat(self.item_ids, np.diff(self.indptr))
        r = pd.Index(rows).get_indexer(owners)
        c = pd.Index(columns).get_indexer(self.partner_ids)
        keep = (r >= 0) & (c >= 0)
        data = np.ones(int(keep.sum()), dtype=bool)
        return sp.csr_matrix((data, (r[keep], c[keep])), shape=(len(rows), len(columns)))

    def write(self, path: Path) -> Path:
        """Write the contract's Parquet file (module docstring) atomically."""
        sizes = np.diff(self.indptr)
        names = np.array(self.types, dtype=object)[self.partner_types] if len(self.types) else []
        table = pa.table(
            {
                "item_id": pa.array(np.repeat(self.item_ids, sizes), type=pa.int64()),
                "partner_id": pa.array(self.partner_ids, type=pa.int64()),
                "partner_type": pa.array(names, type=pa.string()).dictionary_encode(),
            }
        )
        return write_table_atomic(table, path)

    @classmethod
    def read(cls, path: Path) -> Partners:
        """Read a file ``write`` wrote.

        Raises:
            NotFoundError: If the file does not exist (a version exported before partners were).

        """
        if not path.exists():
            raise NotFoundError(f"partner file not found: {path}")
        table = pq.read_table(path)
        items = table.column("item_id").to_numpy().astype(np.int64, copy=False)
        mates = table.column("partner_id").to_numpy().astype(np.int64, copy=False)
        names = table.column("partner_type").to_pandas().astype(str).to_numpy()
        types, codes = np.unique(names, return_inverse=True)
        order = np.lexsort((mates, items))
        items, mates, codes = items[order], mates[order], codes[order]
        ids, starts = np.unique(items, return_index=True)
        indptr = np.append(starts, len(items)).astype(np.int64)
        return cls(ids, indptr, mates, codes.astype(np.int32), tuple(str(t) for t in types))

    def __len__(self) -> int:
        """Items with at least one partner."""
        return len(self.item_ids)
