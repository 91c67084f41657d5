"""What every query function returns: ranked products with a reason each, and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Model


@dataclass(frozen=True)
class ScoredProduct:
    product: Model
    score: float
    reason: str = ""


@dataclass
class Recommendations:
    items: list[ScoredProduct] = field(default_factory=list)
    version: int | None = None  # model version that ranked the items; None for pure fallbacks
    # What answered: "related", "image", "text", "behaviour" (one space of related products),
    # "personal", "hybrid" (search), "image-search", or the fallbacks "trending", "popular", "fulltext".
    source: str = "popular"
    fallback: bool = True

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
