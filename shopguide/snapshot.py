"""Snapshots of the shop's data for one training run: the catalogue and the event sequences.

Read through the adapter only. Images are decoded here once for training; embedding chunks read
their own products again, so they can run on other workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopguide.adapter import get_adapter
from shopguide.exceptions import TrainingRefused
from shopguide.ml.event_types import EVENT_STRENGTH, EVENT_TYPES
from shopguide.products import product_document, read_product_images

IMAGE_LOAD_CHUNK = 512
Progress = Callable[[float, str], None]


@dataclass
class CatalogSnapshot:
    product_ids: list[Any] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)  # title / text fields / category, one per line
    categories: list[str | None] = field(default_factory=list)
    in_stock: np.ndarray | None = None  # bool (N,)
    # Products with a readable image: their positions in product_ids, and the decoded pixels.
    image_rows: np.ndarray | None = None  # int (M,)
    images: np.ndarray | None = None  # uint8 (M, S, S, C)
    skipped: dict[str, str] = field(default_factory=dict)  # product pk -> why its image was skipped

    @property
    def n_products(self) -> int:
        return len(self.product_ids)

    def category_labels(self) -> np.ndarray:
        return category_labels(self.categories)


def category_labels(categories: list[str | None]) -> np.ndarray:
    """Category names → int ids (-1 = no category)."""
    names = sorted({c for c in categories if c})
    ids = {name: i for i, name in enumerate(names)}
    return np.array([ids.get(c, -1) if c else -1 for c in categories], dtype=np.int64)


def take_catalog_snapshot(*, image_size: int, channels: int, progress: Progress) -> CatalogSnapshot:
    """Read every product's text, category, stock and image. Raises TrainingRefused when empty."""
    adapter = get_adapter()
    queryset = adapter.get_queryset().order_by("pk")
    total = queryset.count()
    if total == 0:
        raise TrainingRefused("The catalogue is empty: add products before training.")
    snapshot = CatalogSnapshot()
    in_stock: list[bool] = []
    image_rows: list[int] = []
    image_chunks: list[np.ndarray] = []
    batch: list = []

    def flush() -> None:
        offset = snapshot.n_products - len(batch)
        ok, pixels, errors = read_product_images(batch, size=image_size, channels=channels)
        image_rows.extend(offset + p for p in ok)
        if len(pixels):
            image_chunks.append(pixels)
        for position, message in errors.items():
            snapshot.skipped[str(batch[position].pk)] = message
        batch.clear()

    for done, product in enumerate(queryset.iterator(chunk_size=2000), start=1):
        snapshot.product_ids.append(product.pk)
        snapshot.documents.append(product_document(product))
        snapshot.categories.append(adapter.category(product))
        in_stock.append(adapter.in_stock(product))
        batch.append(product)
        if len(batch) >= IMAGE_LOAD_CHUNK:
            flush()
            progress(done / total, f"read {done}/{total} products")
    if batch:
        flush()
    snapshot.in_stock = np.array(in_stock, dtype=bool)
    snapshot.image_rows = np.array(image_rows, dtype=np.int64)
    snapshot.images = (
        np.concatenate(image_chunks) if image_chunks else np.zeros((0, image_size, image_size, channels), np.uint8)
    )
    return snapshot


@dataclass
class EventSnapshot:
    """Per shopper (user or anonymous visitor), the distinct products met, in time order."""

    actors: list[tuple[str, Any]] = field(default_factory=list)  # ("user", pk) or ("visitor", id)
    sequences: list[np.ndarray] = field(default_factory=list)  # product positions in the catalogue
    event_types: list[np.ndarray] = field(default_factory=list)  # ids into ml.event_types.EVENT_TYPES
    n_events: int = 0

    def user_rows(self) -> list[int]:
        return [i for i, (kind, _) in enumerate(self.actors) if kind == "user"]


def take_event_snapshot(catalog: CatalogSnapshot, *, user_ids: list[Any] | None = None) -> EventSnapshot:
    """Every shopper's history over the snapshot's products (or only these users'). A product met
    twice keeps its first position and its strongest event type (so a view → cart → purchase is
    one purchase), which keeps "exclude what the shopper already has" meaningful in evaluation."""
    from shopguide.models import Interaction

    # Keys as text: product ids may come back from JSON (a saved model's item list) as strings.
    position = {str(pk): i for i, pk in enumerate(catalog.product_ids)}
    type_id = {name: i for i, name in enumerate(EVENT_TYPES)}
    rows = Interaction.objects.filter(product__isnull=False)
    if user_ids is not None:
        rows = rows.filter(user_id__in=user_ids)
    rows = rows.order_by("user_id", "visitor", "ts", "pk").values_list("user_id", "visitor", "product_id", "type")
    snapshot = EventSnapshot()
    current: tuple[str, Any] | None = None
    items: dict[int, Any] = {}  # row -> when the actor last met it
    kinds: dict[int, str] = {}  # row -> the event type it was met by

    def flush() -> None:
        if current is not None and items:
            order = sorted(items, key=items.__getitem__)
            snapshot.actors.append(current)
            snapshot.sequences.append(np.array(order, dtype=np.int64))
            snapshot.event_types.append(np.array([type_id[kinds[i]] for i in order], dtype=np.int64))

    for user_id, visitor, product_id, event_type in rows.iterator(chunk_size=10000):
        actor = ("user", user_id) if user_id is not None else ("visitor", visitor)
        if actor != current:
            flush()
            current, items, kinds = actor, {}, {}
        row = position.get(str(product_id))
        if row is None:
            continue
        snapshot.n_events += 1
        if row not in items:
            items[row] = len(items)
            kinds[row] = event_type
        elif EVENT_STRENGTH.get(event_type, 0) > EVENT_STRENGTH.get(kinds[row], 0):
            kinds[row] = event_type
    flush()
    return snapshot
