"""Segment membership: L2-regularised logistic regression on user features, in numpy.

One model per segment that has labelled members (DESIGN.md "Segments"); the features are
typically the user vector from the behaviour model next to :func:`rfm_features`. Fitted with
Newton's method, so results are exact and deterministic, and the model serialises to plain
floats (:meth:`SegmentModel.to_dict`) that fit in a JSON field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class SegmentModel:
    """``P(member) = sigmoid(((x - mean) / scale) @ weights + bias)``.

    Attributes:
        mean, scale: per-feature standardisation learnt from the training features.
        weights: per-feature coefficients on the standardised features.
        bias: intercept.
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Membership probabilities.

        Args:
            features: (N, F) with the F columns the model was fitted on (N may be 0).

        Returns:
            float64 (N,) in [0, 1].

        Raises:
            ValueError: wrong shape or non-finite values.
        """
        x = _check_features(features, len(self.weights), allow_empty=True)
        return _sigmoid(((x - self.mean) / self.scale) @ self.weights + self.bias)

    def to_dict(self) -> dict[str, object]:
        """Plain lists and floats (JSON-serialisable)."""
        return {
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "weights": [float(v) for v in self.weights],
            "bias": float(self.bias),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SegmentModel:
        """Inverse of :meth:`to_dict`. Raises ValueError/KeyError on a malformed dict."""
        arrays = [np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "weights")]
        if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
            raise ValueError("mean, scale and weights must be lists of the same length")
        mean, scale, weights = arrays
        # data["bias"] is an object to the checker; float() raises on a malformed value, as documented.
        return cls(mean, scale, weights, bias=float(data["bias"]))  # type: ignore[arg-type]


def fit_segment_model(features: np.ndarray, labels: np.ndarray, *, l2: float = 1.0, seed: int = 0) -> SegmentModel:
    """Fit one segment's logistic regression.

    Minimises ``sum(log_loss) + l2 / 2 * |weights|^2`` (the intercept is not penalised) on
    standardised features, so ``l2`` means the same whatever the features' units; ``l2=1`` is
    scikit-learn's default ``C=1``.

    Args:
        features: (N, F) finite floats, e.g. user vectors and :func:`rfm_features`.
        labels: (N,) 0/1 (or bool) membership.
        l2: ridge strength, >= 0 (0 can diverge when the classes are separable).
        seed: accepted so every ``fit`` in shopguide.ml looks alike; Newton's method uses no
            randomness, so the result never depends on it.

    Returns:
        A fitted :class:`SegmentModel`.

    Raises:
        ValueError: mismatched or non-finite input, labels other than 0/1, l2 < 0, or only one
            class present (nothing to separate).
    """
    del seed
    x = _check_features(features, None)
    y = np.asarray(labels)
    if y.shape != (len(x),):
        raise ValueError(f"labels must have shape ({len(x)},), got {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    y = y.astype(np.float64)
    if y.min() == y.max():
        raise ValueError("labels contain only one class; a segment model needs members and non-members")
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")

    mean = x.mean(0)
    scale = x.std(0)
    scale[scale < 1e-12] = 1.0  # a constant column stays 0 after centring instead of dividing by 0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])  # last column: intercept
    penalty = np.full(z.shape[1], float(l2))
    penalty[-1] = 0.0
    theta = np.zeros(z.shape[1])
    for _ in range(100):
        p = _sigmoid(z @ theta)
        gradient = z.T @ (p - y) + penalty * theta
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return SegmentModel(mean=mean, scale=scale, weights=theta[:-1].copy(), bias=float(theta[-1]))


def rfm_features(
    event_times: Sequence[np.ndarray], values: Sequence[np.ndarray] | None = None, *, now: float
) -> np.ndarray:
    """Recency, frequency and monetary features per user, log-scaled.

    Args:
        event_times: per user, epoch seconds of their (purchase) events, any order.
        values: per user, the money value of each event; omitted: monetary is 0.
        now: epoch seconds to measure recency from.

    Returns:
        float64 (N, 3): ``log1p(days since the last event)`` (``log1p(3650)`` for users with no
        events), ``log1p(event count)``, ``log1p(total value)``.

    Raises:
        ValueError: values misaligned with event_times.
    """
    out = np.zeros((len(event_times), 3))
    for i, times in enumerate(event_times):
        times = np.asarray(times, dtype=np.float64)
        days = (now - times.max()) / _SECONDS_PER_DAY if len(times) else 3650.0
        total = 0.0
        if values is not None:
            money = np.asarray(values[i], dtype=np.float64)
            if money.shape != times.shape:
                raise ValueError(f"values {i} must align with event_times {i}")
            total = float(money.sum())
        out[i] = np.log1p(max(days, 0.0)), np.log1p(len(times)), np.log1p(max(total, 0.0))
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # tanh form never overflows


def _check_features(features: np.ndarray, n_features: int | None, *, allow_empty: bool = False) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or (len(x) == 0 and not allow_empty) or (n_features is not None and x.shape[1] != n_features):
        raise ValueError(f"features must have shape (N, {n_features or 'F'}), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN or infinity")
    return x
