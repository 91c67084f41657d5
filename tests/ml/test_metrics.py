"""Cosine kNN and precision@k on inputs small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from shopguide.ml import metrics
from shopguide.ml.metrics import (
    cosine_knn,
    first_relevant_ranks,
    precision_at_k_same_label,
    precision_of_lists,
    reciprocal_rank_at_k,
    target_ranks,
    top_k,
)

# Two tight clusters: rows 0, 1 point along x, rows 2, 3 along y.
CLUSTERS = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])


def test_cosine_knn_orders_by_cosine_not_length():
    index = np.array([[1.0, 0.0], [0.0, 5.0], [-3.0, 0.0], [10.0, 1.0]])
    result = cosine_knn(np.array([[2.0, 0.0]]), index, k=4)
    np.testing.assert_array_equal(result, [[0, 3, 1, 2]])
    assert result.dtype == np.int64


def test_cosine_knn_leave_self_out():
    np.testing.assert_array_equal(cosine_knn(CLUSTERS, CLUSTERS, k=1, exclude_self=True), [[1], [0], [3], [2]])
    np.testing.assert_array_equal(cosine_knn(CLUSTERS, CLUSTERS, k=1), [[0], [1], [2], [3]])


def test_cosine_knn_clips_k_to_what_exists():
    assert cosine_knn(CLUSTERS, CLUSTERS, k=10, exclude_self=True).shape == (4, 3)
    assert cosine_knn(CLUSTERS[:1], CLUSTERS, k=10).shape == (1, 4)


def test_cosine_knn_chunking_matches_brute_force(monkeypatch):
    rng = np.random.default_rng(0)
    query, index = rng.normal(size=(37, 8)), rng.normal(size=(50, 8))
    monkeypatch.setattr(metrics, "_CHUNK_FLOATS", 120)  # a few queries per chunk
    chunked = cosine_knn(query, index, k=5, exclude_self=False)
    sims = (query / np.linalg.norm(query, axis=1, keepdims=True)) @ (
        index / np.linalg.norm(index, axis=1, keepdims=True)
    ).T
    np.testing.assert_array_equal(chunked, np.argsort(-sims, axis=1)[:, :5])

    same = cosine_knn(query, query, k=3, exclude_self=True)
    assert not (same == np.arange(len(query))[:, None]).any()


def test_cosine_knn_rejects_bad_input():
    with pytest.raises(ValueError):
        cosine_knn(CLUSTERS, CLUSTERS, k=0)
    with pytest.raises(ValueError):
        cosine_knn(CLUSTERS, np.ones((3, 5)), k=1)
    with pytest.raises(ValueError):
        cosine_knn(CLUSTERS, CLUSTERS[:3], k=1, exclude_self=True)


def test_precision_leave_self_out_by_hand():
    labels = np.array([0, 0, 1, 1])
    assert precision_at_k_same_label(CLUSTERS, labels, k=1) == 1.0
    # With k=2 each point's second neighbour is in the other cluster.
    assert precision_at_k_same_label(CLUSTERS, labels, k=2) == 0.5
    assert precision_at_k_same_label(CLUSTERS, np.array([0, 1, 0, 1]), k=1) == 0.0


def test_precision_against_a_separate_index():
    index, index_labels = CLUSTERS, np.array([0, 0, 1, 1])
    queries = np.array([[1.0, 0.05], [0.05, 1.0]])
    assert (
        precision_at_k_same_label(queries, np.array([0, 1]), k=2, index_embeddings=index, index_labels=index_labels)
        == 1.0
    )
    # The first query's labels disagree with both of its neighbours; the second's agree.
    assert (
        precision_at_k_same_label(queries, np.array([1, 1]), k=2, index_embeddings=index, index_labels=index_labels)
        == 0.5
    )


def test_precision_skips_unknown_queries():
    # Row 3 is unknown: it is not scored, and as row 2's neighbour it counts as a miss.
    labels = np.array([0, 0, 1, -1])
    assert precision_at_k_same_label(CLUSTERS, labels, k=1) == pytest.approx(2 / 3)
    assert precision_at_k_same_label(CLUSTERS, np.full(4, -1), k=1) == 0.0


def test_precision_rejects_bad_input():
    with pytest.raises(ValueError):
        precision_at_k_same_label(CLUSTERS, np.array([0, 1]), k=1)
    with pytest.raises(ValueError):
        precision_at_k_same_label(CLUSTERS, np.array([0, 0, 1, 1]), k=4)
    with pytest.raises(ValueError):
        precision_at_k_same_label(CLUSTERS, np.array([0, 0, 1, 1]), k=1, index_embeddings=CLUSTERS)


# --------------------------------------------------------------------------- intervals


def test_precision_per_query_matches_the_leave_self_out_mean():
    from shopguide.ml.metrics import precision_per_query

    rng = np.random.default_rng(0)
    vectors, labels = rng.normal(size=(60, 8)), rng.integers(0, 3, 60)
    per_query = precision_per_query(vectors, labels, np.arange(60), k=5)
    assert per_query.shape == (60,)
    assert per_query.mean() == pytest.approx(precision_at_k_same_label(vectors, labels, k=5))


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_queries():
    from shopguide.ml.metrics import estimate

    rng = np.random.default_rng(1)
    small, large = estimate(rng.random(20) < 0.6), estimate(rng.random(2000) < 0.6)
    for figure in (small, large):
        assert figure["low"] <= figure["value"] <= figure["high"]
    assert small["n"] == 20 and large["n"] == 2000
    assert large["high"] - large["low"] < (small["high"] - small["low"]) / 4
    assert 0.55 < large["value"] < 0.65 and large["low"] < 0.6 < large["high"]


def test_paired_difference_separates_a_real_drop_from_noise():
    from shopguide.ml.metrics import paired_difference

    rng = np.random.default_rng(2)
    reference = (rng.random(300) < 0.7).astype(float)
    worse = reference * (rng.random(300) < 0.6)  # loses ~40% of its hits
    noise = np.where(rng.random(300) < 0.05, 1 - reference, reference)  # flips 5% either way
    assert paired_difference(worse, reference)["high"] < 0
    drift = paired_difference(noise, reference)
    assert drift["low"] < 0 < drift["high"] or abs(drift["value"]) < 0.03
    with pytest.raises(ValueError):
        paired_difference(reference[:10], reference)


def test_top_k_is_sorted_best_first_and_clamped():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [1.0, 0.0, 0.2, 0.3]])
    np.testing.assert_array_equal(top_k(scores, 2), [[1, 3], [0, 3]])
    assert top_k(scores, 10).shape == (2, 4)


def test_ranks_and_reciprocal_rank_at_k():
    scores = np.array([[0.1, 0.9, 0.5], [0.3, 0.3, 0.2]])
    ranks = target_ranks(scores, np.array([2, 1]))
    np.testing.assert_array_equal(ranks, [2, 1])  # a tie goes the target's way
    np.testing.assert_array_equal(reciprocal_rank_at_k(np.array([1, 2, 4, 0]), 3), [1.0, 0.5, 0.0, 0.0])


def test_ranked_list_metrics_match_the_bench_formulas_they_replace():
    rng = np.random.default_rng(0)
    top = top_k(rng.standard_normal((50, 30)), 10)
    relevant = [rng.choice(30, size=rng.integers(1, 6), replace=False) for _ in range(50)]
    old_mrr = []
    for row, rel in zip(top, relevant):
        hits = np.flatnonzero(np.isin(row, rel))
        old_mrr.append(1.0 / (hits[0] + 1) if len(hits) else 0.0)
    assert float(np.mean(reciprocal_rank_at_k(first_relevant_ranks(top, relevant), 10))) == float(np.mean(old_mrr))
    old_precision = float(np.mean([np.isin(row, rel).mean() for row, rel in zip(top, relevant)]))
    assert float(np.mean(precision_of_lists(top, relevant))) == old_precision
