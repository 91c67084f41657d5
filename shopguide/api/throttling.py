"""Rate limits for the API's costly (search) and write (events) endpoints, per user or client
address (``shopguide.clients``: the socket address unless SHOPGUIDE["TRUSTED_PROXIES"] says
which forwarded address to believe).

Rates come from SHOPGUIDE["THROTTLE_RATES"], so a shop needs no DRF throttle settings of its own.
"""

from __future__ import annotations

from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from shopguide.clients import client_key
from shopguide.conf import shopguide_settings


class ShopguideRateThrottle(SimpleRateThrottle):
    """Limits one endpoint family (``scope``) per authenticated user, else per client address."""

    scope = ""

    @property
    def cache(self):
        return caches[shopguide_settings.THROTTLE_CACHE]

    def get_rate(self) -> str | None:
        return shopguide_settings.THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return f"shopguide:throttle:{self.scope}:{ident}"

    def get_ident(self, request) -> str:
        # Not DRF's: with NUM_PROXIES unset it takes X-Forwarded-For as the client's word.
        return client_key(request)


class EventsThrottle(ShopguideRateThrottle):
    scope = "events"


class SearchThrottle(ShopguideRateThrottle):
    scope = "search"


class ImageSearchThrottle(ShopguideRateThrottle):
    scope = "image_search"
