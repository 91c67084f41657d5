"""Retrieval metrics, the one place they are computed (the app, the admin's figures and the benches
all read them from here): exact cosine kNN and precision@k of same-label neighbours on
embeddings; ranks, reciprocal rank@k and precision@k of ranked lists; per-query estimates
with bootstrap intervals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# Similarity rows are computed this many floats at a time (~64 MB of float32), so 10k x 60k
# searches never hold the full 2.4 GB similarity matrix.
_CHUNK_FLOATS = 16_000_000


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array (n, dim), got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # An all-zero row has no direction; leave it at zero so every similarity with it is 0.
    return x / np.maximum(norms, 1e-12)


def cosine_knn(query: np.ndarray, index: np.ndarray, k: int, exclude_self: bool = False) -> np.ndarray:
    """Exact k nearest neighbours by cosine similarity.

    Args:
        query: (Nq, D) vectors; need not be normalised.
        index: (Ni, D) vectors searched.
        k: neighbours per query.
        exclude_self: ``query`` and ``index`` are the same set in the same order; row i never
            returns i (leave-self-out).

    Returns:
        int64 array (Nq, min(k, available)) of row indices into ``index``, most similar first,
        where available is Ni (Ni - 1 with ``exclude_self``).

    Raises:
        ValueError: k < 1, mismatched dimensions, or ``exclude_self`` with sets of different size.
    """
    q = _l2_normalise(query)
    x = _l2_normalise(index)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if q.shape[1] != x.shape[1]:
        raise ValueError(f"query dim {q.shape[1]} != index dim {x.shape[1]}")
    if exclude_self and len(q) != len(x):
        raise ValueError("exclude_self needs query and index to be the same set")
    k = min(k, len(x) - (1 if exclude_self else 0))
    if k < 1 or len(q) == 0:
        return np.empty((len(q), max(k, 0)), dtype=np.int64)

    out = np.empty((len(q), k), dtype=np.int64)
    chunk = max(1, _CHUNK_FLOATS // max(1, len(x)))
    for start in range(0, len(q), chunk):
        stop = min(start + chunk, len(q))
        sims = q[start:stop] @ x.T
        if exclude_self:
            rows = np.arange(stop - start)
            sims[rows, rows + start] = -np.inf
        out[start:stop] = top_k(sims, k)
    return out


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(Q, min(k, N)) column indices of each row's k highest ``scores`` (Q, N), best first.

    argpartition finds the top k in O(N); only those k are then sorted (stable among them).
    """
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def precision_at_k_same_label(
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    k: int = 10,
    index_embeddings: np.ndarray | None = None,
    index_labels: np.ndarray | None = None,
) -> float:
    """Mean fraction of each query's k cosine-nearest neighbours that share its label.

    Args:
        embeddings: (N, D) query vectors.
        labels: (N,) integer labels; negative means unknown and such queries are skipped
            (unknown-labelled neighbours simply count as misses).
        k: neighbours per query.
        index_embeddings, index_labels: a separate set to search. When omitted, each query is
            searched among the other queries (leave-self-out).

    Returns:
        Precision@k in [0, 1]; 0.0 when there is no query with a known label.

    Raises:
        ValueError: mismatched lengths, only one of the index arguments given, or fewer than
            k + 1 items to search leave-self-out (or k in a separate index).
    """
    labels = np.asarray(labels)
    if len(labels) != len(embeddings):
        raise ValueError(f"{len(embeddings)} embeddings but {len(labels)} labels")
    if (index_embeddings is None) != (index_labels is None):
        raise ValueError("give both index_embeddings and index_labels, or neither")

    known = labels >= 0
    if not known.any():
        return 0.0
    if index_embeddings is None:
        if len(embeddings) <= k:
            raise ValueError(f"need more than k={k} items for leave-self-out precision@k")
        # Search the whole set so unknown-labelled items still occupy neighbour slots.
        neighbours = cosine_knn(embeddings, embeddings, k, exclude_self=True)[known]
        neighbour_labels = labels[neighbours]
    else:
        index_labels = np.asarray(index_labels)
        if len(index_labels) != len(index_embeddings):
            raise ValueError(f"{len(index_embeddings)} index embeddings but {len(index_labels)} labels")
        if len(index_embeddings) < k:
            raise ValueError(f"index has fewer than k={k} items")
        neighbours = cosine_knn(np.asarray(embeddings)[known], index_embeddings, k)
        neighbour_labels = index_labels[neighbours]
    hits = neighbour_labels == labels[known][:, None]
    return float(hits.mean())


# --------------------------------------------------------------------------- ranked lists


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Rank (from 1) of each row's target column: 1 + the columns scoring strictly higher (ties
    go the target's way). ``scores`` (Q, N), ``targets`` int (Q,); returns int (Q,)."""
    targets = np.asarray(targets)
    target_scores = scores[np.arange(len(targets)), targets]
    return (scores > target_scores[:, None]).sum(axis=1) + 1


