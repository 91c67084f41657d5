"""A fresh django-oscar 4.2.1 shop, set up as Oscar's documentation says, plus shopguide's
installation as the README's "django-oscar" section gives it (marked below: nothing else).

Runs in its own pytest process (``pytest tests/oscar --ds=tests.oscar.settings``) on its own
database of the same embedded PostgreSQL server as tests/settings.py.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from oscar.defaults import *  # noqa: F403  (Oscar's documented way to get its defaults)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SECRET_KEY = "oscar-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
SITE_ID = 1
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "oscar.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    "oscar.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig",
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    "widget_tweaks",
    "haystack",
    "treebeard",
    "sorl.thumbnail",
    "django_tables2",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ROOT_URLCONF = "tests.oscar.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tests" / "oscar" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
            ]
        },
    }
]
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
OSCAR_ALLOW_ANON_CHECKOUT = True
OSCAR_DEFAULT_CURRENCY = "EUR"

os.environ.setdefault("SHOPGUIDE_OSCAR_TEST_MEDIA", tempfile.mkdtemp(prefix="shopguide-oscar-media-"))
MEDIA_ROOT = os.environ["SHOPGUIDE_OSCAR_TEST_MEDIA"]
MEDIA_URL = "/media/"

# -- database: its own, on the embedded server the main suite uses -------------------------------
TEST_DB = os.environ.get("SHOPGUIDE_OSCAR_DB", "shopguide_oscar_tests")  # bench.oscar_history uses its own
if os.environ.get("TEST_DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["TEST_DATABASE_URL"])}
    DATABASES["default"]["NAME"] = TEST_DB
else:
    from storefront import embedded_db

    DATABASES = {
        "default": embedded_db.start(BASE_DIR / "var" / "test-pgdata", database=TEST_DB).django_database(TEST_DB)
    }

# -- the README's "django-oscar" installation, as a shop would write it ---------------------------
INSTALLED_APPS += ["rest_framework", "drf_spectacular", "shopguide", "shopguide.contrib.oscar"]
MIDDLEWARE += ["shopguide.middleware.VisitorCookieMiddleware"]
SHOPGUIDE_PRODUCT_MODEL = "catalogue.Product"
SHOPGUIDE = {"OSCAR_RECOMMENDATIONS": 6}
from shopguide.contrib.oscar.dashboard import DASHBOARD_NAVIGATION as SHOPGUIDE_NAVIGATION  # noqa: E402

OSCAR_DASHBOARD_NAVIGATION += [SHOPGUIDE_NAVIGATION]  # noqa: F405
CELERY_BROKER_URL = "memory://"  # the shop's broker; these tests train in-process
# -- end of the README's installation -------------------------------------------------------------

# Tiny, fast models and per-run queue names (test-only, not part of the installation).
_queue = f"t{uuid.uuid4().hex[:8]}"
SHOPGUIDE.update(
    {
        "DEVICE": "cpu",
        "IMAGE_MODEL": {"epochs": 2, "width": 8, "embedding_dim": 16, "batch_size": 32},
        "TEXT_MODEL": {"epochs": 2, "embedding_dim": 16, "piece_dim": 16, "hidden_dim": 16, "batch_size": 32},
        "BEHAVIOUR_MODEL": {"epochs": 3, "embedding_dim": 16, "hidden_dim": 16, "batch_size": 16},
        "QUEUE": f"shopguide.{_queue}",
        "GPU_QUEUE": f"shopguide.gpu.{_queue}",
        "REFRESH_USERS_ON_EVENT": False,  # no worker in these tests: nothing to queue
        "EMBED_ON_SAVE": False,
    }
)
