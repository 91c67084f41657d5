from tests.oscar.celery_app import app as celery_app  # noqa: F401  (as a Celery project does)
