"""The release record: one durable JSON file per data dir that says which version is live.

Every version's lifecycle is kept here::

    running -> failed                      (a stage or gate failed, or the run's process died)
    running -> gated -> published          (every gate passed; the stores were moved to it)
    gated -> failed                        (publishing failed or was interrupted)
    published -> retired                   (a newer version was published)
    published -> rolled_back               (``gfm rollback`` made an older version live)
    retired | rolled_back -> published     (``gfm rollback`` made it live again)

``live`` names the one live version; ``pending`` holds a move of the stores that has begun and
not finished (see ``pipeline.release`` for the publish order and why it is crash-safe). Updates
take an exclusive ``flock`` and replace the file atomically (temp file, fsync, rename, fsync of
the folder), so a reader sees the record before or after an update, never half of one, and a
``kill -9`` cannot lose an acknowledged update.

This module only keeps the record; moving the stores (Feast, Milvus) is ``pipeline.release``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from gfm.atomic import locked, write_json_atomic
from gfm.errors import NotFoundError, StageError
from gfm.naming import release_record_path
from gfm.versioning import check_version

__all__ = [
    "RETAINED",
    "Pending",
    "Release",
    "ReleaseRecord",
    "abort_move",
    "begin_move",
    "commit_move",
    "editing",
    "process_alive",
    "read_record",
    "reap_dead_runs",
    "start_run",
    "transition",
]

Status = Literal["running", "failed", "gated", "published", "retired", "rolled_back"]
# a version in one of these states was live once: its data is kept so it can be rolled back to
RETAINED: frozenset[str] = frozenset({"published", "retired", "rolled_back"})
_ALLOWED: dict[str, set[str]] = {
    "running": {"failed", "gated"},
    "gated": {"failed", "published"},
    "published": {"retired", "rolled_back"},
    "retired": {"published"},
    "rolled_back": {"published"},
    "failed": set(),
}


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Release(BaseModel):
    """One version: its status, the process building it, and how it got there."""

    version: str
    status: Status
    pid: int | None = None
    host: str = ""
    pid_start: str = ""  # the process start time, so a reused pid is not taken for the run
    started_at: str = Field(default_factory=_now)
    updated_at: str = Field(default_factory=_now)
    reason: str = ""
    history: list[dict[str, str]] = Field(default_factory=list)


class Pending(BaseModel):
    """A move of every store to ``target`` that has begun (``previous`` was live before it)."""

    action: Literal["publish", "rollback"]
    target: str
    previous: str | None
    started_at: str = Field(default_factory=_now)
    pid: int | None = None  # the process moving the stores: a live one is not interrupted
    host: str = ""
    pid_start: str = ""

    def mover_alive(self) -> bool:
        """Whether the process that began the move still runs."""
        return process_alive(self.pid, self.host, self.pid_start)


class ReleaseRecord(BaseModel):
    """Every version's lifecycle, the live version, and an unfinished store move if any."""

    live: str | None = None
    pending: Pending | None = None
    releases: dict[str, Release] = Field(default_factory=dict)

    def get(self, version: str) -> Release:
        """The release of ``version``.

        Raises:
            NotFoundError: If the record does not know the version.

        """
        if version not in self.releases:
            known = ", ".join(sorted(self.releases)) or "none"
            raise NotFoundError(f"no release {version!r} in the release record; known: {known}")
        return self.releases[version]

    def retained(self) -> set[str]:
        """Versions whose stores and exports must be kept: live once, or being built or moved to."""
        keep = {
            v for v, r in self.releases.items() if r.status in RETAINED or r.status in {"running", "gated"}
        }
        if self.live:
            keep.add(self.live)
        if self.pending:
            keep.update({self.pending.target, *([self.pending.previous] if self.pending.previous else [])})
        return keep

    def failed(self) -> list[str]:
        """Failed versions, oldest first (their leftovers are what ``gfm gc`` removes)."""
        return sorted(v for v, r in self.releases.items() if r.status == "failed")


def _set_status(release: Release, status: str, reason: str) -> None:
    if status not in _ALLOWED[release.status]:
        raise StageError(
            f"release {release.version} cannot go from {release.status} to {status}"
            + (f" ({reason})" if reason else "")
        )
    release.status = status  # type: ignore[assignment]
    release.updated_at = _now()
    if reason:
        release.reason = reason
    release.history.append({"at": release.updated_at, "status": status, "reason": reason})


def read_record(data_dir: Path) -> ReleaseRecord:
    """The record of ``data_dir`` (empty when nothing was ever run there)."""
    path = release_record_path(data_dir)
    if not path.exists():
        return ReleaseRecord()
    return ReleaseRecord.model_validate_json(path.read_text())


@contextmanager
def editing(data_dir: Path) -> Iterator[ReleaseRecord]:
    """Lock the record, yield it for changes, and write it back atomically on a clean exit.

    An exception inside the block leaves the file as it was.
    """
    path = release_record_path(data_dir)
    with locked(path):
        record = read_record(data_dir)
        yield record
        _write_atomic(path, record)


