"""Related products: the product's neighbours in the image, text and co-behaviour spaces, fused."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from shopguide.adapter import get_adapter
from shopguide.models import ModelVersion
from shopguide.selectors.cache import cached_list
from shopguide.selectors.filters import DEFAULT_FILTERS, ProductFilters
from shopguide.selectors.neighbours import neighbours_in_spaces
from shopguide.selectors.popular import popular_products
from shopguide.selectors.results import Recommendations, ScoredProduct
from shopguide.vectors import VectorQuery
from shopguide.versions import active_version

RELATED_CANDIDATES = 50  # per space, before fusion
REASONS = {"image": "looks like {title}", "text": "similar to {title}", "behaviour": "bought together with {title}"}


def related_products(
    *, product: Model, k: int = 8, filters: ProductFilters = DEFAULT_FILTERS, space: str | None = None,
    version: ModelVersion | None = None,
) -> Recommendations:
    """Products related to ``product``, best first, from ``version`` (default: the active one).

    Candidates come from each space's HNSW index (image, text, co-behaviour) -- or only from
    ``space`` ("image" for "looks similar", "behaviour" for "customers also bought") -- that pass
    ``filters`` and are not the product itself; they are ranked by the weighted sum of their
    cosine similarities, with the weights the version tuned on held-out co-interactions. Popular
    products of the same category fill up the list when the model has too few (or no model or
    vector exists). Lists are cached per product and version.
    """
    version = version or active_version()

    def compute() -> Recommendations:
        result = Recommendations(version=version.pk if version else None)
        if version is not None:
            result.items = _fused_neighbours(version, product, k=k, filters=filters, space=space)
            if result.items:
                result.source, result.fallback = space or "related", False
        if len(result.items) < k:
            taken = {item.product.pk for item in result.items} | {product.pk}
            result.items += popular_products(k=k - len(result.items), like=product, exclude_ids=taken, filters=filters)
        return result

    return cached_list("related", version, (product.pk, k, space), filters, compute)


def related_weights(version: ModelVersion, space: str | None = None) -> dict[str, float]:
    weights = (version.config or {}).get("related_weights") or {name: 1.0 for name in version.dimensions}
    if space is not None:
        return {space: 1.0} if space in version.dimensions else {}
    return {name: w for name, w in weights.items() if w > 0 and name in version.dimensions}


def _fused_neighbours(
    version: ModelVersion, product: Model, *, k: int, filters: ProductFilters, space: str | None
) -> list[ScoredProduct]:
    weights = related_weights(version, space)
    names = list(weights)
    if not names:
        return []
    # One statement: the product's own vectors, each space's neighbours of them, and every
    # neighbour's similarity in every space (not only in the space that found it).
    search = neighbours_in_spaces(
        version, [VectorQuery(name, like=product.pk) for name in names], k=max(RELATED_CANDIDATES, 3 * k),
        filters=filters, exclude_ids=[product.pk], score=True,
    )  # fmt: skip
    found = {n.product_id for neighbours in search.neighbours for n in neighbours}
    if not found:  # no vector of the product in any space, or nothing passes the filters
        return []
    contributions: dict[Any, dict[str, float]] = {
        pk: {names[i]: weights[names[i]] * value for i, value in sorted(search.similarities.get(pk, {}).items())}
        for pk in found
    }  # fmt: skip
    ranked = sorted(found, key=lambda pk: (-sum(contributions[pk].values()), str(pk)))[:k]
    adapter = get_adapter()
    by_pk = adapter.get_queryset().in_bulk(ranked)
    title = adapter.title(product)
    items = []
    for pk in ranked:
        if pk not in by_pk or not contributions[pk]:  # deleted since it was indexed: drop, never crash
            continue
        main = max(contributions[pk], key=contributions[pk].get)
        items.append(ScoredProduct(by_pk[pk], round(sum(contributions[pk].values()), 4), REASONS[main].format(title=title)))
    return items
