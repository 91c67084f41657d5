"""Related products: the product's neighbours in the image, text and co-behaviour spaces, fused."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from shopguide.adapter import get_adapter
from shopguide.filters import DEFAULT_FILTERS, ProductFilters
from shopguide.models import ModelVersion
from shopguide.ranking import fused_neighbour_ids
from shopguide.selectors.cache import cached_list
from shopguide.selectors.popular import popular_products
from shopguide.selectors.results import Recommendations, ScoredProduct
from shopguide.selectors.stored import StoredRelated, read_listed, read_related
from shopguide.selectors.versions import active_version
from shopguide.spaces import get_space


def related_products(
    *,
    product: Model,
    k: int = 8,
    filters: ProductFilters = DEFAULT_FILTERS,
    space: str | None = None,
    version: ModelVersion | None = None,
) -> Recommendations:
    """Products related to ``product``, best first, from ``version`` (default: the active one).

    Candidates come from each space's HNSW index (image, text, co-behaviour) -- or only from
    ``space`` ("image" for "looks similar", "behaviour" for "customers also bought") -- that pass
    ``filters`` and are not the product itself; they are ranked by the weighted sum of their
    cosine similarities, with the weights the version tuned on held-out co-interactions. Popular
    products of the same category fill up the list when the model has too few (or no model or
    vector exists). Served from the list stored when the version was built (one row) whenever k
    of its products pass the filters; otherwise searched live and cached per product and version.
    """
    stored = read_related(product_pk=product.pk, space=space, version_id=version.pk if version else None)
    served = (
        _from_stored(stored, product.pk, product, k=k, filters=filters, space=space) if stored is not None else None
    )
    if served is not None:  # (an empty answer is an answer: Recommendations with no items is falsy)
        return served
    return _searched_live(product, k=k, filters=filters, space=space, version=version)


def related_products_of(
    pk: Any, *, k: int = 8, filters: ProductFilters = DEFAULT_FILTERS, space: str | None = None
) -> Recommendations | None:
    """``related_products`` of the product with primary key ``pk`` (as given, e.g. from a URL),
    or None when there is no such product or the adapter does not let customers see it
    (``visible``). A stored list answers with the product itself read along with its items: one
    query fewer than reading the product first."""
    pk = get_adapter().parse_pk(pk)
    if pk is None:
        return None
    stored = read_related(product_pk=pk, space=space, version_id=None)
    served = _from_stored(stored, pk, None, k=k, filters=filters, space=space) if stored is not None else None
    if served is not None:
        return served
    product = get_adapter().get_by_pk(pk, visible=True)
    if product is None:
        return None
    return _searched_live(product, k=k, filters=filters, space=space, version=None)


def _searched_live(
    product: Model, *, k: int, filters: ProductFilters, space: str | None, version: ModelVersion | None
) -> Recommendations:
    version = version or active_version()

    def compute() -> Recommendations:
        result = Recommendations(version=version.pk if version else None)
        if version is not None:
            result.items = _fused_neighbours(version, product, k=k, filters=filters, space=space)
            if result.items:
                result.source, result.fallback = space or "related", False
        return _topped_up(result, product, k=k, filters=filters)

    return cached_list("related", version, (product.pk, k, space), filters, compute)


def _from_stored(
    stored: StoredRelated, product_pk: Any, product: Model | None, *, k: int, filters: ProductFilters, space: str | None
) -> Recommendations | None:
    """The stored list's first k products that pass ``filters``; None when fewer than k pass and
    the list may not hold every candidate (a live search under the filters finds more), or when
    ``product`` was not given and is gone or hidden. Without ``product``, it is read with the items."""
    candidates = [pk for pk in stored.product_ids if pk != product_pk]
    by_pk, shown = read_listed(candidates, k=k, filters=filters, also=[] if product is not None else [product_pk])
    product = product if product is not None else by_pk.get(product_pk)
    if product is None or (len(shown) < k and not stored.complete):
        return None
    title = get_adapter().title(product)
    items: list[ScoredProduct] = []
    for pk, score, reason in zip(stored.product_ids, stored.scores, stored.reasons):
        if pk in shown and len(items) < k:
            items.append(ScoredProduct(by_pk[pk], round(score, 4), get_space(reason).reason.format(title=title)))
    result = Recommendations(items=items, version=stored.version_id)
    if items:
        result.source, result.fallback = space or "related", False
    return _topped_up(result, product, k=k, filters=filters)


def _topped_up(result: Recommendations, product: Model, *, k: int, filters: ProductFilters) -> Recommendations:
    """Popular products of the same category fill up a list the model left short."""
    if len(result.items) < k:
        taken = {item.product.pk for item in result.items} | {product.pk}
        result.items += popular_products(k=k - len(result.items), like=product, exclude_ids=taken, filters=filters)
    return result


def _fused_neighbours(
    version: ModelVersion, product: Model, *, k: int, filters: ProductFilters, space: str | None
) -> list[ScoredProduct]:
    found = fused_neighbour_ids(version, product.pk, k=k, filters=filters, space=space)
    if not found:  # no vector of the product in any space, or nothing passes the filters
        return []
    adapter = get_adapter()
    by_pk = adapter.get_queryset().in_bulk([pk for pk, _, _ in found])
    title = adapter.title(product)
    # A product deleted since it was indexed is dropped, never crashed on.
    return [
        ScoredProduct(by_pk[pk], score, get_space(main).reason.format(title=title))
        for pk, score, main in found
        if pk in by_pk
    ]
