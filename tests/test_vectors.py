"""Vector search in PostgreSQL: several searches in one statement, similarities computed there,
exact scoring of candidates, and the way back to exact scoring when a filtered walk comes back
short (bench/serving.py measures the same on 100,000 products)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from shopguide import ranking as neighbours_module
from shopguide.filters import ProductFilters
from shopguide.models import ModelVersion
from shopguide.ranking import filtered_neighbours
from shopguide.vectors import (
    VectorQuery,
    ensure_hnsw_index,
    nearest_products,
    nearest_products_in_spaces,
    write_product_vectors,
)
from tests.factories import make_articles
from tests.testapp.models import Article

DIMS = 8


@pytest.fixture
def space(db):
    """24 articles (article 5 out of stock) with random image and text vectors, indexed."""
    articles = make_articles(24, with_images=False, available=lambda i: i != 5)
    ids = [a.pk for a in articles]
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY, dimensions={"image": DIMS, "text": DIMS})
    rng = np.random.default_rng(0)
    vectors = {name: rng.standard_normal((len(ids), DIMS)).astype(np.float32) for name in version.dimensions}
    for name, matrix in vectors.items():
        write_product_vectors(version=version, space=name, product_ids=ids, vectors=matrix)
        ensure_hnsw_index(version=version, space=name, dimensions=DIMS)
    return version, ids, vectors


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def ranking(ids: list, matrix: np.ndarray, query: np.ndarray, *, allowed) -> list:
    """Brute force: the allowed ids by cosine similarity to ``query``, best first."""
    scored = [(cosine(row, query), pk) for pk, row in zip(ids, matrix) if allowed(pk)]
    return [pk for _, pk in sorted(scored, key=lambda s: -s[0])]


def test_several_searches_in_one_statement_answer_as_one_by_one(space):
    version, ids, vectors = space
    image_query, like = vectors["image"][0], ids[1]
    found = nearest_products_in_spaces(
        version_id=version.pk,
        dimensions=version.dimensions,
        k=5,
        exclude_ids=ids[:2],
        score=True,
        queries=[VectorQuery("image", image_query), VectorQuery("text", like=like)],
    )
    for neighbours, name, query in (
        (found.neighbours[0], "image", image_query),
        (found.neighbours[1], "text", vectors["text"][1]),
    ):
        alone = nearest_products(
            version_id=version.pk, space=name, dimensions=DIMS, vector=query, k=5, exclude_ids=ids[:2]
        )
        assert [n.product_id for n in neighbours] == [n.product_id for n in alone]
        assert [n.product_id for n in neighbours] == ranking(
            ids, vectors[name], query, allowed=lambda pk: pk not in ids[:2]
        )[:5]
    # Every product found, against every query's vector, as numpy computes it.
    assert set(found.similarities) == {n.product_id for neighbours in found.neighbours for n in neighbours}
    for pk, similarity in found.similarities.items():
        row = ids.index(pk)
        assert similarity[0] == pytest.approx(cosine(vectors["image"][row], image_query), abs=1e-5)
        assert similarity[1] == pytest.approx(cosine(vectors["text"][row], vectors["text"][1]), abs=1e-5)


def test_a_product_without_a_vector_searches_nothing(space):
    version, _, _ = space
    found = nearest_products_in_spaces(
        version_id=version.pk,
        dimensions=version.dimensions,
        k=5,
        score=True,
        queries=[VectorQuery("image", like="nope")],
    )
    assert found.neighbours == [[]] and found.similarities == {}


def test_exact_scoring_of_candidates_ranks_them_all_as_brute_force(space):
    version, ids, vectors = space
    query = vectors["image"][3]
    found = nearest_products(
        version_id=version.pk,
        space="image",
        dimensions=DIMS,
        vector=query,
        k=len(ids),
        candidates=Article.objects.filter(available=True),
        exclude_ids=[ids[3]],
        exact=True,
    )
    expected = ranking(ids, vectors["image"], query, allowed=lambda pk: pk not in (ids[3], ids[5]))
    assert [n.product_id for n in found] == expected
    assert found[0].score == pytest.approx(cosine(vectors["image"][ids.index(expected[0])], query), abs=1e-5)


def test_a_short_walk_under_a_narrow_filter_is_redone_by_scoring_every_candidate(space, monkeypatch):
    # On a large catalogue a walk comes back short after hnsw.max_scan_tuples visits, when the
    # filter matches far from the query; here a walk that returns one product stands in for it.
    version, ids, vectors = space
    monkeypatch.setattr(neighbours_module, "EXACT_UNCATEGORISED_BELOW", 0)  # a price range walks first
    real, calls = neighbours_module.nearest_products_in_spaces, []

    def short_walk(**kwargs):
        calls.append(kwargs["exact"])
        found = real(**kwargs)
        if not kwargs["exact"]:
            found.neighbours = [neighbours[:1] for neighbours in found.neighbours]
        return found

    monkeypatch.setattr(neighbours_module, "nearest_products_in_spaces", short_walk)
    cheap = ProductFilters(max_price=Decimal("25"))  # articles 0..15, 5 out of stock
    found = filtered_neighbours(version, "image", vectors["image"][0], k=6, filters=cheap, exclude_ids=[ids[0]])
    assert calls == [False, True]
    allowed = {pk for pk in ids[1:16] if pk != ids[5]}
    assert [n.product_id for n in found] == ranking(
        ids, vectors["image"], vectors["image"][0], allowed=allowed.__contains__
    )[:6]
    calls.clear()
    filtered_neighbours(version, "image", vectors["image"][0], k=6, filters=ProductFilters())
    assert calls == [False]  # a broad filter: a short walk means too few vectors, nothing to redo


def test_vectors_go_through_binary_copy_without_loss(space):
    """Written and read back in binary: float32 values come back bit for bit (the old %.7g text
    COPY lost the last digits)."""
    from shopguide.vectors import read_product_vectors

    version, ids, vectors = space
    found, matrix = read_product_vectors(version_id=version.pk, space="image")
    assert found == sorted(ids)
    order = [ids.index(pk) for pk in found]
    assert matrix.dtype == np.float32 and np.array_equal(matrix, vectors["image"][order])
    none, empty = read_product_vectors(version_id=version.pk, space="behaviour")
    assert none == [] and empty.shape == (0, 0)
