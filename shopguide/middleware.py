"""Optional middleware: a database outage answers 503 with Retry-After, not a 500 traceback page.

Add ``"shopguide.middleware.DatabaseUnavailableMiddleware"`` to MIDDLEWARE (after
SecurityMiddleware). While PostgreSQL restarts or fails over, shoppers and API clients get a
short "try again" answer; with ``CONN_HEALTH_CHECKS = True`` the next request reconnects.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("Database unavailable for %s: %s", request.path, exception)
        message = "The shop's database is briefly unavailable; please try again in a few seconds."
        wants_json = "/api/" in request.path or "application/json" in request.headers.get("Accept", "")
        response = JsonResponse({"detail": message}, status=503) if wants_json else HttpResponse(message, status=503, content_type="text/plain")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
