"""shopguide's settings: one ``SHOPGUIDE`` dict with documented defaults.

Read every value through ``shopguide_settings`` (the ``rest_framework.settings`` pattern): values are
looked up lazily, unknown keys raise, and the cache is dropped on ``setting_changed`` so
``override_settings`` works in tests. The host's product model is the separate top-level setting
``SHOPGUIDE_PRODUCT_MODEL`` because migrations need it (like ``AUTH_USER_MODEL``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # Dotted path to the catalog adapter class: the only code that knows the product model.
    "ADAPTER": "shopguide.adapter.CatalogAdapter",
    # Field mapping used by the default adapter. "text" is a list of extra text fields.
    # Set a key to None when the product model has no such field.
    "PRODUCT_FIELDS": {
        "title": "title",
        "text": ["description"],
        "category": "category",
        "image": "image",
        "price": "price",
        "in_stock": "in_stock",
        "sku": "sku",
        # A boolean field: False hides the product from every list and from related/ (404).
        "visible": None,
    },
    # ISO 4217 code of the prices (API items carry it beside the price); None = not stated.
    # An adapter's currency(product) may answer per product instead.
    "CURRENCY": None,
    # Which models to train: any of "image", "text", "behaviour" (a model whose data is missing,
    # e.g. no images or no events yet, is skipped with a note on the run).
    "MODELS": ["image", "text", "behaviour"],
    # "auto" = CUDA when the worker has it, else CPU. Also "cpu", "cuda", "cuda:1".
    "DEVICE": "auto",
    # Overrides of each model's config dataclass in shopguide.ml (epochs, embedding_dim, ...):
    # ImageEncoderConfig, TextEncoderConfig, SequenceModelConfig.
    # IMAGE_MODEL also takes "backbone": "auto" (default: train the scratch CNN and the pretrained
    # EfficientNet-Lite0, keep the better on held-out images) | "efficientnet_lite0" | "scratch";
    # "pretrained": overrides for the pretrained candidate (shopguide.ml.image_selection
    # .PRETRAINED_DEFAULTS); "auto_max_images": above this many images "auto" trains only the CNN.
    "IMAGE_MODEL": {},
    "TEXT_MODEL": {},
    "BEHAVIOUR_MODEL": {},
    # Celery queues: heavy work (training, bulk embedding) and light work.
    "GPU_QUEUE": "shopguide.gpu",
    "QUEUE": "shopguide",
    # Products embedded per batch when writing vectors, and per fan-out task.
    "EMBED_BATCH_SIZE": 512,
    "EMBED_CHUNK_SIZE": 2000,
    # A running training run whose worker sent no heartbeat for this long is marked failed.
    "RUN_STALE_AFTER": 300,
    # The evaluation gate scores the active version and the new one on the same held-out data
    # of the new snapshot (images, search queries, last events) and holds the new one back when a
    # space is worse beyond the bootstrap interval of the difference and by more than this
    # (absolute), unless staff force it.
    "GATE_TOLERANCE": 0.01,
    # Fewer held-out queries/users than this in a space: "not enough data to judge" that space
    # (nor to prefer a baseline to the LSTM).
    "GATE_MIN_SAMPLES": 30,
    # What the gate does when no space has enough data to judge: "activate" (a new version saw
    # more data; the default) or "keep" (the active version keeps serving until staff force).
    "GATE_SMALL_SAMPLE_POLICY": "activate",
    # Model versions kept (the active one and its predecessors, for rollback).
    "KEEP_VERSIONS": 3,
    # Where model artifacts go in Django's default storage.
    "STORAGE_PREFIX": "shopguide/models",
    # Seconds a ranked list (related products per product, popularity counts) stays cached in
    # Django's cache. Activating a version invalidates related lists at once. 0 turns caching off.
    "CACHE_SECONDS": 300,
    # Items stored per product's related list and per shopper's recommendations when a version is
    # built (served in one row read). A request for more, or filters that leave fewer than k of
    # them, is searched live in the HNSW indexes instead.
    "LIST_DEPTH": 30,
    # Type of the HNSW indexes a new version gets: "vector" (float32) or "halfvec" (float16: about
    # half the index size and memory, up to 4,000 dimensions instead of 2,000, recall a little
    # lower; bench/halfvec.py measures both). Vectors are stored as float32 either way; each
    # version records the type it was indexed with, so changing this never breaks a built version.
    "VECTOR_INDEX_TYPE": "vector",
    # A category with at least this many products gets its own partial HNSW index per space when a
    # version is built, so a list filtered to it walks only its graph (full k, HNSW speed);
    # smaller categories are scored exactly. None turns the category indexes off.
    "CATEGORY_INDEX_MIN_PRODUCTS": 1000,
    # Related lists of catalogues of at least this many products are built approximately (IVF
    # cells, recall@10 >= 0.98 against exact measured on a sample and logged) instead of exactly
    # (every product against every product: time grows with N squared, about 4 minutes per
    # 100,000 products on 2 CPU cores, 7 hours per 1,000,000). ..._ON_GPU applies when DEVICE
    # resolves to CUDA, where exact is fast. None = always exact. bench/list_build.py measures.
    "EXACT_LISTS_BELOW": 50_000,
    "EXACT_LISTS_BELOW_ON_GPU": 3_000_000,
    # Default and maximum number of items returned by the API and template tags.
    "DEFAULT_LIMIT": 8,
    "MAX_LIMIT": 100,
    # Embed a product with the active models as soon as it is saved (light queue).
    "EMBED_ON_SAVE": True,
    # Recompute a customer's vector with the active model after each of their events (light queue).
    "REFRESH_USERS_ON_EVENT": True,
    # Record events of anonymous visitors under a per-session visitor id; merged at login.
    "TRACK_ANONYMOUS": True,
    # PostgreSQL text search configuration used for full-text search.
    "SEARCH_CONFIG": "english",
    # Weights of the three rankings that hybrid search fuses (reciprocal rank fusion): the text
    # model's neighbours, PostgreSQL full-text rank and pg_trgm title similarity. The lexical
    # trigram vote is scaled by similarity**4 (see selectors/search.py), so a near-exact title
    # match counts fully and a weak resemblance hardly; bench/search_quality.py measures choices.
    "SEARCH_WEIGHTS": {"lstm": 1.0, "fulltext": 0.7, "trigram": 1.0},
    # torch intra-op threads for embedding a search query in a web process: one short text is
    # fastest on one thread, and more threads per request fight over the cores under load.
    # None leaves torch's setting alone.
    "QUERY_THREADS": 1,
    # Requests per client (user, else IP address) for the API's costly or write endpoints, in
    # DRF's "N/second|minute|hour|day" form; None lifts a limit. Counted in Django's cache.
    "THROTTLE_RATES": {"events": "120/minute", "search": "60/minute", "image_search": "10/minute"},
    # How many reverse proxies of the shop's own stand in front of the site and append to
    # X-Forwarded-For. 0: the socket address is the client's and the header is ignored (a client
    # can write anything there); N: the address the N-th proxy from the server saw.
    "TRUSTED_PROXIES": 0,
    # Alias (in CACHES) of the cache that counts requests for THROTTLE_RATES and failed logins for
    # FAILED_LOGIN_RATES. It must be shared by all the web processes (Redis, Memcached, the
    # database, files): a per-process cache (LocMemCache) multiplies every limit by their number.
    "THROTTLE_CACHE": "default",
    # Failed logins allowed per client address and per username tried, in DRF's rate form, before
    # logins are refused for the rest of the window (429 from the API). None lifts one.
    "FAILED_LOGIN_RATES": {"address": "30/hour", "username": "10/hour"},
    # Largest image accepted, in bytes: uploads to image search, and product images checked by
    # shopguide.validators.validate_product_image.
    "MAX_UPLOAD_BYTES": 5 * 1024 * 1024,
    # Most pixels (width x height) an image may decode to, checked from its header before decoding:
    # a small file can hold a huge image (a 343 KB PNG of 9,400 x 9,400 pixels decodes to 350 MB).
    # Decoding one upload at the limit takes up to about 8 bytes per pixel (RGBA pixels plus one
    # working copy: 122 MB measured at 16 million, bench/image_uploads.py). JPEGs are decoded
    # reduced (up to 8x per side), and the limit applies to the reduced size.
    "MAX_IMAGE_PIXELS": 16_000_000,
}

# Values given as dotted paths and imported on first read.
IMPORT_STRINGS = {"ADAPTER"}

# Defaults and extra keys registered by integration apps (shopguide.contrib.*) through
# register_integration(): between DEFAULTS and the shop's own SHOPGUIDE, which always wins.
INTEGRATION_DEFAULTS: dict[str, Any] = {}
INTEGRATION_KEYS: dict[str, Any] = {}

PRODUCT_FIELD_KEYS = set(DEFAULTS["PRODUCT_FIELDS"])


class ShopguideSettings:
    """Attribute access to ``settings.SHOPGUIDE`` merged over DEFAULTS."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, "SHOPGUIDE", {}) or {}
        if not isinstance(value, dict):
            raise ImproperlyConfigured("SHOPGUIDE must be a dict.")
        valid = set(DEFAULTS) | set(INTEGRATION_KEYS)
        unknown = set(value) - valid
        if unknown:
            raise ImproperlyConfigured(
                f"Unknown SHOPGUIDE setting(s): {', '.join(sorted(unknown))}. Valid keys: {', '.join(sorted(valid))}."
            )
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or (name not in DEFAULTS and name not in INTEGRATION_KEYS):
            raise AttributeError(f"Invalid shopguide setting: {name!r}")
        if name in self._cache:
            return self._cache[name]
        default = INTEGRATION_DEFAULTS.get(name, DEFAULTS[name] if name in DEFAULTS else INTEGRATION_KEYS[name])
        value = self.user_settings.get(name, default)
        if name == "PRODUCT_FIELDS":
            value = _merge_product_fields(value)
        if name in IMPORT_STRINGS and isinstance(value, str):
            try:
                value = import_string(value)
            except ImportError as exc:
                raise ImproperlyConfigured(f"SHOPGUIDE[{name!r}] = {value!r} could not be imported: {exc}") from exc
        self._cache[name] = value
        return value

    def reload(self) -> None:
        self._cache.clear()


