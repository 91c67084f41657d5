"""The never-worse-than-a-baseline rule and the baselines a version can serve."""

from __future__ import annotations

import io

import numpy as np
import pytest

from shopguide.ml.baselines import KINDS, ServedBaseline, baseline_verdict, fused_spaces
from shopguide.ml.evaluation import ItemKNNRecommender


def _verdict(model, baseline, min_n=30):
    return baseline_verdict(
        np.asarray(model, float),
        np.asarray(baseline, float),
        model_name="the LSTM",
        baseline_name="item_knn",
        figure="NDCG@10",
        min_n=min_n,
    )


def test_a_baseline_better_beyond_the_paired_interval_serves():
    rng = np.random.default_rng(0)
    baseline = rng.random(200)
    verdict = _verdict(baseline - 0.2 + 0.05 * rng.normal(size=200), baseline)
    assert verdict["serve"] == "baseline" and verdict["difference"]["high"] < 0
    assert verdict["why"].startswith("item_knn beats the LSTM beyond the interval: NDCG@10 the LSTM - item_knn -0.2")


def test_the_model_serves_when_it_is_better_or_the_gap_is_noise():
    rng = np.random.default_rng(1)
    baseline = rng.random(200)
    assert _verdict(baseline + 0.1, baseline)["serve"] == "model"
    noisy = _verdict(baseline + rng.normal(scale=0.5, size=200) - 0.02, baseline)
    assert noisy["serve"] == "model" and noisy["difference"]["low"] < 0 < noisy["difference"]["high"]


def test_too_few_queries_say_not_enough_data_and_keep_the_model():
    verdict = _verdict(np.zeros(10), np.ones(10))
    assert verdict["serve"] == "model" and "not enough data to judge" in verdict["why"]


SEQUENCES = [np.array(s) for s in ([0, 1, 2, 3], [0, 1, 2], [1, 2, 3], [4, 5, 6], [4, 5, 6, 7], [5, 6, 7], [0, 2])]


@pytest.mark.parametrize("kind", KINDS)
def test_served_baselines_survive_a_save_and_load_without_pickle(kind):
    fitted = ServedBaseline.fit(kind, SEQUENCES, 9)
    buffer = io.BytesIO()
    fitted.save(buffer)
    buffer.seek(0)
    loaded = ServedBaseline.load(buffer)
    histories = [np.array([0, 1]), np.array([4]), np.array([], np.int64)]
    np.testing.assert_array_equal(loaded.scores(histories), fitted.scores(histories))
    assert loaded.kind == kind and loaded.n_items == 9


def test_item_knn_recommends_co_occurring_items_never_the_history_and_names_the_cause():
    knn = ServedBaseline.fit("item_knn", SEQUENCES, 9)
    rows, scores, because = knn.recommend(np.array([4, 0]), depth=5)
    assert not set(rows) & {0, 4} and (scores > 0).all() and list(scores) == sorted(scores, reverse=True)
    assert 8 not in rows  # nobody met 8: no evidence, left to trending
    history = [4, 0]
    for row, cause in zip(rows, because):
        # 5, 6, 7 go with 4; 1, 2, 3 with 0
        assert history[cause] == (4 if row in (5, 6, 7) else 0)
    # A dense similarity matrix (small catalogues) explains the same way.
    dense = ServedBaseline("item_knn", ItemKNNRecommender(neighbours=None).fit(SEQUENCES, 9))
    assert dense.recommender.dense is not None
    d_rows, _, d_because = dense.recommend(np.array([4, 0]), depth=5)
    assert [history[c] for c in d_because] == [4 if r in (5, 6, 7) else 0 for r in d_rows]


def test_load_rejects_other_files():
    buffer = io.BytesIO()
    np.savez(buffer, something=np.zeros(3))
    buffer.seek(0)
    with pytest.raises(ValueError):
        ServedBaseline.load(buffer)


def test_a_space_its_baseline_beats_is_dropped_from_fusion_unless_every_space_is():
    beaten = {"serve": "baseline", "why": "raw pixels beats the image model beyond the interval"}
    fine = {"serve": "model", "why": "the text model is not worse than full-text search"}
    kept, why = fused_spaces({"image": beaten, "text": fine, "behaviour": None})
    assert kept == ["text", "behaviour"]
    assert why["image"].startswith("dropped from the fused related list for this version: raw pixels beats")
    assert why["text"].startswith("kept in the fused related list") and "behaviour" not in why
    kept, why = fused_spaces({"image": beaten, "text": beaten})
    assert kept == ["image", "text"] and "nothing better to fuse" in why["image"]
