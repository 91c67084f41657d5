"""The catalog adapter for django-oscar's catalogue (models loaded with ``get_model``, so forked
apps work).

What shopguide learns from and lists are Oscar's *browsable* products: standalone products and
parents. A child (a size, a colour) is bought, but shown through its parent, so its events count
for its parent (``canonical``) and its title, text, categories and images come from the parent.
Price, currency and availability come from Oscar's strategy (``partner.strategy.Selector`` with
no request: the default strategy); the queryset filters (in stock, price range) follow Oscar's
default strategy in SQL (a stock record with net stock, or a product class that does not track
stock; a price on a stock record), since a strategy is Python and filters must run in the database.
"""

from __future__ import annotations

import html
import logging
from decimal import Decimal
from typing import Any

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils.html import strip_tags

from shopguide.adapter import CatalogAdapter

logger = logging.getLogger(__name__)


class OscarAdapter(CatalogAdapter):
    def __init__(self) -> None:
        from oscar.core.loading import get_class, get_model

        super().__init__()
        self.Category = get_model("catalogue", "Category")
        self.ProductCategory = get_model("catalogue", "ProductCategory")
        self.ProductImage = get_model("catalogue", "ProductImage")
        self.AttributeValue = get_model("catalogue", "ProductAttributeValue")
        self.StockRecord = get_model("partner", "StockRecord")
        self.strategy = get_class("partner.strategy", "Selector")().strategy()

    # -- querysets -------------------------------------------------------------------------
    def get_queryset(self) -> QuerySet:
        """Browsable products (standalone and parents) that are public."""
        return self.prepare_queryset(self.visible(self.model._default_manager.all()))

    def visible(self, queryset: QuerySet) -> QuerySet:
        """What a customer may see listed: public, and not a child (children show as their parent)."""
        return queryset.filter(parent__isnull=True, is_public=True)

    def prepare_queryset(self, queryset: QuerySet) -> QuerySet:
        children = self.model._default_manager.filter(is_public=True).prefetch_related("stockrecords")
        return queryset.select_related("product_class", "parent__product_class").prefetch_related(
            "stockrecords",
            Prefetch("children", queryset=children, to_attr="_prefetched_public_children"),
            Prefetch("images", queryset=self.ProductImage._default_manager.order_by("display_order", "pk")),
            Prefetch("parent__images", queryset=self.ProductImage._default_manager.order_by("display_order", "pk")),
            Prefetch("categories", queryset=self.Category._default_manager.order_by("-depth", "path")),
            Prefetch("parent__categories", queryset=self.Category._default_manager.order_by("-depth", "path")),
            Prefetch(
                "attribute_values",
                queryset=self.AttributeValue._default_manager.select_related("attribute", "value_option"),
            ),
        )

    def available(self, queryset: QuerySet) -> QuerySet:
        """In stock by Oscar's default strategy: a stock record with net stock (or of a product
        class that does not track stock); a parent when one public child is."""
        stocked = self.StockRecord._default_manager.filter(
            Q(num_in_stock__gt=Coalesce(F("num_allocated"), 0))
            | Q(product__product_class__track_stock=False)
            | Q(product__parent__product_class__track_stock=False)
        )
        return queryset.filter(
            Exists(stocked.filter(product=OuterRef("pk")))
            | Exists(stocked.filter(product__parent=OuterRef("pk"), product__is_public=True))
        )

    def in_price_range(self, queryset: QuerySet, low=None, high=None) -> QuerySet:
        """A stock record's price (a child's, for a parent) in [low, high]; currencies are not
        converted."""
        records = self.StockRecord._default_manager.filter(price__isnull=False)
        if low is not None:
            records = records.filter(price__gte=low)
        if high is not None:
            records = records.filter(price__lte=high)
        return queryset.filter(
            Exists(records.filter(product=OuterRef("pk")))
            | Exists(records.filter(product__parent=OuterRef("pk"), product__is_public=True))
        )

    def category_filter(self, queryset: QuerySet, value: str) -> QuerySet:
        """Products in a category or any of its descendants; the category is named by its
        primary key, slug or name (case-insensitive). A child matches through its parent."""
        match = Q(slug__iexact=value) | Q(name__iexact=value)
        if str(value).isdigit():
            match |= Q(pk=int(value))
        paths = list(self.Category._default_manager.filter(match).values_list("path", flat=True))
        if not paths:
            return queryset.none()
        under = Q()
        for path in paths:  # treebeard's materialised path: a descendant's path starts with its ancestor's
            under |= Q(category__path__startswith=path)
        links = self.ProductCategory._default_manager.filter(under)
        return queryset.filter(
            Exists(links.filter(product=OuterRef("pk"))) | Exists(links.filter(product=OuterRef("parent_id")))
        )

    def vector_categories(self, queryset: QuerySet):
        """Category keys: the materialised path of each category the product (a child: its
        parent) is in and of each of their ancestors (the path's prefixes), so that the filter on
        any category, descendants included, is exactly the products holding its path."""
        products = dict(queryset.values_list("pk", "parent_id"))
        owners = set(products) | {parent for parent in products.values() if parent is not None}
        paths: dict[Any, set[str]] = {}
        links = self.ProductCategory._default_manager.filter(product_id__in=owners)
        for product_id, path in links.values_list("product_id", "category__path"):
            paths.setdefault(product_id, set()).add(path)
        step = self.Category.steplen
        for pk, parent in products.items():
            own = paths.get(pk, set()) | paths.get(parent, set())
            yield pk, sorted({path[:end] for path in own for end in range(step, len(path) + 1, step)})

    def category_key(self, value: str) -> str | None:
        """The path of the one category ``value`` names (None for none or several)."""
        match = Q(slug__iexact=value) | Q(name__iexact=value)
        if str(value).isdigit():
            match |= Q(pk=int(value))
        paths = list(self.Category._default_manager.filter(match).values_list("path", flat=True)[:2])
        return paths[0] if len(paths) == 1 else None

    def in_category(self, queryset: QuerySet, value: str) -> QuerySet:
        return self.category_filter(queryset, value)  # the hook's older name

    def same_category(self, queryset: QuerySet, product) -> QuerySet:
        """Products sharing one of ``product``'s most specific categories (all of them when it has none)."""
        categories = self._categories(product)
        if not categories:
            return queryset
        deepest = categories[0].depth
        keys = [c.pk for c in categories if c.depth == deepest]
        links = self.ProductCategory._default_manager.filter(category_id__in=keys)
        return queryset.filter(Exists(links.filter(product=OuterRef("pk"))))

    def products_by_sku(self, skus) -> dict[str, Any]:
        """UPCs to primary keys; a product without a UPC is named by its primary key."""
        skus = {str(s) for s in skus}
        found = dict(self.model._default_manager.filter(upc__in=skus).exclude(upc="").values_list("upc", "pk"))
        by_pk = {str(pk) for pk in skus - set(found) if pk.isdigit()}
        found.update(
            {str(pk): pk for pk in self.model._default_manager.filter(pk__in=by_pk).values_list("pk", flat=True)}
        )
        return {str(k): v for k, v in found.items()}

    def get_by_sku(self, sku: str):
        return self.get_queryset().filter(Q(upc=sku) | Q(pk=int(sku)) if str(sku).isdigit() else Q(upc=sku)).first()

    # -- per product -----------------------------------------------------------------------
    def canonical(self, product):
        """The product customers browse for ``product``: its parent for a child, else itself."""
        return product.parent if product.parent_id else product

    def sku(self, product) -> str:
        return product.upc or str(product.pk)

    def title(self, product) -> str:
        return product.get_title() or ""

    def text(self, product) -> str:
        """Title, the description as plain text, and attribute values ("Colour: red")."""
        source = self.canonical(product)
        parts = [self.title(product), _plain(source.description or "")]
        for value in source.attribute_values.all():
            try:
                parts.append(f"{value.attribute.name}: {value.value_as_text}")
            except Exception:  # an attribute of a type Oscar cannot show as text: leave it out
                continue
        return "\n".join(p for p in parts if p)

    def category(self, product) -> str | None:
        categories = self._categories(product)
        return categories[0].name if categories else None

    def purchase_info(self, product):
        """Oscar's PurchaseInfo (price, availability, stock record) for ``product``."""
        if product.is_parent:
            return self.strategy.fetch_for_parent(product)
        return self.strategy.fetch_for_product(product)

    def price(self, product) -> float | None:
        price = self.purchase_info(product).price
        if not price.exists:
            return None
        value = price.incl_tax if price.is_tax_known else price.excl_tax
        return float(value) if isinstance(value, Decimal) else value

    def currency(self, product) -> str | None:
        price = self.purchase_info(product).price
        return price.currency if price.exists else None

    def in_stock(self, product) -> bool:
        return bool(self.purchase_info(product).availability.is_available_to_buy)

    def url(self, product) -> str | None:
        return self.canonical(product).get_absolute_url()

    def images(self, product) -> list:
        """Every image of the product (its parent's for a child without its own), primary first."""
        own = list(product.images.all())
        if not own and product.parent_id:
            own = list(product.parent.images.all())
        return own

    def _image_field_file(self, product):
        # The image model trains on one image per product (the pipeline's unit is the product):
        # the primary one, as Oscar shows it in lists.
        images = self.images(product)
        return images[0].original if images else None

    def _categories(self, product) -> list:
        """The product's categories (its parent's for a child), most specific first."""
        return list(self.canonical(product).categories.all())

    # -- change tracking -------------------------------------------------------------------
    def watched_models(self):
        return [self.model, self.ProductImage, self.StockRecord, self.ProductCategory, self.AttributeValue]

    def changed_product_ids(self, instance) -> list[Any]:
        if isinstance(instance, self.model):
            return [instance.parent_id or instance.pk]
        product_id = getattr(instance, "product_id", None)  # an image, stock record, category link, attribute value
        if product_id is None:
            return []
        parent_id = self.model._default_manager.filter(pk=product_id).values_list("parent_id", flat=True).first()
        return [parent_id or product_id]

    def check_fields(self) -> list[str]:
        return []  # the Oscar adapter reads Oscar's models itself, not a PRODUCT_FIELDS mapping


def _plain(markup: str) -> str:
    """HTML (Oscar's descriptions are rich text) as plain text."""
    return " ".join(html.unescape(strip_tags(markup)).split())
