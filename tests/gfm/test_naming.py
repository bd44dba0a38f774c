from datetime import UTC, datetime
from pathlib import Path

import pytest

from gfm.errors import NotFoundError, StageError
from gfm.naming import (
    alias_name,
    checkpoint_dir,
    collection_name,
    embedding_view_name,
    embeddings_service_name,
    export_path,
    text_export_path,
    training_service_name,
)
from gfm.versioning import new_version, version_time

V = "v20261130t013200_ab12cd"


def test_one_version_names_every_store() -> None:
    assert export_path(Path("e"), "two_tower", V, "user") == Path("e/two_tower") / V / "users.parquet"
    assert text_export_path(Path("e"), "minilm-1234") == Path("e/text/minilm-1234/items.parquet")
    assert checkpoint_dir(Path("m"), "hgnn", V) == Path("m/hgnn") / V
    assert collection_name("item", "hgnn", V) == f"item_hgnn_{V}"
    assert alias_name("user", "two_tower") == "user_two_tower"
    assert embedding_view_name("two_tower", "item", V) == f"two_tower_item_embeddings_{V}"
    assert embeddings_service_name(V) == f"embeddings_{V}"
    assert training_service_name(V) == f"two_tower_training_{V}"


@pytest.mark.parametrize("bad", ["latest", "v1", f"{V}; drop", "../v20261130t013200_ab12cd"])
def test_names_from_free_text_are_refused(bad: str) -> None:
    with pytest.raises(NotFoundError, match="not a version id"):
        collection_name("item", "two_tower", bad)
    with pytest.raises(StageError, match="not a version id"):
        checkpoint_dir(Path("m"), "hgnn", bad)
    with pytest.raises(NotFoundError, match="unknown model"):
        alias_name("item", bad)


def test_a_version_carries_the_second_it_was_made() -> None:
    now = datetime(2026, 11, 30, 1, 32, 5, 999, tzinfo=UTC)
    assert version_time(new_version("x", now=now)) == now.replace(microsecond=0)
    with pytest.raises(StageError):
        version_time("v2026")
