"""Fixtures of the django-oscar suite: a seeded Oscar catalogue (a category tree, standalone,
parent and child products, stock records, images) built with Oscar's own models."""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image

# (root, leaf) categories; product i is in LEAVES[i % 4].
LEAVES = [("Clothing", "Shirts"), ("Clothing", "Trousers"), ("Books", "Fiction"), ("Books", "Cookery")]


def pattern_png(kind: int, seed: int, size: int = 48) -> bytes:
    """A PNG whose pattern is set by ``kind`` (stripes / columns / rings) with per-item noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    period, phase = rng.uniform(6, 10), rng.uniform(0, 6)
    coordinate = [y + phase, x + phase, np.hypot(x - size / 2, y - size / 2) + phase][kind]
    pixels = (127 + 100 * np.sin(coordinate * 2 * np.pi / period) + rng.normal(0, 20, (size, size))).clip(0, 255)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "L").convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Catalogue:
    standalone: list  # public, stocked standalone products
    parent: object  # a parent with children (a T-shirt in sizes)
    children: list
    hidden: object  # is_public=False
    sold_out: object  # a stock record with no net stock
    categories: dict  # name -> Category


@pytest.fixture
def catalogue(db) -> Catalogue:
    from oscar.apps.catalogue.categories import create_from_breadcrumbs
    from oscar.core.loading import get_model

    Product = get_model("catalogue", "Product")
    ProductClass = get_model("catalogue", "ProductClass")
    ProductCategory = get_model("catalogue", "ProductCategory")
    ProductImage = get_model("catalogue", "ProductImage")
    Partner = get_model("partner", "Partner")
    StockRecord = get_model("partner", "StockRecord")

    partner = Partner.objects.create(name="Warehouse")
    kind = ProductClass.objects.create(name="Goods", track_stock=True)
    categories = {}
    for root, leaf in LEAVES:
        category = create_from_breadcrumbs(f"{root} > {leaf}")
        categories[leaf] = category
        categories[root] = category.get_parent()

    def product(i: int, **fields):
        item = Product.objects.create(
            product_class=kind,
            upc=f"UPC-{i:03d}",
            title=fields.pop("title", f"{LEAVES[i % 4][1]} item {i}"),
            description=f"<p>A <strong>{LEAVES[i % 4][1].lower()}</strong> pattern &amp; more.</p>",
            **fields,
        )
        ProductCategory.objects.create(product=item, category=categories[LEAVES[i % 4][1]])
        image = ProductImage(product=item, display_order=0)
        image.original.save(f"p{i}.png", ContentFile(pattern_png(i % 3, seed=i)), save=True)
        return item

    standalone = []
    for i in range(24):
        item = product(i)
        StockRecord.objects.create(
            product=item,
            partner=partner,
            partner_sku=f"SKU-{i}",
            price=Decimal(10 + i),
            price_currency="EUR",
            num_in_stock=5,
        )
        standalone.append(item)
    parent = product(100, title="Striped shirt", structure=Product.PARENT)
    children = []
    for n, size in enumerate(["S", "M"]):
        child = Product.objects.create(parent=parent, structure=Product.CHILD, upc=f"UPC-100-{size}", title="")
        StockRecord.objects.create(
            product=child,
            partner=partner,
            partner_sku=f"SKU-100-{size}",
            price=Decimal("19.50") + n,
            price_currency="EUR",
            num_in_stock=3,
        )
        children.append(child)
    hidden = product(101, is_public=False)
    StockRecord.objects.create(
        product=hidden, partner=partner, partner_sku="SKU-101", price=Decimal(12), num_in_stock=5
    )
    sold_out = product(102)
    StockRecord.objects.create(
        product=sold_out, partner=partner, partner_sku="SKU-102", price=Decimal(15), num_in_stock=2, num_allocated=2
    )
    return Catalogue(standalone, parent, children, hidden, sold_out, categories)


@pytest.fixture
def customer(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="ann", email="ann@example.com", password="secret-pass-1")


@pytest.fixture
def staff(db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(
        username="boss", email="boss@example.com", password="secret-pass-1", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="retrain", content_type__app_label="shopguide"))
    return user


@pytest.fixture
def shipping_country(db):
    from oscar.core.loading import get_model

    return get_model("address", "Country").objects.create(
        iso_3166_1_a2="GB",
        iso_3166_1_a3="GBR",
        iso_3166_1_numeric="826",
        printable_name="United Kingdom",
        name="United Kingdom",
        is_shipping_country=True,
    )
