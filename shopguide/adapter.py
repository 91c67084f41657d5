"""The catalog adapter: the only code that knows the host shop's product model.

The default adapter is driven by ``SHOPGUIDE['PRODUCT_FIELDS']``. Shops whose images, categories,
prices or stock live in other tables (django-oscar style) subclass it, override the methods that
differ, and point ``SHOPGUIDE['ADAPTER']`` at the subclass. Every method a shop may override is a
public method below, with what shopguide expects of it:

- querysets: ``get_queryset``, ``prepare_queryset``, ``visible``, ``available``,
  ``category_filter`` (``in_category``), ``same_category``, ``in_price_range``;
- lookups: ``parse_pk``, ``get_by_pk``, ``get_by_sku``, ``products_by_sku``;
- per product: ``sku``, ``title``, ``text``, ``category``, ``price``, ``currency``, ``in_stock``,
  ``url``, ``image_url``, ``read_image``;
- change tracking: ``watched_models``, ``changed_product_ids``;
- category indexes: ``vector_categories``, ``category_key``.

Queryset methods take and return a queryset of the product model, so they compose (a list is
``visible(available(category_filter(...)))``); they must not slice or order it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connection, models
from django.db.models import Q, QuerySet

from shopguide.conf import get_product_model, on_reload, shopguide_settings

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

    def visible(self, queryset: QuerySet) -> QuerySet:
        """Narrow a queryset to products customers may see and browse (Oscar: ``is_public`` and
        not a child variant). Every list shopguide serves (related, recommendations, trending,
        search, image search, widgets, stored lists) passes through it, whatever the other
        filters, and ``related/`` of a product it leaves out answers 404. Stored lists and
        indexes may still name a product hidden since: it is dropped when read.

        Default: the ``PRODUCT_FIELDS["visible"]`` boolean field when mapped, else unchanged.
        """
        field = self.fields.get("visible")
        return queryset.filter(**{field: True}) if field else queryset

    def available(self, queryset: QuerySet) -> QuerySet:
        """Narrow a queryset to products that can be bought now (in stock). Applied to lists
        unless a caller asks for out-of-stock products too (``in_stock=false``); visibility is
        ``visible``'s job, not this one's. Default: the ``PRODUCT_FIELDS["in_stock"]`` field."""
        field = self.fields.get("in_stock")
        return queryset.filter(**{field: True}) if field else queryset

    def same_category(self, queryset: QuerySet, product) -> QuerySet:
        """Narrow a queryset to products in ``product``'s category (all of it when uncategorised).
        Used to fill up a short related list with popular products like the product."""
        field = self.fields.get("category")
        if not field:
            return queryset
        if self._is_relation(field):
            value = getattr(product, f"{self.model._meta.get_field(field).attname}")
        else:
            value = getattr(product, field)
        return queryset.filter(**{field: value}) if value not in (None, "") else queryset

    def category_filter(self, queryset: QuerySet, value: str) -> QuerySet:
        """Narrow a queryset to the category ``value`` (the ``category`` filter of every list and
        of ``{% trending category=... %}``), named as a customer or a URL would name it. An adapter
        for a category tree includes the category's descendants (the Oscar adapter does).
        ``value`` is a non-empty string of at most 100 characters; an unknown category matches
        nothing (an empty queryset, not an error).

        Default: ``in_category``, the name this hook had before; an adapter that overrides
        ``in_category`` keeps working. Override this one in new adapters.
        """
        return self.in_category(queryset, value)

    def in_category(self, queryset: QuerySet, value: str) -> QuerySet:
        """The default adapter's category match (see ``category_filter``, which calls it): for a
        category relation its primary key, slug or name (case-insensitive); else the field's value."""
        field = self.fields.get("category")
        if not field:
            return queryset.none()
        if not self._is_relation(field):
            return queryset.filter(**{f"{field}__iexact": value})
        related = self.model._meta.get_field(field).related_model
        match = self._category_match(value)
        if not match:
            return queryset.none()
        # The categories first (a small table, one short query): products are then read through
        # the index on their category column instead of the whole product table being scanned
        # and joined (3x faster on 100,000 products, and done for every filtered list).
        keys = list(related._default_manager.filter(match).values_list("pk", flat=True))
        return queryset.filter(**{f"{field}__in": keys})

    def vector_categories(self, queryset: QuerySet) -> Iterable[tuple[Any, list[str]]]:
        """(primary key, category keys) of each product of ``queryset``, in bulk (one query): the
        keys stored beside its vectors, by which a large category gets its own HNSW index. Keys
        are text; ``category_key`` must give the same key for a filter on that category.

        Default: the category relation's primary key, or a plain field's value in upper case
        (the filter matches it case-insensitively); no key for an uncategorised product."""
        field = self.fields.get("category")
        if not field:
            return ((pk, []) for pk in queryset.values_list("pk", flat=True))
        relation = self._is_relation(field)
        column = self.model._meta.get_field(field).attname if relation else field
        rows = queryset.values_list("pk", column)
        return ((pk, [] if v in (None, "") else [str(v) if relation else str(v).upper()]) for pk, v in rows)

    def category_key(self, value: str) -> str | None:
        """The key (``vector_categories``) that every product ``category_filter(value)`` keeps
        has, or None when there is no single one (an unknown category, a name two categories
        share): a filtered list may then walk that key's own index, if it has one, instead of
        scoring every candidate. A wrong key never shows a product outside the filter (serving
        applies it too), but loses the products that lack the key.

        Default: only for the default ``category_filter``/``in_category`` (an adapter overriding
        them must override this too to use category indexes)."""
        field = self.fields.get("category")
        base = CatalogAdapter
        if not field or type(self).category_filter is not base.category_filter:
            return None
        if type(self).in_category is not base.in_category:
            return None
        if not self._is_relation(field):
            return str(value).upper()
        match = self._category_match(value)
        if not match:
            return None
        related = self.model._meta.get_field(field).related_model
        keys = list(related._default_manager.filter(match).values_list("pk", flat=True)[:2])
        return str(keys[0]) if len(keys) == 1 else None

    def in_price_range(self, queryset: QuerySet, low=None, high=None) -> QuerySet:
        """Narrow a queryset to prices in [low, high] (either bound may be None), in the unit
        ``price`` returns. Default: the ``PRODUCT_FIELDS["price"]`` field (unfiltered without one)."""
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

    def get_by_pk(self, pk: Any, *, visible: bool = False):
        """The product with this primary key, or None (also for a malformed key, e.g. "abc").
        With ``visible``, only a product that ``visible`` lets customers see."""
        if isinstance(pk, str) and "\x00" in pk:  # PostgreSQL rejects NUL in text: no such product
            return None
        queryset = self.get_queryset()
        if visible:
            queryset = self.visible(queryset)
        try:
            # No ordering: .first() would sort by the model's Meta.ordering for one row.
            return next(iter(queryset.filter(pk=pk).order_by()[:1]), None)
        except (ValueError, TypeError, ValidationError):
            return None

    def get_by_sku(self, sku: str):
        """The product with this external key (SKU), or None."""
        field = self.fields.get("sku") or "pk"
        return self.get_queryset().filter(**{field: sku}).first()

    # -- per product -----------------------------------------------------------------------
    def sku(self, product) -> str:
        """The product's external key, as imports name it (default: the ``sku`` field, else the pk)."""
        field = self.fields.get("sku")
        return str(getattr(product, field) if field else product.pk)

    def title(self, product) -> str:
        """The name customers see (lists, reasons such as "looks like <title>", search)."""
        field = self.fields.get("title")
        return str(getattr(product, field) or "") if field else str(product)

    def text(self, product) -> str:
        """Title plus the configured text fields, for the text model and search."""
        parts = [self.title(product)]
        parts += [str(getattr(product, name) or "") for name in self.fields.get("text", [])]
        return "\n".join(part for part in parts if part)

    def category(self, product) -> str | None:
        """The product's (main) category as a label, or None: supervises the image model, labels
        "popular in <category>" and customers' category affinities."""
        field = self.fields.get("category")
        if not field:
            return None
        value = getattr(product, field, None)
        return str(value) if value not in (None, "") else None

    def price(self, product) -> float | None:
        """The price customers pay, as a number in ``currency(product)``, or None when unknown
        (API items carry it with the currency; segments use it for the monetary feature)."""
        field = self.fields.get("price")
        value = getattr(product, field, None) if field else None
        if isinstance(value, Decimal):
            return float(value)
        return value

    def currency(self, product) -> str | None:
        """The ISO 4217 code of ``price(product)`` ("EUR"), or None when the shop does not say.
        Default: ``SHOPGUIDE["CURRENCY"]`` for every product."""
        return shopguide_settings.CURRENCY

    def in_stock(self, product) -> bool:
        """Whether the product can be bought now (read at training; lists filter with ``available``)."""
        field = self.fields.get("in_stock")
        return bool(getattr(product, field)) if field else True

    def url(self, product) -> str | None:
        """The product page's URL (default: ``get_absolute_url()`` when the model has it)."""
        get_url = getattr(product, "get_absolute_url", None)
        return get_url() if callable(get_url) else None

    def image_url(self, product) -> str | None:
        """URL of the product's main image for widgets and API items, or None."""
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
    def _category_match(self, value: str) -> Q:
        """The default adapter's match of a category relation's rows for ``value``: its primary
        key, slug or name (case-insensitive); an empty Q when the category has none of those."""
        related = self.model._meta.get_field(self.fields["category"]).related_model
        names = {f.name for f in related._meta.get_fields()}
        match = Q()
        for attribute in ("slug", "name", "title"):
            if attribute in names:
                match |= Q(**{f"{attribute}__iexact": value})
        with contextlib.suppress(ValidationError, ValueError, TypeError):  # not a valid key: match by name only
            match |= Q(pk=related._meta.pk.to_python(value))
        return match

    def _image_field_file(self, product):
        field = self.fields.get("image")
        return getattr(product, field, None) if field else None

    def _is_relation(self, name: str) -> bool:  # (a many-relation is reported by check_mapping)
        try:
            return self.model._meta.get_field(name).is_relation
        except Exception:  # a bad name is reported by the system checks
            return False

    def check_mapping(self) -> list[str]:
        """What is wrong with PRODUCT_FIELDS names that exist but cannot be used as mapped, one
        sentence each (for system checks, shopguide.E006): a many-relation or a reverse relation
        (Oscar's ``categories``, ``images``, ``stockrecords``) where shopguide reads one value, a
        relation where a plain value is needed (only ``category`` may be a foreign key), an image
        that is not a file field, a price that is not a number, a stock or visibility flag that
        is not a boolean. An adapter that overrides the methods reading a key should set that
        key to None (or override this method)."""
        from django.db.models import BooleanField, DecimalField, FileField, FloatField, IntegerField

        numbers = (DecimalField, FloatField, IntegerField)
        problems = []
        for key, name in self._mapped_fields():
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue  # check_fields reports it
            label = f"PRODUCT_FIELDS[{key!r}] = {name!r}"
            if field.many_to_many or field.one_to_many or (field.is_relation and not field.concrete):
                problems.append(
                    f"{label} is a many-relation or a reverse relation: a product has several, shopguide reads "
                    "one value."
                )
            elif field.is_relation and key != "category":
                problems.append(f"{label} is a relation; {key!r} needs a plain field of the product.")
            elif key == "image" and not isinstance(field, FileField):
                problems.append(f"{label} is not an ImageField or FileField.")
            elif key == "price" and not isinstance(field, numbers):
                problems.append(f"{label} is not a number field (DecimalField, FloatField, IntegerField).")
            elif key in ("in_stock", "visible") and not isinstance(field, BooleanField):
                problems.append(f"{label} is not a BooleanField.")
        return problems

    def _mapped_fields(self) -> list[tuple[str, str]]:
        """(PRODUCT_FIELDS key, field name) for every field the mapping names."""
        pairs = [(k, v) for k, v in self.fields.items() if k != "text" and v]
        return pairs + [("text", name) for name in self.fields["text"]]

    def check_fields(self) -> list[str]:
        """Names in PRODUCT_FIELDS that are not fields of the product model (for system checks)."""
        bad = []
        for _, name in self._mapped_fields():
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


on_reload(get_adapter.cache_clear)
