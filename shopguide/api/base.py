"""What makes shopguide's API self-contained in any DRF project: its views carry drf-spectacular's
schema, and its schema endpoint describes only its own endpoints.

A host's ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` may be DRF's own AutoSchema, coreapi's, or
None: drf-spectacular refuses to describe a view without its AutoSchema ("Incompatible AutoSchema
used on View"), so shopguide's views set it themselves, and ``schema/`` leaves the host's other
views out (they are the host's to describe, with whatever schema class it chose).
"""

from __future__ import annotations

from drf_spectacular import utils
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from rest_framework import views


class APIView(views.APIView):
    """DRF's APIView with drf-spectacular's AutoSchema, whatever the host's DEFAULT_SCHEMA_CLASS."""

    schema = AutoSchema()


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
        return view is not None and view.__module__.startswith("shopguide.") and super().should_include_endpoint(path, callback)


class ShopguideSchemaGenerator(SchemaGenerator):
    endpoint_inspector_cls = ShopguideEndpoints
