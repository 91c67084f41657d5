"""Fusion weights: chosen on some held-out pairs, shrunk toward equal weights, reported on others."""

from __future__ import annotations

import numpy as np

from shopguide.ml.fusion import SHRINK_PAIRS, tune_weights


def _spaces(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = np.arange(n) % 6
    centres = rng.normal(size=(6, 8))
    useful = centres[groups] + 0.3 * rng.normal(size=(n, 8))  # neighbours share a group
    noise = rng.normal(size=(n, 8))
    return {"useful": useful, "noise": noise}, groups


def _pairs(groups: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sources = rng.integers(0, len(groups), count)
    targets = np.array([rng.choice(np.flatnonzero((groups == groups[s]) & (np.arange(len(groups)) != s))) for s in sources])
    return np.stack([sources, targets], axis=1)


def test_fused_figure_is_reported_on_pairs_not_used_to_choose_the_weights():
    spaces, groups = _spaces()
    weights, report = tune_weights(spaces, _pairs(groups, 600))
    assert report["pairs_chosen_on"] + report["pairs_reported_on"] == 600
    assert report["fused"]["n"] == report["pairs_reported_on"] == report["useful_only"]["n"]
    assert weights["useful"] > weights["noise"]
    assert report["fused"]["value"] > report["noise_only"]["value"]


def test_few_pairs_keep_the_weights_near_equal():
    spaces, groups = _spaces()
    few, report = tune_weights(spaces, _pairs(groups, 21))
    many, _ = tune_weights(spaces, _pairs(groups, 1500))
    assert report["shrinkage"] > 0.9 and abs(few["useful"] - 0.5) < 0.05  # 14 pairs against SHRINK_PAIRS=200
    assert many["useful"] - 0.5 > few["useful"] - 0.5
    assert SHRINK_PAIRS == 200


def test_no_pairs_or_one_space_gives_equal_weights():
    spaces, _ = _spaces()
    assert tune_weights(spaces, np.empty((0, 2), np.int64)) == ({"noise": 0.5, "useful": 0.5}, {})
    assert tune_weights({"useful": spaces["useful"]}, _pairs(np.arange(120) % 6, 10))[0] == {"useful": 1.0}
