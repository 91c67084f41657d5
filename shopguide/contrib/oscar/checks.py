"""System checks of the Oscar integration (ids shopguide.E050–E059)."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.compatibility)
def check_oscar_integration(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    if not apps.is_installed("shopguide"):
        errors.append(
            Error(
                "shopguide.contrib.oscar needs shopguide itself in INSTALLED_APPS.",
                hint='Add "shopguide" to INSTALLED_APPS.',
                id="shopguide.E050",
            )
        )
    if not apps.is_installed("oscar.apps.catalogue") and not any(
        c.label == "catalogue" for c in apps.get_app_configs()
    ):
        errors.append(
            Error(
                "shopguide.contrib.oscar needs django-oscar's catalogue app.",
                hint="Install django-oscar and its apps (INSTALLED_APPS).",
                id="shopguide.E051",
            )
        )
    model = getattr(settings, "SHOPGUIDE_PRODUCT_MODEL", None)
    if model and model.lower() != "catalogue.product":
        errors.append(
            Error(
                f"shopguide.contrib.oscar reads Oscar's catalogue, but SHOPGUIDE_PRODUCT_MODEL is {model!r}.",
                hint='Set SHOPGUIDE_PRODUCT_MODEL = "catalogue.Product" (before the first migrate).',
                id="shopguide.E052",
            )
        )
    return errors
