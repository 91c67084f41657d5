"""Template tags: ``{% load shopguide_tags %}`` then, for example::

    {% shopguide_assets %}                                        (in <head>: the widgets' CSS and script)
    {% related_products product limit=8 title="Looks similar" space="image" widget="looks_similar" %}
    {% recommended_for request limit=8 %}
    {% trending limit=8 category="bags" %}

Widget ``<name>`` renders ``shopguide/<name>.html``, falling back to ``shopguide/widget.html``; a
shop overrides either in its own templates folder, or passes ``template="..."`` to one tag. The
widget name also travels with each click event, so clicks can be counted per widget.

No product shows twice on a page: each widget leaves out what the widgets above it showed.
A widget never breaks a page: on an unexpected error it logs the traceback and renders nothing.
"""

from __future__ import annotations

import logging
import re

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.template.loader import select_template
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from shopguide import selectors
from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.services.events import visitor_id

register = template.Library()
logger = logging.getLogger(__name__)

# Widget names become template names and event labels: keep them to plain identifiers.
WIDGET_NAME = re.compile(r"^[\w-]{1,64}$")
# Set on the request once the CSS and script are on the page, so they are included once.
ASSETS_SENT = "_shopguide_assets_sent"
# Set on the request: the products the page's widgets have shown so far. Each widget leaves them
# out, so no product shows twice on a page (a new guest's recommendations are trending products,
# and "looks similar" and "customers also bought" often agree).
SHOWN_ON_PAGE = "_shopguide_shown_on_page"


def clamp_limit(limit) -> int:
    """The number of items to show: the default when none is given, never above MAX_LIMIT."""
    if limit in (None, ""):
        return shopguide_settings.DEFAULT_LIMIT
    return max(1, min(int(limit), shopguide_settings.MAX_LIMIT))


def events_url() -> str:
    """Where the widgets' script posts clicks; empty when the shop did not mount the API."""
    try:
        return reverse("shopguide-api:events")
    except NoReverseMatch:
        return ""


def _claim_assets(request: HttpRequest | None) -> bool:
    """True the first time on a request: the caller then puts the CSS and script on the page."""
    if request is None:
        return True
    if getattr(request, ASSETS_SENT, False):
        return False
    setattr(request, ASSETS_SENT, True)
    return True


def _shown_on_page(context) -> list:
    """The ids the page's widgets showed so far (kept on the request; none without one)."""
    request = context.get("request")
    if request is None:
        return []
    if not hasattr(request, SHOWN_ON_PAGE):
        setattr(request, SHOWN_ON_PAGE, [])
    return getattr(request, SHOWN_ON_PAGE)


def _page_filters(context) -> selectors.ProductFilters:
    """The default filters, minus what the widgets above on the page showed."""
    return selectors.ProductFilters(exclude_ids=tuple(_shown_on_page(context)))


def _assets_html() -> str:
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>',
        static("shopguide/widgets.css"),
        static("shopguide/widgets.js"),
    )


def _render(context, widget: str, result, *, title: str, template_name: str | None) -> str:
    if not WIDGET_NAME.match(widget):
        raise ValueError(f"Widget name {widget!r} must be 1-64 letters, digits, '_' or '-'.")
    if not result.items:
        return ""
    adapter = get_adapter()
    items = [
        {
            "product": item.product,
            "id": item.product.pk,
            "title": adapter.title(item.product),
            "url": adapter.url(item.product),
            "image": adapter.image_url(item.product),
            "price": adapter.price(item.product),
            "currency": adapter.currency(item.product),
            "score": item.score,
            "reason": item.reason,
        }
        for item in result.items
    ]
    _shown_on_page(context).extend(item["id"] for item in items)
    request = context.get("request")
    names = ([template_name] if template_name else []) + [f"shopguide/{widget}.html", "shopguide/widget.html"]
    return select_template(names).render(
        {
            "widget": widget,
            "title": title,
            "items": items,
            "result": result,
            # What {% shopguide_tracking %} renders, also as variables for shop templates
            # written before it.
            "events_url": events_url(),
            "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
            "assets": _assets_html() if _claim_assets(request) else "",
        },
        request,
    )


@register.simple_tag
def shopguide_tracking(widget: str, result) -> str:
    """The attributes that make a list's clicks recorded (widget name, model version, events
    URL), for a shop's own list such as search results: put them on the element around the
    items, each item with ``data-product-id`` and a link::

        <section {% shopguide_tracking "search" results %}> ... <li data-product-id="{{ item.product.pk }}"><a href=...>
    """
    if not WIDGET_NAME.match(widget):
        raise ValueError(f"Widget name {widget!r} must be 1-64 letters, digits, '_' or '-'.")
    version = getattr(result, "version", None)
    url = events_url()
    return format_html(
        'data-shopguide-widget="{}" data-shopguide-version="{}" data-shopguide-source="{}"{} '
        'data-shopguide-csrf-cookie="{}"',
        widget,
        "" if version is None else version,
        getattr(result, "source", ""),
        format_html(' data-shopguide-events-url="{}"', url) if url else "",
        settings.CSRF_COOKIE_NAME,
    )


@register.simple_tag(takes_context=True)
def shopguide_assets(context) -> str:
    """The widgets' stylesheet and click-recording script; put it in ``<head>``. Without it the
    first widget on the page includes them."""
    return _assets_html() if _claim_assets(context.get("request")) else ""


@register.simple_tag(takes_context=True)
def related_products(
    context,
    product,
    limit: int | None = None,
    title: str = "Related products",
    space: str | None = None,
    widget: str = "related_products",
    template: str | None = None,
) -> str:
    """Products related to ``product`` (same list as ``GET products/<pk>/related/``); ``space``:
    one registered space (``shopguide.spaces``), e.g. "image" for "looks similar", "behaviour"
    for "customers also bought"; all, fused, by default."""
    if product is None:
        return ""
    try:
        result = selectors.related_products(
            product=product, k=clamp_limit(limit), space=space or None, filters=_page_filters(context)
        )
        return _render(context, widget, result, title=title, template_name=template)
    except Exception:
        logger.exception("%s widget failed for product %s", widget, getattr(product, "pk", None))
        return ""


@register.simple_tag(takes_context=True)
def recommended_for(
    context,
    request: HttpRequest | None = None,
    limit: int | None = None,
    title: str = "Recommended for you",
    widget: str = "recommended_for",
    template: str | None = None,
) -> str:
    """Personal recommendations for the request's customer, or its guest's session history
    (trending products for a new guest). Never starts a session."""
    request = request if request is not None else context.get("request")
    try:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            result = selectors.recommended_for(user=user, k=clamp_limit(limit), filters=_page_filters(context))
        else:
            visitor = visitor_id(request, create=False) if request is not None else None
            result = selectors.recommended_for(visitor=visitor, k=clamp_limit(limit), filters=_page_filters(context))
        return _render(context, widget, result, title=title, template_name=template)
    except Exception:
        logger.exception("%s widget failed", widget)
        return ""


@register.simple_tag(takes_context=True)
def trending(
    context,
    limit: int | None = None,
    category: str | None = None,
    title: str = "Trending now",
    widget: str = "trending",
    template: str | None = None,
) -> str:
    """What shoppers interacted with most this week, in ``category`` (pk, slug or name) when given."""
    try:
        result = selectors.trending(k=clamp_limit(limit), category=category or None, filters=_page_filters(context))
        return _render(context, widget, result, title=title, template_name=template)
    except Exception:
        logger.exception("%s widget failed", widget)
        return ""
