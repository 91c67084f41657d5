"""Filters every list accepts: in stock, category, price range, products to leave out."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from shopguide.adapter import get_adapter


@dataclass(frozen=True)
class ProductFilters:
    """Which products a list may show. The default shows every visible in-stock product.

    Visibility (``adapter.visible``) is not a filter a caller may lift: every list applies it.

    ``category`` is matched the way the adapter understands it (the default adapter: a category
    object's primary key, slug or name, or the value of a plain category field).
    """

    in_stock: bool = True
    category: str | None = None
    min_price: float | Decimal | None = None
    max_price: float | Decimal | None = None
    exclude_ids: tuple[Any, ...] = ()

    def apply(self, queryset: QuerySet) -> QuerySet:
        adapter = get_adapter()
        queryset = adapter.visible(queryset)
        if self.in_stock:
            queryset = adapter.available(queryset)
        if self.category not in (None, ""):
            queryset = adapter.category_filter(queryset, self.category)
        if self.min_price is not None or self.max_price is not None:
            queryset = adapter.in_price_range(queryset, self.min_price, self.max_price)
        if self.exclude_ids:
            queryset = queryset.exclude(pk__in=list(self.exclude_ids))
        return queryset

    def candidates(self) -> QuerySet:
        """The products that pass, unordered (for use as a subquery)."""
        return self.apply(get_adapter().model._default_manager.all()).order_by()

    def excluding(self, ids) -> ProductFilters:
        from dataclasses import replace

        return replace(self, exclude_ids=tuple(dict.fromkeys([*self.exclude_ids, *ids])))

    @property
    def is_narrow(self) -> bool:
        """True when more than stock is filtered: worth checking how selective the filter is."""
        return self.category not in (None, "") or self.min_price is not None or self.max_price is not None

    def cache_key(self) -> str:
        excluded = ",".join(sorted(str(pk) for pk in self.exclude_ids))
        return f"{int(self.in_stock)}|{self.category or ''}|{self.min_price or ''}|{self.max_price or ''}|{excluded}"


DEFAULT_FILTERS = ProductFilters()
