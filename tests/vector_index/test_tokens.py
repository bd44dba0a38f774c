"""The token store: tokens shown once, only keyed hashes on disk, scopes, revocation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gfm.errors import InvalidInputError, NotFoundError
from vector_index.tokens import TokenStore, access_dir


def test_created_token_verifies_and_only_its_keyed_hash_is_stored(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    record, token = store.create("search-team", ["search"])
    assert token.startswith(f"gfm_{record.token_id}_") and len(token) > 50
    assert store.verify(token) == record
    secret = token.rsplit("_", 1)[1]
    for path in access_dir(tmp_path).iterdir():
        data = path.read_bytes()
        assert token.encode() not in data and secret.encode() not in data, path
        if path.name in ("tokens.json", "token.key"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert record.digest in (access_dir(tmp_path) / "tokens.json").read_text()
    assert "digest" not in record.public()  # listings show neither the token nor its hash


def test_wrong_malformed_and_foreign_tokens_are_refused(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    record, token = store.create("a", ["admin"])
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert store.verify(flipped) is None
    assert store.verify("") is None
    assert store.verify(f"gfm_{record.token_id}_short") is None
    _, other = TokenStore(tmp_path / "other").create("a", ["admin"])  # another data dir's key
    assert store.verify(other) is None


def test_revoked_token_is_refused_by_a_store_opened_earlier(tmp_path: Path) -> None:
    running = TokenStore(tmp_path)  # e.g. the one a running service holds
    record, token = TokenStore(tmp_path).create("t", ["search"])
    assert running.verify(token) is not None
    revoked = TokenStore(tmp_path).revoke(record.token_id)
    assert revoked.revoked_at is not None
    assert running.verify(token) is None
    assert not running.any_active()
    assert [r.token_id for r in running.records(include_revoked=True)] == [record.token_id]


def test_scopes_admin_implies_all(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    admin, _ = store.create("ops", ["admin"])
    search, _ = store.create("web", ["search", "search"])
    assert search.scopes == ("search",)
    assert all(admin.allows(s) for s in ("search", "recommend", "admin", "any"))
    assert search.allows("search") and search.allows("any") and not search.allows("recommend")


@pytest.mark.parametrize(
    ("team", "scopes"), [("", ["search"]), ("a b", ["search"]), ("ok", []), ("ok", ["root"])]
)
def test_bad_team_or_scope_is_refused(tmp_path: Path, team: str, scopes: list[str]) -> None:
    with pytest.raises(InvalidInputError):
        TokenStore(tmp_path).create(team, scopes)
    assert not (access_dir(tmp_path) / "tokens.json").exists()


def test_revoking_an_unknown_id_names_it(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        TokenStore(tmp_path).revoke("nope")