def register_integration(*, defaults: dict[str, Any] | None = None, keys: dict[str, Any] | None = None) -> None:
    """Let an integration app (e.g. ``shopguide.contrib.oscar``) configure shopguide for its host.

    ``defaults`` replace DEFAULTS for keys the shop's ``SHOPGUIDE`` leaves out (e.g. the ADAPTER);
    ``keys`` add settings of the integration's own, with their defaults, so a shop may set them in
    ``SHOPGUIDE`` like any other. Call it from the integration's ``AppConfig.ready()``; cached
    values and the adapter are dropped, so the order of INSTALLED_APPS does not matter. Raises
    ImproperlyConfigured for a default of an unknown key or a key that already exists.
    """
    defaults, keys = defaults or {}, keys or {}
    unknown = set(defaults) - set(DEFAULTS) - set(INTEGRATION_KEYS) - set(keys)
    if unknown:
        raise ImproperlyConfigured(f"Defaults for unknown SHOPGUIDE key(s): {', '.join(sorted(unknown))}.")
    taken = set(keys) & set(DEFAULTS)
    if taken:
        raise ImproperlyConfigured(f"SHOPGUIDE key(s) already exist: {', '.join(sorted(taken))}.")
    INTEGRATION_KEYS.update(keys)
    INTEGRATION_DEFAULTS.update(defaults)
    _drop_caches()


