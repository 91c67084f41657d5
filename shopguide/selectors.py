"""Read side: ranked product lists for the API, the template tags and the admin alike.

Every result names the model version that produced it and whether a fallback answered. Serving
never trains and never raises for a missing model or vector: it falls back to popular products.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Model, Sum
from django.utils import timezone

from shopguide.adapter import get_adapter
from shopguide.models import Interaction, ModelVersion
from shopguide.vectors import nearest_products, product_vector
from shopguide.versions import active_version

POPULAR_WINDOW_DAYS = 90


@dataclass(frozen=True)
class ScoredProduct:
    product: Model
    score: float
    reason: str = ""


@dataclass
class Recommendations:
    items: list[ScoredProduct] = field(default_factory=list)
    version: int | None = None  # model version that ranked the items; None for pure fallbacks
    source: str = "popular"  # "image", "popular", ...
    fallback: bool = True

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def related_products(*, product: Model, k: int = 8, version: ModelVersion | None = None) -> Recommendations:
    """Products related to ``product``, best first: its nearest neighbours in the image space of
    ``version`` (default: the active one), in stock, not the product itself; topped up with
    popular products of its category when the model has too few (or no model/vector exists)."""
    adapter = get_adapter()
    version = version or active_version()
    candidates = adapter.available(adapter.model._default_manager.all())
    result = Recommendations(version=version.pk if version else None)
    if version and "image" in version.dimensions:
        vector = product_vector(version_id=version.pk, space="image", product_id=product.pk)
        if vector is not None:
            neighbours = nearest_products(
                version_id=version.pk,
                space="image",
                dimensions=version.dimensions["image"],
                vector=vector,
                k=k,
                candidates=candidates,
                exclude_ids=[product.pk],
            )
            by_pk = adapter.get_queryset().in_bulk([n.product_id for n in neighbours])
            title = adapter.title(product)
            result.items = [
                ScoredProduct(by_pk[n.product_id], round(n.score, 4), f"looks like {title}")
                for n in neighbours
                if n.product_id in by_pk
            ]
            result.source, result.fallback = "image", False
    if len(result.items) < k:
        taken = {item.product.pk for item in result.items} | {product.pk}
        result.items += popular_products(k=k - len(result.items), like=product, exclude_ids=taken)
        if not result.items or result.fallback:
            result.source, result.fallback = "popular", True
    return result


def popular_products(*, k: int, like: Model | None = None, exclude_ids=()) -> list[ScoredProduct]:
    """In-stock products ranked by weighted recent interactions (then newest first); products of
    the same category as ``like`` come first. Fills up to k whenever that many products exist."""
    adapter = get_adapter()
    available = adapter.available(adapter.get_queryset()).exclude(pk__in=list(exclude_ids))
    since = timezone.now() - timedelta(days=POPULAR_WINDOW_DAYS)
    counts = dict(
        Interaction.objects.filter(product__isnull=False, ts__gte=since)
        .values_list("product")
        .annotate(weight=Sum("weight"))
        .order_by("-weight")
        .values_list("product", "weight")[: max(k * 20, 200)]
    )
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
    items = []
    for pk in picked:
        if pk in by_pk:
            product = by_pk[pk]
            where = adapter.category(product)
            items.append(ScoredProduct(product, round(counts.get(pk, 0.0) / top, 4), f"popular in {where}" if where else "popular"))
    return items
