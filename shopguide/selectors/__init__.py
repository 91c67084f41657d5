"""Read side: ranked product lists and customer profiles for the API, the template tags and the
admin alike. Views and tags hold no ranking logic; they call these functions.

Every list names the model version that produced it, what answered (``source``) and whether a
fallback did. Serving never trains and never raises for a missing model or vector: trending or
popular products answer instead.
"""

from shopguide.filters import DEFAULT_FILTERS, ProductFilters
from shopguide.ranking import related_weights
from shopguide.selectors.personal import recommended_for, shopper_history
from shopguide.selectors.popular import popular_products, trending
from shopguide.selectors.profiles import CustomerProfile, customer_profile
from shopguide.selectors.related import related_products, related_products_of
from shopguide.selectors.results import Recommendations, ScoredProduct
from shopguide.selectors.search import InvalidImage, InvalidQuery, search_by_image, search_products

__all__ = [
    "DEFAULT_FILTERS",
    "CustomerProfile",
    "InvalidImage",
    "InvalidQuery",
    "ProductFilters",
    "Recommendations",
    "ScoredProduct",
    "customer_profile",
    "popular_products",
    "recommended_for",
    "related_products",
    "related_products_of",
    "related_weights",
    "search_by_image",
    "search_products",
    "shopper_history",
    "trending",
]
