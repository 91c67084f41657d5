"""shopguide for django-oscar: add ``"shopguide.contrib.oscar"`` to INSTALLED_APPS and set
``SHOPGUIDE_PRODUCT_MODEL = "catalogue.Product"``; the app configures the adapter, records
Oscar's events and offers the backfill, partials, search view and dashboard pages."""
