"""Drift between versions, on hand-built pairs whose figures are known in advance.

The space: 10 clusters of 11 items. Cluster c lies along its own axis e_c; its item j sits at
e_c + 0.01 * 1.5**j * u_c (u_c a second private axis), so an item's 10 nearest neighbours are
exactly the other 10 items of its cluster, and the spacing grows with j: item j's nearest is
j - 1 (item 0's is 1), and the last item (j = 10) is nobody's nearest. Clusters alternate
podcast / audiobook. User c points at e_c + u_c: its top 10 are items j = 10..1 of its cluster.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from embedding_jobs.evaluate.drift import (
    DRIFT_SCHEMA,
    compare_vectors,
    compare_versions,
    overlap_below,
    render_html,
)
from embedding_jobs.export import write_vectors
from gfm.naming import export_path
from pipeline.cli import app

C, SIZE = 10, 11
A_VERSION, B_VERSION = "v20261201t000000_aaaaaa", "v20261202t000000_bbbbbb"


def _space() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.Series]:
    dim = 2 * C
    ids = np.array([100 * c + j for c in range(C) for j in range(SIZE)], dtype=np.int64)
    items = np.zeros((C * SIZE, dim), dtype=np.float32)
    for c in range(C):
        for j in range(SIZE):
            items[c * SIZE + j, c] = 1.0
            items[c * SIZE + j, C + c] = 0.01 * 1.5**j
    users = np.zeros((C, dim), dtype=np.float32)
    users[np.arange(C), np.arange(C)] = 1.0
    users[np.arange(C), C + np.arange(C)] = 1.0
    types = pd.Series(["podcast" if (i // 100) % 2 == 0 else "audiobook" for i in ids], index=ids)
    return ids, items, np.arange(C, dtype=np.int64), users, types


def _compare(items_b: np.ndarray, users_b: np.ndarray, **kwargs: object) -> dict:
    ids, items, user_ids, users, types = _space()
    return compare_vectors(
        (ids, items), (ids, items_b), users=(user_ids, users, user_ids, users_b), item_types=types, **kwargs
    )


def test_identical_versions_have_full_overlap_and_no_shift():
    _, items, _, users, _ = _space()
    drift = _compare(items.copy(), users.copy())
    for section in (drift["items"], drift["users"]):
        assert section["overlap_at_k"] == 1.0 and section["top1_changed"] == 0.0
        assert section["centroid_shift"] == 0.0 and section["norm_shift"] == 0.0
    assert drift["items"]["by_type"]["podcast"]["overlap_at_k"] == 1.0
    assert drift["items"]["n_sampled"] == C * SIZE


def test_swapping_two_items_gives_the_counted_overlap_and_changed_neighbours():
    _, items, _, users, _ = _space()
    x1, y1 = 10, 2 * SIZE + 10  # the last item of cluster 0 and of cluster 2 (both podcasts)
    swapped = items.copy()
    swapped[[x1, y1]] = swapped[[y1, x1]]

    drift = _compare(swapped, users.copy())

    n = C * SIZE
    # 20 items of the two clusters lose one neighbour; x1 and y1 lose all ten
    assert drift["items"]["overlap_at_k"] == pytest.approx((n - 22 + 20 * 0.9) / n)
    assert drift["items"]["top1_changed"] == pytest.approx(2 / n)  # only x1's and y1's nearest
    podcast, audiobook = drift["items"]["by_type"]["podcast"], drift["items"]["by_type"]["audiobook"]
    assert podcast["overlap_at_k"] == pytest.approx(51 / 55) and podcast["top1_changed"] == pytest.approx(
        2 / 55
    )
    assert audiobook["overlap_at_k"] == 1.0 and audiobook["top1_changed"] == 0.0
    assert drift["items"]["centroid_shift"] == pytest.approx(0.0, abs=1e-7)  # the same vectors, relabelled
    # users 0 and 2 had x1 / y1 first in their top 10; now the other cluster's last item stands there
    assert drift["users"]["overlap_at_k"] == pytest.approx((8 + 2 * 0.9) / 10)
    assert drift["users"]["top1_changed"] == pytest.approx(0.2)
    assert drift["users"]["by_type"]["podcast"]["overlap_at_k"] == pytest.approx(0.98)


def test_a_rotation_keeps_every_list_and_moves_the_centroid():
    _, items, _, users, _ = _space()
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(2 * C, 2 * C)))
    rotation = q.astype(np.float32)

    drift = _compare(items @ rotation, users @ rotation)

    for section in (drift["items"], drift["users"]):
        assert section["overlap_at_k"] == 1.0 and section["top1_changed"] == 0.0
        assert section["norm_shift"] == pytest.approx(0.0, abs=1e-5)
    centroid = items.mean(axis=0)
    expected = float(np.linalg.norm(centroid @ rotation - centroid))
    assert expected > 0.1
    assert drift["items"]["centroid_shift"] == pytest.approx(expected, rel=1e-4)


def test_a_scaled_space_reports_the_norm_shift_and_the_sample_is_fixed_by_its_seed():
    _, items, _, users, _ = _space()
    norms = np.linalg.norm(items, axis=1)
    one = _compare(items * 2, users, sample=30, seed=5)
    assert one["items"]["norm_shift"] == pytest.approx(float(norms.mean()), rel=1e-5)
    assert one["items"]["overlap_at_k"] == 1.0  # cosine neighbours do not see the scale
    assert one["items"]["n_sampled"] == 30
    assert _compare(items * 2, users, sample=30, seed=5) == one
    assert sum(t["n_sampled"] for t in one["items"]["by_type"].values()) == 30


def test_items_only_in_one_version_are_left_out_and_counted():
    ids, items, _, _, types = _space()
    drift = compare_vectors((ids, items), (ids[:-5], items[:-5]), item_types=types)
    assert (drift["items"]["n_a"], drift["items"]["n_b"], drift["items"]["n_common"]) == (110, 105, 105)
    assert drift["users"] is None


@pytest.fixture
def two_versions(tmp_path: Path) -> Path:
    """Two exported two-tower versions under tmp_path/embeddings: B = A with two items swapped."""
    ids, items, user_ids, users, _ = _space()
    swapped = items.copy()
    swapped[[10, 32]] = swapped[[32, 10]]
    emb = tmp_path / "embeddings"
    for version, vectors in ((A_VERSION, items), (B_VERSION, swapped)):
        write_vectors(export_path(emb, "two_tower", version, "item"), "item_id", ids, vectors, version)
        write_vectors(export_path(emb, "two_tower", version, "user"), "user_id", user_ids, users, version)
    return emb


def test_compare_versions_reads_the_exports_and_renders_html(two_versions: Path):
    _, _, _, _, types = _space()
    drift = compare_versions(two_versions, A_VERSION, B_VERSION, item_types=types)
    assert drift["schema"] == DRIFT_SCHEMA and (drift["a"], drift["b"]) == (A_VERSION, B_VERSION)
    assert drift["items"]["top1_changed"] == pytest.approx(2 / 110)
    assert json.loads(json.dumps(drift)) == drift  # plain JSON types only
    html = render_html(drift)
    assert "overlap@10" in html and "user recommendations" in html and "<td>podcast</td>" in html


def test_gfm_drift_prints_a_table_and_writes_json(two_versions: Path, tmp_path: Path):
    out = tmp_path / "drift.json"
    args = ["--data-dir", str(tmp_path), "drift", A_VERSION, B_VERSION, "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "overlap@10" in result.output and "0.964" in result.output
    assert json.loads(out.read_text())["users"]["top1_changed"] == pytest.approx(0.2)


def test_gfm_drift_refuses_a_missing_version_without_a_traceback(two_versions: Path, tmp_path: Path):
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path), "drift", A_VERSION, "v20261203t000000_cccccc"]
    )
    assert result.exit_code == 2 and "not found" in result.output and "Traceback" not in result.output


def test_an_overlap_floor_names_the_types_under_it():
    _, items, _, users, _ = _space()
    swapped = items.copy()
    swapped[[10, 32]] = swapped[[32, 10]]
    drift = {"a": A_VERSION, "b": B_VERSION, **_compare(swapped, users)}
    assert overlap_below(drift, 0.9) is None  # podcast 51/55 = 0.927, all 0.964
    reason = overlap_below(drift, 0.95)
    assert reason is not None and "podcast 0.927" in reason and "all 0." not in reason and B_VERSION in reason
