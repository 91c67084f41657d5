"""The fixed recommendation evaluation protocol of DESIGN.md, and the baselines it compares with.

Protocol: each user's interactions are sorted by time; the last item is the test target, the one
before it the validation target, the rest training (:func:`leave_last_out`). Every model ranks
the FULL catalogue (no sampled negatives) with the items already in the user's history excluded,
and :func:`evaluate` reports HR@k, NDCG@k, MRR@k (truncated at k) and catalogue coverage@k.

Anything with ``scores(histories) -> (len(histories), n_items)`` can be evaluated; the baselines
here (:class:`PopularityRecommender`, :class:`ItemKNNRecommender`, :class:`MarkovRecommender`)
have that interface and a ``fit(train_sequences, n_items)``. Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# Float32 scores of this many cells at a time (~64 MB) bound the memory of batched scoring.
_CHUNK_CELLS = 16_000_000


class Recommender(Protocol):
    """What :func:`evaluate` needs: one score per (user, item); higher ranks first."""

    def scores(self, histories: list[np.ndarray]) -> np.ndarray: ...


@dataclass
class Split:
    """A leave-last-out split; every list/array is indexed by user, in the input order.

    Attributes:
        train: all but the last two items of each user (the whole sequence for users with
            fewer than 3 items, who have no targets).
        valid_targets: int64 (n_users,) second-to-last item, -1 for users with < 3 items.
        test_targets: int64 (n_users,) last item, -1 for users with < 3 items.
        train_plus_valid: all but the last item (the history the test target is scored after);
            the whole sequence for users with < 3 items.
    """

    train: list[np.ndarray]
    valid_targets: np.ndarray
    test_targets: np.ndarray
    train_plus_valid: list[np.ndarray]


def leave_last_out(sequences: Sequence[np.ndarray]) -> Split:
    """Split time-ordered per-user item sequences by the DESIGN.md protocol.

    Args:
        sequences: one 1-D integer array of item ids per user, oldest first.

    Returns:
        A :class:`Split` (arrays are int64 copies; the input is not modified).

    Raises:
        ValueError: a sequence is not 1-D or not integer.
    """
    train, plus_valid = [], []
    valid = np.full(len(sequences), -1, dtype=np.int64)
    test = np.full(len(sequences), -1, dtype=np.int64)
    for user, sequence in enumerate(sequences):
        seq = _as_ids(sequence, f"sequence {user}")
        if len(seq) < 3:
            train.append(seq.copy())
            plus_valid.append(seq.copy())
            continue
        train.append(seq[:-2].copy())
        plus_valid.append(seq[:-1].copy())
        valid[user], test[user] = seq[-2], seq[-1]
    return Split(train=train, valid_targets=valid, test_targets=test, train_plus_valid=plus_valid)


def evaluate(
    recommender: Recommender,
    histories: Sequence[np.ndarray],
    targets: np.ndarray,
    *,
    n_items: int,
    k: int = 10,
    batch_size: int = 256,
    per_user: bool = False,
) -> dict[str, Any]:
    """Full-ranking HR@k, NDCG@k, MRR@k and coverage@k of a recommender.

    Items in a user's history get score -inf before ranking, so they are never recommended
    (a target that is itself in the history therefore counts as a miss). Ties are broken by
    item id, lowest first, for the hit test and for the top-k lists alike, so the numbers are
    deterministic and never favour the target.

    Args:
        recommender: has ``scores(histories) -> float (len(histories), n_items)``.
        histories: per user, the items seen before the target (the model's input).
        targets: int (n_users,) the held-out item per user; -1 skips the user.
        n_items: catalogue size; item ids are 0..n_items-1.
        k: list length.
        batch_size: users scored per call to ``recommender.scores``.
        per_user: also return ``"per_user": {"hr", "ndcg", "mrr"}``, float64 arrays with one
            value per evaluated user (targets >= 0, in order), for intervals and paired tests.

    Returns:
        ``{"hr@k", "ndcg@k", "mrr@k", "coverage@k": float, "users": int}``; coverage is the
        share of the catalogue that appears in at least one user's top-k list. With no user
        to evaluate every metric is 0.

    Raises:
        ValueError: mismatched lengths, non-integer or out-of-catalogue ids, k < 1, or scores
            of the wrong shape or containing NaN.
    """
    targets = np.asarray(targets)
    if targets.ndim != 1 or (len(targets) and not np.issubdtype(targets.dtype, np.integer)):
        raise ValueError(f"targets must be a 1-D integer array, got shape {targets.shape} dtype {targets.dtype}")
    if len(targets) != len(histories):
        raise ValueError(f"{len(histories)} histories but {len(targets)} targets")
    if k < 1 or n_items < 1:
        raise ValueError(f"k and n_items must be >= 1, got k={k}, n_items={n_items}")
    if np.any(targets >= n_items) or np.any(targets < -1):
        raise ValueError("targets must be item ids in [0, n_items) or -1")
    users = np.flatnonzero(targets >= 0)
    hits = ndcg = mrr = 0.0
    each = {"hr": np.zeros(len(users)), "ndcg": np.zeros(len(users)), "mrr": np.zeros(len(users))}
    shown = np.zeros(n_items, dtype=bool)
    batch_size = max(1, min(batch_size, _CHUNK_CELLS // n_items))
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        batch_histories = [_as_ids(histories[u], f"history {u}", n_items) for u in batch]
        scores = np.array(recommender.scores(batch_histories), dtype=np.float64)
        if scores.shape != (len(batch), n_items):
            raise ValueError(f"scores must have shape ({len(batch)}, {n_items}), got {scores.shape}")
        if np.isnan(scores).any():
            raise ValueError("scores contain NaN")
        for row, history in enumerate(batch_histories):
            scores[row, history] = -np.inf
        target = targets[batch]
        target_score = scores[np.arange(len(batch)), target][:, None]
        # Stable rank: items scoring higher, plus equal-scoring items with a lower id.
        ids = np.arange(n_items)[None, :]
        ranks = (scores > target_score).sum(1) + ((scores == target_score) & (ids < target[:, None])).sum(1)
        ranks = np.where(np.isneginf(target_score[:, 0]), n_items, ranks)  # a seen target is a miss
        hit = ranks < k
        rows = slice(start, start + len(batch))
        each["hr"][rows], each["ndcg"][rows], each["mrr"][rows] = hit, hit / np.log2(ranks + 2.0), hit / (ranks + 1.0)
        hits += hit.sum()
        ndcg += (hit / np.log2(ranks + 2.0)).sum()
        mrr += (hit / (ranks + 1.0)).sum()
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        shown[top[np.isfinite(np.take_along_axis(scores, top, axis=1))]] = True
    n = max(len(users), 1)
    out: dict[str, Any] = {
        f"hr@{k}": float(hits / n),
        f"ndcg@{k}": float(ndcg / n),
        f"mrr@{k}": float(mrr / n),
        f"coverage@{k}": float(shown.sum() / n_items) if len(users) else 0.0,
        "users": len(users),
    }
    if per_user:
        out["per_user"] = each
    return out


# --------------------------------------------------------------------------- baselines


class PopularityRecommender:
    """Scores every item by how many training interactions it has: the same list for everyone."""

    def fit(self, train_sequences: Sequence[np.ndarray], n_items: int) -> PopularityRecommender:
        """Count item occurrences. Raises ValueError on ids outside ``[0, n_items)``."""
        self.n_items = n_items
        self.counts = _item_counts(train_sequences, n_items)
        return self

    def scores(self, histories: list[np.ndarray]) -> np.ndarray:
        """float32 (len(histories), n_items) training counts, the same row for every user."""
        return np.broadcast_to(self.counts.astype(np.float32), (len(histories), self.n_items)).copy()


class ItemKNNRecommender:
    """Item-to-item collaborative filtering on co-occurrence in users' histories.

    ``sim(i, j) = |users with i and j| / (sqrt(|users with i| * |users with j|) + shrink)``, each
    item keeping its ``neighbours`` most similar items. A user's score for item j is the sum of
    ``sim(h, j)`` over the history items h, each weighted ``0.5 ** (age / half_life)`` where age 0
    is the most recent item, so recent interests count more (``half_life=None``: all equal).
    The defaults are near the best of a validation grid on MovieLens (``bench.sequence_models``
    tunes them there), so the baseline is strong out of the box.

    Memory: fitting builds a dense float32 (n_items, n_items) co-occurrence matrix (400 MB at
    10k items), summing dense user-chunk incidence matrices; it is meant for benchmarks and
    catalogues up to ~10k items. With ``neighbours`` set the fitted model keeps only the top-N
    lists (n_items x N); with ``neighbours=None`` it keeps the dense matrix.
    """

    def __init__(self, *, neighbours: int | None = 200, shrink: float = 10.0, half_life: float | None = 1.0) -> None:
        if neighbours is not None and neighbours < 1:
            raise ValueError("neighbours must be >= 1 or None")
        self.neighbours, self.shrink, self.half_life = neighbours, shrink, half_life

    def fit(self, train_sequences: Sequence[np.ndarray], n_items: int) -> ItemKNNRecommender:
        """Build the item-item similarity lists. Raises ValueError on ids outside ``[0, n_items)``."""
        self.n_items = n_items
        co = np.zeros((n_items, n_items), dtype=np.float32)
        chunk = max(1, _CHUNK_CELLS // n_items)
        for start in range(0, len(train_sequences), chunk):
            incidence = np.zeros((min(chunk, len(train_sequences) - start), n_items), dtype=np.float32)
            for row, seq in enumerate(train_sequences[start : start + chunk]):
                incidence[row, _as_ids(seq, "sequence", n_items)] = 1.0  # a set: repeats count once
            co += incidence.T @ incidence
        support = np.sqrt(np.diag(co).copy())
        np.fill_diagonal(co, 0.0)  # an item is not its own neighbour
        co /= np.outer(support, support) + self.shrink + 1e-12
        self.dense: np.ndarray | None = None
        if self.neighbours is None or self.neighbours >= n_items - 1:
            self.dense = co
        else:
            self.neighbour_ids = np.argpartition(-co, self.neighbours - 1, axis=1)[:, : self.neighbours]
            self.neighbour_sims = np.take_along_axis(co, self.neighbour_ids, axis=1)
        return self

    def scores(self, histories: list[np.ndarray]) -> np.ndarray:
        """float32 (len(histories), n_items) summed, recency-weighted similarities."""
        out = np.zeros((len(histories), self.n_items), dtype=np.float32)
        for row, history in enumerate(histories):
            if len(history) == 0:
                continue
            age = np.arange(len(history) - 1, -1, -1, dtype=np.float64)
            weight = np.ones_like(age) if self.half_life is None else 0.5 ** (age / self.half_life)
            if self.dense is not None:
                out[row] = weight.astype(np.float32) @ self.dense[history]
            else:
                out[row] = np.bincount(
                    self.neighbour_ids[history].ravel(),
                    weights=(self.neighbour_sims[history] * weight[:, None]).ravel(),
                    minlength=self.n_items,
                )
        return out


class MarkovRecommender:
    """First-order Markov chain: how often each item followed the user's last item in training.

    Popularity, scaled below one transition, breaks ties and answers for users whose last item
    was never followed by anything (or who have no history).
    """

    def fit(self, train_sequences: Sequence[np.ndarray], n_items: int) -> MarkovRecommender:
        """Count transitions a -> b between consecutive items. Raises ValueError on bad ids."""
        self.n_items = n_items
        checked = [_as_ids(s, "sequence", n_items) for s in train_sequences]
        pairs = [np.stack([s[:-1], s[1:]], 1) for s in checked if len(s) > 1]
        pairs_array = np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)
        keys, counts = np.unique(pairs_array[:, 0] * n_items + pairs_array[:, 1], return_counts=True)
        # CSR layout: transitions out of item a are next_items[indptr[a]:indptr[a + 1]].
        self.indptr = np.searchsorted(keys // n_items, np.arange(n_items + 1))
        self.next_items, self.next_counts = keys % n_items, counts.astype(np.float32)
        counts_per_item = _item_counts(train_sequences, n_items).astype(np.float32)
        self.prior = counts_per_item / (counts_per_item.max() + 1.0)  # always < 1 transition
        return self

    def scores(self, histories: list[np.ndarray]) -> np.ndarray:
        """float32 (len(histories), n_items) transition counts from the last item + tie-breaking prior."""
        out = np.tile(self.prior, (len(histories), 1))
        for row, history in enumerate(histories):
            if len(history):
                lo, hi = self.indptr[history[-1]], self.indptr[history[-1] + 1]
                out[row, self.next_items[lo:hi]] += self.next_counts[lo:hi]
        return out


def compare_with_baselines(per_user: dict[str, np.ndarray], *, baselines: Sequence[str], min_users: int) -> dict:
    """Does the best baseline beat the LSTM on the same held-out users beyond the interval?

    Args:
        per_user: model name -> per-user NDCG@k (same users, same order); must hold "lstm".
        baselines: the names in ``per_user`` to compare with.
        min_users: fewer users than this: "not enough data to judge", the LSTM stays.

    Returns:
        ``{"baseline", "difference" (LSTM - best baseline, estimate dict), "prefer", "why"}``;
        ``prefer`` is the baseline's name when it is better beyond the interval, else "lstm";
        a version then serves personal recommendations from it (:mod:`shopguide.ml.baselines`).
    """
    from .metrics import format_estimate, paired_difference

    best = max(baselines, key=lambda name: float(np.mean(per_user[name])) if len(per_user[name]) else 0.0)
    difference = paired_difference(per_user["lstm"], per_user[best])
    n = difference["n"]
    if n < min_users:
        prefer = "lstm"
        why = (
            f"{n} held-out users are too few to compare the LSTM with {best} (minimum {min_users}): "
            "not enough data to judge"
        )
    elif difference["high"] < 0:
        prefer, why = (
            best,
            f"{best} beats the LSTM on held-out last events: NDCG@10 LSTM - {best} {format_estimate(difference)}",
        )
    else:
        prefer, why = (
            "lstm",
            (
                f"the LSTM is not worse than {best} beyond the interval: NDCG@10 LSTM - {best} "
                f"{format_estimate(difference)}"
            ),
        )
    return {"baseline": best, "difference": difference, "prefer": prefer, "why": why}


# --------------------------------------------------------------------------- helpers


def _as_ids(sequence: np.ndarray, what: str, n_items: int | None = None) -> np.ndarray:
    """Validate a 1-D integer id array (within ``[0, n_items)`` when given) as int64."""
    seq = np.asarray(sequence)
    if seq.ndim != 1 or (len(seq) and not np.issubdtype(seq.dtype, np.integer)):
        raise ValueError(f"{what} must be a 1-D integer array, got shape {seq.shape} dtype {seq.dtype}")
    seq = seq.astype(np.int64, copy=False)
    if n_items is not None and len(seq) and (seq.min() < 0 or seq.max() >= n_items):
        raise ValueError(f"{what} has item ids outside [0, {n_items})")
    return seq


def _item_counts(sequences: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    ids = [_as_ids(s, "sequence", n_items) for s in sequences]
    return np.bincount(np.concatenate(ids) if ids else np.empty(0, np.int64), minlength=n_items)
