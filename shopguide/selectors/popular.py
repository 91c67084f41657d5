"""Trending and popular products: the fallback of every list, and the "trending" widget.

Counting recent interactions is an aggregate over the events table, so the ranked ids are
cached (SHOPGUIDE["CACHE_SECONDS"]); filters are applied after, on the cached ranking.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Model, Sum
from django.utils import timezone

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.filters import DEFAULT_FILTERS, ProductFilters
from shopguide.models import Interaction
from shopguide.selectors.results import Recommendations, ScoredProduct

TRENDING_WINDOW_DAYS = 7
POPULAR_WINDOW_DAYS = 90
RANKED_DEPTH = 1000  # ranked ids kept per window; filters pick from these, newest products fill up


def interaction_ranking(days: int) -> dict[Any, float]:
    """Product id -> summed event weight over the last ``days`` days, best first (cached)."""
    key = f"shopguide:ranking:{days}"
    ranking = cache.get(key)
    if ranking is None:
        since = timezone.now() - timedelta(days=days)
        rows = (
            Interaction.objects.filter(product__isnull=False, ts__gte=since)
            .values("product")
            .annotate(weight=Sum("weight"))
            .order_by("-weight", "product")
            .values_list("product", "weight")[:RANKED_DEPTH]
        )
        ranking = dict(rows)
        cache.set(key, ranking, shopguide_settings.CACHE_SECONDS)
    return ranking


def popular_products(
    *,
    k: int,
    like: Model | None = None,
    exclude_ids=(),
    filters: ProductFilters = DEFAULT_FILTERS,
    days: int = POPULAR_WINDOW_DAYS,
) -> list[ScoredProduct]:
    """Products ranked by weighted recent interactions (then newest first) that pass ``filters``;
    products of the same category as ``like`` come first. Fills up to k whenever that many exist."""
    adapter = get_adapter()
    available = filters.excluding(exclude_ids).apply(adapter.model._default_manager.all())
    counts = interaction_ranking(days)
    if days < POPULAR_WINDOW_DAYS and len(counts) < RANKED_DEPTH:
        # A quiet week: the longer window ranks the rest (below every product of the week).
        floor = min(counts.values(), default=1.0)
        longer = interaction_ranking(POPULAR_WINDOW_DAYS)
        scale = floor / (2 * max(longer.values(), default=1.0))
        counts = {**counts, **{pk: w * scale for pk, w in longer.items() if pk not in counts}}
    picked: list[Any] = []
    pools = [adapter.same_category(available, like)] if like is not None else []
    pools.append(available)
    for pool in pools:
        if len(picked) >= k:
            break
        ranked = [pk for pk in counts if pk not in picked]
        in_pool = set(pool.filter(pk__in=ranked).values_list("pk", flat=True)) if ranked else set()
        picked += [pk for pk in ranked if pk in in_pool][: k - len(picked)]
        if len(picked) < k:  # not enough with events: newest products fill the rest
            picked += list(pool.exclude(pk__in=picked).order_by("-pk").values_list("pk", flat=True)[: k - len(picked)])
    by_pk = adapter.get_queryset().in_bulk(picked)
    top = max(counts.values(), default=1.0) or 1.0
    label = "trending" if days <= TRENDING_WINDOW_DAYS else "popular"
    items = []
    for pk in picked:
        if pk in by_pk:
            product = by_pk[pk]
            where = adapter.category(product)
            items.append(
                ScoredProduct(product, round(counts.get(pk, 0.0) / top, 4), f"{label} in {where}" if where else label)
            )
    return items


def trending(*, k: int, category: str | None = None, filters: ProductFilters = DEFAULT_FILTERS) -> Recommendations:
    """What shoppers interacted with most this week (in ``category`` when given)."""
    from dataclasses import replace

    if category:
        filters = replace(filters, category=category)
    items = popular_products(k=k, filters=filters, days=TRENDING_WINDOW_DAYS)
    return Recommendations(items=items, version=None, source="trending", fallback=False)
