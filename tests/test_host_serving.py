"""Serving respects the host shop: what the adapter hides is never listed and its related/ is a
404, prices carry their currency, ids keep their key's JSON type in the API and its schema.

Real HTTP handling (DRF test client), real PostgreSQL and trained models; the test host hides an
article through the default adapter's ``PRODUCT_FIELDS["visible"] = "published"`` mapping.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.template import Context, Template
from django.test import override_settings

from shopguide.models import RelatedList, ShopperList
from shopguide.services.training import request_training, run_training
from tests.factories import make_articles, make_history, pattern_png
from tests.testapp.models import Article, Customer

API = "/api/shopguide/"


@pytest.fixture
def shop(db):
    articles = make_articles(30)
    customers = make_history(articles, n_users=12, per_user=6)
    run = run_training(request_training().pk)
    assert run.status == "succeeded", run.error
    return articles, customers


def ids_of(body: dict) -> list:
    return [item["id"] for item in body["results"]]


def hide(code: str) -> None:
    Article.objects.filter(pk=code).update(published=False)


def test_a_hidden_product_is_never_listed_and_its_related_list_is_404(shop, api_client):
    _articles, customers = shop
    first = api_client.get(f"{API}products/A-0000/related/", {"k": 4}).json()
    assert first["source"] == "related" and len(first["results"]) == 4
    hidden = first["results"][0]["id"]
    # The stored lists still name it (they were built before it was hidden).
    assert RelatedList.objects.filter(product_ids__contains=[hidden]).exists()
    hide(hidden)

    assert api_client.get(f"{API}products/{hidden}/related/").status_code == 404
    RelatedList.objects.filter(product_id=hidden).delete()  # and when searched live
    response = api_client.get(f"{API}products/{hidden}/related/")
    assert response.status_code == 404 and response.json()["detail"]

    again = api_client.get(f"{API}products/A-0000/related/", {"k": 4}).json()
    assert hidden not in ids_of(again) and len(again["results"]) == 4  # the list keeps its k
    assert ids_of(again)[:3] == ids_of(first)[1:]
    for space in ("image", "text", "behaviour"):
        body = api_client.get(f"{API}products/A-0000/related/", {"k": 28, "space": space, "in_stock": "false"}).json()
        assert hidden not in ids_of(body) and len(body["results"]) == 28  # all 29 others but the hidden one

    name = Article.objects.get(pk=hidden).name
    found = api_client.get(f"{API}search/", {"q": name, "k": 29}).json()
    assert found["results"] and hidden not in ids_of(found)
    trending = api_client.get(f"{API}trending/", {"k": 29}).json()
    assert len(trending["results"]) == 29 and hidden not in ids_of(trending)
    photo = io.BytesIO(pattern_png(int(hidden[-1]) % 3, seed=int(hidden[-2:])))
    photo.name = "photo.png"
    by_image = api_client.post(f"{API}search/image/", {"image": photo, "k": 29}, format="multipart").json()
    assert by_image["source"] == "image-search" and len(by_image["results"]) == 29 and hidden not in ids_of(by_image)

    staff = Customer.objects.create_user("staff@example.com", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(content_type__app_label="shopguide", codename="view_customer"))
    api_client.force_authenticate(staff)
    assert ShopperList.objects.filter(product_ids__contains=[hidden]).exists()
    for customer in customers:
        body = api_client.get(f"{API}recommendations/", {"user": customer.email, "k": 8}).json()
        assert len(body["results"]) == 8 and hidden not in ids_of(body), customer.email


def test_widgets_leave_hidden_products_out(shop, rf):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    request.user = AnonymousUser()
    html = Template("{% load shopguide_tags %}{% trending limit=30 %}").render(Context({"request": request}))
    assert 'data-product-id="A-0003"' in html
    hide("A-0003")
    request = rf.get("/")
    request.user = AnonymousUser()
    html = Template("{% load shopguide_tags %}{% trending limit=30 %}").render(Context({"request": request}))
    assert "data-product-id=" in html and 'data-product-id="A-0003"' not in html
    assert "EUR" in html  # the price shows its currency


def test_items_carry_price_and_currency(shop, api_client):
    body = api_client.get(f"{API}products/A-0000/related/", {"k": 3}).json()
    for item in body["results"]:
        article = Article.objects.get(pk=item["id"])
        assert item["price"] == float(article.cost) and item["currency"] == "EUR"
    with override_settings(SHOPGUIDE={**_settings(), "CURRENCY": None}):
        body = api_client.get(f"{API}trending/", {"k": 2}).json()
        assert [item["currency"] for item in body["results"]] == [None, None]


def test_the_schema_describes_currency_and_the_id_type(db, api_client):
    schema = api_client.get(f"{API}schema/", {"format": "json"}).json()
    item = _item_schema(schema)
    assert item["properties"]["currency"]["type"] == "string" and item["properties"]["currency"].get("nullable")
    assert item["properties"]["id"]["type"] == "string"  # the test host's key is a CharField
    assert "currency" in item["required"]


def test_a_key_keeps_its_json_type(db):
    import uuid

    from shopguide.api.serializers import integer_product_key, json_pk

    assert json_pk(188) == 188 and json_pk("A-1") == "A-1" and json_pk(None) is None
    assert json_pk(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert not integer_product_key()  # the test host's key is a code
    # The demo shop's integer keys come back as numbers: tests/test_demo_shop.py.


def _settings() -> dict:
    from django.conf import settings

    return dict(settings.SHOPGUIDE)


def _item_schema(schema: dict) -> dict:
    components = schema["components"]["schemas"]
    return components["RecommendedItem"]


# -- guests: a signed cookie, not a database session ---------------------------------------------------


def test_guests_are_tracked_by_a_signed_cookie_without_a_session_row(shop, client):
    from django.contrib.sessions.models import Session

    from shopguide.models import Interaction
    from shopguide.services.events import VISITOR_COOKIE

    first = client.get("/articles/A-0001/")
    cookie = first.cookies[VISITOR_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and int(cookie["max-age"]) > 30 * 24 * 3600
    for code in ("A-0007", "A-0010"):
        response = client.get(f"/articles/{code}/")
        assert VISITOR_COOKIE not in response.cookies  # set once, then only read
    assert (
        client.post(f"{API}events/", {"type": "cart", "product": "A-0013"}, content_type="application/json").status_code
        == 201
    )
    visitors = set(Interaction.objects.filter(user=None).values_list("visitor", flat=True))
    assert len(visitors) == 1 and len(visitors.pop()) == 32
    assert not Session.objects.exists()
    body = client.get(f"{API}recommendations/", {"k": 5}).json()  # the guest's own history answers
    assert body["source"] == "personal" and not {"A-0001", "A-0007", "A-0010", "A-0013"} & set(ids_of(body))
    assert not Session.objects.exists()


def test_a_forged_visitor_cookie_is_a_new_guest_not_an_error(db, client):
    from shopguide.models import Interaction
    from shopguide.services.events import VISITOR_COOKIE

    make_articles(2, with_images=False)
    client.get("/articles/A-0000/")
    real = client.cookies[VISITOR_COOKIE].value
    victim = Interaction.objects.get().visitor
    client.cookies[VISITOR_COOKIE] = real.replace(victim, "f" * 32)  # the id changed, the signature kept
    response = client.get("/articles/A-0001/")
    assert response.status_code == 200 and response.cookies[VISITOR_COOKIE].value != real
    assert Interaction.objects.filter(visitor=victim).count() == 1  # the forger did not join their history


def test_without_the_middleware_guests_fall_back_to_the_session_and_check_warns(db, client, settings):
    from django.contrib.sessions.models import Session
    from django.core.management import call_command

    from shopguide.models import Interaction
    from shopguide.services.events import VISITOR_SESSION_KEY

    make_articles(2, with_images=False)
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "shopguide.middleware.VisitorCookieMiddleware"]
    client.get("/articles/A-0000/")
    client.get("/articles/A-0001/")
    assert Session.objects.count() == 1
    assert set(Interaction.objects.values_list("visitor", flat=True)) == {client.session[VISITOR_SESSION_KEY]}
    out = io.StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "shopguide.W001" in out.getvalue() and "VisitorCookieMiddleware" in out.getvalue()


# -- the schema, whatever the host's DEFAULT_SCHEMA_CLASS ------------------------------------------------


@pytest.mark.parametrize(
    "schema_class", [None, "rest_framework.schemas.openapi.AutoSchema", "drf_spectacular.openapi.AutoSchema"]
)
def test_the_schema_works_whatever_the_hosts_default_schema_class(db, api_client, settings, schema_class):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_SCHEMA_CLASS": schema_class}
    response = api_client.get(f"{API}schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    paths = set(response.json()["paths"])
    assert f"{API}products/{{id}}/related/" in paths and f"{API}events/" in paths
    assert not any(path.startswith("/api/stock/") for path in paths)  # the host's own view is the host's to describe
    assert api_client.get(f"{API}docs/").status_code == 200
