"""Personal recommendations from the behaviour LSTM: the shopper's vector, its nearest products.

A logged-in customer's vector is stored (refreshed after each event); a guest's is computed live
from their session's history, and so is anyone's when the current cart is passed in. What the
shopper already bought or has in the cart is never recommended.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db.models import Model

from shopguide.adapter import get_adapter
from shopguide.filters import DEFAULT_FILTERS, ProductFilters
from shopguide.ml.event_types import EVENT_STRENGTH
from shopguide.models import Interaction, InteractionType, ModelVersion
from shopguide.ranking import HistoryItem, baseline_neighbours, because_reason, explained_neighbours, shopper_vector
from shopguide.selectors.popular import TRENDING_WINDOW_DAYS, popular_products
from shopguide.selectors.results import Recommendations, ScoredProduct
from shopguide.selectors.stored import StoredShopper, read_listed, read_shopper
from shopguide.selectors.versions import active_version

HISTORY_EVENTS = 200  # most recent events read per shopper
HISTORY_ITEMS = 50  # distinct products of them fed to the model
OWNED_TYPES = (InteractionType.PURCHASE, InteractionType.CART)
NO_REASON = "recommended for you"  # an item no product of the history explains


def shopper_history(*, user: Model | None = None, visitor: str | None = None) -> list[HistoryItem]:
    """The shopper's distinct products, oldest first, each with its strongest event type."""
    if user is None and not visitor:
        return []
    rows = Interaction.objects.filter(product__isnull=False)
    rows = rows.filter(user=user) if user is not None else rows.filter(visitor=visitor, user__isnull=True)
    recent = list(rows.order_by("-ts", "-pk").values_list("product_id", "type")[:HISTORY_EVENTS])
    strongest: dict[Any, str] = {}
    for product_id, kind in reversed(recent):  # oldest first; dict order = first time met
        if EVENT_STRENGTH.get(kind, 0) >= EVENT_STRENGTH.get(strongest.get(product_id, ""), -1):
            strongest[product_id] = kind
    return [HistoryItem(pk, kind) for pk, kind in list(strongest.items())[-HISTORY_ITEMS:]]


def recommended_for(
    *,
    user: Model | None = None,
    visitor: str | None = None,
    cart_ids=(),
    k: int = 8,
    filters: ProductFilters = DEFAULT_FILTERS,
    version: ModelVersion | None = None,
) -> Recommendations:
    """Personal recommendations for a customer (``user``) or a guest (``visitor`` id), best first.

    ``cart_ids``: products in the current cart, read as the latest events of the sequence. Items
    bought, in the cart or among the last products viewed are never recommended. With no model,
    no history or no usable vector, trending products answer (``fallback``), with the reason
    "popular in <category>". Served from the shopper's stored list (one statement) while it is
    fresh; after a new event, or with a cart, computed live.
    """
    if not cart_ids and (user is not None or visitor):
        stored = read_shopper(user=user, visitor=visitor, version_id=version.pk if version else None)
        if stored is not None and stored.fresh:
            served = _from_stored(stored, user=user, visitor=visitor, k=k, filters=filters)
            if served is not None:
                return served
    history = shopper_history(user=user, visitor=visitor)
    version = version or active_version()
    history += [HistoryItem(pk, InteractionType.CART) for pk in cart_ids if pk not in {h.product_id for h in history}]
    owned = [h.product_id for h in history if h.type in OWNED_TYPES]
    filters = filters.excluding(owned)
    # A fallback names no model version: clicks on it must not count for a model.
    result = Recommendations(version=None, source="trending", fallback=True)
    if version is not None and "behaviour" in version.dimensions and history:
        from shopguide.spaces.behaviour import served_by

        if served_by(version) != "lstm":  # a baseline beat the LSTM on held-out data: it serves
            result.items = _baseline_with_reasons(version, history, k=k, filters=filters)
        elif (vector := shopper_vector(version, user, history, live=bool(cart_ids) or user is None)) is not None:
            result.items = _nearest_with_reasons(version, vector, history, k=k, filters=filters)
        if result.items:
            result.source, result.fallback, result.version = "personal", False, version.pk
    return _topped_up(result, history, k=k, filters=filters)


def _from_stored(stored: StoredShopper, *, user, visitor, k: int, filters: ProductFilters) -> Recommendations | None:
    """The fresh stored list's first k products that pass ``filters`` (what the shopper met was
    left out when it was computed); None when fewer pass and a live search could find more."""
    by_pk, shown = read_listed(stored.product_ids, k=k, filters=filters)
    if len(shown) < k and not stored.complete:
        return None
    items: list[ScoredProduct] = []
    for pk, score, reason in zip(stored.product_ids, stored.scores, stored.reasons):
        if pk in shown and len(items) < k:
            items.append(ScoredProduct(by_pk[pk], round(score, 4), reason or NO_REASON))
    result = Recommendations(version=None, source="trending", fallback=True)
    if items:
        result = Recommendations(items=items, version=stored.version_id, source="personal", fallback=False)
    if len(result.items) < k:  # topped up with trending products: never what the shopper met or owns
        history = shopper_history(user=user, visitor=visitor)
        filters = filters.excluding([h.product_id for h in history if h.type in OWNED_TYPES])
        return _topped_up(result, history, k=k, filters=filters)
    return result


def _topped_up(
    result: Recommendations, history: list[HistoryItem], *, k: int, filters: ProductFilters
) -> Recommendations:
    """Trending products fill up a list the model left short (never what the shopper met)."""
    if len(result.items) < k:
        taken = [item.product.pk for item in result.items] + [h.product_id for h in history]
        result.items += popular_products(
            k=k - len(result.items), exclude_ids=taken, filters=filters, days=TRENDING_WINDOW_DAYS
        )
    return result


def _nearest_with_reasons(
    version: ModelVersion, vector: np.ndarray, history: list[HistoryItem], *, k: int, filters: ProductFilters
) -> list[ScoredProduct]:
    found = explained_neighbours(version, vector, [h.product_id for h in history], k=k, filters=filters)
    if not found:
        return []
    adapter = get_adapter()
    by_pk = adapter.get_queryset().in_bulk(
        [n.product_id for n, _ in found] + list({b for _, b in found if b is not None})
    )
    kind_of = {h.product_id: h.type for h in history}
    items = []
    for n, because in found:
        if n.product_id not in by_pk:
            continue
        reason = because_reason(kind_of[because], adapter.title(by_pk[because])) if because in by_pk else NO_REASON
        items.append(ScoredProduct(by_pk[n.product_id], round(n.score, 4), reason))
    return items


def _baseline_with_reasons(
    version: ModelVersion, history: list[HistoryItem], *, k: int, filters: ProductFilters
) -> list[ScoredProduct]:
    from shopguide.conf import shopguide_settings

    found = baseline_neighbours(version, [h.product_id for h in history], depth=shopguide_settings.LIST_DEPTH)
    by_pk, shown = read_listed([n.product_id for n, _ in found], k=k, filters=filters)
    kept = [(n, because) for n, because in found if n.product_id in shown][:k]
    adapter = get_adapter()
    causes = adapter.get_queryset().in_bulk({b for _, b in kept if b is not None})
    kind_of = {h.product_id: h.type for h in history}
    return [
        ScoredProduct(
            by_pk[n.product_id],
            round(n.score, 4),
            because_reason(kind_of[b], adapter.title(causes[b])) if b in causes else NO_REASON,
        )
        for n, b in kept
    ]
