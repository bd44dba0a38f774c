"""Version strings: one string names a model run everywhere (checkpoint, Parquet, Feast, Milvus)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

from gfm.errors import StageError

# ``v<UTC time>_<6 hex>``; sorts by time, and is safe inside Milvus and Feast names
VERSION_PATTERN = r"v\d{8}t\d{6}_[0-9a-f]{6}"
_TIME_FORMAT = "%Y%m%dt%H%M%S"
_VERSION_RE = re.compile(f"^{VERSION_PATTERN}$")


def new_version(seed_text: str = "", now: datetime | None = None) -> str:
    """A new sortable version id such as ``v20261130t013200_ab12cd``.

    Args:
        seed_text: Mixed into the suffix (e.g. a data fingerprint) so two runs in the same
            second differ when their inputs differ.
        now: The timestamp to use (UTC now when None).
    """
    now = now or datetime.now(UTC)
    digest = hashlib.sha1(f"{now.isoformat()}|{seed_text}".encode()).hexdigest()[:6]
    return f"v{now.strftime(_TIME_FORMAT)}_{digest}"


def version_time(version: str) -> datetime:
    """The UTC time a version id was made at (to the second).

    Raises:
        StageError: If ``version`` is not a version id.

    """
    return datetime.strptime(check_version(version)[1:16], _TIME_FORMAT).replace(tzinfo=UTC)


def check_version(version: str) -> str:
    """Return ``version`` if it is a well-formed version id.

    Raises:
        StageError: If it is not (a version names folders and indexes, so it is never free text).

    """
    if not is_version(version):
        raise StageError(f"not a version id: {version!r} (expected e.g. v20261130t013200_ab12cd)")
    return version


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
