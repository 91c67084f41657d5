"""REST endpoints. Views parse input and delegate: no ranking logic here."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shopguide import selectors
from shopguide.adapter import get_adapter
from shopguide.api.serializers import (
    EventSerializer,
    LimitQuerySerializer,
    RecommendationsSerializer,
    RecordedEventSerializer,
)
from shopguide.events import record_request_event

K_PARAMETER = OpenApiParameter("k", int, description="How many items (default 8, at most 100).")


def get_product_or_404(pk: str):
    product = get_adapter().get_by_pk(pk)
    if product is None:
        raise NotFound(f"No product with id {pk!r}.")
    return product


class RelatedProductsView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[K_PARAMETER], responses=RecommendationsSerializer)
    def get(self, request: Request, pk: str) -> Response:
        query = LimitQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        product = get_product_or_404(pk)
        result = selectors.related_products(product=product, k=query.limit)
        return Response(RecommendationsSerializer(result).data)


class EventsView(APIView):
    """Record a customer event for the logged-in user or the anonymous visitor's session."""

    permission_classes = [AllowAny]

    @extend_schema(request=EventSerializer, responses={201: RecordedEventSerializer})
    def post(self, request: Request) -> Response:
        serializer = EventSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        event = record_request_event(
            request._request,
            type=data["type"],
            product=data["product_obj"],
            query=data.get("query", ""),
            widget=data.get("widget", ""),
            model_version=data.get("model_version"),
        )
        if event is None:
            return Response({"detail": "Anonymous events are not recorded."}, status=status.HTTP_202_ACCEPTED)
        return Response(RecordedEventSerializer(event).data, status=status.HTTP_201_CREATED)
