"""Filter templates are bound from typed parameters only."""

from __future__ import annotations

import numpy as np
import pytest

from vector_index.filters import FilterError, TypeFilter, bind_filter
from vector_index.schema import collection_name, parse_collection_name

ALLOWED = {"podcast", "audiobook"}


def test_binds_allowlisted_type_and_int_lists() -> None:
    expr = bind_filter(
        "content_type == {t} and id not in {ex}",
        {"t": TypeFilter("podcast", ALLOWED), "ex": [1, np.int64(2)]},
    )
    assert expr == 'content_type == "podcast" and id not in [1, 2]'


@pytest.mark.parametrize(
    ("template", "params"),
    [
        ("content_type == {t}", {"t": 'podcast" or true'}),  # raw strings are never accepted
        ("id not in {ex}", {"ex": [1, "2) or (1"]}),
        ("id not in {ex}", {"ex": [1.5]}),
        ("id == {i}", {"i": True}),
        ("id == {i!r}", {"i": 1}),
        ("id == {i}", {}),
        ("id == {i}", {"i": 1, "extra": 2}),
    ],
)
def test_refuses_untyped_or_mismatched_parameters(template: str, params: dict[str, object]) -> None:
    with pytest.raises(FilterError):
        bind_filter(template, params)


def test_type_filter_refuses_values_outside_the_allowlist() -> None:
    with pytest.raises(FilterError) as err:
        TypeFilter('podcast"', ALLOWED)
    assert err.value.allowed == sorted(ALLOWED)


def test_collection_names_round_trip_and_reject_free_text() -> None:
    name = collection_name("item", "two_tower", "v20261130t013200_ab12cd")
    assert parse_collection_name(name).version == "v20261130t013200_ab12cd"  # type: ignore[union-attr]
    assert parse_collection_name("gfm_index_meta") is None
