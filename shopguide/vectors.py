"""Reading and writing vectors in pgvector.

Vectors are written with binary COPY and read back in binary (pgvector-python's psycopg
adapters): float32 values cross the wire exactly, with no text formatting or parsing. Each
(version, space) gets its own partial HNSW index with the dimension of that version's model and
the version's index type (float32 vector or float16 halfvec), created before the version is
activated; a nearest-neighbour query repeats the index expression so PostgreSQL uses it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from pgvector import HalfVector, Vector
from pgvector.psycopg.halfvec import register_halfvec_info
from pgvector.psycopg.vector import register_vector_info
from psycopg.types import TypeInfo

from shopguide.models import ModelVersion, ProductVector, UserVector
from shopguide.vector_categories import (
    category_index_suffix,
    category_predicate,
    large_categories,
    vector_categories,
)

TABLE = ProductVector._meta.db_table
USER_TABLE = UserVector._meta.db_table
# pgvector operator and index operator class per metric. "ip" ranks by inner product (pgvector's
# <#> is the negative inner product, so smaller is better for both).
OPERATORS = {"cosine": ("<=>", "vector_cosine_ops"), "ip": ("<#>", "vector_ip_ops")}
# Candidates the HNSW scan looks at; higher = better recall, slower. 100 gives ~0.99 recall@10.
EF_SEARCH = 100
# The same for the walk of one category's own index. A category-filtered query mostly lies
# outside the category (related products of a shirt, among bags): the greedy walk toward it stops
# among many almost equally distant products, and a wider beam finds the true nearest (bench:
# recall@10 0.89 at 100, 0.99 at 400 for a 50 % category; a 10 % one 0.99 already at 100).
CATEGORY_EF_SEARCH = 400
# pgvector column types read and written in binary: their psycopg adapters and Python wrapper.
VECTOR_TYPES = {"vector": (register_vector_info, Vector), "halfvec": (register_halfvec_info, HalfVector)}


def vector_literal(vector: Sequence[float] | np.ndarray) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def write_product_vectors(*, version: ModelVersion, space: str, product_ids: Sequence[Any], vectors: np.ndarray) -> int:
    """Bulk-write one space's vectors for a version (replacing any earlier ones for those products,
    so a re-delivered task writes each vector once), each with its product's category keys
    (``shopguide.vector_categories``). Returns the number written."""
    if len(product_ids) != len(vectors):
        raise ValueError("product_ids and vectors differ in length")
    if not len(product_ids):
        return 0
    with transaction.atomic():
        ProductVector.objects.filter(version=version, space=space, product_id__in=list(product_ids)).delete()
        keys = vector_categories(product_ids)
        rows = (
            (version.pk, space, product_id, vector, keys.get(product_id))
            for product_id, vector in zip(product_ids, vectors)
        )
        copy_rows(TABLE, ("version_id", "space", "product_id", "embedding", "categories"), rows)
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
        rows = ((version.pk, user_id, vector, now) for user_id, vector in zip(user_ids, vectors))
        copy_rows(USER_TABLE, ("version_id", "user_id", "embedding", "updated_at"), rows)
    return len(user_ids)


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Binary COPY of ``rows`` into ``columns`` of ``table``; a vector column takes 1-D numpy
    arrays (or lists of floats), copied as float32 (float16 into halfvec) without loss of the
    given floats."""
    with connection.cursor() as cursor:
        types, wrappers = _binary_types(cursor, table, columns)
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        vector_columns = [(i, wrap) for i, wrap in enumerate(wrappers) if wrap is not None]
        sql = f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN (FORMAT BINARY)"
        with cursor.cursor.copy(sql) as copy:
            copy.set_types(types)
            for row in rows:
                if vector_columns:
                    row = list(row)
                    for i, wrap in vector_columns:
                        row[i] = wrap(np.asarray(row[i], np.float32))
                copy.write_row(row)


def read_product_vectors(*, version_id: int, space: str) -> tuple[list[Any], np.ndarray]:
    """Every vector of one version's space, read in binary: (product ids in primary-key order,
    float32 (N, D) matrix aligned with them; (0, 0) when there is none)."""
    _check_space(space)
    with connection.cursor() as cursor:
        types, _ = _binary_types(cursor, TABLE, ["product_id", "embedding"])
        sql = f"SELECT product_id, embedding FROM {TABLE} WHERE version_id = %s AND space = %s ORDER BY product_id"
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)", [int(version_id), space]) as copy:
            copy.set_types(types)
            rows = list(copy.rows())
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    return [pk for pk, _ in rows], np.stack([vector.to_numpy() for _, vector in rows]).astype(np.float32, copy=False)


