"""Which rows are held out: a stable hash of each row's key, so the same products stay held out
from one training run to the next (two versions can then be compared on the same held-out set,
and a product held out once is never trained on by a later version either). Pure Python/numpy."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

TRAIN, VALID, TEST = 0, 1, 2


def stable_fraction(key: object, *, salt: str) -> float:
    """A number in [0, 1) fixed by ``key`` and ``salt``, uniform over keys."""
    digest = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_by_key(keys: Sequence[object], *, valid: float, test: float, salt: str) -> np.ndarray:
    """int8 (N,) TRAIN / VALID / TEST per key: about ``test`` of the keys are TEST, ``valid`` VALID.

    VALID rows choose things (early stopping, a model, weights); TEST rows only report, so a
    reported figure is never one that was tuned on.

    Raises:
        ValueError: fractions outside [0, 1) or summing to 1 or more.
    """
    if not (0 <= valid < 1 and 0 <= test < 1 and valid + test < 1):
        raise ValueError(f"valid and test fractions must be in [0, 1) and sum below 1, got {valid}, {test}")
    fractions = np.array([stable_fraction(key, salt=salt) for key in keys])
    out = np.full(len(fractions), TRAIN, dtype=np.int8)
    out[fractions < test + valid] = VALID
    out[fractions < test] = TEST
    return out
