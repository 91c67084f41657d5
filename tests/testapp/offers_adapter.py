"""A complete adapter, shown verbatim in the README ("Any other Django shop"): prices, currencies
and stock in offers, categories in a tree of shelves, images in their own table, unpublished
articles hidden. tests/test_adapter_example.py serves a shop through it.

Settings: SHOPGUIDE = {"ADAPTER": "tests.testapp.offers_adapter.OfferAdapter", "PRODUCT_FIELDS":
{"title": "name", "text": ["summary"], "sku": "code", "category": None, "image": None,
"price": None, "in_stock": None, "visible": None}}: the plain fields are mapped, the rest is here.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from shopguide.adapter import CatalogAdapter
from tests.testapp.models import Article, ArticleImage, ArticleShelf, Offer, Shelf


class OfferAdapter(CatalogAdapter):
    def prepare_queryset(self, queryset: QuerySet) -> QuerySet:
        # What the per-product methods below read: 3 queries for a whole list, none per product.
        return queryset.prefetch_related(
            Prefetch("images", queryset=ArticleImage.objects.order_by("position", "pk")),
            Prefetch("articleshelf_set", queryset=ArticleShelf.objects.filter(is_primary=True).select_related("shelf")),
            Prefetch("offers", queryset=Offer.objects.order_by("price", "pk")),
        )

    # -- what customers may see, and what they can buy --------------------------------------------
    def visible(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(published=True)

    def available(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(Exists(Offer.objects.filter(article=OuterRef("pk"), num_in_stock__gt=0)))

    def in_stock(self, product) -> bool:
        return any(offer.num_in_stock > 0 for offer in product.offers.all())

    # -- the price: the cheapest offer in stock (else the cheapest), and its currency ---------------
    def price(self, product) -> float | None:
        offer = self._offer(product)
        return float(offer.price) if offer else None

    def currency(self, product) -> str | None:
        offer = self._offer(product)
        return offer.currency if offer else None

    def in_price_range(self, queryset: QuerySet, low=None, high=None) -> QuerySet:
        cheapest = Subquery(
            Offer.objects.filter(article=OuterRef("pk"), num_in_stock__gt=0).order_by("price").values("price")[:1]
        )
        if low is not None:
            queryset = queryset.filter(GreaterThanOrEqual(cheapest, low))
        if high is not None:
            queryset = queryset.filter(LessThanOrEqual(cheapest, high))
        return queryset

    def _offer(self, product):
        offers = list(product.offers.all())  # prefetched, cheapest first
        return next((offer for offer in offers if offer.num_in_stock > 0), offers[0] if offers else None)

    # -- categories: the primary shelf; a filter includes the shelves below it -----------------------
    def category(self, product) -> str | None:
        links = list(product.articleshelf_set.all())
        return links[0].shelf.label if links else None

    def category_filter(self, queryset: QuerySet, value: str) -> QuerySet:
        shelves = set(Shelf.objects.filter(label__iexact=value).values_list("pk", flat=True))
        below = shelves
        while below:  # one query per level of the tree
            below = set(Shelf.objects.filter(parent__in=below).values_list("pk", flat=True)) - shelves
            shelves |= below
        return queryset.filter(Exists(ArticleShelf.objects.filter(article=OuterRef("pk"), shelf__in=shelves)))

    def same_category(self, queryset: QuerySet, product) -> QuerySet:
        links = list(product.articleshelf_set.all())
        if not links:
            return queryset
        return queryset.filter(Exists(ArticleShelf.objects.filter(article=OuterRef("pk"), shelf=links[0].shelf_id)))

    # -- images: the first of the article's images ----------------------------------------------------
    def image_url(self, product) -> str | None:
        image = self._image(product)
        return image.file.url if image else None

    def read_image(self, product) -> bytes | None:
        image = self._image(product)
        if image is None:
            return None
        try:
            with image.file.open("rb") as handle:
                return handle.read()
        except OSError:
            return None  # a missing file: the product is trained without an image

    def _image(self, product):
        return next(iter(product.images.all()), None)

    # -- saves that change what shopguide knows of a product -------------------------------------------
    def watched_models(self) -> list:
        return [Article, ArticleImage, ArticleShelf, Offer]

    def changed_product_ids(self, instance) -> list:
        if isinstance(instance, (ArticleImage, ArticleShelf, Offer)):
            return [instance.article_id]
        return super().changed_product_ids(instance)
