"""Fusion weights: chosen by k-fold cross-validation on held-out pairs, shrunk toward equal
weights, the fused figure reported out-of-fold."""

from __future__ import annotations

import numpy as np

from shopguide.ml.fusion import SHRINK_PAIRS, normalise_rows, pair_hit_rate, tune_weights, weight_grid


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
    targets = np.array(
        [rng.choice(np.flatnonzero((groups == groups[s]) & (np.arange(len(groups)) != s))) for s in sources]
    )
    return np.stack([sources, targets], axis=1)


def test_fused_figure_is_reported_on_pairs_not_used_to_choose_the_weights():
    spaces, groups = _spaces()
    weights, report = tune_weights(spaces, _pairs(groups, 600))
    # k-fold: every pair is reported once, scored with weights chosen on the other folds.
    assert report["folds"] == 5 and len(report["fold_weights"]) == 5
    assert report["fused"]["n"] == report["pairs_reported_on"] == report["useful_only"]["n"] == 600
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


def test_fused_figure_is_out_of_fold_not_the_best_of_the_grid_on_the_same_pairs():
    # Three spaces of pure noise: whichever grid point wins on some pairs wins by chance, so its
    # hit rate on those same pairs is optimistic. The out-of-fold figure must not be that.
    rng = np.random.default_rng(3)
    spaces = {name: rng.normal(size=(80, 4)) for name in ("a", "b", "c")}
    pairs = np.stack([rng.integers(0, 80, 90), rng.integers(0, 80, 90)], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    normalised = {name: normalise_rows(v) for name, v in spaces.items()}
    in_sample_best = max(pair_hit_rate(normalised, w, pairs) for w in weight_grid(sorted(spaces), 0.25))
    _, report = tune_weights(spaces, pairs, shrink_pairs=0)
    assert report["fused"]["n"] == len(pairs)
    assert report["fused"]["value"] < in_sample_best - 0.02
