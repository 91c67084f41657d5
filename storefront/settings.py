"""Settings of the demo shop.

Environment variables (all optional for the demo):
  DATABASE_URL        PostgreSQL with pgvector; unset = the embedded server under var/pgdata.
  CELERY_BROKER_URL   Redis or RabbitMQ; unset = kombu's SQLAlchemy transport on the same PostgreSQL.
  SHOPGUIDE_VAR_DIR   where the embedded database, media files and demo data live (default var/).
  DJANGO_SECRET_KEY, DJANGO_DEBUG (1/0), DJANGO_ALLOWED_HOSTS (comma separated).

Production (DJANGO_DEBUG=0): DJANGO_SECRET_KEY is required, and the site is HTTPS-only (secure
cookies, redirect to HTTPS, HSTS) unless DJANGO_HTTPS=0 (e.g. a benchmark on loopback):
  DJANGO_HTTPS (1/0, default 1), DJANGO_HSTS_SECONDS (default 3600; raise it once HTTPS works),
  DJANGO_HSTS_SUBDOMAINS (1/0, default 1: HSTS for subdomains too, and preload),
  DJANGO_BEHIND_PROXY (1 = trust X-Forwarded-Proto from the reverse proxy that ends TLS),
  DJANGO_TRUSTED_PROXIES (how many proxies of yours append to X-Forwarded-For; default 1 with
  DJANGO_BEHIND_PROXY=1, else 0: throttles and failed-login counts key on the socket address).
`DJANGO_DEBUG=0 DJANGO_SECRET_KEY=... python manage.py check --deploy` is clean.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SHOPGUIDE_VAR_DIR", BASE_DIR / "var"))

DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (a long random string) when DJANGO_DEBUG=0.")
    SECRET_KEY = "demo-only-insecure-key-change-me-" + "x" * 20
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

if not DEBUG and os.environ.get("DJANGO_HTTPS", "1") == "1":
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "3600"))
    # Whole domain HTTPS-only and eligible for browsers' preload lists; set to 0 if a subdomain
    # still needs plain HTTP.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = os.environ.get("DJANGO_HSTS_SUBDOMAINS", "1") == "1"
    if os.environ.get("DJANGO_BEHIND_PROXY") == "1":
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets for the API docs page, served locally
    "shopguide",
    "storefront.catalog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "shopguide.middleware.APIErrorsAsJSONMiddleware",
    "shopguide.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shopguide.middleware.VisitorCookieMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "storefront.urls"
WSGI_APPLICATION = "storefront.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "storefront.catalog.context_processors.categories",
            ]
        },
    }
]

# -- database: DATABASE_URL, or the embedded PostgreSQL + pgvector ------------------------------
DEMO_DB_NAME = "shopguide_demo"
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60, conn_health_checks=True)}
    _default_broker = None
else:
    from storefront import embedded_db

    _server = embedded_db.start(VAR_DIR / "pgdata", database=DEMO_DB_NAME)
    DATABASES = {"default": {**_server.django_database(DEMO_DB_NAME), "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}}
    _default_broker = _server.sqlalchemy_url(DEMO_DB_NAME)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Logins are refused, before a password is hashed, while shopguide counts too many recent failures
# for the address or the username (SHOPGUIDE["FAILED_LOGIN_RATES"]).
AUTHENTICATION_BACKENDS = ["shopguide.auth.ThrottledModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"

# Rankings are cached per process; the throttle and failed-login counts in files all gunicorn
# workers share (a per-process count would multiply every limit by the number of workers).
# A shop with Redis or Memcached points "counters" there.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "counters": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": VAR_DIR / "cache" / "counters",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}

# -- shopguide ---------------------------------------------------------------------------------
SHOPGUIDE_PRODUCT_MODEL = "catalog.Product"
SHOPGUIDE = {
    # Which X-Forwarded-For entry is the client's (see DJANGO_TRUSTED_PROXIES above).
    "THROTTLE_CACHE": "counters",
    "TRUSTED_PROXIES": int(
        os.environ.get("DJANGO_TRUSTED_PROXIES", "1" if os.environ.get("DJANGO_BEHIND_PROXY") == "1" else "0")
    ),
    "CURRENCY": "EUR",
    # Sized so the first `make demo` trains everything in a few minutes on a 2-core CPU.
    "IMAGE_MODEL": {"epochs": 10},
    "TEXT_MODEL": {"epochs": 4},
    "BEHAVIOUR_MODEL": {"epochs": 12},
    "PRODUCT_FIELDS": {
        "title": "title",
        "text": ["description"],
        "category": "category",
        "image": "image",
        "price": "price",
        "in_stock": "in_stock",
        "sku": "sku",
    },
}

# -- Celery: one app in storefront/celery.py, settings prefixed CELERY_ -------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or _default_broker
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Sessions only: Basic authentication hashes a password on every request (see
    # shopguide.api.authentication); a shop that needs it for scripts adds that class here.
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "shopguide API",
    "DESCRIPTION": "Related products, recommendations, search and events.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "shopguide": {"handlers": ["console"], "level": "INFO"},
        "storefront": {"handlers": ["console"], "level": "INFO"},
    },
}
