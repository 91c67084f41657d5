# The Celery app is loaded with Django so that shared tasks (shopguide's) use it.
from storefront.celery import app as celery_app

__all__ = ["celery_app"]
