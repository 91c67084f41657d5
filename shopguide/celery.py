"""shopguide's own Celery app, for shops that have none: no ``proj/celery.py`` to write.

``ShopguideConfig.ready()`` loads it only when no Celery app was created before Django's apps were
ready (a project's ``proj/celery.py``, imported by ``proj/__init__.py``, always is). It reads the
``CELERY_*`` settings like the standard Django layout, and a worker runs it with
``DJANGO_SETTINGS_MODULE=proj.settings celery -A shopguide worker -Q shopguide,shopguide.gpu``
(Celery's Django fixup sets Django up in the worker).
"""

from __future__ import annotations

from celery import Celery

app = Celery("shopguide")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The default app, so shared tasks sent from any thread (runserver, gunicorn threads) use it rather
# than Celery's fallback app (amqp://localhost, none of the shop's settings).
app.set_default()
