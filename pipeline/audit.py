"""The audit log: who published, rolled back, removed or changed what, when and why.

One JSON object per line in ``<data_dir>/audit.jsonl`` (``gfm.naming.audit_log_path``), appended
under an exclusive lock and fsynced, so concurrent writers never interleave and an acknowledged
entry survives a crash. ``gfm audit`` prints it. Publish, rollback and gc write here; other
commands (forget, tokens) call ``append_audit`` too.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gfm.naming import audit_log_path

__all__ = ["append_audit", "os_user", "read_audit"]


def os_user() -> str:
    """The operating-system user running this process (``uid:<n>`` when it has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def append_audit(
    data_dir: Path, actor: str | None, action: str, what: dict[str, Any] | str, why: str = ""
) -> dict[str, Any]:
    """Append one entry and return it.

    Args:
        data_dir: The data dir whose log to append to.
        actor: Who did it: a token's team, or None for the OS user.
        action: What kind of change, e.g. ``publish``, ``rollback``, ``gc``, ``forget``, ``token``.
        what: What it changed (JSON-serialisable; ids and names, never secrets).
        why: The reason given (``--reason``), or what triggered it.

    """
    entry = {
        "at": datetime.now(UTC).isoformat(),
        "actor": actor or os_user(),
        "action": action,
        "what": what,
        "why": why,
    }
    line = json.dumps(entry, sort_keys=True, default=str) + "\n"
    path = audit_log_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = "\n" + line  # a torn line from a crash stays alone; this entry starts fresh
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock
    return entry


def read_audit(data_dir: Path) -> list[dict[str, Any]]:
    """Every entry, oldest first (a torn last line from a crash mid-write is skipped)."""
    path = audit_log_path(data_dir)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
