"""Search documents: each product's title and text (title, text fields, category) in shopguide's
table, with a weighted full-text vector (title A, the rest B) and a trigram index on the title."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.models import SearchDocument
from shopguide.products import product_document

TABLE = SearchDocument._meta.db_table


def refresh_search_documents(products: Iterable) -> int:
    """Create or update the search documents of ``products``; returns how many were written."""
    adapter = get_adapter()
    now = timezone.now()
    rows = [
        SearchDocument(product_id=p.pk, title=adapter.title(p)[:500], text=product_document(p), updated_at=now)
        for p in products
    ]
    if not rows:
        return 0
    SearchDocument.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["product"], update_fields=["title", "text", "updated_at"]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET document = "
            "setweight(to_tsvector(%s::regconfig, title), 'A') || setweight(to_tsvector(%s::regconfig, text), 'B') "
            "WHERE product_id = ANY(%s)",
            [shopguide_settings.SEARCH_CONFIG, shopguide_settings.SEARCH_CONFIG, [row.product_id for row in rows]],
        )
    return len(rows)


def _restriction(candidates_sql: tuple[str, Sequence[Any]] | None) -> tuple[str, list]:
    """SQL and params that keep only products in a candidates subquery (e.g. in stock)."""
    if not candidates_sql:
        return "", []
    return f" AND product_id IN ({candidates_sql[0]})", list(candidates_sql[1])


def fulltext_matches(
    query: str, *, limit: int, candidates_sql: tuple[str, Sequence[Any]] | None = None
) -> list[tuple[Any, float]]:
    """(product id, rank) of PostgreSQL full-text matches for ``query`` (web-search syntax), best first."""
    config = shopguide_settings.SEARCH_CONFIG
    where, params = _restriction(candidates_sql)
    sql = (
        f"SELECT product_id, ts_rank_cd(document, q, 32) AS rank "
        f"FROM {TABLE}, websearch_to_tsquery(%s::regconfig, %s) q WHERE document @@ q{where} "
        f"ORDER BY rank DESC, product_id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [config, query, *params, limit])
        return [(pid, float(rank)) for pid, rank in cursor.fetchall()]


def trigram_matches(
    query: str, *, limit: int, candidates_sql: tuple[str, Sequence[Any]] | None = None
) -> list[tuple[Any, float]]:
    """(product id, similarity) of titles that resemble ``query`` (pg_trgm word similarity)."""
    where, params = _restriction(candidates_sql)
    sql = (
        f"SELECT product_id, word_similarity(%s, title) AS sim FROM {TABLE} "
        f"WHERE %s <%% title{where} ORDER BY sim DESC, product_id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [query, query, *params, limit])
        return [(pid, float(sim)) for pid, sim in cursor.fetchall()]
