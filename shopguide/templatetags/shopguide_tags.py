"""Template tags: ``{% load shopguide_tags %}`` then ``{% related_products product limit=8 %}``.

Widgets render ``shopguide/<widget>.html`` (falling back to ``shopguide/widget.html``); a shop
overrides that one template in its own templates folder, or passes ``template="..."`` to one tag.
A widget never breaks a page: on an unexpected error it logs the traceback and renders nothing.
"""

from __future__ import annotations

import logging

from django import template
from django.template.loader import select_template

from shopguide import selectors
from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings

register = template.Library()
logger = logging.getLogger(__name__)


def _render(context, widget: str, result, *, title: str, template_name: str | None) -> str:
    adapter = get_adapter()
    items = [
        {
            "product": item.product,
            "id": item.product.pk,
            "title": adapter.title(item.product),
            "url": adapter.url(item.product),
            "image": adapter.image_url(item.product),
            "price": adapter.price(item.product),
            "score": item.score,
            "reason": item.reason,
        }
        for item in result.items
    ]
    names = ([template_name] if template_name else []) + [f"shopguide/{widget}.html", "shopguide/widget.html"]
    return select_template(names).render(
        {
            "widget": widget,
            "title": title,
            "items": items,
            "result": result,
            "request": context.get("request"),
        }
    )


@register.simple_tag(takes_context=True)
def related_products(context, product, limit: int | None = None, title: str = "Related products", template: str | None = None) -> str:
    """Products related to ``product`` (same list as ``GET products/<pk>/related/``)."""
    if product is None:
        return ""
    k = min(int(limit or shopguide_settings.DEFAULT_LIMIT), shopguide_settings.MAX_LIMIT)
    try:
        result = selectors.related_products(product=product, k=k)
        return _render(context, "related_products", result, title=title, template_name=template)
    except Exception:
        logger.exception("related_products widget failed for product %s", getattr(product, "pk", None))
        return ""
