"""The catalog adapter: the only code that knows the host shop's product model.

The default adapter is driven by ``SHOPGUIDE['PRODUCT_FIELDS']``. Shops whose images or categories
live in other tables (django-oscar style) subclass it, override the few methods that differ
(usually ``read_image`` and ``category``, plus ``prepare_queryset`` to prefetch), and point
``SHOPGUIDE['ADAPTER']`` at the subclass.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connection, models
from django.db.models import Q, QuerySet

from shopguide.conf import get_product_model, shopguide_settings

logger = logging.getLogger(__name__)


class CatalogAdapter:
    """Reads products for shopguide. Subclass to customise; keep methods cheap (no query per item
    when ``prepare_queryset`` prefetched what they need)."""

    def __init__(self) -> None:
        self.model = get_product_model()
        self.fields: dict[str, Any] = shopguide_settings.PRODUCT_FIELDS

    # -- querysets -------------------------------------------------------------------------
    def get_queryset(self) -> QuerySet:
        """Every product shopguide may learn from."""
        return self.prepare_queryset(self.model._default_manager.all())

    def prepare_queryset(self, queryset: QuerySet) -> QuerySet:
        """Add select_related/prefetch_related so the per-product methods need no query."""
        category = self.fields.get("category")
        if category and self._is_relation(category):
            queryset = queryset.select_related(category)
        return queryset

    def available(self, queryset: QuerySet) -> QuerySet:
        """Narrow a queryset to products that may be shown to customers (in stock)."""
        field = self.fields.get("in_stock")
        return queryset.filter(**{field: True}) if field else queryset

    def same_category(self, queryset: QuerySet, product) -> QuerySet:
        """Narrow a queryset to products in ``product``'s category (all of it when uncategorised)."""
        field = self.fields.get("category")
        if not field:
            return queryset
        if self._is_relation(field):
            value = getattr(product, f"{self.model._meta.get_field(field).attname}")
        else:
            value = getattr(product, field)
        return queryset.filter(**{field: value}) if value not in (None, "") else queryset

    def in_category(self, queryset: QuerySet, value: str) -> QuerySet:
        """Narrow a queryset to one category, named as a customer or a URL would name it: for a
        category relation its primary key, slug or name (case-insensitive); else the field's value."""
        field = self.fields.get("category")
        if not field:
            return queryset.none()
        if not self._is_relation(field):
            return queryset.filter(**{f"{field}__iexact": value})
        related = self.model._meta.get_field(field).related_model
        names = {f.name for f in related._meta.get_fields()}
        match = Q()
        for attribute in ("slug", "name", "title"):
            if attribute in names:
                match |= Q(**{f"{attribute}__iexact": value})
        try:
            match |= Q(pk=related._meta.pk.to_python(value))
        except (ValidationError, ValueError, TypeError):
            pass  # not a valid key of the category model: match by name only
        if not match:
            return queryset.none()
        # The categories first (a small table, one short query): products are then read through
        # the index on their category column instead of the whole product table being scanned
        # and joined (3x faster on 100,000 products, and done for every filtered list).
        keys = list(related._default_manager.filter(match).values_list("pk", flat=True))
        return queryset.filter(**{f"{field}__in": keys})

    def in_price_range(self, queryset: QuerySet, low=None, high=None) -> QuerySet:
        """Narrow a queryset to prices in [low, high] (either bound may be None)."""
        field = self.fields.get("price")
        if not field:
            return queryset
        if low is not None:
            queryset = queryset.filter(**{f"{field}__gte": low})
        if high is not None:
            queryset = queryset.filter(**{f"{field}__lte": high})
        return queryset

    def products_by_sku(self, skus: Iterable[str]) -> dict[str, Any]:
        """Map external keys (SKUs) to primary keys; unknown SKUs are simply absent."""
        field = self.fields.get("sku") or "pk"
        rows = self.model._default_manager.filter(**{f"{field}__in": list(set(skus))})
        return {str(sku): pk for sku, pk in rows.values_list(field, "pk")}

    def parse_pk(self, value: Any) -> Any | None:
        """``value`` (e.g. from a URL) as a primary key of the product model, or None when no
        product can have it: malformed ("abc" for an integer key), out of the column's range, or
        text with a NUL byte (PostgreSQL rejects those)."""
        field = self.model._meta.pk
        try:
            pk = field.to_python(value)
        except (ValidationError, ValueError, TypeError):
            return None
        if isinstance(pk, str) and "\x00" in pk:
            return None
        if isinstance(pk, int):
            column = getattr(field, "target_field", field)  # a parent link's pk is its parent's
            low, high = connection.ops.integer_field_ranges.get(column.get_internal_type(), (None, None))
            if (low is not None and pk < low) or (high is not None and pk > high):
                return None
        return pk

    def get_by_pk(self, pk: Any):
        """The product with this primary key, or None (also for a malformed key, e.g. "abc")."""
        if isinstance(pk, str) and "\x00" in pk:  # PostgreSQL rejects NUL in text: no such product
            return None
        try:
            # No ordering: .first() would sort by the model's Meta.ordering for one row.
            return next(iter(self.get_queryset().filter(pk=pk).order_by()[:1]), None)
        except (ValueError, TypeError, ValidationError):
            return None

    def get_by_sku(self, sku: str):
        field = self.fields.get("sku") or "pk"
        return self.get_queryset().filter(**{field: sku}).first()

    # -- per product -----------------------------------------------------------------------
    def sku(self, product) -> str:
        field = self.fields.get("sku")
        return str(getattr(product, field) if field else product.pk)

    def title(self, product) -> str:
        field = self.fields.get("title")
        return str(getattr(product, field) or "") if field else str(product)

    def text(self, product) -> str:
        """Title plus the configured text fields, for the text model and search."""
        parts = [self.title(product)]
        parts += [str(getattr(product, name) or "") for name in self.fields.get("text", [])]
        return "\n".join(part for part in parts if part)

    def category(self, product) -> str | None:
        field = self.fields.get("category")
        if not field:
            return None
        value = getattr(product, field, None)
        return str(value) if value not in (None, "") else None

    def price(self, product) -> float | None:
        field = self.fields.get("price")
        value = getattr(product, field, None) if field else None
        if isinstance(value, Decimal):
            return float(value)
        return value

    def in_stock(self, product) -> bool:
        field = self.fields.get("in_stock")
        return bool(getattr(product, field)) if field else True

    def url(self, product) -> str | None:
        get_url = getattr(product, "get_absolute_url", None)
        return get_url() if callable(get_url) else None

    def image_url(self, product) -> str | None:
        file = self._image_field_file(product)
        try:
            return file.url if file else None
        except ValueError:
            return None

    def read_image(self, product) -> bytes | None:
        """The product's main image as bytes, or None when it has none or it cannot be read."""
        file = self._image_field_file(product)
        if not file:
            return None
        try:
            with file.storage.open(file.name, "rb") as handle:
                return handle.read()
        except OSError as exc:
            logger.warning("Cannot read image %s of product %s: %s", file.name, product.pk, exc)
            return None

    # -- change tracking -------------------------------------------------------------------
    def watched_models(self) -> list[type[models.Model]]:
        """Models whose saves change a product's vectors (e.g. a separate image table)."""
        return [self.model]

    def changed_product_ids(self, instance) -> list[Any]:
        """Products affected by a save of ``instance`` (one of ``watched_models``)."""
        return [instance.pk] if isinstance(instance, self.model) else []

    # -- helpers ---------------------------------------------------------------------------
    def _image_field_file(self, product):
        field = self.fields.get("image")
        return getattr(product, field, None) if field else None

    def _is_relation(self, name: str) -> bool:
        try:
            return self.model._meta.get_field(name).is_relation
        except Exception:  # a bad name is reported by the system checks
            return False

    def check_fields(self) -> list[str]:
        """Names in PRODUCT_FIELDS that are not fields of the product model (for system checks)."""
        names = [v for k, v in self.fields.items() if k != "text" and v] + list(self.fields["text"])
        bad = []
        for name in names:
            try:
                self.model._meta.get_field(name)
            except FieldDoesNotExist:
                bad.append(name)
        return bad


@functools.cache
def get_adapter() -> CatalogAdapter:
    """The configured adapter instance (cached; cleared when settings change)."""
    adapter_class = shopguide_settings.ADAPTER
    return adapter_class()
