"""The Oscar host's Celery app: Celery's standard Django project setup (the README asks every
shop for one), loaded by the package's __init__ as Celery's docs do."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.oscar.settings")
app = Celery("oscar_host")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
