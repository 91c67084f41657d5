"""Reading the lists stored when a version was built (``shopguide.services.stored_lists`` writes them).

Each reader is one hand-written statement that also finds the active version, so a request that a
stored list answers costs one round trip for the ranking: a fresh shopper's list needs not even
their history (what they met was left out, and the reasons written, when it was computed). The
rows come back as ids; the product rows are read through the filters by the caller, so stock and
category changes show at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.filters import ProductFilters
from shopguide.models import Interaction, ModelVersion, RelatedList, ShopperList
from shopguide.spaces import space_names

VERSIONS = ModelVersion._meta.db_table
RELATED = RelatedList._meta.db_table
SHOPPERS = ShopperList._meta.db_table
EVENTS = Interaction._meta.db_table
# The depth a list's version was built with; the current setting (the parameter) for a version
# built before the depth was recorded.
DEPTH = f"COALESCE((SELECT v.list_depth FROM {VERSIONS} v WHERE v.id = {{t}}.version_id), %s)"


@dataclass(frozen=True)
class StoredRelated:
    version_id: int
    product_ids: list[Any]  # best first, as the product model's primary key type
    scores: list[float]
    reasons: list[str]  # the space that explains each item
    depth: int  # the depth the version's lists were built with
    # Set when an entry was dropped since the list was built (a product re-embedded, that fell
    # below it): every product the list does not hold scores at most this, and something it
    # does not hold may rank next.
    bound: float | None = None

    @property
    def complete(self) -> bool:
        """Whether the list holds every candidate there was: not when it was cut short (its items
        are still the exact best, best first, but more may follow them)."""
        return self.bound is None and is_complete(self.product_ids, self.depth)


@dataclass(frozen=True)
class StoredShopper:
    version_id: int
    fresh: bool  # computed from the shopper's history as it is now (no event since)
    product_ids: list[Any]
    scores: list[float]
    reasons: list[str]  # per item, the reason shown ("" = none), written with the list
    depth: int  # the depth the version's lists were built with

    @property
    def complete(self) -> bool:
        return is_complete(self.product_ids, self.depth)


def read_related(*, product_pk: Any, space: str | None, version_id: int | None) -> StoredRelated | None:
    """The stored list of ``product_pk`` (fused when ``space`` is None) in version ``version_id``
    (default: the active version), or None when there is none."""
    version, params = _version(version_id)
    sql = (
        f"SELECT r.version_id, r.product_ids, r.scores, r.reasons, {DEPTH.format(t='r')} FROM {RELATED} r "
        f"WHERE r.version_id = {version} AND r.product_id = %s AND r.space = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [shopguide_settings.LIST_DEPTH, *params, product_pk, space or ""])
        row = cursor.fetchone()
    if row is None:
        return None
    version, ids, scores, reasons, depth = row
    names = space_names()  # RelatedList.reasons holds each space's position in the registry
    scores = list(scores)
    # One score more than items: the bound of a list an entry was dropped from
    # (shopguide.services.stored_lists.list_bound).
    bound = scores.pop() if len(scores) > len(ids) else None
    return StoredRelated(
        version_id=version,
        product_ids=_to_pks(ids),
        scores=scores,
        reasons=[names[i] for i in reasons],
        depth=depth,
        bound=bound,
    )


def read_shopper(*, user: Model | None, visitor: str | None, version_id: int | None) -> StoredShopper | None:
    """The active (or given) version's stored list of a customer or guest, and whether it is
    fresh; None when none is stored."""
    version, params = _version(version_id)
    if user is not None:
        actor, actor_params = "{t}.user_id = %s", [user.pk]
    else:
        actor, actor_params = "{t}.visitor = %s AND {t}.user_id IS NULL", [visitor or ""]
    sql = (
        f"SELECT l.version_id, l.as_of, l.product_ids, l.scores, l.reasons, "
        f"(SELECT max(e.id) FROM {EVENTS} e WHERE {actor.format(t='e')} AND e.product_id IS NOT NULL), "
        f"{DEPTH.format(t='l')} FROM {SHOPPERS} l WHERE l.version_id = {version} AND {actor.format(t='l')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*actor_params, shopguide_settings.LIST_DEPTH, *params, *actor_params])
        row = cursor.fetchone()
    if row is None:
        return None
    version, as_of, ids, scores, reasons, newest, depth = row
    return StoredShopper(
        version_id=version,
        fresh=as_of == newest,
        product_ids=_to_pks(ids),
        scores=list(scores),
        reasons=list(reasons),
        depth=depth,
    )


def _version(version_id: int | None) -> tuple[str, list]:
    """SQL for the version a list is read from: the given one, or the active one. (A subquery
    plans faster than a join with the versions table, and a list is one row either way.)"""
    if version_id is not None:
        return "%s", [version_id]
    return f"(SELECT id FROM {VERSIONS} WHERE is_active)", []


def read_products(ids: list[Any], *, filters: ProductFilters, also: Sequence[Any] = ()) -> tuple[dict, set]:
    """The product rows of ``ids`` and ``also`` in one query: (pk -> product, pks of ``ids`` that
    pass ``filters``). ``also`` are products read only if visible (``adapter.visible``), never
    shown and not otherwise filtered (e.g. the product a related list belongs to)."""
    adapter = get_adapter()
    if not also:  # the plain filtered read (cheaper to build than the OR below)
        by_pk = {
            product.pk: product for product in filters.apply(adapter.get_queryset()).filter(pk__in=list(ids)).order_by()
        }
        return by_pk, set(by_pk)
    # One statement, (the ids that pass) OR (the ``also`` products): cheaper than marking which
    # rows pass with a subquery. A product in both is only read, never shown unfiltered.
    base = adapter.get_queryset().order_by()
    extra = set(also)
    rows = filters.apply(base).filter(pk__in=[pk for pk in ids if pk not in extra]) | adapter.visible(base).filter(
        pk__in=list(extra)
    )
    by_pk = {product.pk: product for product in rows}
    return by_pk, set(by_pk) - extra


def read_listed(ids: list[Any], *, k: int, filters: ProductFilters, also: Sequence[Any] = ()) -> tuple[dict, set]:
    """``read_products`` for a stored list, best first: its first k and half as many again (which
    covers the usual filters, stock and a few products left out, in one small read), then the
    whole list when fewer than k of those pass. ``also``: as for ``read_products``."""
    first = k + (k + 1) // 2
    by_pk, shown = read_products(ids[:first], filters=filters, also=also)
    if len(shown) < k and len(ids) > first:
        by_pk, shown = read_products(ids, filters=filters, also=also)
    return by_pk, shown


def is_complete(product_ids: list[Any], depth: int) -> bool:
    """A stored list shorter than the depth its version's lists were built with
    (``ModelVersion.list_depth``) holds every candidate there was: a live search under filters
    would find nothing more. (Not the current LIST_DEPTH: raising it must not make a list built
    shorter look complete.)"""
    return len(product_ids) < depth


def _to_pks(values: list[str]) -> list[Any]:
    """Stored text ids as primary keys ("" = None)."""
    to_python = get_adapter().model._meta.pk.to_python
    return [to_python(value) if value else None for value in values]
