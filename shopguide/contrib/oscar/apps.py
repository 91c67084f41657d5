from __future__ import annotations

from django.apps import AppConfig

# SHOPGUIDE defaults for an Oscar shop; anything the shop sets in SHOPGUIDE wins.
OSCAR_DEFAULTS = {
    "ADAPTER": "shopguide.contrib.oscar.adapter.OscarAdapter",
    # The adapter reads Oscar's tables itself; the mapping only names Product's own fields.
    "PRODUCT_FIELDS": {
        "title": "title",
        "text": ["description"],
        "category": None,
        "image": None,
        "price": None,
        "in_stock": None,
        "sku": "upc",
    },
}
# Settings of this integration, with their defaults.
OSCAR_KEYS = {
    # After each activation, write this many of every product's related products as Oscar's
    # ProductRecommendation rows ("Recommended items" on Oscar's product page). 0 = off, since it
    # replaces recommendations curated by hand.
    "OSCAR_RECOMMENDATIONS": 0,
}


class OscarIntegrationConfig(AppConfig):
    name = "shopguide.contrib.oscar"
    label = "shopguide_oscar"
    verbose_name = "shopguide for django-oscar"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Only settings, signal receivers and checks: nothing here imports torch.
        from shopguide import signals
        from shopguide.conf import register_integration
        from shopguide.receivers import connect_catalog_signals

        from . import checks, receivers  # noqa: F401
        from .recommendations import on_version_activated

        register_integration(defaults=OSCAR_DEFAULTS, keys=OSCAR_KEYS)
        receivers.connect()
        signals.version_activated.connect(on_version_activated, dispatch_uid="shopguide_oscar_recommendations")
        # shopguide's own ready() may have connected the default adapter's models before these
        # defaults existed (INSTALLED_APPS order): connect the Oscar adapter's (dispatch uids
        # keep it idempotent).
        connect_catalog_signals()