def _write_atomic(path: Path, record: ReleaseRecord) -> None:
    write_json_atomic(path, record.model_dump(mode="json"), indent=2, sort_keys=True)


def start_run(data_dir: Path, version: str, pid: int | None = None) -> Release:
    """Record a new ``running`` version built by process ``pid`` (this process by default).

    Raises:
        StageError: If ``version`` is not a version id or is already in the record.

    """
    check_version(version)
    pid = os.getpid() if pid is None else pid
    with editing(data_dir) as record:
        if version in record.releases:
            raise StageError(f"release {version} is already in the release record")
        release = Release(
            version=version, status="running", pid=pid, host=socket.gethostname(), pid_start=_pid_start(pid)
        )
        release.history.append({"at": release.started_at, "status": "running", "reason": ""})
        record.releases[version] = release
        return release


def transition(data_dir: Path, version: str, status: Status, reason: str = "") -> Release:
    """Move one version to ``status`` (``failed`` or ``gated``; publishing goes through ``pending``).

    Raises:
        NotFoundError: Unknown version.
        StageError: A transition the lifecycle does not allow (e.g. failed -> gated).

    """
    with editing(data_dir) as record:
        release = record.get(version)
        _set_status(release, status, reason)
        return release


def begin_move(data_dir: Path, action: Literal["publish", "rollback"], target: str) -> Pending:
    """Record that the stores are about to be moved to ``target`` (before any store moves).

    Raises:
        StageError: Another move is unfinished, or ``target`` may not become live.

    """
    with editing(data_dir) as record:
        if record.pending is not None:
            raise StageError(
                f"a {record.pending.action} to {record.pending.target} is unfinished; "
                "run `gfm gc` to repair it first"
            )
        release = record.get(target)
        wanted = "gated" if action == "publish" else "retired|rolled_back"
        if release.status not in wanted.split("|"):
            raise StageError(f"cannot {action} {target}: it is {release.status}, not {wanted}")
        pid = os.getpid()
        record.pending = Pending(
            action=action,
            target=target,
            previous=record.live,
            pid=pid,
            host=socket.gethostname(),
            pid_start=_pid_start(pid),
        )
        return record.pending


def commit_move(data_dir: Path, reason: str = "") -> str:
    """Flip ``live`` to the pending target, once every store points at it; return the target.

    The previous live version becomes ``retired`` (publish) or ``rolled_back`` (rollback).

    Raises:
        StageError: If no move is pending.

    """
    with editing(data_dir) as record:
        pending = record.pending
        if pending is None:
            raise StageError("no store move is pending")
        if pending.previous and pending.previous in record.releases:
            old = record.releases[pending.previous]
            if old.status == "published":
                _set_status(old, "retired" if pending.action == "publish" else "rolled_back", reason)
        _set_status(record.get(pending.target), "published", reason)
        record.live = pending.target
        record.pending = None
        return pending.target


def abort_move(data_dir: Path, reason: str) -> Pending | None:
    """Forget an unfinished move (after the stores were put back); a publish's target fails."""
    with editing(data_dir) as record:
        pending = record.pending
        if pending is None:
            return None
        target = record.releases.get(pending.target)
        if pending.action == "publish" and target is not None and target.status == "gated":
            _set_status(target, "failed", reason)
        record.pending = None
        return pending


def reap_dead_runs(data_dir: Path) -> list[str]:
    """Mark ``running``/``gated`` versions whose process is gone as failed; return them.

    A move that is pending is left to ``pipeline.release.recover``, which puts the stores back
    before it fails the target.
    """
    with editing(data_dir) as record:
        pending = record.pending.target if record.pending else None
        dead = []
        for release in record.releases.values():
            building = release.status in {"running", "gated"} and release.version != pending
            if building and not process_alive(release.pid, release.host, release.pid_start):
                _set_status(release, "failed", f"the run's process {release.pid} is gone")
                dead.append(release.version)
        return dead


def process_alive(pid: int | None, host: str, pid_start: str) -> bool:
    """Whether the process that started a run still runs (True when it cannot be told)."""
    if pid is None:
        return False
    if host and host != socket.gethostname():
        return True  # another machine's run: not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed, not yet reaped by its parent) is dead too; a new process with the old pid
    # has another start time
    return _pid_state(pid) != "Z" and (not pid_start or _pid_start(pid) == pid_start)


def _stat_fields(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rindex(")") + 2 :].split()  # fields after "pid (comm)", comm may hold spaces


def _pid_state(pid: int) -> str:
    fields = _stat_fields(pid)
    return fields[0] if fields else ""


def _pid_start(pid: int) -> str:
    fields = _stat_fields(pid)
    return fields[19] if len(fields) > 19 else ""  # field 22 of proc(5): starttime
