"""Search: hybrid text search (text model + PostgreSQL full-text + pg_trgm) and search by image."""

from __future__ import annotations

from typing import Any

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.filters import DEFAULT_FILTERS, ProductFilters
from shopguide.models import ModelVersion
from shopguide.ranking import filtered_neighbours
from shopguide.selectors.popular import popular_products
from shopguide.selectors.results import Recommendations, ScoredProduct
from shopguide.selectors.versions import active_version
from shopguide.uploads import InvalidImage, check_upload_size, read_query_image  # noqa: F401 (part of this module's API)
from shopguide.vectors import pk_subquery_sql

SEARCH_CANDIDATES = 50  # per retriever, before fusion
RRF_K = 60  # reciprocal-rank-fusion constant (Cormack et al.)
# A trigram vote counts similarity**4 of its rank's weight: a title the query spells out (or
# nearly, typos included) keeps its full vote and wins known-item searches, while the weak
# resemblances an attribute query ("wool winter") has to titles barely count.
# bench/search_quality.py compares it with plain rank fusion (power 0).
TRIGRAM_SIMILARITY_POWER = 4
MAX_QUERY_LENGTH = 200


class InvalidQuery(ValueError):
    """A search query that cannot be searched for (a NUL character, which PostgreSQL text cannot
    hold); the message says why (for a 400)."""


def search_products(
    *, query: str, k: int = 8, filters: ProductFilters = DEFAULT_FILTERS, version: ModelVersion | None = None
) -> Recommendations:
    """Hybrid product search, best first: the text model's nearest neighbours of the query fused
    (weighted reciprocal rank fusion, SHOPGUIDE["SEARCH_WEIGHTS"]) with PostgreSQL full-text rank
    and pg_trgm title similarity. Only products that pass ``filters``. Without a text model,
    full-text and trigram answer alone (``fallback``).

    Raises InvalidQuery for a query with a NUL character (every caller, not only the API's
    serializer, must get a clear error rather than a database error).
    """
    if "\x00" in query:
        raise InvalidQuery("The query must not contain NUL characters.")
    from shopguide.search_documents import fulltext_matches, trigram_matches
    from shopguide.spaces import text as text_space

    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    version = version or active_version()
    candidates_sql = pk_subquery_sql(filters.candidates())
    # (product id, strength of the vote in [0, 1]) per retriever, best first.
    ranked_lists: dict[str, list[tuple[Any, float]]] = {
        "fulltext": [
            (pk, 1.0) for pk, _ in fulltext_matches(query, limit=SEARCH_CANDIDATES, candidates_sql=candidates_sql)
        ],
        "trigram": [
            (pk, similarity**TRIGRAM_SIMILARITY_POWER)
            for pk, similarity in trigram_matches(query, limit=SEARCH_CANDIDATES, candidates_sql=candidates_sql)
        ],
    }
    uses_model = version is not None and text_space.NAME in version.dimensions and bool(query)
    if version is not None and uses_model:
        vector = text_space.embed_query(version, query)
        neighbours = filtered_neighbours(version, text_space.NAME, vector, k=SEARCH_CANDIDATES, filters=filters)
        ranked_lists["lstm"] = [(n.product_id, 1.0) for n in neighbours]
    weights = shopguide_settings.SEARCH_WEIGHTS
    fused: dict[Any, float] = {}
    for name, votes in ranked_lists.items():
        for rank, (pk, strength) in enumerate(votes):
            fused[pk] = fused.get(pk, 0.0) + weights.get(name, 0.0) * strength / (RRF_K + rank + 1)
    top = sorted(fused, key=lambda pk: (-fused[pk], str(pk)))[:k]
    by_pk = get_adapter().get_queryset().in_bulk(top)
    best = max(fused.values(), default=1.0)
    return Recommendations(
        items=[ScoredProduct(by_pk[pk], round(fused[pk] / best, 4), f"matches “{query}”") for pk in top if pk in by_pk],
        version=version.pk if version is not None and uses_model else None,
        source="hybrid" if uses_model else "fulltext",
        fallback=not uses_model,
    )


def search_by_image(
    *, data: bytes, k: int = 8, filters: ProductFilters = DEFAULT_FILTERS, version: ModelVersion | None = None
) -> Recommendations:
    """Products that look like the uploaded image (raw file bytes), best first, from the CNN.

    Raises InvalidImage for an upload that is not a usable image, whether or not a model exists.
    Without an image model, popular products answer (``fallback``).
    """
    from shopguide.spaces import image as image_space

    version = version or active_version()
    if version is None or image_space.NAME not in version.dimensions:
        read_query_image(data, size=64, channels=3)  # bad input is still a 400, model or not
        return Recommendations(
            items=popular_products(k=k, filters=filters), version=None, source="popular", fallback=True
        )
    from shopguide.spaces.artifacts import use_query_threads

    use_query_threads()
    encoder = image_space.load(version)
    pixels = read_query_image(data, size=encoder.config.image_size, channels=encoder.config.channels)
    vector = encoder.embed(pixels)[0]
    neighbours = filtered_neighbours(version, image_space.NAME, vector, k=k, filters=filters)
    by_pk = get_adapter().get_queryset().in_bulk([n.product_id for n in neighbours])
    items = [
        ScoredProduct(by_pk[n.product_id], round(n.score, 4), "looks like your photo")
        for n in neighbours
        if n.product_id in by_pk
    ]
    if not items:
        return Recommendations(
            items=popular_products(k=k, filters=filters), version=version.pk, source="popular", fallback=True
        )
    return Recommendations(items=items, version=version.pk, source="image-search", fallback=False)
