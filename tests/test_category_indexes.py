"""Filtered lists at any selectivity: a large category gets its own partial HNSW index per space,
a list filtered to it walks that index (full k, the exact answers on clustered data), and a
product moved to another category moves with its vectors' category keys (bench/serving.py
measures the plans on 100,000 products)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from shopguide import ranking
from shopguide.filters import ProductFilters
from shopguide.models import ModelVersion, ProductVector
from shopguide.ranking import filtered_neighbours, fused_neighbour_ids
from shopguide.services.training import build_vector_indexes
from shopguide.vector_categories import indexed_category
from shopguide.vectors import drop_hnsw_indexes, index_name, write_product_vectors
from tests.factories import make_articles
from tests.testapp.models import Article, ArticleShelf, Shelf

DIMS = 8
MIN_PRODUCTS = 15


@pytest.fixture
def shelves(db):
    """60 articles on three shelves of 20 (every 7th out of stock) and 4 on a small shelf, with
    clustered image and text vectors (a centre per shelf + noise), indexed as a version is."""
    articles = make_articles(60, with_images=False, available=lambda i: i % 7 != 3)
    rare = Shelf.objects.create(label="Rare")
    for i in range(4):
        article = Article.objects.create(code=f"R-{i}", name=f"Rare article {i}", cost=10 + i)
        ArticleShelf.objects.create(article=article, shelf=rare)
        articles.append(article)
    ids = [a.pk for a in articles]
    shelf_of = [ArticleShelf.objects.get(article=a).shelf.label for a in articles]
    rng = np.random.default_rng(0)
    centres = {label: rng.standard_normal(DIMS) * 2 for label in set(shelf_of)}
    vectors = {
        name: np.array([centres[label] + rng.standard_normal(DIMS) for label in shelf_of], np.float32)
        for name in ("image", "text")
    }
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY, dimensions={"image": DIMS, "text": DIMS})
    for name, matrix in vectors.items():
        write_product_vectors(version=version, space=name, product_ids=ids, vectors=matrix)
    with override_settings(SHOPGUIDE={**settings.SHOPGUIDE, "CATEGORY_INDEX_MIN_PRODUCTS": MIN_PRODUCTS}):
        build_vector_indexes(version)
    return version, ids, shelf_of, vectors


def brute_force(ids, matrix, query, allowed) -> list:
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)
    scores = matrix @ query / norms
    return [ids[i] for i in np.argsort(-scores) if allowed(ids[i])]


def shelf_key(label: str) -> str:
    return str(Shelf.objects.get(label=label).pk)


def test_each_large_category_gets_its_own_index_per_space_and_a_small_one_none(shelves):
    version, _, _, _ = shelves
    large = sorted(shelf_key(label) for label in ("Stripes", "Columns", "Rings"))
    assert {space: sorted(keys) for space, keys in version.config["category_indexes"].items()} == {
        "image": large,
        "text": large,
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE %s", [f"%_v{version.pk}_%"])
        indexes = dict(cursor.fetchall())
    for space in ("image", "text"):
        for key in large:
            name = index_name(version.pk, space, category=key)
            assert f"'{key}'::text = ANY (categories)" in indexes[name]
        assert index_name(version.pk, space, category=shelf_key("Rare")) not in indexes
    assert indexed_category(version, ["image", "text"], "stripes") == shelf_key("Stripes")
    assert indexed_category(version, ["image"], "Rare") is None  # too small: scored exactly
    assert indexed_category(version, ["image"], "no such shelf") is None
    drop_hnsw_indexes(version.pk)  # a pruned version takes its category indexes with it
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE %s", [f"%_v{version.pk}_%"])
        assert cursor.fetchone() == (0,)


def test_a_filter_on_a_large_category_walks_its_own_index(shelves):
    version, _ids, _, vectors = shelves
    with CaptureQueriesContext(connection) as queries:
        filtered_neighbours(version, "image", vectors["image"][1], k=5, filters=ProductFilters(category="Columns"))
    sql = next(q["sql"] for q in queries.captured_queries if "ORDER BY distance" in q["sql"])
    assert f"'{shelf_key('Columns')}' = ANY(pv.categories)" in sql
    with transaction.atomic(), connection.cursor() as cursor:
        # 64 rows: PostgreSQL would sort them all rather than walk a graph; what matters is which
        # index it can prove applies, and picks, when it walks.
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index_name(version.pk, "image", category=shelf_key("Columns")) in plan, plan


@pytest.mark.parametrize("label", ["Stripes", "Columns", "Rings"])
def test_the_category_walk_answers_as_exact_scoring_with_the_full_k(shelves, label):
    version, ids, shelf_of, vectors = shelves
    in_stock = {a.pk for a in Article.objects.filter(available=True)}
    calls = []
    real = ranking.nearest_products_in_spaces

    def spy(**kwargs):
        calls.append((kwargs["exact"], kwargs["category"]))
        return real(**kwargs)

    for row in (0, 1, 2, 62):  # products of every shelf, mostly not of the filtered one
        query = vectors["image"][row]
        allowed = {pk for pk, shelf in zip(ids, shelf_of) if shelf == label and pk in in_stock} - {ids[row]}
        expected = brute_force(ids, vectors["image"], query, allowed.__contains__)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ranking, "nearest_products_in_spaces", spy)
            found = filtered_neighbours(
                version, "image", query, k=10, filters=ProductFilters(category=label), exclude_ids=[ids[row]]
            )
        assert [n.product_id for n in found] == expected[:10]
    assert calls == [(False, shelf_key(label))] * 4  # the category's own walk, never redone exactly
    # Related products (every space, fused) under the filter: the full k, all on the shelf.
    related = fused_neighbour_ids(version, ids[0], k=12, filters=ProductFilters(category=label), space=None)
    on_shelf = {pk for pk, shelf in zip(ids, shelf_of) if shelf == label and pk in in_stock} - {ids[0]}
    assert len(related) == min(12, len(on_shelf)) and {pk for pk, _, _ in related} <= on_shelf


def test_a_category_walk_that_comes_back_short_is_redone_exactly(shelves):
    # A price range on top of the category passes few of its products: the walk may give up
    # before k pass; every candidate scored finds them all.
    version, ids, _shelf_of, vectors = shelves
    cheap = ProductFilters(category="Stripes", max_price=Decimal("40"))  # cost 10 + i
    allowed = {a.pk for a in Article.objects.filter(available=True, cost__lte=40, articleshelf__shelf__label="Stripes")}
    found = filtered_neighbours(version, "image", vectors["image"][1], k=len(allowed), filters=cheap)
    assert {n.product_id for n in found} == allowed
    assert [n.product_id for n in found] == brute_force(
        ids, vectors["image"], vectors["image"][1], allowed.__contains__
    )


def test_a_small_or_unindexed_category_is_scored_exactly(shelves):
    version, _ids, _, vectors = shelves
    calls = []
    real = ranking.nearest_products_in_spaces

    def spy(**kwargs):
        calls.append((kwargs["exact"], kwargs["category"]))
        return real(**kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranking, "nearest_products_in_spaces", spy)
        found = filtered_neighbours(
            version, "image", vectors["image"][0], k=10, filters=ProductFilters(category="rare")
        )
    assert calls == [(True, None)]
    assert sorted(n.product_id for n in found) == [f"R-{i}" for i in range(4)]


def test_a_product_moved_to_another_category_moves_with_its_vectors(shelves):
    version, ids, _shelf_of, vectors = shelves
    article = Article.objects.get(pk=ids[0])  # on Stripes
    link = ArticleShelf.objects.get(article=article)
    keys = ProductVector.objects.filter(product=article).values_list("categories", flat=True)
    assert list(keys) == [[shelf_key("Stripes")]] * 2  # image and text
    link.shelf = Shelf.objects.get(label="Rings")
    link.save()  # the catalogue signal: the category keys follow at once, in the same transaction
    assert list(keys.all()) == [[shelf_key("Rings")]] * 2
    # Its own vector, searched under each filter: found among Rings, gone from Stripes.
    query = vectors["image"][0]
    rings = filtered_neighbours(version, "image", query, k=3, filters=ProductFilters(category="Rings", in_stock=False))
    stripes = filtered_neighbours(
        version, "image", query, k=3, filters=ProductFilters(category="Stripes", in_stock=False)
    )
    assert rings[0].product_id == article.pk and article.pk not in {n.product_id for n in stripes}
