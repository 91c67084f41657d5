from __future__ import annotations

import copy

from django.db.models import IntegerField, Model
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.models import InteractionType, ModelVersion
from shopguide.selectors import ProductFilters, Recommendations, ScoredProduct
from shopguide.selectors.profiles import CustomerProfile
from shopguide.spaces import spaces

MAX_EXCLUDED = 100


def product_ids(value: str, *, what: str) -> list:
    """Comma-separated product ids, converted to the product model's key type."""
    from django.core.exceptions import ValidationError as DjangoValidationError

    pk_field = get_adapter().model._meta.pk
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if len(parts) > MAX_EXCLUDED:
        raise serializers.ValidationError(f"At most {MAX_EXCLUDED} {what}.")
    ids = []
    for part in parts:
        try:
            ids.append(pk_field.to_python(part))
        except (DjangoValidationError, ValueError, TypeError):
            raise serializers.ValidationError(f"{part!r} is not a product id.") from None
    return ids


def integer_product_key() -> bool:
    """True when the product model's primary key is an integer (through a parent link too)."""
    field = get_adapter().model._meta.pk
    while getattr(field, "target_field", None) is not None and field.target_field is not field:
        field = field.target_field  # a multi-table child's pk is its parent's
    return isinstance(field, IntegerField)  # AutoField and BigAutoField are IntegerFields


def json_pk(pk):
    """A product key as JSON keeps its type: a number for an integer key (``"id": 188``), else
    its string form (a UUID, a code)."""
    if pk is None or (isinstance(pk, int) and not isinstance(pk, bool)):
        return pk
    return str(pk)


class ProductIdField(serializers.Field):
    """A product's primary key, output as ``json_pk`` gives it; the OpenAPI schema says integer
    or string after the host's product model (see ProductIdFieldExtension)."""

    def to_representation(self, value):
        return json_pk(value)


class ProductIdFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ProductIdField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "integer"} if integer_product_key() else {"type": "string"}


def _limit_field(**kwargs) -> serializers.IntegerField:
    # The schema shows the limit in force when it was built; validate_k checks the current one.
    return serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=shopguide_settings.MAX_LIMIT,
        help_text=f"How many items (default {shopguide_settings.DEFAULT_LIMIT}, at most "
        f"{shopguide_settings.MAX_LIMIT}).",
        **kwargs,
    )


class QuerySerializer(serializers.Serializer):
    """Query-string parameters: a typed parameter given blank (``?k=``) is an error, not absent
    (DRF would skip it silently; the schema says it must be a number). String parameters are
    not trimmed before their length is checked (trim_whitespace=False): the schema's maxLength
    counts every character."""

    def get_fields(self) -> dict:
        # Every request parses its query string: DRF deep-copies each declared field for it, which
        # costs more than the validation. These fields are flat (no nested serializer or child
        # field) and validating never changes a field's options, so a shallow copy to bind is enough.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    def to_internal_value(self, data):
        blank = {
            name: ["A value is required when the parameter is given."]
            for name, field in self.fields.items()
            if not isinstance(field, serializers.CharField) and hasattr(data, "getlist") and "" in data.getlist(name)
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)


class LimitQuerySerializer(QuerySerializer):
    k = _limit_field()

    def validate_k(self, value: int) -> int:
        limit = shopguide_settings.MAX_LIMIT
        if value > limit:
            raise serializers.ValidationError(f"k must be at most {limit}.")
        return value

    @property
    def limit(self) -> int:
        return self.validated_data.get("k") or shopguide_settings.DEFAULT_LIMIT


class FilteredQuerySerializer(LimitQuerySerializer):
    """``k`` plus the filters every list accepts."""

    category = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=100,
        help_text="Category id, slug or name. A value that names no category gives an empty list (not an error).",
    )
    min_price = serializers.FloatField(required=False, min_value=0, max_value=1e12)
    max_price = serializers.FloatField(required=False, min_value=0, max_value=1e12)
    exclude = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=5000,
        help_text=f"Comma-separated product ids to leave out (at most {MAX_EXCLUDED}).",
    )
    in_stock = serializers.BooleanField(
        required=False, default=True, help_text="Only products in stock (default true)."
    )

    def validate_exclude(self, value: str) -> list:
        return product_ids(value, what="excluded ids")

    def validate(self, data: dict) -> dict:
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_price": "min_price must not be above max_price."})
        return data

    @property
    def filters(self) -> ProductFilters:
        data = self.validated_data
        return ProductFilters(
            in_stock=data.get("in_stock", True),
            category=data.get("category") or None,
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            exclude_ids=tuple(data.get("exclude") or ()),
        )


