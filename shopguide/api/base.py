"""The base of shopguide's API views, which makes the API self-contained in any DRF project.

- JSON in (nesting bounded), JSON out, errors included: the views name their parsers, renderers
  and exception handler themselves, so a host's REST_FRAMEWORK defaults (a browsable HTML
  renderer, an HTML error page) do not change what API clients get.
- Basic authentication, where a host enables it, is guarded against password guessing.
- drf-spectacular's schema, whatever the host's ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` (DRF's
  own AutoSchema, coreapi's, or None): drf-spectacular refuses to describe a view without its
  AutoSchema ("Incompatible AutoSchema used on View"), so shopguide's views set it themselves, and
  ``schema/`` leaves the host's other views out (they are the host's to describe).
"""

from __future__ import annotations

from drf_spectacular import utils
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from shopguide.api.authentication import guarded, host_authentication_classes
from shopguide.api.errors import exception_handler
from shopguide.api.parsers import JSONParser


class ShopguideAPIView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    renderer_classes = [JSONRenderer]
    schema = AutoSchema()
    # None: the host's REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"], read when a request comes
    # (DRF reads it once, when the view class is defined). A host that never set it gets sessions
    # only, not DRF's default of sessions plus Basic: Basic hashes a password on every request.
    authentication_classes = None

    def get_exception_handler(self):
        return exception_handler

    def get_authenticators(self):
        classes = self.authentication_classes
        if classes is None:
            classes = (
                api_settings.DEFAULT_AUTHENTICATION_CLASSES
                if host_authentication_classes() is not None
                else [SessionAuthentication]
            )
        return guarded([authenticator() for authenticator in classes])


def extend_schema(**kwargs):
    """drf-spectacular's ``extend_schema`` for a view method, extending drf-spectacular's
    AutoSchema: the original extends the host's DEFAULT_SCHEMA_CLASS as it is when the decorator
    runs, which may be DRF's own (and then the schema endpoint fails)."""
    decorate = utils.extend_schema(**kwargs)

    def decorator(method):
        method.kwargs = {**getattr(method, "kwargs", {}), "schema": AutoSchema}  # what it extends
        return decorate(method)

    return decorator


class ShopguideEndpoints(EndpointEnumerator):
    """Only the endpoints of shopguide's own views, at the paths the host mounted them on."""

    def should_include_endpoint(self, path, callback) -> bool:
        view = getattr(callback, "cls", None)
        return (
            view is not None
            and view.__module__.startswith("shopguide.")
            and super().should_include_endpoint(path, callback)
        )


class ShopguideSchemaGenerator(SchemaGenerator):
    endpoint_inspector_cls = ShopguideEndpoints
