from __future__ import annotations

from django.apps import AppConfig


class ShopguideConfig(AppConfig):
    name = "shopguide"
    verbose_name = "shopguide"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Only checks, signal handlers and the Celery app: nothing on the start-up path imports torch.
        from shopguide import checks, receivers

        receivers.connect_catalog_signals()
        if not checks.loaded_celery_apps():
            import shopguide.celery  # noqa: F401  (shopguide's own app, for shops without one)
