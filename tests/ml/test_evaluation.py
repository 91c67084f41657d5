"""The leave-last-out protocol, full-ranking metrics and the baselines, on hand-checkable data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shopguide.ml.evaluation import (
    ItemKNNRecommender,
    MarkovRecommender,
    PopularityRecommender,
    evaluate,
    leave_last_out,
)


class FixedScores:
    """Every user gets the same scores: a hand-checkable recommender."""

    def __init__(self, scores: list[float]) -> None:
        self.row = np.asarray(scores, dtype=np.float32)

    def scores(self, histories: list[np.ndarray]) -> np.ndarray:
        return np.tile(self.row, (len(histories), 1))


def ids(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_leave_last_out_split():
    split = leave_last_out([ids(1, 2, 3, 4), ids(5, 6), ids(7, 8, 9), ids()])
    assert [s.tolist() for s in split.train] == [[1, 2], [5, 6], [7], []]
    assert split.valid_targets.tolist() == [3, -1, 8, -1]
    assert split.test_targets.tolist() == [4, -1, 9, -1]
    assert [s.tolist() for s in split.train_plus_valid] == [[1, 2, 3], [5, 6], [7, 8], []]


def test_leave_last_out_rejects_non_integer_sequences():
    with pytest.raises(ValueError):
        leave_last_out([np.array([0.5, 1.5, 2.5])])


def test_metrics_by_hand():
    # Scores prefer low ids: 9 > 8 > ... > 0 for items 0..9.
    model = FixedScores([9 - i for i in range(10)])
    histories = [ids(0), ids(1), ids(4), ids(0)]
    # User 0: ranking 1,2,3,... -> target 2 at rank 1 (0-based). User 1: 0,2,3,... -> target 0 at rank 0.
    # User 2: 0,1,2,3,... -> target 5 at rank 4: a miss at k=3. User 3 is skipped (-1).
    result = evaluate(model, histories, ids(2, 0, 5, -1), n_items=10, k=3)
    assert result["users"] == 3
    assert result["hr@3"] == pytest.approx(2 / 3)
    assert result["ndcg@3"] == pytest.approx((1 / math.log2(3) + 1) / 3)
    assert result["mrr@3"] == pytest.approx((1 / 2 + 1) / 3)
    # Top-3 lists: {1,2,3}, {0,2,3}, {0,1,2} -> 4 of 10 items shown.
    assert result["coverage@3"] == pytest.approx(0.4)


def test_seen_items_are_excluded_and_a_seen_target_is_a_miss():
    model = FixedScores([5.0, 4.0, 3.0, 2.0, 1.0])
    # Item 0 would be first, but it is in the history, so item 1 is recommended first.
    assert evaluate(model, [ids(0)], ids(1), n_items=5, k=1)["hr@1"] == 1.0
    assert evaluate(model, [ids(0, 1)], ids(1), n_items=5, k=5)["hr@5"] == 0.0


def test_ties_never_favour_the_target():
    model = FixedScores([0.0] * 6)
    # All scores equal: ties go to the lowest id, so target 5 ranks last, target 0 first.
    assert evaluate(model, [ids()], ids(5), n_items=6, k=5)["hr@5"] == 0.0
    assert evaluate(model, [ids()], ids(0), n_items=6, k=1)["hr@1"] == 1.0


def test_evaluate_with_nobody_to_evaluate():
    result = evaluate(FixedScores([1.0, 2.0]), [ids(0)], ids(-1), n_items=2)
    assert result == {"hr@10": 0.0, "ndcg@10": 0.0, "mrr@10": 0.0, "coverage@10": 0.0, "users": 0}


def test_batching_does_not_change_results():
    rng = np.random.default_rng(0)
    model = FixedScores(rng.normal(size=30).tolist())
    histories = [rng.choice(30, size=3, replace=False) for _ in range(20)]
    targets = rng.integers(0, 30, size=20)
    batched = evaluate(model, histories, targets, n_items=30, batch_size=3)
    assert batched == evaluate(model, histories, targets, n_items=30)


@pytest.mark.parametrize(
    "histories, targets, scores, message",
    [
        ([ids(0)], ids(0, 1), [1.0, 2.0], "targets"),
        ([ids(0)], ids(7), [1.0, 2.0], "item ids"),
        ([ids(9)], ids(1), [1.0, 2.0], "outside"),
        ([ids(0)], ids(1), [1.0, 2.0, 3.0], "shape"),
        ([ids(0)], ids(1), [1.0, float("nan")], "NaN"),
    ],
)
def test_evaluate_rejects_bad_input(histories, targets, scores, message):
    with pytest.raises(ValueError, match=message):
        evaluate(FixedScores(scores), histories, targets, n_items=2)


def test_popularity_scores_counts():
    model = PopularityRecommender().fit([ids(0, 1, 1), ids(1, 2)], n_items=4)
    np.testing.assert_array_equal(model.scores([ids(), ids(0)]), [[1, 3, 1, 0], [1, 3, 1, 0]])


def test_markov_predicts_a_deterministic_chain_perfectly():
    n = 15
    rng = np.random.default_rng(0)
    sequences = [(start + np.arange(rng.integers(5, 12))) % n for start in rng.integers(0, n, size=40)]
    split = leave_last_out(sequences)
    model = MarkovRecommender().fit(split.train, n)
    result = evaluate(model, split.train_plus_valid, split.test_targets, n_items=n, k=1)
    assert result["hr@1"] == 1.0 and result["mrr@1"] == 1.0
    # Far better than popularity on the same protocol.
    popularity = PopularityRecommender().fit(split.train, n)
    popular = evaluate(popularity, split.train_plus_valid, split.test_targets, n_items=n, k=1)
    assert popular["hr@1"] < 0.3


def test_markov_falls_back_to_popularity():
    model = MarkovRecommender().fit([ids(0, 1), ids(2, 2, 2)], n_items=4)
    assert model.scores([ids(3)])[0].argmax() == 2  # 3 was never followed: most popular
    assert model.scores([ids(0)])[0].argmax() == 1  # 0 -> 1 once beats popularity


@pytest.mark.parametrize("neighbours", [3, None])
def test_item_knn_recommends_co_occurring_items_and_weighs_recent_ones(neighbours):
    # Items 0-3 are bought together, items 4-7 are bought together.
    sequences = [ids(0, 1, 2, 3), ids(1, 2, 3), ids(0, 2), ids(4, 5, 6, 7), ids(5, 6, 7), ids(4, 6)]
    knn = ItemKNNRecommender(neighbours=neighbours, half_life=None).fit(sequences, n_items=8)
    scores = knn.scores([ids(0), ids(7)])
    assert set(np.argsort(-scores[0])[:3]) == {1, 2, 3}
    assert set(np.argsort(-scores[1])[:3]) == {4, 5, 6}
    # A history that moved from the first group to the second: without recency weighting the
    # older majority wins, with a short half-life the most recent item decides.
    history = [ids(0, 1, 2, 5)]
    uniform = knn.scores(history)[0]
    assert uniform[:4].max() > uniform[4:].max()
    recent = ItemKNNRecommender(neighbours=neighbours, half_life=0.5).fit(sequences, n_items=8).scores(history)[0]
    assert recent[4:].max() > recent[:4].max()


def test_item_knn_cosine_values():
    # Item 0 in users {0, 1}, item 1 in {0}, item 2 in {1, 2}: cos(0, 1) = 1/sqrt(2), cos(0, 2) = 1/2.
    knn = ItemKNNRecommender(neighbours=None, shrink=0.0, half_life=None).fit([ids(0, 1), ids(0, 2), ids(2)], n_items=3)
    np.testing.assert_allclose(knn.scores([ids(0)])[0], [0.0, 1 / math.sqrt(2), 0.5], rtol=1e-6)
