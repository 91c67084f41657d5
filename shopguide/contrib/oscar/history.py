"""Import of Oscar's own history into shopguide: product views (analytics.UserProductView),
orders (order.Line, guests included), basket lines and searches (analytics.UserSearch).

Idempotent: every imported event carries a dedupe key naming its Oscar row, so re-running adds
nothing twice; an order line recorded live by the receivers has the same key. Views, basket
lines and searches that the receivers already recorded live (same customer, product or query
and type within ``LIVE_WINDOW`` of Oscar's timestamp) are not imported again. A child
product's events count for its parent. A guest order is imported under a visitor id derived
from its e-mail address (hashed), so a guest's repeated orders form one history.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from shopguide.models import Interaction, InteractionType
from shopguide.services.events import PastEvent, store_past_events

from .receivers import order_line_key

LIVE_WINDOW = dt.timedelta(seconds=5)
READ_CHUNK = 2000


@dataclass
class BackfillReport:
    imported: dict[str, int] = field(default_factory=dict)  # source -> events stored
    present: dict[str, int] = field(default_factory=dict)  # source -> already there (earlier run or live)

    @property
    def total(self) -> int:
        return sum(self.imported.values())


def guest_visitor(email: str) -> str:
    """The visitor id of a guest's orders: a hash of the e-mail address, never the address."""
    return "oscar-guest-" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]


def source_sizes() -> dict[str, int]:
    """How many Oscar rows each source holds (for a progress bar's total)."""
    models = _models()
    return {
        "views": models["UserProductView"]._default_manager.count(),
        "orders": models["OrderLine"]._default_manager.count(),
        "baskets": models["BasketLine"]._default_manager.filter(basket__owner__isnull=False).count(),
        "searches": models["UserSearch"]._default_manager.count(),
    }


def backfill_oscar_history(
    *,
    sources: Iterable[str] = ("views", "orders", "baskets", "searches"),
    progress: Callable[[int], None] | None = None,
) -> BackfillReport:
    """Import Oscar's history; ``progress(n)`` is called with the Oscar rows read since the last
    call. Returns per-source counts of stored and already-present events."""
    readers = {"views": _views, "orders": _orders, "baskets": _baskets, "searches": _searches}
    report = BackfillReport()
    for source in sources:
        not_live = _LiveFilter()
        stored, present = store_past_events(not_live(_counting(readers[source](), progress)))
        report.imported[source] = stored
        report.present[source] = present + not_live.skipped
    return report


# -- readers: Oscar rows -> PastEvent --------------------------------------------------------------


def _models() -> dict:
    from oscar.core.loading import get_model

    return {
        "Product": get_model("catalogue", "Product"),
        "UserProductView": get_model("analytics", "UserProductView"),
        "UserSearch": get_model("analytics", "UserSearch"),
        "OrderLine": get_model("order", "Line"),
        "BasketLine": get_model("basket", "Line"),
    }


def _parents(product_ids: set) -> dict:
    """product pk -> the pk its events count for (the parent of a child)."""
    Product = _models()["Product"]
    rows = Product._default_manager.filter(pk__in=product_ids).values_list("pk", "parent_id")
    return {pk: parent or pk for pk, parent in rows}


def _in_chunks(queryset, fields: tuple[str, ...]) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for row in queryset.order_by("pk").values_list(*fields).iterator(chunk_size=READ_CHUNK):
        chunk.append(row)
        if len(chunk) >= READ_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _views() -> Iterator[PastEvent | None]:
    for chunk in _in_chunks(
        _models()["UserProductView"]._default_manager.all(), ("pk", "user_id", "product_id", "date_created")
    ):
        canonical = _parents({row[2] for row in chunk})
        for pk, user_id, product_id, ts in chunk:
            yield (
                PastEvent(
                    type=InteractionType.VIEW,
                    ts=ts,
                    dedupe_key=f"oscar:view:{pk}",
                    product_id=canonical.get(product_id),
                    user_id=user_id,
                )
                if product_id in canonical
                else None
            )