def _merge_product_fields(value: dict[str, Any]) -> dict[str, Any]:
    unknown = set(value) - PRODUCT_FIELD_KEYS
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown SHOPGUIDE['PRODUCT_FIELDS'] key(s): {', '.join(sorted(unknown))}. "
            f"Valid keys: {', '.join(sorted(PRODUCT_FIELD_KEYS))}."
        )
    # A shop's partial mapping completes an integration's mapping (e.g. Oscar's), else the defaults.
    merged = {**DEFAULTS["PRODUCT_FIELDS"], **INTEGRATION_DEFAULTS.get("PRODUCT_FIELDS", {}), **value}
    if isinstance(merged["text"], str):
        merged["text"] = [merged["text"]]
    merged["text"] = list(merged["text"] or [])
    return merged


def get_product_model_string() -> str:
    """The ``app_label.ModelName`` of the host's product model."""
    value = getattr(settings, "SHOPGUIDE_PRODUCT_MODEL", None)
    if not value:
        raise ImproperlyConfigured(
            "SHOPGUIDE_PRODUCT_MODEL is not set. Set it to your product model, e.g. "
            "SHOPGUIDE_PRODUCT_MODEL = 'catalog.Product', before the first migrate."
        )
    return value


def get_product_model():
    """The host's product model class, with a clear error for each mistake."""
    from django.apps import apps

    model_string = get_product_model_string()
    try:
        return apps.get_model(model_string, require_ready=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"SHOPGUIDE_PRODUCT_MODEL must be of the form 'app_label.ModelName', got {model_string!r}."
        ) from exc
    except LookupError as exc:
        raise ImproperlyConfigured(
            f"SHOPGUIDE_PRODUCT_MODEL refers to {model_string!r}, which is not installed: "
            "check the app label is in INSTALLED_APPS and the model name is right."
        ) from exc


shopguide_settings = ShopguideSettings()


def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting in ("SHOPGUIDE", "SHOPGUIDE_PRODUCT_MODEL"):
        _drop_caches()


# Callables run after the settings are reloaded, for caches built from them (the adapter registers
# its own): conf imports nothing of shopguide.
_reload_hooks: list[Callable[[], None]] = []


def on_reload(hook: Callable[[], None]) -> Callable[[], None]:
    """Run ``hook`` whenever shopguide's settings change (tests, ``register_integration``)."""
    _reload_hooks.append(hook)
    return hook


def _drop_caches() -> None:
    shopguide_settings.reload()
    for hook in _reload_hooks:
        hook()


setting_changed.connect(_reload_on_change)