class SpaceField(serializers.ChoiceField):
    """One of the registered spaces (shopguide.spaces), choices and help read when it is bound."""

    def __init__(self, **kwargs):
        super().__init__(choices=(), **kwargs)

    def bind(self, field_name, parent):
        super().bind(field_name, parent)
        self.choices = list(spaces())
        labels = ", ".join(space.label for space in spaces().values())
        self.help_text = f"Only one space: {labels}. Default: all, fused."


class RelatedQuerySerializer(FilteredQuerySerializer):
    space = SpaceField(required=False)


class RecommendationsQuerySerializer(FilteredQuerySerializer):
    user = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=254,
        help_text="Needs the shopguide.view_customer permission: recommendations for this username.",
    )
    cart = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=5000,
        help_text="Comma-separated product ids in the current cart.",
    )

    def validate_cart(self, value: str) -> list:
        return product_ids(value, what="cart items")


class TrendingQuerySerializer(FilteredQuerySerializer):
    pass


class SearchQuerySerializer(FilteredQuerySerializer):
    q = serializers.CharField(trim_whitespace=False, max_length=200, help_text="What the customer typed.")
    offset = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=shopguide_settings.MAX_LIMIT - 1,
        default=0,
        help_text="Skip this many results (paging); results end at the limit (100).",
    )

    def validate_q(self, value: str) -> str:
        if "\x00" in value:
            raise serializers.ValidationError("The query must not contain NUL characters.")
        value = " ".join(value.split())
        if not value:
            raise serializers.ValidationError("The query must not be blank.")
        return value

    def validate_offset(self, value: int) -> int:
        if value >= shopguide_settings.MAX_LIMIT:
            raise serializers.ValidationError(f"offset must be below {shopguide_settings.MAX_LIMIT}.")
        return value


class ImageSearchSerializer(QuerySerializer):
    image = serializers.FileField(help_text="The photo to search with (JPEG, PNG, WebP, ...).")
    k = _limit_field()

    def validate_k(self, value: int) -> int:
        return LimitQuerySerializer().validate_k(value)

    def validate_image(self, value):
        # Refused by its size before it is read; its content is checked by search_by_image.
        from shopguide.uploads import InvalidImage, check_upload_size

        try:
            check_upload_size(value.size)
        except InvalidImage as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value


class RecommendedItemSerializer(serializers.Serializer):
    id = ProductIdField(help_text="Primary key of the product: a number for an integer key, else a string.")
    sku = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    image = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    price = serializers.FloatField(allow_null=True, help_text="The price, in `currency`.")
    currency = serializers.CharField(
        allow_null=True, help_text="ISO 4217 code of the price (e.g. EUR); null when the shop does not say."
    )
    score = serializers.FloatField()
    reason = serializers.CharField(help_text="Why this item: looks like X, bought together with Y, popular in C, ...")

    def to_representation(self, item: ScoredProduct) -> dict:
        return item_representation(item)


def item_representation(item: ScoredProduct) -> dict:
    return product_representation(item.product) | {"score": item.score, "reason": item.reason}


def product_representation(product: Model) -> dict:
    adapter = get_adapter()
    return {
        "id": json_pk(product.pk),
        "sku": adapter.sku(product),
        "title": adapter.title(product),
        "url": adapter.url(product),
        "image": adapter.image_url(product),
        "category": adapter.category(product),
        "price": adapter.price(product),
        "currency": adapter.currency(product),
    }


class RecommendationsSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(
        allow_null=True, source="version", help_text="Model version that ranked the items."
    )
    source = serializers.CharField(
        help_text="What answered: related, image, text, behaviour, personal, hybrid, image-search; "
        "fallbacks: trending, popular, fulltext."
    )
    fallback = serializers.BooleanField(help_text="True when a fallback (popularity) answered.")
    results = RecommendedItemSerializer(many=True, source="items")

    def to_representation(self, value: Recommendations) -> dict:
        return {
            "model_version": value.version,
            "source": value.source,
            "fallback": value.fallback,
            # Built directly: a serializer instance per item (DRF copies its fields) would cost
            # more than the rest of a stored list's answer.
            "results": [item_representation(item) for item in value.items],
        }


class EventSerializer(serializers.Serializer):
    """An event from the browser or the shop's frontend. Give ``product`` (id) or ``sku``."""

    type = serializers.ChoiceField(choices=InteractionType.choices)
    product = serializers.CharField(required=False, help_text="Product id.")
    sku = serializers.CharField(required=False, trim_whitespace=False, max_length=200)
    query = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=500)
    widget = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=64)
    model_version = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    def validate(self, data: dict) -> dict:
        adapter = get_adapter()
        product: Model | None = None
        if data.get("product"):
            product = adapter.get_by_pk(data["product"])
            if product is None:
                raise serializers.ValidationError({"product": f"No product with id {data['product']!r}."})
        elif data.get("sku"):
            product = adapter.get_by_sku(data["sku"])
            if product is None:
                raise serializers.ValidationError({"sku": f"No product with sku {data['sku']!r}."})
        if data["type"] == InteractionType.SEARCH:
            if not (data.get("query") or "").strip():
                raise serializers.ValidationError({"query": "A search event needs a query."})
        elif product is None:
            raise serializers.ValidationError({"product": "This event type needs a product (id) or a sku."})
        version = data.get("model_version")
        if version is not None and not ModelVersion.objects.filter(pk=version).exists():
            raise serializers.ValidationError({"model_version": f"No model version {version}."})
        data["product_obj"] = product
        return data


class RecordedEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    product = ProductIdField(allow_null=True, source="product_id")
    ts = serializers.DateTimeField()


class SearchResultsSerializer(RecommendationsSerializer):
    query = serializers.CharField()
    next = serializers.CharField(allow_null=True, help_text="URL of the next page, if there may be one.")


class ProductBriefSerializer(serializers.Serializer):
    id = ProductIdField()
    sku = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField(allow_null=True)


class RecentEventSerializer(serializers.Serializer):
    type = serializers.CharField()
    ts = serializers.DateTimeField()
    query = serializers.CharField(allow_blank=True)
    product = ProductBriefSerializer(allow_null=True)


class CategoryAffinitySerializer(serializers.Serializer):
    category = serializers.CharField()
    share = serializers.FloatField(help_text="Share of the customer's weighted recent events in this category.")


class SegmentEstimateSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    probability = serializers.FloatField(allow_null=True, help_text="Predicted by the active version.")
    labelled = serializers.BooleanField(allow_null=True, help_text="True/False when labelled by staff, import or rule.")


class ProfileSerializer(serializers.Serializer):
    username = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    has_vector = serializers.BooleanField()
    event_counts = serializers.DictField(child=serializers.IntegerField())
    category_affinities = CategoryAffinitySerializer(many=True)
    segments = SegmentEstimateSerializer(many=True)
    recent = RecentEventSerializer(many=True)

    def to_representation(self, profile: CustomerProfile) -> dict:
        return {
            "username": profile.user.get_username(),
            "model_version": profile.version,
            "has_vector": profile.has_vector,
            "event_counts": profile.event_counts,
            "category_affinities": [{"category": c, "share": s} for c, s in profile.category_affinities],
            "segments": [vars(segment) for segment in profile.segments],
            "recent": [
                {
                    "type": e.type,
                    "ts": serializers.DateTimeField().to_representation(e.ts),
                    "query": e.query,
                    "product": _brief(e.product),
                }
                for e in profile.recent
            ],
        }


def _brief(product: Model | None) -> dict | None:
    if product is None:
        return None
    full = product_representation(product)
    return {key: full[key] for key in ("id", "sku", "title", "url")}
