"""shopguide's signal handlers, connected in ``apps.ready``: the top of the layers, where Django's
signals meet the services and the Celery tasks.

The services never import ``shopguide.tasks``; they queue work by task name
(``services.incremental``). Importing the tasks here registers them under those names in every
process that loads shopguide, a web process included.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from shopguide import tasks  # noqa: F401  (registers the task names the services queue by)


@receiver(user_logged_in, dispatch_uid="shopguide_merge_guest_history")
def merge_guest_history_on_login(sender, request, user, **kwargs) -> None:
    # The visitor id is in a signed cookie (or, without the cookie middleware, in the session
    # data, which survives Django's key rotation at login).
    from shopguide.services.events import forget_visitor, merge_visitor_history, visitor_id

    if request is None:
        return
    visitor = visitor_id(request, create=False)
    if visitor:
        merge_visitor_history(visitor=visitor, user=user)
        forget_visitor(request)


@receiver(user_login_failed, dispatch_uid="shopguide_count_failed_login")
def count_failed_login(sender, credentials, request=None, **kwargs) -> None:
    from django.contrib.auth import get_user_model

    from shopguide.services.login_guard import note_login_failure

    username = credentials.get("username") or credentials.get(get_user_model().USERNAME_FIELD)
    note_login_failure(request=request, username=username if isinstance(username, str) else None)


def connect_catalog_signals() -> None:
    """Embed saved products incrementally (called from apps.ready)."""
    from django.core.exceptions import ImproperlyConfigured
    from django.db.models.signals import post_save

    from shopguide.adapter import get_adapter
    from shopguide.services.incremental import on_catalog_change

    try:
        models = get_adapter().watched_models()
    except ImproperlyConfigured:
        return  # reported by the system checks
    for model in models:
        post_save.connect(on_catalog_change, sender=model, dispatch_uid=f"shopguide_embed_{model._meta.label}")
