"""Every error of shopguide's API is JSON, whatever raised it.

``exception_handler`` is the handler of shopguide's views (they name it themselves, so a host's
REST_FRAMEWORK settings need not): DRF's own answers for its exceptions, and for what DRF leaves to
Django's HTML pages: a body or form Django refuses (too large, too many fields: 400), a database
outage (503 with Retry-After), any other failure (500, logged with its traceback as Django logs
one). Errors raised outside a view (an unknown path under the API prefix, a failing middleware)
are turned into JSON by ``shopguide.middleware.APIErrorsAsJSONMiddleware``.
"""

from __future__ import annotations

import logging

from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

request_logger = logging.getLogger("django.request")


def exception_handler(exc: Exception, context: dict) -> Response:
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    set_rollback()
    request = context.get("request")
    path = getattr(request, "path", "")
    if isinstance(exc, SuspiciousOperation):
        # RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent: the message says which limit.
        logging.getLogger(f"django.security.{type(exc).__name__}").warning("%s: %s", path, exc)
        return Response({"detail": str(exc) or "Bad request."}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, (OperationalError, InterfaceError)):
        from shopguide.middleware import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE

        request_logger.warning("Database unavailable for %s: %s", path, exc)
        return Response({"detail": UNAVAILABLE_MESSAGE}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    request_logger.error("Internal Server Error: %s", path, exc_info=exc, extra={"status_code": 500})
    return Response({"detail": "Server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
