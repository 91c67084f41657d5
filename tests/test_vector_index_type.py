"""SHOPGUIDE["VECTOR_INDEX_TYPE"]: halfvec (float16) HNSW indexes beside vector ones. A version
records the type it was indexed with; its searches repeat that index's expression (so PostgreSQL
uses the index) whatever the setting says later (bench/halfvec.py measures size and recall)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shopguide.filters import ProductFilters
from shopguide.models import ModelVersion
from shopguide.ranking import filtered_neighbours
from shopguide.vectors import (
    VectorQuery,
    ensure_hnsw_index,
    index_name,
    nearest_products,
    nearest_products_in_spaces,
    write_product_vectors,
)
from tests.factories import make_articles

DIMS = 8


def build_version(ids, vectors, metrics=("cosine",)) -> ModelVersion:
    """A ready version with ``vectors`` in the image space, indexed under the current setting."""
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY, dimensions={"image": DIMS})
    write_product_vectors(version=version, space="image", product_ids=ids, vectors=vectors)
    for metric in metrics:
        ensure_hnsw_index(version=version, space="image", dimensions=DIMS, metric=metric)
    return version


def index_definition(version, metric="cosine") -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index_name(version.pk, "image", metric)]
        )
        return cursor.fetchone()[0]


def plan_of_search(search) -> str:
    """EXPLAIN of the statement ``search()`` runs, with sequential scans priced out: on a few rows
    the planner would rather sort them all, and the question is whether the index can answer."""
    with CaptureQueriesContext(connection) as captured:
        search()
    statement = next(q["sql"] for q in captured.captured_queries if "<=>" in q["sql"] or "<#>" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute(f"EXPLAIN {statement}")
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")


@pytest.fixture
def catalogue(db):
    """24 articles (article 5 out of stock) with random 8-d vectors: easy data, where a walk of the
    whole graph finds the exact neighbours."""
    ids = [a.pk for a in make_articles(24, with_images=False, available=lambda i: i != 5)]
    return ids, np.random.default_rng(3).standard_normal((24, DIMS)).astype(np.float32)


def test_the_halfvec_setting_builds_halfvec_indexes_and_records_it(catalogue, settings):
    ids, vectors = catalogue
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "VECTOR_INDEX_TYPE": "halfvec"}
    version = build_version(ids, vectors, metrics=("cosine", "ip"))
    assert ModelVersion.objects.get(pk=version.pk).vector_index_type == "halfvec"
    cosine, ip = index_definition(version), index_definition(version, "ip")
    assert "hnsw" in cosine and "(embedding)::halfvec(8)" in cosine and "halfvec_cosine_ops" in cosine
    assert "(embedding)::halfvec(8)" in ip and "halfvec_ip_ops" in ip
    # Stored vectors stay float32: only the index holds float16 copies.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
            "'shopguide_productvector'::regclass AND attname = 'embedding'"
        )
        assert cursor.fetchone()[0] == "vector"


def test_halfvec_search_answers_as_the_vector_path(catalogue, settings):
    ids, vectors = catalogue
    by_type = {}
    for kind in ("vector", "halfvec"):
        settings.SHOPGUIDE = {**settings.SHOPGUIDE, "VECTOR_INDEX_TYPE": kind}
        by_type[kind] = build_version(ids, vectors, metrics=("cosine", "ip"))
    assert {v.vector_index_type for v in by_type.values()} == {"vector", "halfvec"}
    cheap = ProductFilters(max_price=Decimal("25"))  # articles 0..15: few enough to score exactly

    def answers(version):
        out = []
        for metric in ("cosine", "ip"):
            # The walk, with the index type looked up from the version and passed by serving.
            out.append(
                nearest_products(
                    version_id=version.pk, space="image", dimensions=DIMS, vector=vectors[0], k=6, metric=metric
                )
            )
            out.append(filtered_neighbours(version, "image", vectors[1], k=6, filters=ProductFilters(), metric=metric))
            out.append(filtered_neighbours(version, "image", vectors[2], k=6, filters=cheap, metric=metric))
        found = nearest_products_in_spaces(
            version_id=version.pk,
            dimensions=version.dimensions,
            queries=[VectorQuery("image", like=ids[3])],
            k=6,
            exclude_ids=[ids[3]],
            score=True,
        )
        out.append(found.neighbours[0])
        return out, found.similarities

    (vector_lists, vector_scores), (half_lists, half_scores) = answers(by_type["vector"]), answers(by_type["halfvec"])
    for plain, half in zip(vector_lists, half_lists):
        assert len(plain) == 6 and [n.product_id for n in half] == [n.product_id for n in plain]
        # The distances reported are float32 ones under either index.
        assert [n.score for n in half] == pytest.approx([n.score for n in plain], abs=1e-6)
    assert set(half_scores) == set(vector_scores)
    for pk, similarity in half_scores.items():
        assert similarity[0] == pytest.approx(vector_scores[pk][0], abs=1e-6)
    # And they are the exact ones: brute force in numpy.
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = [ids[i] for i in np.argsort(-(unit @ unit[0]))[:6]]
    assert [n.product_id for n in half_lists[0]] == expected


@pytest.mark.parametrize("kind", ["vector", "halfvec"])
def test_every_walk_uses_the_versions_index(catalogue, settings, kind):
    ids, vectors = catalogue
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "VECTOR_INDEX_TYPE": kind}
    version = build_version(ids, vectors, metrics=("cosine", "ip"))
    name = index_name(version.pk, "image")
    # A plain walk, a walk by a product's own vector, and the iterative scan under the stock filter.
    walks = [
        lambda: nearest_products(version_id=version.pk, space="image", dimensions=DIMS, vector=vectors[0], k=5),
        lambda: nearest_products_in_spaces(
            version_id=version.pk, dimensions=version.dimensions, queries=[VectorQuery("image", like=ids[2])], k=5
        ),
        lambda: filtered_neighbours(version, "image", vectors[1], k=5, filters=ProductFilters()),
    ]
    for walk in walks:
        assert f"Index Scan using {name} " in plan_of_search(walk)
    ip_walk = lambda: nearest_products(  # noqa: E731
        version_id=version.pk, space="image", dimensions=DIMS, vector=vectors[0], k=5, metric="ip"
    )
    assert f"Index Scan using {index_name(version.pk, 'image', 'ip')} " in plan_of_search(ip_walk)


def test_a_version_built_as_vector_still_serves_after_the_setting_changes(catalogue, settings):
    ids, vectors = catalogue
    old = build_version(ids, vectors)
    assert old.vector_index_type == "vector"
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "VECTOR_INDEX_TYPE": "halfvec"}
    old = ModelVersion.objects.get(pk=old.pk)  # as serving reads it
    ensure_hnsw_index(version=old, space="image", dimensions=DIMS)  # a retried finish step: no new type
    assert old.vector_index_type == "vector" and "vector_cosine_ops" in index_definition(old)

    def walk():
        return filtered_neighbours(old, "image", vectors[0], k=5, filters=ProductFilters())

    assert f"Index Scan using {index_name(old.pk, 'image')} " in plan_of_search(walk)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    in_stock = [i for i in np.argsort(-(unit @ unit[0])) if i != 5]
    assert [n.product_id for n in walk()] == [ids[i] for i in in_stock[:5]]
    # The next version takes the new setting.
    assert build_version(ids, vectors).vector_index_type == "halfvec"


def test_too_many_dimensions_for_the_index_type_is_a_clear_error(db, settings):
    version = ModelVersion.objects.create(dimensions={"image": 2048})
    with pytest.raises(ValueError, match=r"2048 dimensions.*at most 2000.*'halfvec' takes up to 4,000"):
        ensure_hnsw_index(version=version, space="image", dimensions=2048)
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "VECTOR_INDEX_TYPE": "halfvec"}
    other = ModelVersion.objects.create(dimensions={"image": 4096})
    with pytest.raises(ValueError, match="at most 4000"):
        ensure_hnsw_index(version=other, space="image", dimensions=4096)
