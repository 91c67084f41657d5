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


def pair_hit_rate(
    spaces: Mapping[str, np.ndarray], weights: Mapping[str, float], pairs: np.ndarray, *, k: int = 10
) -> float:
    """Share of (source, target) pairs whose target is in the source's top-k fused neighbours.

    Args:
        spaces: name -> unit-norm (N, D) vectors (a zero row = the product has none in that space).
        weights: name -> weight.
        pairs: int (P, 2) product rows.
    """
    if len(pairs) == 0:
        return 0.0
    sources, targets = pairs[:, 0], pairs[:, 1]
    n = next(iter(spaces.values())).shape[0]
    scores = np.zeros((len(pairs), n), np.float32)
    for name, vectors in spaces.items():
        if weights.get(name, 0.0):
            scores += weights[name] * (vectors[sources] @ vectors.T)
    scores[np.arange(len(pairs)), sources] = -np.inf  # never the product itself
    target_scores = scores[np.arange(len(pairs)), targets][:, None]
    ranks = (scores > target_scores).sum(axis=1)
    return float((ranks < k).mean())


def tune_weights(
    spaces: Mapping[str, np.ndarray], pairs: np.ndarray, *, k: int = 10, step: float = 0.25, max_pairs: int = 2000,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, float]]:
    """Pick the weighting with the best hit rate on ``pairs``.

    Returns (best weights, hit rate of each single space and of the best fusion). With no pairs,
    equal weights are returned.
    """
    names = sorted(spaces)
    normalised = {name: normalise_rows(vectors) for name, vectors in spaces.items()}
    if len(pairs) > max_pairs:
        pairs = pairs[np.random.default_rng(seed).choice(len(pairs), max_pairs, replace=False)]
    if len(pairs) == 0 or len(names) == 1:
        return {name: 1.0 / len(names) for name in names}, {}
    best, best_rate = None, -1.0
    report = {}
    for weights in weight_grid(names, step):
        rate = pair_hit_rate(normalised, weights, pairs, k=k)
        single = [name for name, w in weights.items() if w == 1.0]
        if single:
            report[f"{single[0]}_only"] = round(rate, 4)
        if rate > best_rate:
            best, best_rate = weights, rate
    report["fused"] = round(best_rate, 4)
    report["pairs"] = int(len(pairs))
    return best, report
