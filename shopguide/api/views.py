"""REST endpoints. Views parse input, check permissions and delegate: no ranking logic here."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.http import urlencode
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from shopguide import selectors
from shopguide.api.base import ShopguideAPIView, extend_schema  # drf-spectacular's schema, whatever the host's default
from shopguide.api.serializers import (
    EventSerializer,
    ImageSearchSerializer,
    ProfileSerializer,
    RecommendationsQuerySerializer,
    RecommendationsSerializer,
    RecordedEventSerializer,
    RelatedQuerySerializer,
    SearchQuerySerializer,
    SearchResultsSerializer,
    TrendingQuerySerializer,
)
from shopguide.api.throttling import EventsThrottle, ImageSearchThrottle, SearchThrottle
from shopguide.conf import shopguide_settings
from shopguide.selectors.profiles import VIEW_CUSTOMER_PERMISSION, may_view_customer
from shopguide.services.events import record_request_event, visitor_id

ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad input: the fields at fault, each with messages."),
    401: OpenApiResponse(OpenApiTypes.OBJECT, description="Not logged in (`detail` says so)."),
    403: OpenApiResponse(OpenApiTypes.OBJECT, description="Not allowed (`detail` says why)."),
    404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such product or customer (`detail`)."),
    415: OpenApiResponse(OpenApiTypes.OBJECT, description="Unsupported content type (`detail`)."),
    # Answered by the web server in front of Django (gunicorn: a request line over 4,094 bytes):
    # any operation can get it, however its parameters are limited.
    414: OpenApiResponse(description="URI too long for the web server."),
    429: OpenApiResponse(OpenApiTypes.OBJECT, description="Throttled: `detail` says when to retry."),
}


def responses(ok: dict, *error_codes: int) -> dict:
    """The success responses plus the documented error responses of an endpoint (414: all)."""
    return {**ok, **{code: ERRORS[code] for code in (*error_codes, 414)}}


def get_user_or_404(username: str):
    User = get_user_model()
    user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first() if "\x00" not in username else None
    if user is None:
        raise NotFound(f"No customer {username!r}.")
    return user


def parse_query(serializer_class, request: Request):
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer


class RelatedProductsView(ShopguideAPIView):
    """Products related to one product: fused over image, text and co-behaviour, or one space."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[RelatedQuerySerializer], responses=responses({200: RecommendationsSerializer}, 400, 404))
    def get(self, request: Request, pk: str) -> Response:
        query = parse_query(RelatedQuerySerializer, request)
        result = selectors.related_products_of(
            pk, k=query.limit, filters=query.filters, space=query.validated_data.get("space")
        )
        if result is None:
            raise NotFound(f"No product with id {pk!r}.")
        return Response(RecommendationsSerializer(result).data)


class RecommendationsView(ShopguideAPIView):
    """Personal recommendations for the logged-in customer or the guest's session. Staff with the
    ``shopguide.view_customer`` permission may pass ``user=<username>`` to see a customer's list."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[RecommendationsQuerySerializer],
        responses=responses({200: RecommendationsSerializer}, 400, 403, 404),
    )
    def get(self, request: Request) -> Response:
        query = parse_query(RecommendationsQuerySerializer, request)
        username = query.validated_data.get("user")
        user, visitor = None, None
        if username:
            if not may_view_customer(viewer=request.user, username=username):
                raise PermissionDenied(
                    f"Another customer's recommendations need the {VIEW_CUSTOMER_PERMISSION} permission."
                )
            user = get_user_or_404(username)
        elif request.user.is_authenticated:
            user = request.user
        else:
            visitor = visitor_id(request._request, create=False)
        result = selectors.recommended_for(
            user=user,
            visitor=visitor,
            cart_ids=query.validated_data.get("cart") or (),
            k=query.limit,
            filters=query.filters,
        )
        return Response(RecommendationsSerializer(result).data)


class TrendingView(ShopguideAPIView):
    """What shoppers interacted with most lately (optionally in one category)."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[TrendingQuerySerializer], responses=responses({200: RecommendationsSerializer}, 400))
    def get(self, request: Request) -> Response:
        query = parse_query(TrendingQuerySerializer, request)
        result = selectors.trending(k=query.limit, filters=query.filters)
        return Response(RecommendationsSerializer(result).data)


class SearchView(ShopguideAPIView):
    """Hybrid search: the text model's neighbours fused with PostgreSQL full-text and trigram rank."""

    permission_classes = [AllowAny]
    throttle_classes = [SearchThrottle]

    @extend_schema(parameters=[SearchQuerySerializer], responses=responses({200: SearchResultsSerializer}, 400, 429))
    def get(self, request: Request) -> Response:
        query = parse_query(SearchQuerySerializer, request)
        data = query.validated_data
        # Results end at MAX_LIMIT: the last page is cut short rather than refused.
        offset = data["offset"]
        k = min(query.limit, shopguide_settings.MAX_LIMIT - offset)
        result = selectors.search_products(query=data["q"], k=offset + k, filters=query.filters)
        full_page = len(result.items) == offset + k
        result.items = result.items[offset:]
        body = RecommendationsSerializer(result).data
        body["query"] = data["q"]
        body["next"] = None
        if full_page and offset + k < shopguide_settings.MAX_LIMIT:
            params = request.query_params.copy()
            params["offset"] = str(offset + k)
            body["next"] = request.build_absolute_uri(f"{request.path}?{urlencode(params, doseq=True)}")
        return Response(body)


class ImageSearchView(ShopguideAPIView):
    """Search by image: products that look like the uploaded photo (multipart field ``image``)."""

    permission_classes = [AllowAny]
    throttle_classes = [ImageSearchThrottle]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImageSearchSerializer},
        responses=responses({200: RecommendationsSerializer}, 400, 415, 429),
    )
    def post(self, request: Request) -> Response:
        serializer = ImageSearchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["image"]
        data = upload.read(shopguide_settings.MAX_UPLOAD_BYTES + 1)
        k = serializer.validated_data.get("k") or shopguide_settings.DEFAULT_LIMIT
        try:
            result = selectors.search_by_image(data=data, k=k)
        except selectors.InvalidImage as exc:
            raise ValidationError({"image": [str(exc)]}) from exc
        return Response(RecommendationsSerializer(result).data)


class MyProfileView(ShopguideAPIView):
    """The logged-in customer's profile: category affinities, segments, recent history."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=responses({200: ProfileSerializer}, 401, 403))
    def get(self, request: Request) -> Response:
        return Response(ProfileSerializer(selectors.customer_profile(request.user)).data)


class CustomerProfileView(ShopguideAPIView):
    """A customer's profile, for the customer and for staff with the ``shopguide.view_customer``
    permission."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=responses({200: ProfileSerializer}, 401, 403, 404))
    def get(self, request: Request, username: str) -> Response:
        if not may_view_customer(viewer=request.user, username=username):
            raise PermissionDenied(
                f"A profile is visible to its customer and to staff with the {VIEW_CUSTOMER_PERMISSION} "
                "permission only."
            )
        return Response(ProfileSerializer(selectors.customer_profile(get_user_or_404(username))).data)


class EventsView(ShopguideAPIView):
    """Record a customer event for the logged-in user or the anonymous visitor's session."""

    permission_classes = [AllowAny]
    throttle_classes = [EventsThrottle]

    @extend_schema(
        request=EventSerializer,
        responses=responses(
            {
                201: RecordedEventSerializer,
                202: OpenApiResponse(OpenApiTypes.OBJECT, description="Not recorded (anonymous tracking off)."),
            },
            400,
            415,
            429,
        ),
    )
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
