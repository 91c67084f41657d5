"""An adapter for a shop whose images and categories live in other tables."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from shopguide.adapter import CatalogAdapter
from tests.testapp.models import Article, ArticleImage, ArticleShelf


class ArticleAdapter(CatalogAdapter):
    def prepare_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.prefetch_related(
            Prefetch("images", queryset=ArticleImage.objects.order_by("position", "pk")),
            Prefetch("articleshelf_set", queryset=ArticleShelf.objects.filter(is_primary=True).select_related("shelf")),
        )

    def category(self, product) -> str | None:
        links = list(product.articleshelf_set.all())
        return links[0].shelf.label if links else None

    def same_category(self, queryset: QuerySet, product) -> QuerySet:
        links = list(product.articleshelf_set.all())
        if not links:
            return queryset
        return queryset.filter(articleshelf__shelf=links[0].shelf, articleshelf__is_primary=True)

    def in_category(self, queryset: QuerySet, value: str) -> QuerySet:
        return queryset.filter(articleshelf__shelf__label__iexact=value, articleshelf__is_primary=True)

    def watched_models(self):
        return [Article, ArticleImage]

    def changed_product_ids(self, instance):
        if isinstance(instance, ArticleImage):
            return [instance.article_id]
        return super().changed_product_ids(instance)

    def _image_field_file(self, product):
        images = list(product.images.all())
        return images[0].file if images else None
