"""Settings of the test host shop (tests/testapp): custom user, differently shaped products.

PostgreSQL: TEST_DATABASE_URL if set, otherwise an embedded PostgreSQL + pgvector under var/.
Values that a worker subprocess must share (media folder, queue names) go through environment
variables that this module sets once, so the child inherits them.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

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
    "tests.testapp",
]
MIDDLEWARE = [
    "shopguide.middleware.APIErrorsAsJSONMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shopguide.middleware.VisitorCookieMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tests" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "testapp.Customer"
# Logins refused, before a password is hashed, after too many recent failures (FAILED_LOGIN_RATES).
AUTHENTICATION_BACKENDS = ["shopguide.auth.ThrottledModelBackend"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only

# -- database -------------------------------------------------------------------------------------
TEST_DB = "shopguide_tests"
if os.environ.get("TEST_DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["TEST_DATABASE_URL"])}
else:
    from storefront import embedded_db

    _server = embedded_db.start(BASE_DIR / "var" / "test-pgdata", database=TEST_DB)
    os.environ.setdefault("SHOPGUIDE_TEST_PG_URL", _server.database_url("postgres"))
    DATABASES = {"default": _server.django_database(TEST_DB)}
# A worker subprocess must use the database pytest-django created (test_<name>).
if os.environ.get("SHOPGUIDE_TESTS_IN_WORKER"):
    DATABASES["default"]["NAME"] = "test_" + DATABASES["default"]["NAME"]

os.environ.setdefault("SHOPGUIDE_TEST_MEDIA", tempfile.mkdtemp(prefix="shopguide-test-media-"))
MEDIA_ROOT = os.environ["SHOPGUIDE_TEST_MEDIA"]
MEDIA_URL = "/media/"

# -- shopguide --------------------------------------------------------------------------------------
SHOPGUIDE_PRODUCT_MODEL = "testapp.Article"
os.environ.setdefault("SHOPGUIDE_TEST_QUEUE", f"t{uuid.uuid4().hex[:8]}")
SHOPGUIDE = {
    "ADAPTER": "tests.testapp.adapter.ArticleAdapter",
    "PRODUCT_FIELDS": {
        "title": "name",
        "text": ["summary"],
        "category": None,
        "image": None,
        "price": "cost",
        "in_stock": "available",
        "sku": "code",
        "visible": "published",
    },
    "CURRENCY": "EUR",
    "DEVICE": "cpu",
    # Tiny and fast: the tests check the plumbing, the benchmark checks quality.
    # The scratch CNN only: the pretrained backbone has its own tests (tests/ml, test_image_backbone).
    "IMAGE_MODEL": {"backbone": "scratch", "epochs": 2, "width": 8, "embedding_dim": 16, "batch_size": 32},
    "TEXT_MODEL": {"epochs": 2, "embedding_dim": 16, "piece_dim": 16, "hidden_dim": 16, "batch_size": 32},
    "BEHAVIOUR_MODEL": {"epochs": 3, "embedding_dim": 16, "hidden_dim": 16, "batch_size": 16},
    "GPU_QUEUE": f"shopguide.gpu.{os.environ['SHOPGUIDE_TEST_QUEUE']}",
    "QUEUE": f"shopguide.{os.environ['SHOPGUIDE_TEST_QUEUE']}",
}


# -- Celery: Redis when it answers, otherwise kombu's SQLAlchemy transport on the test database --------
def _redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


if "SHOPGUIDE_TEST_BROKER" not in os.environ:
    if _redis_answers():
        os.environ["SHOPGUIDE_TEST_BROKER"] = "redis://127.0.0.1:6379/15"
    else:
        db = DATABASES["default"]
        os.environ["SHOPGUIDE_TEST_BROKER"] = (
            f"sqla+postgresql+psycopg://{db['USER']}:{db.get('PASSWORD') or ''}@"
            f"{db['HOST'] if not db['HOST'].startswith('/') else ''}"
            f"{':' + str(db['PORT']) if db.get('PORT') and not db['HOST'].startswith('/') else ''}/test_{db['NAME']}"
            + (f"?host={db['HOST']}&port={db.get('PORT') or 5432}" if db["HOST"].startswith("/") else "")
        )
CELERY_BROKER_URL = os.environ["SHOPGUIDE_TEST_BROKER"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

REST_FRAMEWORK = {
    # No DEFAULT_SCHEMA_CLASS: like many shops, the host keeps DRF's own (shopguide's views and
    # schema endpoint bring drf-spectacular's themselves; tests/test_host_serving.py).
    # Sessions only: Basic authentication hashes a password on every request (see
    # shopguide.api.authentication); a shop that needs it for scripts adds that class here.
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
}
SPECTACULAR_SETTINGS = {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}
