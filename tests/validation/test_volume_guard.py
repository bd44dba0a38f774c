"""The volume guard: a batch that shrinks the live warehouse's events or items too much is refused."""

from __future__ import annotations

import pytest

from gfm.config import ValidationConfig
from validation.volume import ShrinkRefused, check_volume

LIVE = {"interactions": 1_000, "items": 200, "users": 50}


def test_a_batch_that_grows_or_shrinks_within_the_limit_passes():
    vcfg = ValidationConfig(max_shrink=0.5)
    assert check_volume({"interactions": 5_000, "items": 300, "users": 1}, LIVE, vcfg, source="raw") == []
    assert check_volume({"interactions": 500, "items": 100, "users": 50}, LIVE, vcfg, source="raw") == []


def test_events_or_items_shrinking_past_the_limit_are_refused_with_both_counts():
    with pytest.raises(ShrinkRefused) as info:
        check_volume({"interactions": 3, "items": 99, "users": 50}, LIVE, ValidationConfig(), source="raw")

    assert [(s.table, s.live, s.new) for s in info.value.shrinks] == [
        ("interactions", 1_000, 3),
        ("items", 200, 99),
    ]
    message = str(info.value)
    assert message.startswith("volume gate failed")
    assert (
        "interactions (raw/interactions): 3 rows where the live warehouse has 1,000 (99.7% fewer)" in message
    )
    assert "--allow-shrink" in message and "max_shrink" in message


def test_users_are_not_guarded():
    assert (
        check_volume({"interactions": 1_000, "items": 200, "users": 1}, LIVE, ValidationConfig(), source="r")
        == []
    )


def test_allow_shrink_lets_it_through_and_reports_it():
    vcfg = ValidationConfig(allow_shrink=True)
    (shrink,) = check_volume({"interactions": 3, "items": 200}, LIVE, vcfg, source="raw")
    assert (shrink.table, round(shrink.share, 3)) == ("interactions", 0.997)


def test_the_limit_follows_the_config_and_nothing_live_means_no_check():
    batch = {"interactions": 700, "items": 200}
    with pytest.raises(ShrinkRefused):
        check_volume(batch, LIVE, ValidationConfig(max_shrink=0.2), source="raw")
    assert check_volume(batch, LIVE, ValidationConfig(max_shrink=0.3), source="raw") == []
    assert check_volume({"interactions": 1}, None, ValidationConfig(), source="raw") == []
    assert (
        check_volume({"interactions": 0, "items": 0}, LIVE, ValidationConfig(max_shrink=1.0), source="r")
        == []
    )
