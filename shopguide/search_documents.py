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


# Full-text search ranks at most this many matches, and as many title matches as it returns (see
# fulltext_matches): its cost follows this bound, not how many documents a common word is in.
FULLTEXT_CANDIDATES = 500
# A one-word trigram query takes its matches from an ordered scan (see trigram_matches).
TRIGRAM_CANDIDATES = 50


def fulltext_matches(
    query: str, *, limit: int, candidates_sql: tuple[str, Sequence[Any]] | None = None
) -> list[tuple[Any, float]]:
    """(product id, rank) of PostgreSQL full-text matches for ``query`` (web-search syntax), best
    first, ranked by ts_rank_cd.

    Only a bounded set is ranked: up to FULLTEXT_CANDIDATES documents that match anywhere and,
    when there are that many, also up to ``limit`` documents whose title matches the whole query
    (GIN index on the title's lexemes, ``title_document``). A query with fewer
    matches than the bound (among the products that pass the filters) is ranked exactly as if
    every match were ranked. A common word has more: then title matches, which outrank body-only
    matches (weight A against B), are ranked too, but which matches are ranked is the scan's
    order, not their rank -- the trade-off that keeps a one-word query's cost independent of how
    many products contain the word (GIN cannot return matches best first; a RUM index could).
    A title that holds every word of a known-item query is found while fewer than the bound do.
    """
    config = shopguide_settings.SEARCH_CONFIG
    where, params = _restriction(candidates_sql)
    q = "websearch_to_tsquery(%s::regconfig, %s)"  # a constant: the planner estimates its matches
    sql = (
        f"WITH anywhere AS MATERIALIZED (SELECT product_id, document FROM {TABLE} "
        f"WHERE document @@ {q}{where} LIMIT %s) "
        f"SELECT product_id, max(ts_rank_cd(document, {q}, 32)) AS rank FROM ("
        "SELECT product_id, document FROM anywhere UNION ALL "
        # Title matches only when the matches anywhere reached the bound (a one-time filter: the
        # scan, which may read the whole of a narrow filter's products, is not run otherwise).
        # No more than ``limit`` of them: title matches outrank the rest (a title's words are
        # counted twice, weights A and B), so more could not change which ``limit`` come first.
        f"(SELECT product_id, document FROM {TABLE} WHERE title_document @@ {q}{where} "
        "AND (SELECT count(*) FROM anywhere) >= %s LIMIT %s)"
        # A title match holds the query's words; a word the query negates may be in the body.
        f") candidates WHERE document @@ {q} GROUP BY product_id ORDER BY rank DESC, product_id LIMIT %s"
    )
    bound = max(FULLTEXT_CANDIDATES, limit)  # never fewer than asked for when enough match
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [config, query, *params, bound]
            + [config, query]
            + [config, query, *params, bound, limit]
            + [config, query, limit],
        )
        return [(pid, float(rank)) for pid, rank in cursor.fetchall()]


def trigram_matches(
    query: str, *, limit: int, candidates_sql: tuple[str, Sequence[Any]] | None = None
) -> list[tuple[Any, float]]:
    """(product id, similarity) of titles that resemble ``query`` (pg_trgm word similarity, above
    pg_trgm.word_similarity_threshold), most similar first.

    A one-word query (the common case that matches thousands of titles, each at similarity 1) is
    answered by an ordered (KNN) scan of the GiST trigram index by word-similarity distance,
    ``<<->``, which stops after ``limit`` rows however many titles match. Titles equally similar
    come in the index's order: breaking ties by id in SQL would sort every tied match again. The
    GiST index is on ``lower(title)`` (pg_trgm folds case: the same similarities) so that only this
    scan uses it: for a query of several words the planner would pick a GiST bitmap scan, several
    times slower than the GIN index, which ranks every match of such a query -- few, since most of
    its trigrams must match, but the GIN scan reads every query trigram's posting list, so its cost
    still grows with the catalogue.
    """
    where, params = _restriction(candidates_sql)
    if len(query.split()) == 1:
        sql = (
            f"SELECT product_id, word_similarity(%s, title) AS sim FROM {TABLE} "
            f"WHERE %s <%% lower(title){where} ORDER BY %s <<-> lower(title) LIMIT %s"
        )
        args = [query, query, *params, query, max(TRIGRAM_CANDIDATES, limit)]
    else:
        sql = (
            f"SELECT product_id, word_similarity(%s, title) AS sim FROM {TABLE} "
            f"WHERE %s <%% title{where} ORDER BY sim DESC, product_id LIMIT %s"
        )
        args = [query, query, *params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        rows = [(pid, float(sim)) for pid, sim in cursor.fetchall()]
    return sorted(rows, key=lambda row: (-row[1], row[0]))[:limit]
