"""Nearest products under filters: the HNSW index for broad filters, exact scoring for narrow ones."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopguide.models import ModelVersion
from shopguide.selectors.filters import ProductFilters
from shopguide.vectors import Neighbour, SpaceSearch, VectorQuery, nearest_products_in_spaces

# Below this many candidates, score them all exactly. A graph walk under a filter visits up to
# hnsw.max_scan_tuples (20,000 by default) products looking for k that pass, each visit costlier
# than scoring a candidate; and when the filter matches far from the query (another category
# than the product's) it visits them all and still comes back short of k.
EXACT_SEARCH_BELOW = 20_000


def filtered_neighbours(
    version: ModelVersion,
    space: str,
    vector: np.ndarray,
    *,
    k: int,
    filters: ProductFilters,
    metric: str = "cosine",
    exclude_ids=(),
) -> list[Neighbour]:
    """The k products nearest to ``vector`` in ``space`` that pass ``filters``, best first."""
    queries = [VectorQuery(space, vector, metric=metric)]
    return neighbours_in_spaces(version, queries, k=k, filters=filters, exclude_ids=exclude_ids).neighbours[0]


def neighbours_in_spaces(
    version: ModelVersion,
    queries: Sequence[VectorQuery],
    *,
    k: int,
    filters: ProductFilters,
    exclude_ids=(),
    score: bool = False,
) -> SpaceSearch:
    """The k nearest products that pass ``filters`` for each query, in one statement: the graph
    walk under broad filters, exact scoring under narrow ones (see ``nearest_products_in_spaces``
    for ``score``). A list is shorter than k only when fewer products pass and have a vector."""
    candidates = filters.excluding(exclude_ids).candidates()
    exact = filters.is_narrow and candidates[:EXACT_SEARCH_BELOW].count() < EXACT_SEARCH_BELOW

    def search(*, exact: bool) -> SpaceSearch:
        return nearest_products_in_spaces(
            version_id=version.pk,
            dimensions=version.dimensions,
            queries=queries,
            k=k,
            candidates=candidates,
            exact=exact,
            score=score,
        )

    found = search(exact=exact)
    if not exact and filters.is_narrow and any(len(neighbours) < k for neighbours in found.neighbours):
        # The walk gave up (hnsw.max_scan_tuples) before k products passed the filter: a filter
        # that matches far from the query. Scoring every candidate finds them. (Under a broad
        # filter a short walk means the space has fewer than k vectors: nothing more to find.)
        found = search(exact=True)
    return found
