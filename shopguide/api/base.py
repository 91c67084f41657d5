"""The base of shopguide's API views: JSON in (nesting bounded), JSON out, errors included.

The views name their parsers, renderers and exception handler themselves, so a host's
REST_FRAMEWORK defaults (a browsable HTML renderer, an HTML error page) do not change what
API clients get.
"""

from __future__ import annotations

from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from shopguide.api.errors import exception_handler
from shopguide.api.parsers import JSONParser


class ShopguideAPIView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self):
        return exception_handler