def _binary_types(cursor, table: str, columns: Sequence[str]) -> tuple[list[int], list[Any]]:
    """The type OIDs of ``columns`` of ``table`` (for ``Copy.set_types``) and, per column, the
    pgvector wrapper of a vector-like column (None for others), whose psycopg adapters are
    registered on this cursor only (one catalogue query; other queries are left as they were)."""
    cursor.execute(
        "SELECT a.attname, t.oid, t.typname, t.typarray FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attname = ANY(%s) AND NOT a.attisdropped",
        [connection.ops.quote_name(table), list(columns)],
    )
    found = {name: (oid, typname, typarray) for name, oid, typname, typarray in cursor.fetchall()}
    wrappers = []
    for column in columns:
        oid, typname, typarray = found[column]
        register, wrap = VECTOR_TYPES.get(typname, (None, None))
        if register is not None:
            register(cursor.cursor, TypeInfo(typname, oid, typarray))
        wrappers.append(wrap)
    return [found[c][0] for c in columns], wrappers


def index_name(version_id: int, space: str, metric: str = "cosine", category: str | None = None) -> str:
    suffix = "" if metric == "cosine" else f"_{metric}"
    if category is not None:
        suffix += category_index_suffix(category)
    return f"shopguide_pv_hnsw_v{int(version_id)}_{space}{suffix}"


# -- index type: float32 ("vector") or float16 ("halfvec") HNSW indexes ------------------------
# Vectors are stored as float32 whatever the type; only the index (what a graph walk reads, and
# what must stay in memory) holds float16 copies under "halfvec". Each version records its type
# (ModelVersion.vector_index_type) when its first index is built, and every query that should use
# an index repeats that version's cast, so changing the setting never strands a built version.

# Most dimensions pgvector's HNSW index takes per type.
INDEX_TYPES = {"vector": 2000, "halfvec": 4000}


def record_index_type(version: ModelVersion) -> str:
    """The version's index type, taken from SHOPGUIDE["VECTOR_INDEX_TYPE"] and recorded on the
    version the first time (so its later indexes, and a rebuilt finish step, use the same)."""
    if not version.vector_index_type:
        from shopguide.conf import shopguide_settings

        chosen = shopguide_settings.VECTOR_INDEX_TYPE
        if chosen not in INDEX_TYPES:  # also system check shopguide.E043
            raise ValueError(f"SHOPGUIDE['VECTOR_INDEX_TYPE'] is {chosen!r}; use 'vector' or 'halfvec'.")
        ModelVersion.objects.filter(pk=version.pk, vector_index_type="").update(vector_index_type=chosen)
        version.vector_index_type = ModelVersion.objects.values_list("vector_index_type", flat=True).get(pk=version.pk)
    return version.vector_index_type


def index_type_of(version_id: int) -> str:
    """The recorded index type of a version ("vector" when none is built yet: no index to match)."""
    found = ModelVersion.objects.filter(pk=version_id).values_list("vector_index_type", flat=True).first()
    return found or "vector"


def index_cast(index_type: str | None, dimensions: int) -> str:
    """The cast that turns ``embedding`` (or a query vector) into a version's index expression."""
    kind = index_type or "vector"
    if kind not in INDEX_TYPES:
        raise ValueError(f"unknown vector index type {kind!r}")
    return f"::{kind}({int(dimensions)})"


def index_opclass(index_type: str, metric: str) -> str:
    # pgvector names its operator classes <type>_<metric>_ops (vector_cosine_ops, halfvec_ip_ops).
    return f"{index_type}_{OPERATORS[metric][1].removeprefix('vector_')}"


def ensure_hnsw_index(
    *, version: ModelVersion, space: str, dimensions: int, metric: str = "cosine", category: str | None = None
) -> None:
    """Create the partial HNSW index of one version's space for ``metric`` (idempotent), of the
    version's index type (``record_index_type``); with ``category``, of that category's vectors
    only (``shopguide.vector_categories``). Raises ValueError when the dimension is more than
    that type's HNSW index takes (2,000 for vector, 4,000 for halfvec)."""
    _check_space(space)
    in_category = "" if category is None else f" AND {category_predicate(category)}"
    kind = record_index_type(version)
    if int(dimensions) > INDEX_TYPES[kind]:
        hint = " (SHOPGUIDE['VECTOR_INDEX_TYPE'] = 'halfvec' takes up to 4,000)" if kind == "vector" else ""
        raise ValueError(
            f"{space} vectors have {int(dimensions)} dimensions; an HNSW index of type {kind} takes at most "
            f"{INDEX_TYPES[kind]}{hint}."
        )
    with connection.cursor() as cursor:
        # Inside a surrounding transaction, deferred foreign-key checks of the vectors just
        # written would block CREATE INDEX; run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {index_name(version.pk, space, metric, category)} ON {TABLE} "
            f"USING hnsw ((embedding{index_cast(kind, dimensions)}) {index_opclass(kind, metric)}) "
            f"WHERE version_id = {int(version.pk)} AND space = '{space}'{in_category}"
        )


