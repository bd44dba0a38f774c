"""``vector_index.mixture`` without Milvus: the combination of neighbour lists and the temperature cache."""

from __future__ import annotations

import json
import math

import pytest

from gfm.config import Config
from gfm.naming import checkpoint_dir
from vector_index.mixture import HgnnRecommender, mix
from vector_index.search import Hit


def test_mix_averages_each_items_softmax_and_drops_the_users_own_items():
    t = 0.5
    first = [Hit(1, 0.9), Hit(2, 0.5), Hit(3, 0.1)]
    second = [Hit(2, 0.8), Hit(4, 0.8)]
    got = mix([first, second], t, drop={3}, k=10)

    def softmax(hits):
        z = sum(math.exp(h.score / t) for h in hits)
        return {h.id: math.exp(h.score / t) / z for h in hits}

    p1, p2 = softmax(first), softmax(second)
    expected = {i: (p1.get(i, 0.0) + p2.get(i, 0.0)) / 2 for i in (1, 2, 4)}  # 3 is the user's own
    assert [h.id for h in got] == sorted(expected, key=lambda i: -expected[i])
    for hit in got:
        assert hit.score == pytest.approx(math.log(expected[hit.id]))
    assert len(mix([first, second], t, drop=set(), k=2)) == 2


def test_each_versions_temperature_is_read_from_its_card_once(tmp_path):
    cfg = Config.load(data_dir=tmp_path, environ={})
    version = "v20261206t120000_abcdef"
    folder = checkpoint_dir(cfg.models_dir, "hgnn", version)
    folder.mkdir(parents=True)
    card = {"model": "hgnn", "version": version, "data_fingerprint": "x"}
    (folder / "card.json").write_text(json.dumps({**card, "config": {"hgnn": {"temperature": 0.07}}}))
    recommender = HgnnRecommender(cfg)
    assert recommender.temperature(version) == 0.07
    (folder / "card.json").write_text(json.dumps({**card, "config": {"hgnn": {"temperature": 0.2}}}))
    assert recommender.temperature(version) == 0.07  # not read again per request
    # a version without a card is read at the config's temperature
    assert recommender.temperature("v20261206t120001_abcdef") == cfg.hgnn.temperature
