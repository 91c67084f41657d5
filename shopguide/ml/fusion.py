"""Fusing several embedding spaces into one "related products" ranking.

Each space gives a cosine similarity between two products; the related score is a weighted sum.
The weights are tuned on held-out co-interactions: pairs of products the same shopper met one
after the other, which the models did not train on. Pure numpy.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def weight_grid(names: list[str], step: float) -> list[dict[str, float]]:
    """All weightings of ``names`` on the simplex with the given step (e.g. 0.25)."""
    ticks = int(round(1 / step))
    grid = []
    for combo in itertools.product(range(ticks + 1), repeat=len(names)):
        if sum(combo) == ticks:
            grid.append({name: c / ticks for name, c in zip(names, combo)})
    return grid


def pair_hits(
    spaces: Mapping[str, np.ndarray], weights: Mapping[str, float], pairs: np.ndarray, *, k: int = 10
) -> np.ndarray:
    """1.0 per (source, target) pair whose target is in the source's top-k fused neighbours, else 0.0.

    Args:
        spaces: name -> unit-norm (N, D) vectors (a zero row = the product has none in that space).
        weights: name -> weight.
        pairs: int (P, 2) product rows.
    """
    if len(pairs) == 0:
        return np.empty(0)
    sources, targets = pairs[:, 0], pairs[:, 1]
    n = next(iter(spaces.values())).shape[0]
    scores = np.zeros((len(pairs), n), np.float32)
    for name, vectors in spaces.items():
        if weights.get(name, 0.0):
            scores += weights[name] * (vectors[sources] @ vectors.T)
    scores[np.arange(len(pairs)), sources] = -np.inf  # never the product itself
    target_scores = scores[np.arange(len(pairs)), targets][:, None]
    ranks = (scores > target_scores).sum(axis=1)
    return (ranks < k).astype(np.float64)


def pair_hit_rate(
    spaces: Mapping[str, np.ndarray], weights: Mapping[str, float], pairs: np.ndarray, *, k: int = 10
) -> float:
    """Share of (source, target) pairs whose target is in the source's top-k fused neighbours."""
    hits = pair_hits(spaces, weights, pairs, k=k)
    return float(hits.mean()) if len(hits) else 0.0


# Shrinkage toward equal weights: with P pairs to choose on, the chosen weights count
# P / (P + SHRINK_PAIRS) and equal weights the rest, so 20 pairs cannot crown one space alone.
SHRINK_PAIRS = 200
CHOOSE_FRACTION = 2 / 3


def tune_weights(
    spaces: Mapping[str, np.ndarray], pairs: np.ndarray, *, k: int = 10, step: float = 0.25, max_pairs: int = 2000,
    seed: int = 0,
) -> tuple[dict[str, float], dict]:
    """Weights of the spaces, chosen on held-out pairs and reported on other held-out pairs.

    The pairs (co-interactions no model trained on) are split at random: 2/3 choose the grid point
    with the best hit rate, which is then shrunk toward equal weights (:data:`SHRINK_PAIRS`); the
    other 1/3 report the hit rate of each single space and of the chosen fusion, with bootstrap
    intervals. So the reported fused figure was not tuned on.

    Returns (weights, report): report ``{"fused", "<space>_only": estimate dicts, "pairs_chosen_on",
    "pairs_reported_on", "shrinkage"}``; empty with no pairs or one space (equal weights then).
    """
    from .metrics import estimate

    names = sorted(spaces)
    equal = {name: 1.0 / len(names) for name in names}
    normalised = {name: normalise_rows(vectors) for name, vectors in spaces.items()}
    rng = np.random.default_rng(seed)
    if len(pairs) > max_pairs:
        pairs = pairs[rng.choice(len(pairs), max_pairs, replace=False)]
    if len(pairs) == 0 or len(names) == 1:
        return equal, {}
    order = rng.permutation(len(pairs))
    cut = int(round(len(pairs) * CHOOSE_FRACTION))
    choose, report_on = pairs[order[:cut]], pairs[order[cut:]]
    best, best_rate = equal, -1.0
    for weights in weight_grid(names, step):
        rate = pair_hit_rate(normalised, weights, choose, k=k)
        if rate > best_rate:
            best, best_rate = weights, rate
    share = len(choose) / (len(choose) + SHRINK_PAIRS)
    chosen = {name: round(share * best[name] + (1 - share) * equal[name], 4) for name in names}
    report: dict = {"pairs_chosen_on": int(len(choose)), "pairs_reported_on": int(len(report_on)), "shrinkage": round(1 - share, 3)}
    for name in names:
        report[f"{name}_only"] = estimate(pair_hits(normalised, {name: 1.0}, report_on, k=k))
    report["fused"] = estimate(pair_hits(normalised, chosen, report_on, k=k))
    return chosen, report
