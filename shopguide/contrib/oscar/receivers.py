"""Oscar's signals → shopguide events, through shopguide's public event functions.

Connected in ``OscarIntegrationConfig.ready()``. An event on a child product counts for its
parent (what customers browse and shopguide lists). A receiver never breaks Oscar's page: a failure to
record is logged and the customer's request goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from shopguide.adapter import get_adapter
from shopguide.models import InteractionType
from shopguide.services.events import record_event, record_request_event

logger = logging.getLogger(__name__)


def order_line_key(line_pk: Any) -> str:
    """The dedupe key of an order line's purchase: the live receiver and the backfill share it."""
    return f"oscar:order-line:{line_pk}"


def _canonical(product):
    adapter = get_adapter()
    return adapter.canonical(product) if hasattr(adapter, "canonical") else product


def _safely(what: str, record, *args, **kwargs) -> None:
    try:
        record(*args, **kwargs)
    except Exception:  # recording is never worth a failed page
        logger.exception("shopguide could not record %s", what)


def on_product_viewed(sender, product, user, request=None, **kwargs) -> None:
    if request is not None:
        _safely("a product view", record_request_event, request, type=InteractionType.VIEW, product=_canonical(product))


def on_basket_addition(sender, product, user, request=None, **kwargs) -> None:
    if request is not None:
        _safely(
            "a basket addition", record_request_event, request, type=InteractionType.CART, product=_canonical(product)
        )


def on_user_search(sender, query, user, session=None, **kwargs) -> None:
    request = getattr(sender, "request", None)  # Oscar sends the view as sender
    if request is not None and (query or "").strip():
        _safely("a search", record_request_event, request, type=InteractionType.SEARCH, query=query.strip())


def on_order_placed(sender, order, user, **kwargs) -> None:
    """A signed-in customer's order (Oscar sends no request with this signal; a guest's order is
    recorded by ``on_post_checkout``, which has the guest's session)."""
    if user is None or not user.is_authenticated:
        return
    for line in order.lines.select_related("product__parent"):
        if line.product is not None:
            _safely(
                "a purchase",
                record_event,
                type=InteractionType.PURCHASE,
                product=_canonical(line.product),
                user=user,
                ts=order.date_placed,
                dedupe_key=order_line_key(line.pk),
            )


def on_post_checkout(sender, order, user, request=None, **kwargs) -> None:
    """A guest's order joins the guest's history (the session's visitor id), so it is learned
    from and moves to the account if the guest signs in or registers later."""
    if request is None or (user is not None and user.is_authenticated):
        return
    for line in order.lines.select_related("product__parent"):
        if line.product is not None:
            _safely(
                "a guest purchase",
                record_request_event,
                request,
                type=InteractionType.PURCHASE,
                product=_canonical(line.product),
                ts=order.date_placed,
                dedupe_key=order_line_key(line.pk),
            )


def connect() -> None:
    """Connect the receivers to Oscar's signals (idempotent: dispatch uids)."""
    from oscar.apps.basket.signals import basket_addition
    from oscar.apps.catalogue.signals import product_viewed
    from oscar.apps.checkout.signals import post_checkout
    from oscar.apps.order.signals import order_placed
    from oscar.apps.search.signals import user_search

    product_viewed.connect(on_product_viewed, dispatch_uid="shopguide_oscar_view")
    basket_addition.connect(on_basket_addition, dispatch_uid="shopguide_oscar_cart")
    user_search.connect(on_user_search, dispatch_uid="shopguide_oscar_search")
    order_placed.connect(on_order_placed, dispatch_uid="shopguide_oscar_order")
    post_checkout.connect(on_post_checkout, dispatch_uid="shopguide_oscar_guest_order")
