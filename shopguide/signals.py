"""Signal handlers (connected in apps.ready)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver


@receiver(user_logged_in, dispatch_uid="shopguide_merge_guest_history")
def merge_guest_history_on_login(sender, request, user, **kwargs) -> None:
    # The visitor id lives in the session data, which survives Django's key rotation at login.
    from shopguide.events import VISITOR_SESSION_KEY, merge_visitor_history

    session = getattr(request, "session", None)
    if session is not None and session.get(VISITOR_SESSION_KEY):
        merge_visitor_history(visitor=session[VISITOR_SESSION_KEY], user=user)