# -- end of index type -------------------------------------------------------------------------


def ensure_category_indexes(
    *, version: ModelVersion, space: str, dimensions: int, metrics: Sequence[str], min_products: int
) -> list[str]:
    """Create a partial HNSW index per metric for each category holding at least
    ``min_products`` of the space's vectors (idempotent). Returns their keys, largest first."""
    keys = large_categories(version_id=version.pk, space=space, min_products=min_products)
    for key in keys:
        for metric in metrics:
            ensure_hnsw_index(version=version, space=space, dimensions=dimensions, metric=metric, category=key)
    return keys


def drop_hnsw_indexes(version_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s",
            [TABLE, f"shopguide_pv_hnsw_v{int(version_id)}\\_%"],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def pairwise_similarities(
    *, version_id: int, space: str, product_ids: Sequence[Any], other_ids: Sequence[Any]
) -> dict[Any, dict[Any, float]]:
    """Cosine similarity of each of ``product_ids`` to each of ``other_ids`` in one space, computed
    in PostgreSQL: ``{product id: {other id: similarity}}`` (products without a vector are absent)."""
    _check_space(space)
    if not len(product_ids) or not len(other_ids):
        return {}
    sql = (
        f"SELECT a.product_id, b.product_id, 1 - (a.embedding <=> b.embedding) FROM {TABLE} a "
        f"JOIN {TABLE} b ON b.version_id = a.version_id AND b.space = a.space AND b.product_id = ANY(%s) "
        f"WHERE a.version_id = %s AND a.space = %s AND a.product_id = ANY(%s)"
    )
    out: dict[Any, dict[Any, float]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(other_ids), version_id, space, list(product_ids)])
        for pid, other, similarity in cursor.fetchall():
            out.setdefault(pid, {})[other] = 0.0 if math.isnan(similarity) else float(similarity)
    return out


def similarities_to(*, version_id: int, product_id: Any, other_ids: Sequence[Any]) -> dict[Any, dict[str, float]]:
    """Cosine similarity of product ``product_id`` to each of ``other_ids`` in every space where
    both have a vector, in one statement: ``{other id: {space: similarity}}``."""
    if not len(other_ids):
        return {}
    sql = (
        f"SELECT b.product_id, a.space, 1 - (a.embedding <=> b.embedding) FROM {TABLE} a "
        f"JOIN {TABLE} b ON b.version_id = a.version_id AND b.space = a.space AND b.product_id = ANY(%s) "
        f"WHERE a.version_id = %s AND a.product_id = %s"
    )
    out: dict[Any, dict[str, float]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(other_ids), version_id, product_id])
        for other, space, similarity in cursor.fetchall():
            out.setdefault(other, {})[space] = 0.0 if math.isnan(similarity) else float(similarity)
    return out


@dataclass(frozen=True)
class Neighbour:
    product_id: Any
    score: float  # cosine similarity (1 = identical) or inner product, by the metric asked for


@dataclass(frozen=True)
class VectorQuery:
    """One nearest-neighbour search in ``space`` by ``metric``: around ``vector``, or around the
    vector that product ``like`` (a primary key) has in that space, read by the same statement
    (no search when it has none)."""

    space: str
    vector: Sequence[float] | np.ndarray | None = None
    like: Any = None
    metric: str = "cosine"


@dataclass
class SpaceSearch:
    """What ``nearest_products_in_spaces`` found: ``neighbours[i]`` answers the i-th query, best
    first; with ``score=True``, ``similarities[product id][i]`` is the cosine similarity of every
    product found (by any query) to the i-th query's vector, where the product has a vector in
    that query's space."""

    neighbours: list[list[Neighbour]]
    similarities: dict[Any, dict[int, float]] = field(default_factory=dict)


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
    index_type: str | None = None,
) -> list[Neighbour]:
    """The k products nearest to ``vector`` in one version's space, best first.

    ``candidates`` (a queryset of the product model, e.g. in-stock products) restricts the
    result; pgvector's iterative index scan keeps going until k rows pass the filter, or until
    it has looked at ``hnsw.max_scan_tuples`` (20,000 by default) and returns fewer. With
    ``exact`` the candidates are scored one by one instead of walking the HNSW graph: the right
    choice for a selective filter, where a graph walk would visit many products to find a few
    that pass.
    """
    return nearest_products_in_spaces(
        version_id=version_id,
        dimensions={space: dimensions},
        queries=[VectorQuery(space, vector, metric=metric)],
        k=k,
        candidates=candidates,
        exclude_ids=exclude_ids,
        exact=exact,
        index_type=index_type,
    ).neighbours[0]


