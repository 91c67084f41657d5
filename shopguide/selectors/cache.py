"""Caching of ranked lists per model version.

A cached list holds product ids, scores and reasons, never product rows: on a hit the products
are read again through the filters, so a product that went out of stock since disappears at
once. Keys carry the active version and the moment it was activated, so activating a version
(or rolling back) invalidates every list in every process, whatever the cache backend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.core.cache import cache

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.filters import ProductFilters
from shopguide.models import ModelVersion
from shopguide.selectors.results import Recommendations, ScoredProduct


def version_stamp(version: ModelVersion | None) -> str:
    if version is None:
        return "none"
    activated = version.activated_at.timestamp() if version.activated_at else 0
    return f"{version.pk}.{activated:.6f}"


def cached_list(
    name: str,
    version: ModelVersion | None,
    parts: tuple,
    filters: ProductFilters,
    compute: Callable[[], Recommendations],
) -> Recommendations:
    """``compute()``'s result, from the cache when an equal request was answered lately."""
    seconds = shopguide_settings.CACHE_SECONDS
    if not seconds:
        return compute()
    raw = "|".join([name, version_stamp(version), *map(str, parts), filters.cache_key()])
    key = f"shopguide:{name}:{hashlib.sha256(raw.encode()).hexdigest()}"
    stored = cache.get(key)
    if stored is not None:
        return _restore(stored, filters)
    result = compute()
    cache.set(key, _freeze(result), seconds)
    return result


def _freeze(result: Recommendations) -> dict:
    return {
        "items": [(item.product.pk, item.score, item.reason) for item in result.items],
        "version": result.version,
        "source": result.source,
        "fallback": result.fallback,
    }


def _restore(stored: dict, filters: ProductFilters) -> Recommendations:
    ids = [pk for pk, _, _ in stored["items"]]
    by_pk = filters.apply(get_adapter().get_queryset()).in_bulk(ids)
    items = [ScoredProduct(by_pk[pk], score, reason) for pk, score, reason in stored["items"] if pk in by_pk]
    return Recommendations(items=items, version=stored["version"], source=stored["source"], fallback=stored["fallback"])
