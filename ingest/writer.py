"""Write a raw batch atomically: into a temporary folder, swapped into place only on success.

A crash (or an exception) while generating or importing leaves the previous ``raw/`` untouched;
the temporary folder is removed, or cleaned up by the next run if the process died.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import TracebackType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.manifest import RawManifest, write_manifest
from ingest.schema import TABLES, arrow_schema

_US_PER_DAY = 86_400 * 1_000_000
_DICTIONARY_COLUMNS = ["user_id", "item_id", "event_type"]


class RawBatchWriter:
    """Context manager that builds ``raw_dir`` in a sibling temp folder and swaps it in on exit.

    Example:
        >>> with RawBatchWriter(cfg.raw_dir) as out:  # doctest: +SKIP
        ...     out.write_interactions(events, part=0)
        ...     out.write_table("items", items, part=0)
        ...     out.write_manifest(manifest)

    """

    def __init__(self, raw_dir: Path) -> None:
        self.raw_dir = raw_dir
        self.tmp_dir = raw_dir.with_name(f".{raw_dir.name}.tmp-{os.getpid()}")
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        self._has_manifest = False

    def __enter__(self) -> RawBatchWriter:
        self.raw_dir.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(self.raw_dir)
        if self.tmp_dir.exists():
            shutil.rmtree(self.tmp_dir)
        for table in TABLES:
            (self.tmp_dir / table).mkdir(parents=True)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            return
        if not self._has_manifest:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            raise RuntimeError("RawBatchWriter closed without a manifest")
        old = self.raw_dir.with_name(f".{self.raw_dir.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        if self.raw_dir.exists():
            os.replace(self.raw_dir, old)
        os.replace(self.tmp_dir, self.raw_dir)
        shutil.rmtree(old, ignore_errors=True)

    def write_table(self, table: str, data: pa.Table, part: int) -> int:
        """Write ``items`` or ``users`` rows as ``<table>/part-<part>.parquet``; returns the row count."""
        data = _conform(data, table)
        pq.write_table(data, self.tmp_dir / table / f"part-{part:05d}.parquet")
        self.counts[table] += data.num_rows
        return int(data.num_rows)

    def write_interactions(self, data: pa.Table, part: int) -> int:
        """Write events partitioned by day: ``interactions/event_date=YYYY-MM-DD/part-<part>.parquet``.

        Rows keep their order within each day; returns the row count.
        """
        data = _conform(data, "interactions")
        if data.num_rows == 0:
            return 0
        micros = pc.cast(data.column("event_at"), pa.int64()).to_numpy()
        days = np.floor_divide(micros, _US_PER_DAY)
        if np.any(np.diff(days) < 0):
            order = np.argsort(days, kind="stable")
            days, data = days[order], data.take(pa.array(order))
        days_sorted = days
        bounds = np.flatnonzero(np.diff(days_sorted)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(days_sorted)]])
        for start, end in zip(starts, ends, strict=True):
            day = np.datetime64(int(days_sorted[start]), "D")
            folder = self.tmp_dir / "interactions" / f"event_date={day}"
            folder.mkdir(exist_ok=True)
            pq.write_table(
                data.slice(start, end - start),
                folder / f"part-{part:05d}.parquet",
                use_dictionary=_DICTIONARY_COLUMNS,  # event ids are unique: a dictionary is wasted work
            )
        self.counts["interactions"] += data.num_rows
        return int(data.num_rows)

    def write_manifest(self, manifest: RawManifest) -> None:
        """Write ``_manifest.json`` (required before the batch can be swapped in)."""
        write_manifest(manifest, self.tmp_dir)
        self._has_manifest = True


def _conform(data: pa.Table, table: str) -> pa.Table:
    """Select and cast the contract columns, dropping schema metadata (byte-stable output)."""
    schema = arrow_schema(table)
    return data.select(schema.names).cast(schema).replace_schema_metadata(None)


def _remove_stale(raw_dir: Path) -> None:
    """Remove temp/old folders left by runs that died (their process no longer exists)."""
    import psutil

    for prefix in (f".{raw_dir.name}.tmp-", f".{raw_dir.name}.old-"):
        for path in raw_dir.parent.glob(prefix + "*"):
            pid = path.name.removeprefix(prefix)
            if pid.isdigit() and int(pid) != os.getpid() and not psutil.pid_exists(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