def _orders() -> Iterator[PastEvent | None]:
    lines = _models()["OrderLine"]._default_manager.all()
    fields = ("pk", "product_id", "order__user_id", "order__guest_email", "order__date_placed")
    for chunk in _in_chunks(lines, fields):
        canonical = _parents({row[1] for row in chunk if row[1] is not None})
        for pk, product_id, user_id, email, ts in chunk:
            if product_id not in canonical or (user_id is None and not email):
                yield None  # a deleted product, or a guest order without an address: no one to learn about
                continue
            yield PastEvent(
                type=InteractionType.PURCHASE,
                ts=ts,
                dedupe_key=order_line_key(pk),
                product_id=canonical[product_id],
                user_id=user_id,
                visitor="" if user_id is not None else guest_visitor(email),
            )


def _baskets() -> Iterator[PastEvent | None]:
    lines = _models()["BasketLine"]._default_manager.filter(basket__owner__isnull=False)
    for chunk in _in_chunks(lines, ("pk", "product_id", "basket__owner_id", "date_created")):
        canonical = _parents({row[1] for row in chunk if row[1] is not None})
        for pk, product_id, user_id, ts in chunk:
            yield (
                PastEvent(
                    type=InteractionType.CART,
                    ts=ts,
                    dedupe_key=f"oscar:basket-line:{pk}",
                    product_id=canonical[product_id],
                    user_id=user_id,
                )
                if product_id in canonical
                else None
            )


def _searches() -> Iterator[PastEvent | None]:
    for chunk in _in_chunks(_models()["UserSearch"]._default_manager.all(), ("pk", "user_id", "query", "date_created")):
        for pk, user_id, query, ts in chunk:
            yield (
                PastEvent(
                    type=InteractionType.SEARCH, ts=ts, dedupe_key=f"oscar:search:{pk}", user_id=user_id, query=query
                )
                if (query or "").strip()
                else None
            )


# -- filters ---------------------------------------------------------------------------------------


def _counting(events: Iterator[PastEvent | None], progress: Callable[[int], None] | None) -> Iterator[PastEvent]:
    """Report each Oscar row read (None = a row that yields no event) and pass the events on."""
    for event in events:
        if progress:
            progress(1)
        if event is not None:
            yield event


class _LiveFilter:
    """Leaves out events the receivers recorded live already (same actor, type, product or query,
    within LIVE_WINDOW); counts them in ``skipped``. Order lines need no window: their key is shared."""

    def __init__(self) -> None:
        self.skipped = 0
        # Only Oscar rows from after the first event recorded live (no dedupe key) can have a
        # live twin: older history, usually nearly all of it, is not checked row by row.
        first_live = (
            Interaction.objects.filter(dedupe_key__isnull=True).order_by("ts").values_list("ts", flat=True).first()
        )
        self.since = first_live - LIVE_WINDOW if first_live is not None else None

    def __call__(self, events: Iterator[PastEvent]) -> Iterator[PastEvent]:
        batch: list[PastEvent] = []
        for event in events:
            batch.append(event)
            if len(batch) >= READ_CHUNK:
                yield from self._fresh(batch)
                batch = []
        yield from self._fresh(batch)

    def _fresh(self, batch: list[PastEvent]) -> Iterator[PastEvent]:
        keyed = [
            e
            for e in batch
            if e.type != InteractionType.PURCHASE
            and e.user_id is not None
            and self.since is not None
            and e.ts >= self.since
        ]
        if not keyed:
            yield from batch
            return
        live = Interaction.objects.filter(
            dedupe_key__isnull=True,
            user_id__in={e.user_id for e in keyed},
            type__in={e.type for e in keyed},
            ts__gte=min(e.ts for e in keyed) - LIVE_WINDOW,
            ts__lte=max(e.ts for e in keyed) + LIVE_WINDOW,
        ).values_list("user_id", "type", "product_id", "query", "ts")
        times: dict[tuple, list] = defaultdict(list)
        for user_id, type_, product_id, query, ts in live:
            times[(user_id, type_, product_id if type_ != InteractionType.SEARCH else query)].append(ts)
        for stamps in times.values():
            stamps.sort()
        for event in batch:
            key = (event.user_id, event.type, event.product_id if event.type != InteractionType.SEARCH else event.query)
            found = times.get(key)
            if found and event.type != InteractionType.PURCHASE:
                i = bisect.bisect_left(found, event.ts - LIVE_WINDOW)
                if i < len(found) and found[i] <= event.ts + LIVE_WINDOW:
                    self.skipped += 1
                    continue
            yield event
