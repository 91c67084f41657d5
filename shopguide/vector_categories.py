"""Category keys beside the vectors: what lets a category-filtered list walk one category's graph.

A partial index's predicate may name only the indexed table's own columns, so each product's
category keys (``adapter.vector_categories``) are copied into ``ProductVector.categories`` when
its vectors are written, and kept current when the product's category changes
(``refresh_vector_categories``, from the catalogue signals). When a version is built, each
category holding ``CATEGORY_INDEX_MIN_PRODUCTS`` products or more gets its own partial HNSW index
per space (``vectors.ensure_hnsw_index(category=...)``), listed in the version's config; a list
filtered to such a category then repeats the index's predicate (``category_predicate``) and
walks that category's graph only: every product it visits is in the category, so the walk finds
the full k at HNSW speed, however far the category lies from the query.

Serving still applies the filter itself (the ``IN (candidates)`` subquery), so a stale key can
cost a product its place in a list until the product is saved or re-embedded, never show a
product outside the filter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection

from shopguide.adapter import get_adapter
from shopguide.models import ModelVersion, ProductVector

TABLE = ProductVector._meta.db_table
# Where a version lists the categories that have their own index: config[CONFIG_KEY][space] = [keys].
CONFIG_KEY = "category_indexes"


def vector_categories(product_ids: Iterable[Any]) -> dict[Any, list[str]]:
    """Each product's category keys (one query through the adapter); products it does not know
    are absent."""
    adapter = get_adapter()
    queryset = adapter.model._default_manager.filter(pk__in=list(product_ids)).order_by()
    return {pk: sorted(set(keys)) for pk, keys in adapter.vector_categories(queryset)}


def refresh_vector_categories(product_ids: Sequence[Any]) -> int:
    """Copy the current category keys of ``product_ids`` onto their vectors of every version (a
    product moved to another category leaves the old category's index and enters the new one's).
    Returns the number of vector rows changed."""
    if not len(product_ids):
        return 0
    keys = vector_categories(product_ids)
    with connection.cursor() as cursor:
        # One statement per product, sent in one batch (psycopg's pipeline); rowcount is their sum.
        cursor.executemany(
            f"UPDATE {TABLE} SET categories = %s WHERE product_id = %s AND categories IS DISTINCT FROM %s",
            [(keys.get(pk), pk, keys.get(pk)) for pk in product_ids],
        )
        return max(cursor.rowcount, 0)


def _literal(key: str) -> str:
    # Keys end up in index predicates, which cannot take parameters; standard_conforming_strings
    # (on since PostgreSQL 9.1) makes doubling the quotes the whole escape.
    if "\x00" in key:
        raise ValueError("a category key cannot contain NUL")
    return "'" + key.replace("'", "''") + "'"


def category_predicate(key: str, alias: str = "") -> str:
    """SQL of "the vector's product is in category ``key``": the same text in the partial index
    and in the query, so PostgreSQL proves the index applies."""
    return f"{_literal(key)} = ANY({alias}categories)"


def category_index_suffix(key: str) -> str:
    """The part of an index name that names the category (a hash: keys are free text)."""
    return "_c" + hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()[:10]


def large_categories(*, version_id: int, space: str, min_products: int) -> list[str]:
    """Category keys held by at least ``min_products`` of the space's vectors, largest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT key FROM {TABLE}, unnest(categories) AS key WHERE version_id = %s AND space = %s "
            "GROUP BY key HAVING count(*) >= %s ORDER BY count(*) DESC, key",
            [int(version_id), space, int(min_products)],
        )
        return [key for (key,) in cursor.fetchall()]


def indexed_category(version: ModelVersion, spaces: Iterable[str], value: str | None) -> str | None:
    """The key of category filter ``value`` when every space in ``spaces`` has that category's
    own index in ``version`` (else None: the filter is served by the other plans)."""
    indexed = (version.config or {}).get(CONFIG_KEY) or {}
    if value in (None, "") or not indexed:
        return None
    key = get_adapter().category_key(value)
    if key is None:
        return None
    return key if all(key in indexed.get(space, ()) for space in spaces) else None
