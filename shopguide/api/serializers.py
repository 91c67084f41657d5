from __future__ import annotations

from django.db.models import Model
from rest_framework import serializers

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.models import InteractionType, ModelVersion
from shopguide.selectors import Recommendations, ScoredProduct


class LimitQuerySerializer(serializers.Serializer):
    k = serializers.IntegerField(required=False, min_value=1)

    def validate_k(self, value: int) -> int:
        limit = shopguide_settings.MAX_LIMIT
        if value > limit:
            raise serializers.ValidationError(f"k must be at most {limit}.")
        return value

    @property
    def limit(self) -> int:
        return self.validated_data.get("k") or shopguide_settings.DEFAULT_LIMIT


class RecommendedItemSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Primary key of the product.")
    sku = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    image = serializers.CharField(allow_null=True)
    score = serializers.FloatField()
    reason = serializers.CharField()

    def to_representation(self, item: ScoredProduct) -> dict:
        adapter = get_adapter()
        product = item.product
        return {
            "id": product.pk,
            "sku": adapter.sku(product),
            "title": adapter.title(product),
            "url": adapter.url(product),
            "image": adapter.image_url(product),
            "score": item.score,
            "reason": item.reason,
        }


class RecommendationsSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(
        allow_null=True, source="version", help_text="Model version that ranked the items."
    )
    source = serializers.CharField(help_text="What answered: image, popular, ...")
    fallback = serializers.BooleanField(help_text="True when a fallback (popularity) answered.")
    results = RecommendedItemSerializer(many=True, source="items")

    def to_representation(self, value: Recommendations) -> dict:
        return {
            "model_version": value.version,
            "source": value.source,
            "fallback": value.fallback,
            "results": [RecommendedItemSerializer(item).data for item in value.items],
        }


class EventSerializer(serializers.Serializer):
    """An event from the browser or the shop's frontend. Give ``product`` (id) or ``sku``."""

    type = serializers.ChoiceField(choices=InteractionType.choices)
    product = serializers.CharField(required=False, help_text="Product id.")
    sku = serializers.CharField(required=False, max_length=200)
    query = serializers.CharField(required=False, allow_blank=True, max_length=500)
    widget = serializers.CharField(required=False, allow_blank=True, max_length=64)
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
    product = serializers.CharField(allow_null=True, source="product_id")
    ts = serializers.DateTimeField()
