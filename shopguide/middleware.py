"""Middleware: guests' visitor cookie, a database outage as a 503, and API errors as JSON.

``VisitorCookieMiddleware`` keeps each guest's visitor id in a signed cookie, so tracking guests
writes no database session (see ``shopguide.services.events``). Add it anywhere in MIDDLEWARE.

``DatabaseUnavailableMiddleware``: a database outage answers 503 with Retry-After, not a 500 page.
Add ``"shopguide.middleware.DatabaseUnavailableMiddleware"`` to MIDDLEWARE (after
SecurityMiddleware) for errors raised in views, and set ``handler500 =
"shopguide.middleware.server_error"`` in your root URLconf for the rest (e.g. a session that
cannot be saved as the response leaves). While PostgreSQL restarts or fails over, shoppers and
API clients get a short "try again" answer; with ``CONN_HEALTH_CHECKS = True`` the next request
reconnects.

Add ``"shopguide.middleware.APIErrorsAsJSONMiddleware"`` right after SecurityMiddleware too: an
error answered outside shopguide's views under the API prefix (an unknown path, a refused body,
a failing middleware) is then JSON ``{"detail": ...}`` like every error of the views themselves.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.urls import NoReverseMatch, reverse

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = "The shop's database is briefly unavailable; please try again in a few seconds."


class VisitorCookieMiddleware:
    """Writes the visitor id that ``shopguide.services.events.visitor_id`` made on this request as a
    signed, HTTP-only, first-party cookie (a year; Secure when the session cookie is), and drops
    it once the guest logged in (their history joined the account)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from shopguide.services import events

        setattr(request, events.COOKIE_MIDDLEWARE_ATTR, True)
        response = self.get_response(request)
        new = getattr(request, events.SET_COOKIE_ATTR, None)
        if new:
            response.set_signed_cookie(
                events.VISITOR_COOKIE,
                new,
                salt=events.VISITOR_COOKIE_SALT,
                max_age=events.VISITOR_COOKIE_AGE,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
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
    message = UNAVAILABLE_MESSAGE
    wants_json = "/api/" in request.path or "application/json" in request.headers.get("Accept", "")
    response = (
        JsonResponse({"detail": message}, status=503)
        if wants_json
        else HttpResponse(message, status=503, content_type="text/plain")
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request, *args, **kwargs):
    """``handler500``: a database outage anywhere in the request is a 503; anything else is
    Django's own 500 page."""
    from django.views.defaults import server_error as django_server_error

    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        return database_unavailable(request)
    return django_server_error(request, *args, **kwargs)


class APIErrorsAsJSONMiddleware:
    """Error responses (400 and above) under shopguide's API prefix that are not JSON become
    ``{"detail": <the status's reason>}`` with the same status and headers (Retry-After, Allow)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
            return response
        prefix = api_prefix(getattr(request, "urlconf", None))
        if prefix is None or not request.path.startswith(prefix):
            return response
        json_response = JsonResponse({"detail": response.reason_phrase}, status=response.status_code)
        for header in ("Retry-After", "Allow", "WWW-Authenticate", "Vary"):
            if header in response:
                json_response[header] = response[header]
        return json_response


def api_prefix(urlconf=None) -> str | None:
    """The path under which the host included ``shopguide.api.urls`` (None: not included)."""
    try:
        return reverse("shopguide-api:schema", urlconf=urlconf).removesuffix("schema/")
    except NoReverseMatch:
        return None
