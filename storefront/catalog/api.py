"""A plain REST endpoint of the demo shop: one product as JSON, the way any DRF shop serves it.

It is also the baseline of bench/serving.py: shopguide's endpoints are measured beside it on the
same server, so their latency reads as a multiple of what a shop's ordinary API costs."""

from __future__ import annotations

from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from storefront.catalog.models import Product


class ProductSerializer(serializers.ModelSerializer):
    category = serializers.StringRelatedField()
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Product
        fields = ["id", "sku", "title", "description", "category", "price", "in_stock", "image", "url"]


class ProductDetailView(generics.RetrieveAPIView):
    """GET /api/products/<pk>/: one product (any product, in stock or not)."""

    queryset = Product.objects.select_related("category")
    serializer_class = ProductSerializer
    permission_classes = [AllowAny]
