"""Oscar's own "Recommended items" (``ProductRecommendation``) from shopguide's related lists.

With ``SHOPGUIDE["OSCAR_RECOMMENDATIONS"] = N`` (N > 0), each activation of a model version
replaces the ``ProductRecommendation`` rows of every product that has a stored related list
with its first N visible products, ranked N..1, so Oscar's product page shows them with no
template change. Off (0) by default because it overwrites recommendations curated by hand.
"""

from __future__ import annotations

import logging

from django.db import transaction

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.models import ModelVersion, RelatedList

logger = logging.getLogger(__name__)

CHUNK = 1000  # primary products per transaction


def write_product_recommendations(*, version: ModelVersion, limit: int | None = None) -> int:
    """Replace Oscar's ProductRecommendation rows from ``version``'s fused related lists.

    Returns how many rows were written (0 when ``limit`` / the setting is 0). Only visible
    products are written (public, browsable); a product without a stored list keeps its rows.
    """
    from oscar.core.loading import get_model

    limit = shopguide_settings.OSCAR_RECOMMENDATIONS if limit is None else limit
    if not limit:
        return 0
    ProductRecommendation = get_model("catalogue", "ProductRecommendation")
    adapter = get_adapter()
    to_python = adapter.model._meta.pk.to_python
    visible = set(adapter.visible(adapter.model._default_manager.all()).values_list("pk", flat=True))
    lists = (
        RelatedList.objects.filter(version=version, space="")
        .order_by("product_id")
        .values_list("product_id", "product_ids")
    )
    written = 0
    chunk: list[tuple[object, list[str]]] = []

    def flush() -> int:
        rows = []
        for primary, ids in chunk:
            picked = [pk for pk in (to_python(i) for i in ids) if pk in visible and pk != primary][:limit]
            rows += [
                ProductRecommendation(primary_id=primary, recommendation_id=pk, ranking=len(picked) - rank)
                for rank, pk in enumerate(picked)
            ]
        with transaction.atomic():
            ProductRecommendation._default_manager.filter(primary_id__in=[p for p, _ in chunk]).delete()
            ProductRecommendation._default_manager.bulk_create(rows)
        chunk.clear()
        return len(rows)

    for primary, ids in lists.iterator(chunk_size=CHUNK):
        chunk.append((primary, ids))
        if len(chunk) >= CHUNK:
            written += flush()
    if chunk:
        written += flush()
    logger.info("Wrote %d Oscar product recommendations from %s", written, version)
    return written


def on_version_activated(sender, version: ModelVersion, **kwargs) -> None:
    if shopguide_settings.OSCAR_RECOMMENDATIONS:
        write_product_recommendations(version=version)
