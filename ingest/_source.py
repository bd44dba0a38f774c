"""Shared plumbing of the importers: locating the source files and writing whole tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from gfm.errors import RawInputError
from ingest.manifest import RawManifest
from ingest.schema import TABLES
from ingest.writer import RawBatchWriter

UNKNOWN = "unknown"  # the value of a categorical attribute a source does not have


def require_files(src: Path, names: list[str], dataset: str) -> None:
    """Raise a RawInputError naming the first missing source file (or the folder itself)."""
    if not src.is_dir():
        raise RawInputError(f"{dataset} folder not found (pass --path)", file=str(src))
    for name in names:
        if not (src / name).is_file():
            raise RawInputError(f"{dataset} file missing from {src}", file=str(src / name))


def write_batch(
    raw_dir: Path,
    tables: dict[str, pa.Table | pd.DataFrame],
    manifest: RawManifest,
    *,
    partition_by_day: bool = True,
) -> dict[str, int]:
    """Write the three tables and the manifest as one atomic raw batch; returns row counts.

    ``partition_by_day=False`` writes interactions as one file (for logs spread over years,
    where daily partitions would be thousands of tiny files).
    """
    with RawBatchWriter(raw_dir) as out:
        for name in TABLES:
            data = tables[name]
            arrow = (
                pa.Table.from_pandas(data, preserve_index=False) if isinstance(data, pd.DataFrame) else data
            )
            if name == "interactions" and partition_by_day:
                out.write_interactions(arrow, part=0)
            else:
                out.write_table(name, arrow, part=0)
        out.write_manifest(manifest)
    return dict(out.counts)