def reciprocal_rank_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """1 / rank where 1 <= rank <= k, else 0 (rank 0: not found); float64, one per query."""
    ranks = np.asarray(ranks)
    out = np.zeros(len(ranks))
    found = (ranks >= 1) & (ranks <= k)
    out[found] = 1.0 / ranks[found]
    return out


def first_relevant_ranks(top: np.ndarray, relevant: Sequence[np.ndarray]) -> np.ndarray:
    """Rank (from 1) of the first relevant entry of each ranked list, 0 when it has none.

    Args:
        top: (Q, L) ranked lists (e.g. from :func:`top_k`), best first.
        relevant: per query, the ids that count as right.
    """
    out = np.zeros(len(top), dtype=np.int64)
    for q, (row, rel) in enumerate(zip(top, relevant)):
        hits = np.flatnonzero(np.isin(row, rel))
        if len(hits):
            out[q] = hits[0] + 1
    return out


def precision_of_lists(top: np.ndarray, relevant: Sequence[np.ndarray]) -> np.ndarray:
    """Share of relevant entries in each ranked list (precision@L for (Q, L) lists); float64 (Q,)."""
    return np.array([np.isin(row, rel).mean() for row, rel in zip(top, relevant)], dtype=np.float64)


# --------------------------------------------------------------------------- per-query scores and intervals
#
# Every figure that decides something (the gate, a model choice, fusion weights) is a mean over
# held-out queries or users; it is reported as {"value", "low", "high", "n"}: the mean, a
# percentile-bootstrap 95% interval over the queries, and how many queries there were.

BOOTSTRAP_SAMPLES = 1000
CONFIDENCE = 0.95


def precision_per_query(vectors: np.ndarray, labels: np.ndarray, queries: np.ndarray, *, k: int) -> np.ndarray:
    """Share of same-label items among each query row's k cosine-nearest other rows.

    Args:
        vectors: (N, D) every item (the catalogue searched).
        labels: int (N,) labels; negative = unknown (such neighbours count as misses).
        queries: int (Q,) rows asked about (e.g. held-out images); a row is never its own neighbour.
        k: neighbours per query (at most N - 1).

    Returns:
        float64 (Q,) precision@k of each query.

    Raises:
        ValueError: k < 1 or N - 1 < k.
    """
    labels = np.asarray(labels)
    queries = np.asarray(queries, dtype=np.int64)
    if k < 1 or len(vectors) - 1 < k:
        raise ValueError(f"precision@{k} needs k >= 1 and more than k items, got {len(vectors)}")
    if len(queries) == 0:
        return np.empty(0)
    x = _l2_normalise(vectors)
    sims = x[queries] @ x.T  # (Q, N)
    sims[np.arange(len(queries)), queries] = -np.inf  # never your own neighbour
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return (labels[top] == labels[queries][:, None]).mean(axis=1)


def bootstrap_interval(
    values: np.ndarray, *, samples: int = BOOTSTRAP_SAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (resampling the queries).

    Returns (low, high); (nan, nan) for no values. Deterministic for a given seed.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(samples, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def estimate(values: np.ndarray, *, seed: int = 0, digits: int = 4) -> dict[str, Any]:
    """``{"value", "low", "high", "n"}``: the mean of per-query ``values`` with its bootstrap interval
    (``None`` for value and bounds when there are no values: JSON has no NaN)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return {"value": None, "low": None, "high": None, "n": 0}
    low, high = bootstrap_interval(values, seed=seed)
    mean = float(values.mean())
    return {"value": round(mean, digits), "low": round(low, digits), "high": round(high, digits), "n": len(values)}


def paired_difference(candidate: np.ndarray, reference: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """Mean of ``candidate - reference`` over the same queries, with its bootstrap interval.

    A difference whose interval excludes 0 is larger than the noise of this sample.

    Raises:
        ValueError: the two arrays score different numbers of queries.
    """
    candidate, reference = np.asarray(candidate, np.float64), np.asarray(reference, np.float64)
    if candidate.shape != reference.shape:
        raise ValueError(f"paired scores need the same queries: {candidate.shape} vs {reference.shape}")
    return estimate(candidate - reference, seed=seed)


def format_estimate(figure: dict, *, digits: int = 3) -> str:
    """'0.871 [0.824, 0.912] n=96' for an :func:`estimate` dict."""
    if not figure.get("n"):
        return "– (no held-out data)"
    return f"{figure['value']:.{digits}f} [{figure['low']:.{digits}f}, {figure['high']:.{digits}f}] n={figure['n']}"
