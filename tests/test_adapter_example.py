"""The README's complete adapter (tests/testapp/offers_adapter.py, shown verbatim there) serving a
shop through real HTTP handling and a real training run: prices and currencies from offers, stock
from offers, a category filter that includes the shelves below, hidden articles left out."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from shopguide.services.training import request_training, run_training
from tests.factories import SHELVES, make_articles
from tests.testapp.models import Article, Offer, Shelf

API = "/api/shopguide/"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "testapp" / "offers_adapter.py"


def example_settings() -> dict:
    from django.conf import settings

    return {
        **settings.SHOPGUIDE,
        "ADAPTER": "tests.testapp.offers_adapter.OfferAdapter",
        "PRODUCT_FIELDS": {
            "title": "name",
            "text": ["summary"],
            "sku": "code",
            "category": None,
            "image": None,
            "price": None,
            "in_stock": None,
            "visible": None,
        },
        "CURRENCY": None,  # every currency comes from an offer
    }


@pytest.fixture
def shop(db):
    """30 articles on Rings / Columns / Stripes, Rings under Jewellery; article i has an offer at
    100 + i (out of stock for every 5th) and a dearer one at 500 + i in stock; A-0028 has nothing
    in stock; A-0029 is unpublished."""
    articles = make_articles(30)
    jewellery = Shelf.objects.create(label="Jewellery")
    Shelf.objects.filter(label="Rings").update(parent=jewellery)
    for i, article in enumerate(articles):
        Offer.objects.create(article=article, price=100 + i, currency="CHF", num_in_stock=0 if i % 5 == 0 else 3)
        Offer.objects.create(article=article, price=500 + i, currency="CHF", num_in_stock=1)
    Offer.objects.filter(article="A-0028").update(num_in_stock=0)
    Article.objects.filter(pk="A-0029").update(published=False)
    with override_settings(SHOPGUIDE=example_settings()):
        yield articles


def ids_of(body: dict) -> list:
    return [item["id"] for item in body["results"]]


def test_the_readme_shows_the_example_adapter_verbatim():
    readme = (ROOT / "README.md").read_text()
    code = EXAMPLE.read_text()
    body = code[code.index("class OfferAdapter") :]
    assert body.strip() in readme


def test_prices_currency_stock_categories_and_visibility_come_from_the_adapter(shop, api_client):
    body = api_client.get(f"{API}trending/", {"k": 30}).json()
    listed = ids_of(body)
    assert sorted(listed) == [f"A-{i:04d}" for i in range(28)]  # not A-0028 (no stock), not A-0029 (hidden)
    for item in body["results"]:
        i = int(item["id"].split("-")[1])
        assert item["category"] == SHELVES[i % 3]  # the primary shelf
        assert item["currency"] == "CHF" and item["price"] == (500 + i if i % 5 == 0 else 100 + i)
    everything = ids_of(api_client.get(f"{API}trending/", {"k": 30, "in_stock": "false"}).json())
    assert sorted(everything) == [f"A-{i:04d}" for i in range(29)]  # out of stock may be asked for; hidden never


def test_filters_read_the_cheapest_offer_in_stock_and_the_shelf_tree(shop, api_client):
    cheap = api_client.get(f"{API}trending/", {"k": 30, "max_price": 120}).json()
    assert sorted(ids_of(cheap)) == [f"A-{i:04d}" for i in range(1, 21) if i % 5]
    jewellery = api_client.get(f"{API}trending/", {"k": 30, "category": "jewellery"}).json()
    rings = api_client.get(f"{API}trending/", {"k": 30, "category": "Rings"}).json()
    # Rings are the articles i % 3 == 2 (factories.SHELVES), A-0029 among them hidden: 9 of 10.
    assert sorted(ids_of(rings)) == [f"A-{i:04d}" for i in range(2, 29, 3)]
    assert set(ids_of(jewellery)) == set(ids_of(rings))  # Jewellery has no articles of its own
    assert api_client.get(f"{API}trending/", {"k": 5, "category": "nonsense"}).json()["results"] == []


def test_training_and_related_products_through_the_example_adapter(shop, api_client):
    run = run_training(request_training().pk)
    assert run.status == "succeeded", run.error
    assert {"image", "text"} <= set(run.version.dimensions)  # images read through read_image
    body = api_client.get(f"{API}products/A-0002/related/", {"k": 5, "category": "Jewellery"}).json()
    assert body["source"] == "related" and len(body["results"]) == 5
    assert all(int(pk.split("-")[1]) % 3 == 2 and pk not in ("A-0002", "A-0029") for pk in ids_of(body))
    assert api_client.get(f"{API}products/A-0029/related/").status_code == 404
