"""Nearest products under filters: the HNSW index for broad filters, exact scoring for narrow ones."""

from __future__ import annotations

from typing import Any

import numpy as np

from shopguide.models import ModelVersion
from shopguide.selectors.filters import ProductFilters
from shopguide.vectors import Neighbour, nearest_products

# Below this many candidates, score them all exactly: a graph walk would visit many products to
# find a few that pass the filter (and could stop short of k).
EXACT_SEARCH_BELOW = 3000


def filtered_neighbours(
    version: ModelVersion, space: str, vector: np.ndarray, *, k: int, filters: ProductFilters,
    metric: str = "cosine", exclude_ids=(),
) -> list[Neighbour]:
    candidates = filters.excluding(exclude_ids).candidates()
    exact = filters.is_narrow and candidates[:EXACT_SEARCH_BELOW].count() < EXACT_SEARCH_BELOW
    return nearest_products(
        version_id=version.pk, space=space, dimensions=version.dimensions[space], vector=vector, k=k,
        candidates=candidates, metric=metric, exact=exact,
    )


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def cosine_to(vector: np.ndarray, others: dict[Any, np.ndarray]) -> dict[Any, float]:
    """Cosine similarity of ``vector`` to each of ``others`` (by key)."""
    own = unit(vector)
    return {key: float(own @ unit(other)) for key, other in others.items()}
