"""Ranking, shared by serving (``shopguide.selectors``) and the lists the pipelines store
(``shopguide.services``): the plan choice between the HNSW index and exact scoring under filters,
the fusion of the spaces into one related list, a shopper's vector, and the reasons that explain
an item. (Stored rows are the third plan: ``selectors.stored`` reads them, ``services.stored_lists``
writes them with the functions here.)"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Model

from shopguide.adapter import get_adapter
from shopguide.filters import ProductFilters
from shopguide.ml.event_types import EVENT_TYPES, VERBS
from shopguide.models import ModelVersion, UserVector
from shopguide.vector_categories import indexed_category
from shopguide.vectors import Neighbour, SpaceSearch, VectorQuery, nearest_products_in_spaces, pairwise_similarities

# -- plan: the HNSW index or exact scoring -----------------------------------------------------------


# Below this many candidates, score them all exactly. A graph walk under a filter visits up to
# hnsw.max_scan_tuples (20,000 by default) products looking for k that pass, each visit costlier
# than scoring a candidate; and when the filter matches far from the query (another category
# than the product's) it visits them all and still comes back short of k.
EXACT_SEARCH_BELOW = 20_000
# The same for a filter without a category (a price range): it is mostly unrelated to where
# products lie in a space, so a walk finds k that pass after about k / (share passing) visits,
# far cheaper than scoring thousands of candidates; only a handful are scored exactly.
EXACT_UNCATEGORISED_BELOW = 2_000


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
    """The k nearest products that pass ``filters`` for each query, in one statement (see
    ``nearest_products_in_spaces`` for ``score``). The plan, by filter:

    - a category with its own index in every space searched: the walk of that category's graph
      (every product it visits passes the category, so k are found at HNSW speed);
    - other narrow filters with few candidates (a category without its own index: fewer than
      EXACT_SEARCH_BELOW; a price range: fewer than EXACT_UNCATEGORISED_BELOW): every candidate
      scored exactly;
    - broader ones: the walk of the space's graph, with the filter applied as it goes.

    A walk that comes back short under a narrow filter is redone exactly, so a list is shorter
    than k only when fewer products pass and have a vector."""
    candidates = filters.excluding(exclude_ids).candidates()
    category = indexed_category(version, {q.space for q in queries}, filters.category)
    below = EXACT_SEARCH_BELOW if filters.category not in (None, "") else EXACT_UNCATEGORISED_BELOW
    exact = category is None and filters.is_narrow and candidates[:below].count() < below

    def search(*, exact: bool) -> SpaceSearch:
        return nearest_products_in_spaces(
            version_id=version.pk,
            dimensions=version.dimensions,
            queries=queries,
            k=k,
            candidates=candidates,
            exact=exact,
            score=score,
            index_type=version.vector_index_type or "vector",
            category=None if exact else category,
        )

    found = search(exact=exact)
    if not exact and filters.is_narrow and any(len(neighbours) < k for neighbours in found.neighbours):
        # The walk gave up (hnsw.max_scan_tuples) before k products passed the filter: a filter
        # that matches far from the query, or a category walk whose other filters (a price
        # range) pass few. Scoring every candidate finds them. (Under a broad filter a short
        # walk means the space has fewer than k vectors: nothing more to find.)
        found = search(exact=True)
    return found


# -- fusion: one related list from the spaces --------------------------------------------------------


RELATED_CANDIDATES = 50  # per space, before fusion


def related_weights(version: ModelVersion, space: str | None = None) -> dict[str, float]:
    weights = (version.config or {}).get("related_weights") or dict.fromkeys(version.dimensions, 1.0)
    if space is not None:
        return {space: 1.0} if space in version.dimensions else {}
    return {name: w for name, w in weights.items() if w > 0 and name in version.dimensions}


def fused_neighbour_ids(
    version: ModelVersion, product_pk: Any, *, k: int, filters: ProductFilters, space: str | None
) -> list[tuple[Any, float, str]]:
    """The k products most related to ``product_pk`` that pass ``filters``, searched live in the
    HNSW indexes: (pk, fused score, the space that contributed most), best first."""
    weights = related_weights(version, space)
    if not weights:
        return []
    search = related_search(version, product_pk, list(weights), k=k, filters=filters)
    return rank_related(search, list(weights), weights, k=k)


def related_search(
    version: ModelVersion, product_pk: Any, names: list[str], *, k: int, filters: ProductFilters
) -> SpaceSearch:
    """One statement: the product's own vectors, each space's neighbours of them (in the order of
    ``names``), and every neighbour's similarity in every space (not only in the one that found it)."""
    return neighbours_in_spaces(
        version,
        [VectorQuery(name, like=product_pk) for name in names],
        k=max(RELATED_CANDIDATES, 3 * k),
        filters=filters,
        exclude_ids=[product_pk],
        score=True,
    )


