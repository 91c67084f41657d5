"""Read side: ranked product lists for the API, the template tags and the admin alike.

Every result names the model version that produced it and whether a fallback answered. Serving
never trains and never raises for a missing model or vector: it falls back to popular products.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from django.db.models import Model, Sum
from django.utils import timezone

from shopguide.adapter import get_adapter
from shopguide.models import Interaction, ModelVersion
from shopguide.vectors import nearest_products, product_vectors
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
    source: str = "popular"  # "related" (the model), "popular" (the fallback), ...
    fallback: bool = True

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


RELATED_CANDIDATES = 50  # per space, before fusion
REASONS = {"image": "looks like {title}", "text": "similar to {title}", "behaviour": "bought together with {title}"}


def related_products(*, product: Model, k: int = 8, version: ModelVersion | None = None) -> Recommendations:
    """Products related to ``product``, best first, from ``version`` (default: the active one).

    Candidates come from each space's HNSW index (image, text, co-behaviour), in stock and not
    the product itself; they are ranked by the weighted sum of their cosine similarities, with
    the weights the version tuned on held-out co-interactions. Popular products of the same
    category fill up the list when the model has too few (or no model/vector exists).
    """
    adapter = get_adapter()
    version = version or active_version()
    result = Recommendations(version=version.pk if version else None)
    if version is not None:
        result.items = _fused_neighbours(version, product, k=k)
        if result.items:
            result.source, result.fallback = "related", False
    if len(result.items) < k:
        taken = {item.product.pk for item in result.items} | {product.pk}
        result.items += popular_products(k=k - len(result.items), like=product, exclude_ids=taken)
    return result


def related_weights(version: ModelVersion) -> dict[str, float]:
    weights = (version.config or {}).get("related_weights") or {name: 1.0 for name in version.dimensions}
    return {name: w for name, w in weights.items() if w > 0 and name in version.dimensions}


def _fused_neighbours(version: ModelVersion, product: Model, *, k: int) -> list[ScoredProduct]:
    adapter = get_adapter()
    weights = related_weights(version)
    own = {
        space: vectors[product.pk]
        for space in weights
        if product.pk in (vectors := product_vectors(version_id=version.pk, space=space, product_ids=[product.pk]))
    }
    if not own:
        return []
    candidates = adapter.available(adapter.model._default_manager.all())
    found: set[Any] = set()
    for space, vector in own.items():
        neighbours = nearest_products(
            version_id=version.pk, space=space, dimensions=version.dimensions[space], vector=vector,
            k=max(RELATED_CANDIDATES, 3 * k), candidates=candidates, exclude_ids=[product.pk], metric="cosine",
        )
        found.update(n.product_id for n in neighbours)
    if not found:
        return []
    contributions: dict[Any, dict[str, float]] = {pk: {} for pk in found}
    for space, vector in own.items():
        unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
        for pk, other in product_vectors(version_id=version.pk, space=space, product_ids=list(found)).items():
            contributions[pk][space] = weights[space] * float(unit @ other) / max(float(np.linalg.norm(other)), 1e-12)
    ranked = sorted(found, key=lambda pk: (-sum(contributions[pk].values()), str(pk)))[:k]
    by_pk = adapter.get_queryset().in_bulk(ranked)
    title = adapter.title(product)
    items = []
    for pk in ranked:
        if pk not in by_pk:  # deleted since it was indexed: drop, never crash
            continue
        main = max(contributions[pk], key=contributions[pk].get)
        items.append(ScoredProduct(by_pk[pk], round(sum(contributions[pk].values()), 4), REASONS[main].format(title=title)))
    return items


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


SEARCH_CANDIDATES = 50  # per retriever, before fusion
RRF_K = 60  # reciprocal-rank-fusion constant (Cormack et al.)
SEARCH_WEIGHTS = {"lstm": 1.0, "fulltext": 1.0, "trigram": 0.7}


def search_products(*, query: str, k: int = 8, version: ModelVersion | None = None) -> Recommendations:
    """Hybrid product search, best first: the text model's nearest neighbours of the query fused
    (reciprocal rank fusion) with PostgreSQL full-text rank and pg_trgm title similarity. Only
    in-stock products. Without a text model, full-text and trigram answer alone (``fallback``)."""
    from shopguide.search_documents import fulltext_matches, trigram_matches
    from shopguide.spaces import text as text_space

    adapter = get_adapter()
    query = " ".join(query.split())[:200]
    version = version or active_version()
    candidates = adapter.available(adapter.model._default_manager.all()).values("pk")
    candidates_sql = candidates.query.sql_with_params()
    ranked_lists: dict[str, list[Any]] = {
        "fulltext": [pk for pk, _ in fulltext_matches(query, limit=SEARCH_CANDIDATES, candidates_sql=candidates_sql)],
        "trigram": [pk for pk, _ in trigram_matches(query, limit=SEARCH_CANDIDATES, candidates_sql=candidates_sql)],
    }
    uses_model = version is not None and text_space.NAME in version.dimensions
    if uses_model:
        neighbours = nearest_products(
            version_id=version.pk, space=text_space.NAME, dimensions=version.dimensions[text_space.NAME],
            vector=text_space.embed_query(version, query), k=SEARCH_CANDIDATES,
            candidates=adapter.available(adapter.model._default_manager.all()),
        )
        ranked_lists["lstm"] = [n.product_id for n in neighbours]
    fused: dict[Any, float] = {}
    for name, pks in ranked_lists.items():
        for rank, pk in enumerate(pks):
            fused[pk] = fused.get(pk, 0.0) + SEARCH_WEIGHTS[name] / (RRF_K + rank + 1)
    top = sorted(fused, key=lambda pk: (-fused[pk], str(pk)))[:k]
    by_pk = adapter.get_queryset().in_bulk(top)
    best = max(fused.values(), default=1.0)
    return Recommendations(
        items=[ScoredProduct(by_pk[pk], round(fused[pk] / best, 4), f"matches “{query}”") for pk in top if pk in by_pk],
        version=version.pk if uses_model else None,
        source="hybrid" if uses_model else "fulltext",
        fallback=not uses_model,
    )
