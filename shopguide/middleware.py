"""Middleware: guests' visitor cookie, and a database outage as a 503.

``VisitorCookieMiddleware`` keeps each guest's visitor id in a signed cookie, so tracking guests
writes no database session (see ``shopguide.events``). Add it anywhere in MIDDLEWARE.

``DatabaseUnavailableMiddleware``: a database outage answers 503 with Retry-After, not a 500 page.
Add ``"shopguide.middleware.DatabaseUnavailableMiddleware"`` to MIDDLEWARE (after
SecurityMiddleware) for errors raised in views, and set ``handler500 =
"shopguide.middleware.server_error"`` in your root URLconf for the rest (e.g. a session that
cannot be saved as the response leaves). While PostgreSQL restarts or fails over, shoppers and
API clients get a short "try again" answer; with ``CONN_HEALTH_CHECKS = True`` the next request
reconnects.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


class VisitorCookieMiddleware:
    """Writes the visitor id that ``shopguide.events.visitor_id`` made on this request as a
    signed, HTTP-only, first-party cookie (a year; Secure when the session cookie is), and drops
    it once the guest logged in (their history joined the account)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from shopguide import events

        setattr(request, events.COOKIE_MIDDLEWARE_ATTR, True)
        response = self.get_response(request)
        new = getattr(request, events.SET_COOKIE_ATTR, None)
        if new:
            response.set_signed_cookie(
                events.VISITOR_COOKIE, new, salt=events.VISITOR_COOKIE_SALT, max_age=events.VISITOR_COOKIE_AGE,
                httponly=True, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE,
            )  # fmt: skip
        elif getattr(request, events.DROP_COOKIE_ATTR, False):
            response.delete_cookie(events.VISITOR_COOKIE, samesite="Lax")
        return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("Database unavailable for %s: %s", request.path, exception)
        return database_unavailable(request)


def database_unavailable(request):
    message = "The shop's database is briefly unavailable; please try again in a few seconds."
    wants_json = "/api/" in request.path or "application/json" in request.headers.get("Accept", "")
    response = JsonResponse({"detail": message}, status=503) if wants_json else HttpResponse(message, status=503, content_type="text/plain")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request, *args, **kwargs):
    """``handler500``: a database outage anywhere in the request is a 503; anything else is
    Django's own 500 page."""
    from django.views.defaults import server_error as django_server_error

    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        return database_unavailable(request)
    return django_server_error(request, *args, **kwargs)
