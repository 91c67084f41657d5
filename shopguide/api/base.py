"""The base of shopguide's API views: JSON in (nesting bounded), JSON out, errors included;
Basic authentication, where a host enables it, guarded against password guessing.

The views name their parsers, renderers and exception handler themselves, so a host's
REST_FRAMEWORK defaults (a browsable HTML renderer, an HTML error page) do not change what
API clients get.
"""

from __future__ import annotations

from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from shopguide.api.authentication import guarded
from shopguide.api.errors import exception_handler
from shopguide.api.parsers import JSONParser


class ShopguideAPIView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    renderer_classes = [JSONRenderer]
    # None: the host's REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"], read when a request comes
    # (DRF reads it once, when the view class is defined).
    authentication_classes = None

    def get_exception_handler(self):
        return exception_handler

    def get_authenticators(self):
        classes = self.authentication_classes
        if classes is None:
            classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
        return guarded([authenticator() for authenticator in classes])
