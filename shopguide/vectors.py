"""Reading and writing vectors in pgvector.

Vectors are written with COPY (fast bulk load). Each (version, space) gets its own partial HNSW
index with the dimension of that version's model, created before the version is activated; a
nearest-neighbour query repeats the index expression so PostgreSQL uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from shopguide.models import ModelVersion, ProductVector, UserVector

TABLE = ProductVector._meta.db_table
USER_TABLE = UserVector._meta.db_table
# pgvector operator and index operator class per metric. "ip" ranks by inner product (pgvector's
# <#> is the negative inner product, so smaller is better for both).
OPERATORS = {"cosine": ("<=>", "vector_cosine_ops"), "ip": ("<#>", "vector_ip_ops")}
# Candidates the HNSW scan looks at; higher = better recall, slower. 100 gives ~0.99 recall@10.
EF_SEARCH = 100


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def write_product_vectors(
    *, version: ModelVersion, space: str, product_ids: Sequence[Any], vectors: np.ndarray
) -> int:
    """Bulk-write one space's vectors for a version (replacing any earlier ones for those products,
    so a re-delivered task writes each vector once). Returns the number written."""
    if len(product_ids) != len(vectors):
        raise ValueError("product_ids and vectors differ in length")
    if not len(product_ids):
        return 0
    with transaction.atomic():
        ProductVector.objects.filter(version=version, space=space, product_id__in=list(product_ids)).delete()
        with connection.cursor() as cursor:
            copy_sql = f"COPY {TABLE} (version_id, space, product_id, embedding) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for product_id, vector in zip(product_ids, vectors):
                    copy.write_row((version.pk, space, product_id, vector_literal(vector)))
    return len(product_ids)


def write_user_vectors(*, version: ModelVersion, user_ids: Sequence[Any], vectors: np.ndarray) -> int:
    """Bulk-write user vectors for a version, replacing earlier ones of those users."""
    if len(user_ids) != len(vectors):
        raise ValueError("user_ids and vectors differ in length")
    if not len(user_ids):
        return 0
    now = timezone.now()
    with transaction.atomic():
        UserVector.objects.filter(version=version, user_id__in=list(user_ids)).delete()
        with connection.cursor() as cursor:
            copy_sql = f"COPY {USER_TABLE} (version_id, user_id, embedding, updated_at) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for user_id, vector in zip(user_ids, vectors):
                    copy.write_row((version.pk, user_id, vector_literal(vector), now))
    return len(user_ids)


def index_name(version_id: int, space: str, metric: str = "cosine") -> str:
    suffix = "" if metric == "cosine" else f"_{metric}"
    return f"shopguide_pv_hnsw_v{int(version_id)}_{space}{suffix}"


def ensure_hnsw_index(*, version: ModelVersion, space: str, dimensions: int, metric: str = "cosine") -> None:
    """Create the partial HNSW index of one version's space for ``metric`` (idempotent)."""
    _check_space(space)
    opclass = OPERATORS[metric][1]
    with connection.cursor() as cursor:
        # Inside a surrounding transaction, deferred foreign-key checks of the vectors just
        # written would block CREATE INDEX; run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {index_name(version.pk, space, metric)} ON {TABLE} "
            f"USING hnsw ((embedding::vector({int(dimensions)})) {opclass}) "
            f"WHERE version_id = {int(version.pk)} AND space = '{space}'"
        )


def drop_hnsw_indexes(version_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s",
            [TABLE, f"shopguide_pv_hnsw_v{int(version_id)}\\_%"],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def product_vectors(*, version_id: int, space: str, product_ids: Sequence[Any]) -> dict[Any, np.ndarray]:
    """Vectors of several products in one space (missing products are absent)."""
    rows = ProductVector.objects.filter(version_id=version_id, space=space, product_id__in=list(product_ids))
    return {pid: np.asarray(vec, dtype=np.float32) for pid, vec in rows.values_list("product_id", "embedding")}


@dataclass(frozen=True)
class Neighbour:
    product_id: Any
    score: float  # cosine similarity (1 = identical) or inner product, by the metric asked for


def nearest_products(
    *,
    version_id: int,
    space: str,
    dimensions: int,
    vector: Sequence[float],
    k: int,
    candidates: QuerySet | None = None,
    exclude_ids: Iterable[Any] = (),
    metric: str = "cosine",
    exact: bool = False,
) -> list[Neighbour]:
    """The k products nearest to ``vector`` in one version's space, best first.

    ``candidates`` (a queryset of the product model, e.g. in-stock products) restricts the
    result; pgvector's iterative index scan keeps going until k rows pass the filter. With
    ``exact`` the candidates are scored one by one instead of walking the HNSW graph: the right
    choice for a very selective filter (a few thousand candidates), where a graph walk would
    visit many products to find a few that pass.
    """
    _check_space(space)
    operator = OPERATORS[metric][0]
    dims = int(dimensions)
    where = ["pv.version_id = %s", "pv.space = %s"]
    params: list[Any] = [vector_literal(vector), version_id, space]
    exclude = list(exclude_ids)
    if exclude:
        where.append("NOT (pv.product_id = ANY(%s))")
        params.append(exclude)
    if candidates is not None:
        # No ORDER BY (a model's Meta.ordering) in the subquery: PostgreSQL then cannot turn it
        # into a semi-join beside the HNSW scan and sorts every vector instead (20x slower).
        sub_sql, sub_params = candidates.order_by().values("pk").query.sql_with_params()
        where.append(f"pv.product_id IN ({sub_sql})")
        params.extend(sub_params)
    params.append(int(k))
    sql = (
        f"SELECT pv.product_id, pv.embedding::vector({dims}) {operator} %s::vector({dims}) AS distance "
        f"FROM {TABLE} pv "
        f"WHERE {' AND '.join(where)}"
    )
    # A materialised CTE cannot be answered from the index's order: every candidate is scored.
    sql = f"WITH scored AS MATERIALIZED ({sql}) SELECT * FROM scored" if exact else sql
    sql += " ORDER BY distance LIMIT %s"
    with transaction.atomic(), connection.cursor() as cursor:
        # One round trip for both settings (they last until the end of this transaction).
        cursor.execute(f"SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL hnsw.ef_search = {max(EF_SEARCH, int(k))}")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # relaxed_order may return rows slightly out of order: sort the final few exactly.
    rows.sort(key=lambda row: row[1])
    to_score = (lambda d: 1.0 - d) if metric == "cosine" else (lambda d: -d)
    return [Neighbour(product_id=pid, score=to_score(float(distance))) for pid, distance in rows]


def _check_space(space: str) -> None:
    # Space names end up in index names and SQL text: allow only plain identifiers.
    if not space.isidentifier() or not space.isascii():
        raise ValueError(f"invalid space name {space!r}")
