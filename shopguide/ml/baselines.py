"""Never serve worse than a simple baseline: the rule, and baselines that can be saved and served.

The rule (:func:`baseline_verdict`) is the paired bootstrap of DESIGN.md's evaluation protocol:
the learned model and the baseline are scored on the same held-out queries (users, images,
searches), and the baseline serves only when the interval of the per-query difference
(model - baseline) lies entirely below zero, i.e. the baseline is better beyond the noise of this
sample. A paired interval is used rather than two overlapping intervals because the two scores of
one query are strongly correlated: the paired test sees a consistent gap that two wide, separate
intervals hide. Below ``min_n`` queries nothing is judged and the model serves.

:class:`ServedBaseline` wraps the popularity, item-kNN and Markov recommenders of
:mod:`shopguide.ml.evaluation` so that a version can keep the one that beat its LSTM and serve
personal recommendations from it: fitted on the whole snapshot, saved as plain arrays (loaded
without pickle), and asked for a shopper's top items with the history item that explains each.
Pure numpy.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .evaluation import ItemKNNRecommender, MarkovRecommender, PopularityRecommender

PathOrFile = str | Path | BinaryIO
_RECOMMENDERS = {"popularity": PopularityRecommender, "item_knn": ItemKNNRecommender, "markov": MarkovRecommender}
KINDS = tuple(_RECOMMENDERS)
FORMAT = "shopguide-served-baseline-1"


def baseline_verdict(
    model: np.ndarray, baseline: np.ndarray, *, model_name: str, baseline_name: str, figure: str, min_n: int
) -> dict[str, Any]:
    """Does ``baseline`` beat ``model`` on the same held-out queries beyond the interval?

    Args:
        model, baseline: per-query scores of each, same queries in the same order.
        model_name, baseline_name, figure: words for the sentence ("the image model", "raw
            pixels", "leaf precision@8").
        min_n: fewer queries than this: "not enough data to judge", the model serves.

    Returns:
        ``{"serve": "model" | "baseline", "baseline": baseline_name, "difference": estimate of
        model - baseline, "why": a sentence}``.

    Raises:
        ValueError: the two arrays score different numbers of queries.
    """
    from .metrics import format_estimate, paired_difference

    difference = paired_difference(model, baseline)
    n = difference["n"]
    if n < min_n:
        serve = "model"
        why = (
            f"{n} held-out queries are too few to compare {model_name} with {baseline_name} (minimum "
            f"{min_n}): not enough data to judge"
        )
    elif difference["high"] < 0:
        serve = "baseline"
        why = (
            f"{baseline_name} beats {model_name} beyond the interval: {figure} {model_name} - "
            f"{baseline_name} {format_estimate(difference)}"
        )
    else:
        serve = "model"
        why = (
            f"{model_name} is not worse than {baseline_name} beyond the interval: {figure} "
            f"{model_name} - {baseline_name} {format_estimate(difference)}"
        )
    return {"serve": serve, "baseline": baseline_name, "difference": difference, "why": why}


def fused_spaces(verdicts: dict[str, dict | None]) -> tuple[list[str], dict[str, str]]:
    """Which spaces the fused "related products" list keeps, by each space's
    :func:`baseline_verdict` against its own baseline (None: no comparison was possible).

    A space its baseline beats beyond the interval is dropped from fusion for this version (its
    own list, e.g. "looks similar", still comes from its model: the baseline has no vectors to
    serve it from). When that would drop every space, all are kept (there is nothing better to
    fuse) and the reason says so.

    Returns (the names kept, in input order; name -> a sentence for the admin).
    """
    beaten = {name: verdict for name, verdict in verdicts.items() if verdict and verdict["serve"] == "baseline"}
    if beaten and len(beaten) == len(verdicts):
        return list(verdicts), {
            name: f"kept in the fused related list although {verdict['why']} (every space lost to its "
            "baseline; nothing better to fuse)"
            for name, verdict in beaten.items()
        }
    why = {}
    for name, verdict in verdicts.items():
        if not verdict:
            continue
        if name in beaten:
            why[name] = (
                f"dropped from the fused related list for this version: {verdict['why']} (its own list "
                f"still comes from the {name} model)"
            )
        else:
            why[name] = f"kept in the fused related list: {verdict['why']}"
    return [name for name in verdicts if name not in beaten], why


class ServedBaseline:
    """A fitted popularity / item-kNN / Markov recommender that a version serves.

    Attributes:
        kind: one of :data:`KINDS`.
        n_items: catalogue size (rows of the version's behaviour model).
        recommender: the fitted recommender of :mod:`shopguide.ml.evaluation`.
    """

    def __init__(self, kind: str, recommender) -> None:
        if kind not in KINDS:
            raise ValueError(f"baseline kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self.kind, self.recommender, self.n_items = kind, recommender, recommender.n_items

    @classmethod
    def fit(cls, kind: str, sequences: Sequence[np.ndarray], n_items: int) -> ServedBaseline:
        """Fit ``kind`` on every shopper's whole sequence (item rows, oldest first).

        Raises ValueError on an unknown kind or ids outside ``[0, n_items)``."""
        if kind not in KINDS:
            raise ValueError(f"baseline kind must be one of {', '.join(KINDS)}, got {kind!r}")
        return cls(kind, _RECOMMENDERS[kind]().fit(list(sequences), n_items))

    def scores(self, histories: list[np.ndarray]) -> np.ndarray:
        """float32 (len(histories), n_items), higher first (the evaluation protocol's interface)."""
        return self.recommender.scores(histories)

    def recommend(self, history: np.ndarray, *, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A shopper's top items, never one of ``history``.

        Args:
            history: int item rows the shopper met, oldest first (may be empty).
            depth: at most this many items.

        Returns:
            (rows int64, scores float32, because int64): best first, only items the baseline
            scores above zero (others have no evidence; serving tops up with trending ones);
            ``because[i]`` is the position in ``history`` of the item that explains row i most
            (its largest contribution), -1 when none does (popularity).
        """
        history = np.asarray(history, dtype=np.int64)
        scores = self.scores([history])[0].astype(np.float32)
        scores[history] = -np.inf
        depth = max(0, min(depth, self.n_items))
        top = np.argsort(-scores, kind="stable")[:depth]
        top = top[scores[top] > 0]
        return top, scores[top], self._because(history, top)

    def _because(self, history: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if len(history) == 0 or len(rows) == 0 or self.kind == "popularity":
            return np.full(len(rows), -1, np.int64)
        if self.kind == "markov":  # a Markov chain reads the last item only
            return np.full(len(rows), len(history) - 1, np.int64)
        knn = self.recommender
        age = np.arange(len(history) - 1, -1, -1, dtype=np.float64)
        weight = np.ones_like(age) if knn.half_life is None else 0.5 ** (age / knn.half_life)
        if knn.dense is not None:
            similarity = knn.dense[np.ix_(history, rows)]  # (H, R)
        else:
            ids, sims = knn.neighbour_ids[history], knn.neighbour_sims[history]  # (H, N)
            match = ids[:, :, None] == rows[None, None, :]  # (H, N, R)
            similarity = (match * sims[:, :, None]).sum(axis=1)
        return (weight[:, None] * similarity).argmax(axis=0).astype(np.int64)

    # ---------------------------------------------------------------- persistence

    def save(self, path: PathOrFile) -> None:
        """Write the fitted arrays (``np.savez``; no pickled objects)."""
        r = self.recommender
        arrays: dict[str, Any] = {
            "format": np.array(FORMAT),
            "kind": np.array(self.kind),
            "n_items": np.array(self.n_items),
        }
        if self.kind == "popularity":
            arrays["counts"] = r.counts
        elif self.kind == "markov":
            arrays.update(indptr=r.indptr, next_items=r.next_items, next_counts=r.next_counts, prior=r.prior)
        else:
            arrays.update(shrink=np.array(r.shrink), half_life=np.array(np.nan if r.half_life is None else r.half_life))
            if r.dense is not None:
                arrays["dense"] = r.dense
            else:
                arrays.update(neighbour_ids=r.neighbour_ids, neighbour_sims=r.neighbour_sims)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: PathOrFile, *, device: str | None = None) -> ServedBaseline:
        """Read a file written by :meth:`save` (``device`` is accepted for the artifact loader's
        sake; numpy runs on the CPU). Raises ValueError on any other file."""
        if not isinstance(path, (str, Path)):
            path = io.BytesIO(path.read())
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data or str(data["format"]) != FORMAT:
                raise ValueError("not a shopguide served-baseline file")
            kind, n_items = str(data["kind"]), int(data["n_items"])
            r: PopularityRecommender | MarkovRecommender | ItemKNNRecommender
            if kind == "popularity":
                r = PopularityRecommender()
                r.counts = data["counts"]
            elif kind == "markov":
                r = MarkovRecommender()
                r.indptr, r.next_items, r.next_counts, r.prior = (
                    data[k] for k in ("indptr", "next_items", "next_counts", "prior")
                )
            else:
                half_life = float(data["half_life"])
                r = ItemKNNRecommender(
                    shrink=float(data["shrink"]), half_life=None if np.isnan(half_life) else half_life
                )
                r.dense = data.get("dense")
                if r.dense is None:
                    r.neighbour_ids, r.neighbour_sims = data["neighbour_ids"], data["neighbour_sims"]
            r.n_items = n_items
        return cls(kind, r)
