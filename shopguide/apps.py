from __future__ import annotations

from django.apps import AppConfig


class ShopguideConfig(AppConfig):
    name = "shopguide"
    verbose_name = "shopguide"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Only checks, signal handlers and the Celery app: nothing on the start-up path imports torch.
        from shopguide import checks, signals  # noqa: F401

        signals.connect_catalog_signals()
        if not loaded_celery_apps():
            import shopguide.celery  # noqa: F401  (shopguide's own app, for shops without one)


def loaded_celery_apps() -> list:
    """The Celery apps created in this process so far, Celery's fallback app left out.

    Shared tasks bind to any of them (not only the thread-local current app), so a project's app
    serves runserver's and gunicorn's threads too; the fallback app (named "default") knows none
    of the shop's settings."""
    from celery import _state

    return [app for app in _state._get_active_apps() if not (app is _state.default_app and app.main == "default")]
