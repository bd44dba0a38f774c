"""Split boundaries and content types passed to dbt (no dbt run needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gfm.config import Config, SplitConfig
from gfm.errors import StageError
from ingest.manifest import RawManifest
from warehouse.dbt_vars import compute_split, resolve_content_types

START = datetime(2026, 7, 19, tzinfo=UTC)
END = datetime(2026, 10, 31, tzinfo=UTC)


def manifest(**kwargs) -> RawManifest:
    base = {
        "source": "synthetic", "created_at": END, "window_start": START, "window_end": END,
        "content_types": ["podcast"], "suggested_split": {"train_days": None, "eval_days": 7},
    }  # fmt: skip
    return RawManifest.model_validate({**base, **kwargs})


def test_unset_split_fields_fall_back_to_the_manifest():
    split = compute_split(SplitConfig(), manifest())
    assert split.train_end == datetime(2026, 10, 24, tzinfo=UTC)
    assert split.train_start == START  # train_days None: all earlier history
    assert split.eval_end == END and split.source == "manifest"


def test_explicit_split_config_wins_over_the_manifest():
    cfg = Config.load(environ={"GFM__SPLIT__TRAIN_DAYS": "30", "GFM__SPLIT__EVAL_DAYS": "14"})
    split = compute_split(cfg.split, manifest())
    assert split.train_end == datetime(2026, 10, 17, tzinfo=UTC)
    assert split.train_start == datetime(2026, 9, 17, tzinfo=UTC)
    assert split.source == "config"


def test_fixed_split_always_takes_the_manifest_split():
    split = compute_split(SplitConfig(eval_days=3), manifest(fixed_split=True))
    assert split.train_end == datetime(2026, 10, 24, tzinfo=UTC) and split.source == "fixed_split"


def test_split_outside_the_raw_window_is_refused():
    with pytest.raises(StageError, match="out-of-window"):
        compute_split(SplitConfig(eval_days=200), manifest())


def test_content_types_are_the_union_sorted():
    assert resolve_content_types(["podcast"], ["audiobook", "podcast", None]) == ["audiobook", "podcast"]


@pytest.mark.parametrize("bad", ["pod'cast", "a;drop table x", ""])
def test_content_types_that_are_not_plain_names_are_refused(bad):
    with pytest.raises(StageError, match="not a plain name"):
        resolve_content_types([bad])


def test_content_types_sharing_a_column_name_are_refused():
    with pytest.raises(StageError, match="share the column name"):
        resolve_content_types(["Sci-Fi", "sci fi"])
