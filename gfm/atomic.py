"""Small shared files: atomic JSON replacement and a lock for read-modify-write."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any, **dump_kwargs: Any) -> None:
    """Write ``data`` as JSON to ``path``: temp file, fsync, rename, fsync of the folder.

    Readers see the old file or the new one, never a torn one; callers that read-modify-write
    hold their own lock around this.

    Args:
        path: The file to replace.
        data: Anything ``json.dump`` takes.
        **dump_kwargs: Passed to ``json.dump`` (``indent``, ``sort_keys``).

    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, **dump_kwargs)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<path>.lock`` (created beside ``path``) for the block.

    For read-modify-write of a small file shared by several processes (a run, ``gfm forget``,
    the service).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_suffix(".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
