"""An adapter for a shop whose images and categories live in other tables."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from shopguide.adapter import CatalogAdapter
from tests.testapp.models import Article, ArticleImage, ArticleShelf, Shelf


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

    def vector_categories(self, queryset: QuerySet):
        shelves = dict(
            ArticleShelf.objects.filter(article__in=queryset, is_primary=True).values_list("article_id", "shelf_id")
        )
        return ((pk, [str(shelves[pk])] if pk in shelves else []) for pk in queryset.values_list("pk", flat=True))

    def category_key(self, value: str) -> str | None:
        keys = list(Shelf.objects.filter(label__iexact=value).values_list("pk", flat=True)[:2])
        return str(keys[0]) if len(keys) == 1 else None

    def watched_models(self):
        return [Article, ArticleImage, ArticleShelf]

    def changed_product_ids(self, instance):
        if isinstance(instance, ArticleImage | ArticleShelf):
            return [instance.article_id]
        return super().changed_product_ids(instance)

    def _image_field_file(self, product):
        images = list(product.images.all())
        return images[0].file if images else None
