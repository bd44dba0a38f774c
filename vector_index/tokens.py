"""Scoped bearer tokens for the search service: created, listed and revoked by ``gfm tokens``.

A token is ``gfm_<token id>_<secret>``: the id (12 hex characters) is public and names the token
in lists, logs and the audit trail; the secret is 32 random bytes (``secrets.token_urlsafe``).
Only an HMAC-SHA256 of the whole token, keyed by a per-data-dir random key, is stored, in
``<data_dir>/access/tokens.json`` (mode 0600, key in ``access/token.key``). A slow password hash
(argon2, bcrypt) exists to make guessing *low-entropy* passwords expensive; a 256-bit random
secret cannot be guessed, so one keyed hash (as GitHub and PyPI do for API tokens) is enough, and
it keeps each request's check at microseconds. Checks compare digests in constant time
(``hmac.compare_digest``). The plain token is returned once, by ``create``, and never stored.

Scopes: ``search`` (item search), ``recommend`` (user recommendations), ``admin`` (everything).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gfm.errors import InvalidInputError, NotFoundError

__all__ = ["SCOPES", "TokenRecord", "TokenStore", "access_dir"]

SCOPES = ("search", "recommend", "admin")
PREFIX = "gfm_"
_TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_TOKEN = re.compile(r"^gfm_([0-9a-f]{12})_([A-Za-z0-9_\-]{43})$")


def access_dir(data_dir: Path) -> Path:
    """``<data_dir>/access``: the token hashes and their key."""
    return data_dir / "access"


@dataclass(frozen=True)
class TokenRecord:
    """What is stored about one token (never the token itself).

    Attributes:
        token_id: The public id (the token's second part).
        team: The team it was issued to.
        scopes: What it may do (``admin`` implies every scope).
        created_at: ISO-8601 UTC.
        digest: HMAC-SHA256 (hex) of the whole token under the store's key.
        revoked_at: ISO-8601 UTC, or None while the token is active.

    """

    token_id: str
    team: str
    scopes: tuple[str, ...]
    created_at: str
    digest: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """Whether the token is still accepted."""
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """Whether this token may use an endpoint of ``scope`` (``any``: every valid token)."""
        return scope == "any" or scope in self.scopes or "admin" in self.scopes

    def public(self) -> dict[str, Any]:
        """The record without its digest (for listings)."""
        out = asdict(self)
        out.pop("digest")
        out["scopes"] = list(self.scopes)
        return out


class TokenStore:
    """The tokens of one data dir; re-read whenever the file changes (so revocation is seen live).

    Args:
        data_dir: The gfm data directory.

    """

    def __init__(self, data_dir: Path) -> None:
        self.folder = access_dir(data_dir)
        self.path = self.folder / "tokens.json"
        self._key_path = self.folder / "token.key"
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._records: dict[str, TokenRecord] = {}
        self._key: bytes | None = None

    # ---- reading ------------------------------------------------------------------------
    def records(self, include_revoked: bool = False) -> list[TokenRecord]:
        """Every token (active ones only unless ``include_revoked``), oldest first."""
        self._refresh()
        out = [r for r in self._records.values() if include_revoked or r.active]
        return sorted(out, key=lambda r: (r.created_at, r.token_id))

    def any_active(self) -> bool:
        """Whether at least one token is active (then the service requires one)."""
        return bool(self.records())

    def verify(self, token: str) -> TokenRecord | None:
        """The active record of a presented token, or None (malformed, unknown, revoked, wrong)."""
        match = _TOKEN.match(token)
        self._refresh()
        record = self._records.get(match.group(1)) if match else None
        key = self._key
        if record is None or key is None:
            return None
        ok = hmac.compare_digest(_digest(key, token), record.digest)
        return record if ok and record.active else None

    # ---- changing -----------------------------------------------------------------------
    def create(self, team: str, scopes: Iterable[str]) -> tuple[TokenRecord, str]:
        """Issue a token; returns its record and the plain token (shown once, never stored).

        Raises:
            InvalidInputError: For a malformed team name or an unknown or empty scope list.

        """
        if not _TEAM.match(team):
            raise InvalidInputError(
                "team names are 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit",
                field="team",
                value=team,
            )
        wanted = tuple(sorted(set(scopes)))
        unknown = [s for s in wanted if s not in SCOPES]
        if not wanted or unknown:
            raise InvalidInputError(
                f"scopes must be some of {', '.join(SCOPES)}", field="scope", value=unknown or []
            )
        with self._editing() as records:
            key = self._load_key(create=True)
            assert key is not None  # created above when missing
            token_id = secrets.token_hex(6)
            while token_id in records:  # pragma: no cover - 48 random bits
                token_id = secrets.token_hex(6)
            token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
            record = TokenRecord(token_id, team, wanted, _now(), _digest(key, token))
            records[token_id] = record
        return record, token

    def revoke(self, token_id: str) -> TokenRecord:
        """Revoke a token by id (idempotent: a revoked token stays revoked).

        Raises:
            NotFoundError: If no token has that id.

        """
        with self._editing() as records:
            record = records.get(token_id)
            if record is None:
                raise NotFoundError(f"no token with id {token_id!r} (see `gfm tokens list`)")
            if record.active:
                record = TokenRecord(**{**asdict(record), "revoked_at": _now()})
                records[token_id] = record
        return record

    # ---- internals ----------------------------------------------------------------------
    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp == self._stamp and (stamp is None or self._key is not None):
                return
            self._records = _read(self.path) if stamp is not None else {}
            self._key = self._load_key(create=False)
            self._stamp = stamp

    @contextmanager
    def _editing(self) -> Iterator[dict[str, TokenRecord]]:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.folder / "tokens.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                records = _read(self.path)
                yield records
                _write(self.path, records)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._stamp = None  # re-read on next use

    def _load_key(self, create: bool) -> bytes | None:
        if self._key_path.exists():
            return self._key_path.read_bytes()
        if not create:
            return None
        try:
            fd = os.open(self._key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return self._key_path.read_bytes()
        key = secrets.token_bytes(32)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        return key


def _digest(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _read(path: Path) -> dict[str, TokenRecord]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    out = {}
    for row in data.get("tokens", []):
        record = TokenRecord(**{**row, "scopes": tuple(row["scopes"])})
        out[record.token_id] = record
    return out


def _write(path: Path, records: dict[str, TokenRecord]) -> None:
    rows = [{**asdict(r), "scopes": list(r.scopes)} for r in records.values()]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tokens-", suffix=".json")  # mode 0600
    with os.fdopen(fd, "w") as fh:
        json.dump({"tokens": rows}, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
