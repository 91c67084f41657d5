"""Segment logistic regression and RFM features on small synthetic data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shopguide.ml.segments import SegmentModel, fit_segment_model, rfm_features


def _two_blobs(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Members sit around +1 on the first feature, others around -1; the second feature is noise
    on a scale of thousands (standardisation must make that harmless)."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 2).astype(np.int64)
    features = np.stack([rng.normal(labels * 2.0 - 1.0, 0.7), rng.normal(0, 5000, n)], 1)
    return features, labels


def test_fits_separates_and_gives_probabilities():
    features, labels = _two_blobs()
    model = fit_segment_model(features, labels)
    proba = model.predict_proba(features)
    assert proba.shape == (len(labels),)
    assert proba.min() >= 0 and proba.max() <= 1
    assert ((proba > 0.5) == labels).mean() > 0.9
    assert abs(model.weights[0]) > 5 * abs(model.weights[1])  # the informative feature dominates


def test_matches_a_hand_checked_symmetric_case():
    # Symmetric data: the intercept is 0 and P(member) at the midpoint is exactly 0.5.
    features = np.array([[-2.0], [-1.0], [1.0], [2.0], [-1.5], [1.5]])
    labels = np.array([0, 0, 1, 1, 1, 0])
    model = fit_segment_model(features, labels, l2=0.5)
    assert model.bias == pytest.approx(0.0, abs=1e-9)
    assert model.predict_proba(np.array([[0.0]]))[0] == pytest.approx(0.5)


def test_stronger_l2_shrinks_weights():
    features, labels = _two_blobs()
    weak, strong = (fit_segment_model(features, labels, l2=l2) for l2 in (0.1, 100.0))
    assert np.abs(strong.weights).sum() < np.abs(weak.weights).sum()


def test_dict_round_trip_is_json_and_exact():
    features, labels = _two_blobs()
    model = fit_segment_model(features, labels)
    data = json.loads(json.dumps(model.to_dict()))
    again = SegmentModel.from_dict(data)
    np.testing.assert_array_equal(again.predict_proba(features), model.predict_proba(features))


def test_constant_feature_and_empty_prediction():
    features, labels = _two_blobs()
    features = np.hstack([features, np.ones((len(features), 1))])
    model = fit_segment_model(features, labels)
    assert np.isfinite(model.predict_proba(features)).all()
    assert model.predict_proba(np.empty((0, 3))).shape == (0,)


@pytest.mark.parametrize(
    "features, labels, message",
    [
        (np.ones((4, 2)), np.ones(4), "one class"),
        (np.ones((4, 2)), np.array([0, 1, 2, 0]), "0 or 1"),
        (np.ones((4, 2)), np.array([0, 1]), "shape"),
        (np.full((2, 1), np.nan), np.array([0, 1]), "NaN"),
    ],
)
def test_bad_input_raises(features, labels, message):
    with pytest.raises(ValueError, match=message):
        fit_segment_model(features, labels)


def test_predict_checks_width():
    features, labels = _two_blobs()
    with pytest.raises(ValueError):
        fit_segment_model(features, labels).predict_proba(np.ones((3, 5)))


def test_rfm_features():
    day = 86_400.0
    out = rfm_features([np.array([0.0, 9 * day]), np.array([])], [np.array([10.0, 20.0]), np.array([])], now=10 * day)
    np.testing.assert_allclose(out[0], np.log1p([1.0, 2.0, 30.0]))
    np.testing.assert_allclose(out[1], np.log1p([3650.0, 0.0, 0.0]))
    with pytest.raises(ValueError):
        rfm_features([np.array([1.0])], [np.array([1.0, 2.0])], now=0.0)