def pk_subquery_sql(queryset: QuerySet) -> tuple[str, tuple[Any, ...]]:
    """SQL (and params) selecting the primary keys of ``queryset``, unordered, to embed in raw SQL
    as ``product_id IN (...)``.

    A queryset that can match nothing (``.none()``, ``pk__in=[]``: e.g. a category filter naming
    no category) has no SQL in Django (building it raises EmptyResultSet); it becomes a select
    of no rows, so a filter that matches nothing gives an empty list, never an error.
    """
    try:
        return queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        meta = queryset.model._meta
        table, column = connection.ops.quote_name(meta.db_table), connection.ops.quote_name(meta.pk.column)
        return f"SELECT {table}.{column} FROM {table} WHERE FALSE", ()


def nearest_products_in_spaces(
    *,
    version_id: int,
    dimensions: Mapping[str, int],
    queries: Sequence[VectorQuery],
    k: int,
    candidates: QuerySet | None = None,
    exclude_ids: Iterable[Any] = (),
    exact: bool = False,
    score: bool = False,
    index_type: str | None = None,
    category: str | None = None,
) -> SpaceSearch:
    """``nearest_products`` for several searches under the same filter, in one statement (one
    round trip, however many searches); with ``score``, also every found product's similarity to
    every query vector (see SpaceSearch), computed in PostgreSQL: no product vector crosses the
    wire. ``dimensions``: the version's dimension of each space searched; ``index_type``: the
    version's ``vector_index_type`` (looked up when None: one more query). ``category``: a key
    whose own index every space searched has (``vector_categories.indexed_category``): the walk
    reads that index, the candidates are still applied.

    A graph walk orders by the index's expression (float16 distances under "halfvec"); the
    distances returned, and the order of the k rows found, are float32 ones."""
    if not queries:
        return SpaceSearch([])
    if index_type is None and not exact:
        index_type = index_type_of(version_id)
    exclude = list(exclude_ids)
    ctes: list[str] = []
    params: list[Any] = []
    liked = [(q.space, q.like) for q in queries if q.vector is None]
    if liked:
        pairs = ", ".join(["(%s, %s)"] * len(liked))
        ctes.append(
            f"shopguide_liked AS MATERIALIZED (SELECT space, product_id, embedding FROM {TABLE} "
            f"WHERE version_id = %s AND (space, product_id) IN ({pairs}))"
        )
        params += [version_id, *(value for pair in liked for value in pair)]
    if candidates is not None:
        # No ORDER BY (a model's Meta.ordering) in the subquery: PostgreSQL then cannot turn it
        # into a semi-join beside the HNSW scan and sorts every vector instead (20x slower).
        sub_sql, sub_params = pk_subquery_sql(candidates)
        if exact:  # read once, whatever the number of searches
            ctes.append(f"shopguide_candidates(pk) AS MATERIALIZED ({sub_sql})")
            params += list(sub_params)
    branches, vectors = [], []  # vectors: SQL (and params) of each query's vector, untyped
    for index, query in enumerate(queries):
        _check_space(query.space)
        operator = OPERATORS[query.metric][0]
        dims = int(dimensions[query.space])
        if query.vector is None:
            own = "(SELECT embedding FROM shopguide_liked WHERE space = %s AND product_id = %s)"
            own_params = [query.space, query.like]
            # No vector, no search: a NULL query vector would make the index return rows in any order.
            guard, guard_params = f" AND {own} IS NOT NULL", own_params
        else:
            own, own_params = "%s::vector", [vector_literal(query.vector)]
            guard, guard_params = "", []
        vectors.append((own, own_params))
        distance = f"pv.embedding::vector({dims}) {operator} {own}::vector({dims})"
        # What the walk orders by: the index's expression, which under "vector" is the distance.
        cast = index_cast(index_type, dims)
        order = "distance" if cast == f"::vector({dims})" else f"pv.embedding{cast} {operator} {own}{cast}"
        if exact and candidates is not None:
            # Each candidate's vector looked up by key, its distance computed: the cost grows
            # with the candidates, not with the table (every space of every version kept). The
            # LIMIT keeps PostgreSQL from flattening the lookup into a join over the whole table.
            where = ["TRUE"] + (["NOT (c.pk = ANY(%s))"] if exclude else [])
            sql = (
                f"SELECT {index} AS query, c.pk AS product_id, v.distance FROM shopguide_candidates c "
                f"CROSS JOIN LATERAL (SELECT {distance} AS distance FROM {TABLE} pv "
                f"WHERE pv.version_id = %s AND pv.space = %s AND pv.product_id = c.pk LIMIT 1) v "
                f"WHERE {' AND '.join(where)}{guard}"
            )
            params += [*own_params, version_id, query.space, *([exclude] if exclude else []), *guard_params]
        else:
            where = ["pv.version_id = %s", "pv.space = %s"]
            params += [*own_params, version_id, query.space]
            if exclude:
                where.append("NOT (pv.product_id = ANY(%s))")
                params.append(exclude)
            if category is not None:  # the text of the category index's predicate: it applies
                where.append(category_predicate(category, "pv.").replace("%", "%%"))
            if candidates is not None:
                where.append(f"pv.product_id IN ({sub_sql})")
                params.extend(sub_params)
            sql = (
                f"SELECT {index} AS query, pv.product_id, {distance} AS distance FROM {TABLE} pv WHERE "
                f"{' AND '.join(where)}{guard}"
            )
            params += guard_params
            if exact:  # a materialised CTE cannot be answered from the index's order: all are scored
                sql = f"WITH scored AS MATERIALIZED ({sql}) SELECT * FROM scored"
            elif order != "distance":
                sql += f" ORDER BY {order}"
                params += own_params
        if exact or order == "distance":
            sql += " ORDER BY distance"
        branches.append(f"({sql} LIMIT %s)")
        params.append(int(k))
    if score:
        ctes.append(f"shopguide_found AS MATERIALIZED ({' UNION ALL '.join(branches)})")
        # Found products x query vectors: one similarity row per product and query (a product
        # without a vector in that query's space has none). Query -1 marks these rows.
        scored = " UNION ALL ".join(
            f"SELECT {index} AS query, {own} AS vector, %s AS space" for index, (own, _) in enumerate(vectors)
        )
        for (_, own_params), query in zip(vectors, queries):
            params += [*own_params, query.space]
        sql = (
            "SELECT query, product_id, distance, NULL::int FROM shopguide_found UNION ALL "
            f"SELECT -1, pv.product_id, 1 - (pv.embedding <=> q.vector), q.query "
            f"FROM (SELECT DISTINCT product_id FROM shopguide_found) f CROSS JOIN ({scored}) q "
            f"JOIN {TABLE} pv ON pv.version_id = %s AND pv.space = q.space AND pv.product_id = f.product_id "
            "WHERE q.vector IS NOT NULL"
        )
        params.append(version_id)
    else:
        sql = " UNION ALL ".join(branches)
    if ctes:
        sql = f"WITH {', '.join(ctes)} {sql}"
    with transaction.atomic(), connection.cursor() as cursor:
        # One round trip for both settings (they last until the end of this transaction).
        ef_search = max(EF_SEARCH if category is None else CATEGORY_EF_SEARCH, int(k))
        cursor.execute(f"SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL hnsw.ef_search = {ef_search}")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found: list[list[tuple[Any, float]]] = [[] for _ in queries]
    similarities: dict[Any, dict[int, float]] = {}
    for row in rows:
        index, pid, value = row[:3]
        if index >= 0:
            found[index].append((pid, float(value)))
        else:  # a zero vector has no direction: similarity 0, as numpy with a guarded norm gives
            similarities.setdefault(pid, {})[row[3]] = 0.0 if math.isnan(value) else float(value)
    neighbours = []
    for query, hits in zip(queries, found):
        # relaxed_order may return rows slightly out of order: sort the final few exactly.
        hits.sort(key=lambda hit: hit[1])
        to_score = (lambda d: 1.0 - d) if query.metric == "cosine" else (lambda d: -d)
        neighbours.append([Neighbour(product_id=pid, score=to_score(distance)) for pid, distance in hits])
    return SpaceSearch(neighbours, similarities)


def _check_space(space: str) -> None:
    # Space names end up in index names and SQL text: allow only plain identifiers.
    if not space.isidentifier() or not space.isascii():
        raise ValueError(f"invalid space name {space!r}")