def rank_related(
    search: SpaceSearch, names: list[str], weights: dict[str, float], *, k: int
) -> list[tuple[Any, float, str]]:
    """The k best of ``related_search``'s neighbours by the weighted sum of their similarities in
    the spaces of ``weights`` (a subset of ``names``, which the search's queries follow), among
    the neighbours those spaces found: (pk, fused score, the space that contributed most)."""
    found = {n.product_id for i, name in enumerate(names) if name in weights for n in search.neighbours[i]}
    contributions: dict[Any, dict[str, float]] = {
        pk: {
            names[i]: weights[names[i]] * value
            for i, value in sorted(search.similarities.get(pk, {}).items())
            if names[i] in weights
        }
        for pk in found
    }
    ranked = sorted(
        (pk for pk in found if contributions[pk]), key=lambda pk: (-sum(contributions[pk].values()), str(pk))
    )[:k]
    return [
        (pk, round(sum(contributions[pk].values()), 4), max(contributions[pk], key=contributions[pk].__getitem__))
        for pk in ranked
    ]


# -- a shopper's vector, and the reasons of personal recommendations ---------------------------------


@dataclass(frozen=True)
class HistoryItem:
    product_id: Any
    type: str  # the strongest event type the shopper had with the product


def because_reason(event_type: str, title: str) -> str:
    """The reason of a personal recommendation: the history product closest to it, and what the
    shopper did with it."""
    return f"because you {VERBS.get(event_type, 'viewed')} {title}"


def shopper_vector(
    version: ModelVersion, user: Model | None, history: list[HistoryItem], *, live: bool
) -> np.ndarray | None:
    if not live and user is not None:
        stored = UserVector.objects.filter(version=version, user=user).values_list("embedding", flat=True).first()
        if stored is not None:
            return np.asarray(stored, dtype=np.float32)
    from shopguide.spaces import behaviour as behaviour_space

    rows = _item_rows(version.artifacts[behaviour_space.ITEMS_ARTIFACT])
    type_id = {name: i for i, name in enumerate(EVENT_TYPES)}
    known = [(rows[str(h.product_id)], type_id[h.type]) for h in history if str(h.product_id) in rows]
    if not known:  # only products the model has not seen: no sequence to read
        return None
    items, kinds = (np.array(column, dtype=np.int64) for column in zip(*known))
    from shopguide.spaces.artifacts import use_query_threads

    use_query_threads()
    return behaviour_space.load(version).user_vectors([items], [kinds])[0]


@functools.lru_cache(maxsize=4)
def _item_rows(items_artifact: str) -> dict[str, int]:
    """Product id (as text) -> row of the behaviour model, per version (artifacts never change)."""
    from shopguide.spaces.artifacts import load_json_artifact

    return {str(pk): i for i, pk in enumerate(load_json_artifact(items_artifact))}


def explained_neighbours(
    version: ModelVersion, vector: np.ndarray, seen: list[Any], *, k: int, filters: ProductFilters
) -> list[tuple[Neighbour, Any]]:
    """The k products nearest a shopper's vector (inner product in the behaviour index) that pass
    ``filters`` and are not in ``seen``, best first, each with the product of ``seen`` most like
    it, which explains it (None when none of ``seen`` has a vector). Serving and the stored lists
    both rank this way."""
    neighbours = filtered_neighbours(version, "behaviour", vector, k=k, filters=filters, metric="ip", exclude_ids=seen)
    if not neighbours:
        return []
    # Each item's cosine similarity to each product of the history, computed in PostgreSQL.
    similarity = pairwise_similarities(
        version_id=version.pk, space="behaviour", product_ids=[n.product_id for n in neighbours], other_ids=list(seen)
    )
    return [
        (n, max(to_seen, key=to_seen.__getitem__) if (to_seen := similarity.get(n.product_id)) else None)
        for n in neighbours
    ]


def baseline_neighbours(version: ModelVersion, seen: list[Any], *, depth: int) -> list[tuple[Neighbour, Any]]:
    """Like :func:`explained_neighbours`, from the baseline ``version`` serves in the LSTM's place
    (``spaces.behaviour.served_by``): its ``depth`` best products for a shopper who met ``seen``
    (oldest first), none of them, each with the product of ``seen`` that explains it (or None).
    Unfiltered: the caller filters (serving) or stores them all (stored lists)."""
    from shopguide.spaces import behaviour as behaviour_space

    rows = _item_rows(version.artifacts[behaviour_space.ITEMS_ARTIFACT])
    known = [pk for pk in seen if str(pk) in rows]
    history = np.array([rows[str(pk)] for pk in known], dtype=np.int64)
    found, scores, because = behaviour_space.load_baseline(version).recommend(history, depth=depth)
    to_pk = get_adapter().model._meta.pk.to_python
    product_ids = behaviour_space.item_ids(version)
    return [
        (Neighbour(to_pk(product_ids[r]), float(score)), known[b] if b >= 0 else None)
        for r, score, b in zip(found, scores, because)
    ]
