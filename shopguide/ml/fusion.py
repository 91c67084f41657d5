"""Fusing several embedding spaces into one "related products" ranking.

Each space gives a cosine similarity between two products; the related score is a weighted sum.
The weights are tuned on held-out co-interactions: pairs of products the same shopper met one
after the other, which the models did not train on, by k-fold cross-validation so that the fused
figure reported is out-of-fold. Pure numpy.
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
    ticks = round(1 / step)
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
FOLDS = 5


def choose_weights(
    normalised: Mapping[str, np.ndarray], pairs: np.ndarray, *, k: int, step: float, shrink_pairs: int = SHRINK_PAIRS
) -> dict[str, float]:
    """The grid point with the best hit rate on ``pairs``, shrunk toward equal weights
    (:data:`SHRINK_PAIRS`). ``normalised``: name -> unit-norm vectors; ``pairs`` non-empty."""
    names = sorted(normalised)
    equal = {name: 1.0 / len(names) for name in names}
    best, best_rate = equal, -1.0
    for weights in weight_grid(names, step):
        rate = pair_hit_rate(normalised, weights, pairs, k=k)
        if rate > best_rate:
            best, best_rate = weights, rate
    share = len(pairs) / (len(pairs) + shrink_pairs)
    weights = {name: round(share * best[name] + (1 - share) * equal[name], 4) for name in names}
    largest = max(names, key=weights.__getitem__)  # rounding's residue goes to the largest, so they sum to 1
    weights[largest] = round(1.0 - sum(w for name, w in weights.items() if name != largest), 4)
    return weights


def tune_weights(
    spaces: Mapping[str, np.ndarray],
    pairs: np.ndarray,
    *,
    k: int = 10,
    step: float = 0.25,
    max_pairs: int = 2000,
    seed: int = 0,
    folds: int = FOLDS,
    shrink_pairs: int = SHRINK_PAIRS,
) -> tuple[dict[str, float], dict]:
    """Weights of the spaces, chosen by k-fold cross-validation on held-out pairs.

    The pairs (co-interactions no model trained on) are dealt at random into ``folds`` folds
    (fewer when there are fewer pairs). For each fold, weights are chosen on the other folds
    (:func:`choose_weights`: best grid point, shrunk toward equal weights by how few pairs chose
    it) and scored on that fold, so every pair's fused hit comes from weights that never saw it:
    the reported fused figure is out-of-fold, over all pairs, with a bootstrap interval. The
    weights served are chosen the same way on all pairs (more pairs, less shrinkage). Single
    spaces choose nothing, so each is reported on all pairs too.

    Returns (weights, report): report ``{"fused", "<space>_only": estimate dicts, "folds",
    "pairs_chosen_on" (pairs the served weights were chosen on), "pairs_reported_on" (pairs the
    out-of-fold figures cover), "shrinkage" (of the served weights), "fold_weights"}``; empty with
    no pairs or one space (equal weights then).
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
    folds = max(1, min(folds, len(pairs)))
    fold_of = rng.permutation(len(pairs)) % folds
    fused = np.zeros(len(pairs))
    fold_weights = []
    for fold in range(folds):
        held, rest = fold_of == fold, fold_of != fold
        # One fold alone (a single pair): nothing else to choose on, so equal weights score it.
        weights = (
            choose_weights(normalised, pairs[rest], k=k, step=step, shrink_pairs=shrink_pairs) if rest.any() else equal
        )
        fused[held] = pair_hits(normalised, weights, pairs[held], k=k)
        fold_weights.append(weights)
    chosen = choose_weights(normalised, pairs, k=k, step=step, shrink_pairs=shrink_pairs)
    report: dict = {
        "folds": folds,
        "pairs_chosen_on": len(pairs),
        "pairs_reported_on": len(pairs),
        "shrinkage": round(shrink_pairs / (len(pairs) + shrink_pairs), 3),
        "fold_weights": fold_weights,
    }
    for name in names:
        report[f"{name}_only"] = estimate(pair_hits(normalised, {name: 1.0}, pairs, k=k))
    report["fused"] = estimate(fused)
    return chosen, report
