from __future__ import annotations

from django.apps import AppConfig


class ShopguideConfig(AppConfig):
    name = "shopguide"
    verbose_name = "shopguide"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Only checks and signal handlers: nothing on the start-up path imports torch.
        from shopguide import checks, signals  # noqa: F401

        signals.connect_catalog_signals()
