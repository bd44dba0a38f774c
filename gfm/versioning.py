"""Version strings: one string names a model run everywhere (checkpoint, Parquet, Feast, Milvus)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

_VERSION_RE = re.compile(r"^v\d{8}t\d{6}_[0-9a-f]{6}$")


def new_version(seed_text: str = "", now: datetime | None = None) -> str:
    """A new sortable version id such as ``v20261130t013200_ab12cd``.

    Args:
        seed_text: Mixed into the suffix (e.g. a data fingerprint) so two runs in the same
            second differ when their inputs differ.
        now: The timestamp to use (UTC now when None).
    """
    now = now or datetime.now(UTC)
    digest = hashlib.sha1(f"{now.isoformat()}|{seed_text}".encode()).hexdigest()[:6]
    return f"v{now:%Y%m%dt%H%M%S}_{digest}"


def is_version(text: str) -> bool:
    """Whether ``text`` is a well-formed version id (also safe as a Milvus/Feast name part)."""
    return bool(_VERSION_RE.match(text))


def list_versions(folder: Path) -> list[str]:
    """Version ids that have a sub-folder in ``folder``, oldest first."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and is_version(p.name))


def latest_version(folder: Path) -> str | None:
    """The newest version id in ``folder``, or None."""
    versions = list_versions(folder)
    return versions[-1] if versions else None


def fingerprint_files(paths: list[Path]) -> str:
    """A short content hash over files (name, size and bytes), for provenance."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]
