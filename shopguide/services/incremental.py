"""Keeping vectors fresh between trainings: a saved product is embedded with the active models
within seconds (through the light Celery queue), so it shows up in related lists at once."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from celery import current_app
from django.db import transaction

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.search_documents import refresh_search_documents
from shopguide.selectors.versions import active_version
from shopguide.vector_categories import refresh_vector_categories
from shopguide.vectors import write_product_vectors

logger = logging.getLogger(__name__)


def embed_product(product_pk: Any) -> list[str]:
    """Embed one product with the active version's models and store its vectors.

    Returns the spaces written (empty when there is no active version, the product is gone, or
    it has nothing to embed, e.g. no image yet).
    """
    from shopguide.spaces import get_space

    product = get_adapter().get_by_pk(product_pk)
    if product is None:
        return []
    refresh_search_documents([product])
    version = active_version()
    if version is None:
        return []
    from shopguide.services.stored_lists import store_product_lists

    embedded = {}
    for name in version.dimensions:
        ids, vectors, errors = get_space(name).embed_products(version, [product])
        if ids:
            embedded[name] = (ids, vectors)
        elif errors:
            logger.info("Product %s not embedded in %s: %s", product_pk, name, errors.get(product.pk))
    if embedded:
        # Vectors and lists in one transaction: no reader sees the new vectors while the stored
        # lists (which serving reads first) do not know the product yet.
        with transaction.atomic():
            for name, (ids, vectors) in embedded.items():
                write_product_vectors(version=version, space=name, product_ids=ids, vectors=vectors)
            store_product_lists(version, product.pk)
    return list(embedded)


# The light-queue tasks (``shopguide.tasks``), queued by name: the services never import the tasks.
EMBED_PRODUCT_TASK = "shopguide.embeddings.embed_product"
REFRESH_USER_TASK = "shopguide.profiles.refresh_user"
REFRESH_VISITOR_TASK = "shopguide.profiles.refresh_visitor"


def _queue_light_task_after_commit(task_name: str, argument: Any, what: str) -> None:
    """Queue the task ``task_name`` with ``argument`` on the light queue once the transaction
    commits. A broker outage is logged, never raised: saving a product or recording an event must
    not fail because the worker side is down."""

    def send() -> None:
        # The task as the current Celery app registered it (``shopguide.receivers`` imports the
        # tasks at start-up): what the task's own proxy would resolve to. Looked up outside the
        # try: a task that is not registered is a set-up error to raise, not a broker outage.
        task = current_app.tasks[task_name]
        try:
            task.apply_async((argument,), queue=shopguide_settings.QUEUE, retry=False)
        except Exception as exc:  # kombu raises several types for an unreachable broker
            logger.warning("Could not queue %s: %s", what, exc)

    transaction.on_commit(send)


def schedule_product_embedding(product_pk: Any) -> None:
    """Queue ``embed_product`` for this product after commit."""
    _queue_light_task_after_commit(EMBED_PRODUCT_TASK, product_pk, f"embedding of product {product_pk}")


_suspended = threading.local()


@contextlib.contextmanager
def suspend_incremental_updates():
    """Bulk loads: no per-product embedding tasks inside this block (retrain afterwards)."""
    previous = getattr(_suspended, "active", False)
    _suspended.active = True
    try:
        yield
    finally:
        _suspended.active = previous


def on_catalog_change(sender, instance, **kwargs) -> None:
    """post_save receiver for the models the adapter watches."""
    if kwargs.get("raw") or getattr(_suspended, "active", False):
        return
    adapter = get_adapter()
    product_ids = adapter.changed_product_ids(instance)
    # At once, in the saving transaction: a product moved to another category leaves the old
    # category's index now, not when the light queue re-embeds it.
    refresh_vector_categories(product_ids)
    if not shopguide_settings.EMBED_ON_SAVE:
        return
    # Full-text search sees the change at once; vectors follow from the light queue.
    refresh_search_documents(adapter.get_queryset().filter(pk__in=product_ids))
    for product_pk in product_ids:
        schedule_product_embedding(product_pk)


def refresh_user_vector(user_id: Any) -> bool:
    """Recompute one customer's vector with the active behaviour model from their whole history
    (no retrain), and their stored recommendations from it. Returns False when there is no
    behaviour model or no usable history."""
    from shopguide.services.stored_lists import newest_event_id, store_shopper_list
    from shopguide.snapshot import CatalogSnapshot, take_event_snapshot
    from shopguide.spaces import behaviour as behaviour_space
    from shopguide.vectors import write_user_vectors

    version = active_version()
    if version is None or behaviour_space.NAME not in version.dimensions:
        return False
    as_of = newest_event_id(user_id=user_id)  # read first: an event after it makes the list stale
    item_ids = behaviour_space.item_ids(version)
    events = take_event_snapshot(CatalogSnapshot(product_ids=item_ids), user_ids=[user_id])
    if not events.sequences:
        return False
    vectors = behaviour_space.load(version).user_vectors(events.sequences, events.event_types)
    write_user_vectors(version=version, user_ids=[user_id], vectors=vectors)
    from shopguide.ml.event_types import EVENT_TYPES

    history = {item_ids[i]: EVENT_TYPES[kind] for i, kind in zip(events.sequences[0], events.event_types[0])}
    store_shopper_list(version, user_id=user_id, vector=vectors[0], history=history, as_of=as_of)
    return True


def refresh_visitor_list(visitor: str) -> bool:
    """Store a guest's recommendations computed from their session's history with the active
    behaviour model. Returns False when there is no behaviour model or no usable history."""
    from shopguide.ranking import shopper_vector
    from shopguide.selectors.personal import shopper_history
    from shopguide.services.stored_lists import newest_event_id, store_shopper_list
    from shopguide.spaces import behaviour as behaviour_space

    version = active_version()
    if version is None or behaviour_space.NAME not in version.dimensions:
        return False
    as_of = newest_event_id(visitor=visitor)
    history = shopper_history(visitor=visitor)
    vector = shopper_vector(version, None, history, live=True) if history else None
    if vector is None:
        return False
    store_shopper_list(
        version, visitor=visitor, vector=vector, history={h.product_id: h.type for h in history}, as_of=as_of
    )
    return True


def schedule_user_refresh(user_id: Any) -> None:
    """Queue ``refresh_user_vector`` for this customer after commit."""
    _queue_light_task_after_commit(REFRESH_USER_TASK, user_id, f"the vector refresh of user {user_id}")


def schedule_visitor_refresh(visitor: str) -> None:
    """Queue ``refresh_visitor_list`` for this guest after commit."""
    _queue_light_task_after_commit(REFRESH_VISITOR_TASK, visitor, "a guest's recommendations refresh")
