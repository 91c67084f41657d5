"""The REST API over real HTTP handling (DRF test client), real PostgreSQL and trained models:
every endpoint, its filters and permissions, and bad input (4xx with a message, never 500)."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from PIL import Image

from shopguide.models import Interaction, Segment, SegmentMember
from shopguide.selectors.versions import active_version
from shopguide.services.training import request_training, run_training
from shopguide.services.versions import activate_version
from tests.factories import SHELVES, make_articles, make_history, pattern_png
from tests.testapp.models import Article, Customer

API = "/api/shopguide/"


@pytest.fixture
def shop(db):
    """30 articles on three shelves, customers who each shop one shelf, all three models trained."""
    articles = make_articles(30, available=lambda i: i != 4)
    customers = make_history(articles, n_users=12, per_user=6)
    run = run_training(request_training().pk)
    assert run.status == "succeeded", run.error
    assert set(run.version.dimensions) == {"image", "text", "behaviour"}
    return articles, customers


def shelf_of(code: str) -> str:
    return SHELVES[int(code.split("-")[1]) % len(SHELVES)]


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["results"]]


def assert_error(response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    if field:
        assert body.get(field), body
    else:
        assert body.get("detail"), body


# -- related ----------------------------------------------------------------------------------


def test_related_items_carry_scores_reasons_and_the_version(shop, api_client):
    body = api_client.get(f"{API}products/A-0000/related/", {"k": 5}).json()
    assert body["model_version"] == active_version().pk and body["source"] == "related" and not body["fallback"]
    assert len(body["results"]) == 5
    for item in body["results"]:
        assert set(item) >= {"id", "sku", "title", "url", "image", "score", "reason", "category", "price"}
        assert item["id"] not in ("A-0000", "A-0004")  # never itself, never out of stock
        assert item["reason"].split(" ")[0] in ("looks", "similar", "bought")


def test_related_with_one_space_answers_from_that_space(shop, api_client):
    looks = api_client.get(f"{API}products/A-0000/related/", {"k": 4, "space": "image"}).json()
    assert looks["source"] == "image"
    assert all(item["reason"].startswith("looks like") for item in looks["results"])
    bought = api_client.get(f"{API}products/A-0000/related/", {"k": 4, "space": "behaviour"}).json()
    assert bought["source"] == "behaviour"
    assert all(item["reason"].startswith("bought together") for item in bought["results"])


def test_filters_return_the_full_k_of_matching_products(shop, api_client):
    # Rings: 10 articles, 9 of them besides the asked one (in stock, all rings).
    response = api_client.get(f"{API}products/A-0000/related/", {"k": 9, "category": "Rings"})
    assert response.status_code == 200
    assert len(ids(response)) == 9 and {shelf_of(pk) for pk in ids(response)} == {"Rings"}
    cheap = api_client.get(f"{API}products/A-0000/related/", {"k": 8, "max_price": "17", "min_price": "12"})
    prices = [item["price"] for item in cheap.json()["results"]]
    assert len(prices) == 5 and all(12 <= p <= 17 for p in prices)  # 12..17 without 14 (out of stock)
    excluded = ids(api_client.get(f"{API}products/A-0000/related/", {"k": 3}))
    again = ids(api_client.get(f"{API}products/A-0000/related/", {"k": 3, "exclude": ",".join(excluded)}))
    assert len(again) == 3 and not set(again) & set(excluded)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"k": "many"}, "k"),
        ({"space": "smell"}, "space"),
        ({"min_price": "5", "max_price": "1"}, "min_price"),
        ({"min_price": "-1"}, "min_price"),
        ({"exclude": ",".join(f"A-{i}" for i in range(101))}, "exclude"),
        ({"in_stock": "perhaps"}, "in_stock"),
    ],
)
def test_related_rejects_bad_parameters_with_a_message(db, api_client, params, field):
    make_articles(3, with_images=False)
    assert_error(api_client.get(f"{API}products/A-0000/related/", params), 400, field)


@pytest.mark.parametrize("pk", ["NOPE", "A%00B", "9" * 30])
def test_related_of_an_unknown_product_is_404(db, api_client, pk):
    make_articles(2, with_images=False)
    assert_error(api_client.get(f"{API}products/{pk}/related/"), 404)


@pytest.mark.parametrize(
    "value, expected", [("12", 12), (" 7", 7), ("abc", None), ("9" * 30, None), ("-1", -1), (None, None)]
)
def test_an_integer_primary_key_is_parsed_or_refused_not_sent_to_the_database(value, expected):
    from shopguide.adapter import CatalogAdapter
    from tests.testapp.models import Shelf

    adapter = CatalogAdapter()
    adapter.model = Shelf  # a BigAutoField key: out of range is no product, not a database error
    assert adapter.parse_pk(value) == expected


def test_stored_related_list_is_read_through_the_filters_and_follows_activation(shop, api_client):
    first = api_client.get(f"{API}products/A-0000/related/", {"k": 4}).json()
    Article.objects.filter(pk=first["results"][0]["id"]).update(available=False)
    again = api_client.get(f"{API}products/A-0000/related/", {"k": 4}).json()
    # The stored list, read again through the filters: the product out of stock is gone and the
    # next one of the list fills its place.
    assert ids_of(again)[:3] == ids_of(first)[1:] and len(again["results"]) == 4
    old = active_version()
    run = run_training(request_training(options={"force": True}).pk)
    assert run.status == "succeeded" and active_version() != old
    fresh = api_client.get(f"{API}products/A-0000/related/", {"k": 4}).json()
    assert fresh["model_version"] == active_version().pk and len(fresh["results"]) == 4
    activate_version(version=old)  # rollback serves the old version's lists at once
    assert api_client.get(f"{API}products/A-0000/related/", {"k": 4}).json()["model_version"] == old.pk


def test_a_live_related_list_is_cached_and_activation_invalidates_it(shop, api_client):
    from shopguide.models import RelatedList

    RelatedList.objects.all().delete()  # nothing stored (e.g. a product new since the version was built)
    first = api_client.get(f"{API}products/A-0000/related/", {"k": 4}).json()
    assert first["source"] == "related" and len(first["results"]) == 4
    Article.objects.filter(pk=first["results"][0]["id"]).update(available=False)
    cached = api_client.get(f"{API}products/A-0000/related/", {"k": 4}).json()
    # From the cache, but read again through the filters: the product out of stock is gone.
    assert ids_of(cached) == ids_of(first)[1:]
    old = active_version()
    run = run_training(request_training(options={"force": True}).pk)
    assert run.status == "succeeded" and active_version() != old
    RelatedList.objects.all().delete()
    fresh = api_client.get(f"{API}products/A-0000/related/", {"k": 4}).json()
    assert fresh["model_version"] == active_version().pk and len(fresh["results"]) == 4
    activate_version(version=old)  # rollback invalidates as well
    assert api_client.get(f"{API}products/A-0000/related/", {"k": 4}).json()["model_version"] == old.pk


def ids_of(body: dict) -> list[str]:
    return [item["id"] for item in body["results"]]


# -- recommendations ----------------------------------------------------------------------------


def test_customer_gets_personal_recommendations_without_what_they_bought(shop, api_client):
    _articles, customers = shop
    customer = customers[0]
    bought = set(Interaction.objects.filter(user=customer, type="purchase").values_list("product_id", flat=True))
    seen = set(Interaction.objects.filter(user=customer).values_list("product_id", flat=True))
    api_client.force_authenticate(customer)
    body = api_client.get(f"{API}recommendations/", {"k": 6}).json()
    assert body["source"] == "personal" and not body["fallback"] and body["model_version"] == active_version().pk
    assert len(body["results"]) == 6 and not set(ids_of(body)) & seen and bought
    # Each reason names a product of the customer's own history.
    history_titles = set(Article.objects.filter(pk__in=seen).values_list("name", flat=True))
    for item in body["results"]:
        verb, title = item["reason"].removeprefix("because you ").split(" ", 1)
        assert verb in ("viewed", "bought") and title in history_titles, item["reason"]


def test_cart_items_are_excluded_and_read_as_part_of_the_sequence(shop, api_client):
    _, customers = shop
    api_client.force_authenticate(customers[1])
    plain = ids_of(api_client.get(f"{API}recommendations/", {"k": 5}).json())
    with_cart = api_client.get(f"{API}recommendations/", {"k": 5, "cart": ",".join(plain[:2])}).json()
    assert with_cart["source"] == "personal" and len(with_cart["results"]) == 5
    assert not set(ids_of(with_cart)) & set(plain[:2])


def test_guest_recommendations_come_from_the_session_history(shop, client):
    for code in ("A-0001", "A-0007", "A-0010"):  # Columns
        assert (
            client.post(f"{API}events/", {"type": "view", "product": code}, content_type="application/json").status_code
            == 201
        )
    body = client.get(f"{API}recommendations/", {"k": 5}).json()
    assert body["source"] == "personal" and len(body["results"]) == 5
    assert not {"A-0001", "A-0007", "A-0010"} & set(ids_of(body))


def test_new_guest_gets_trending_and_the_response_says_so(shop, api_client):
    body = api_client.get(f"{API}recommendations/", {"k": 4}).json()
    assert body["source"] == "trending" and body["fallback"] and len(body["results"]) == 4
    assert body["model_version"] is None  # clicks on a fallback count for no model
    assert all(item["reason"].startswith(("trending", "popular")) for item in body["results"])


def test_without_a_model_recommendations_fall_back(db, api_client):
    articles = make_articles(6, with_images=False)
    make_history(articles, n_users=2, per_user=2)
    api_client.force_authenticate(Customer.objects.first())
    body = api_client.get(f"{API}recommendations/", {"k": 3}).json()
    assert body["fallback"] and body["model_version"] is None and len(body["results"]) == 3


def test_only_staff_with_view_customer_may_ask_for_another_customers_recommendations(shop, api_client):
    _, customers = shop
    api_client.force_authenticate(customers[0])
    assert_error(api_client.get(f"{API}recommendations/", {"user": customers[1].email}), 403)
    staff = Customer.objects.create_user("staff@example.com", is_staff=True)
    api_client.force_authenticate(staff)
    assert_error(api_client.get(f"{API}recommendations/", {"user": customers[1].email}), 403)  # staff is not enough
    staff.user_permissions.add(Permission.objects.get(content_type__app_label="shopguide", codename="view_customer"))
    api_client.force_authenticate(Customer.objects.get(pk=staff.pk))  # no cached permissions
    body = api_client.get(f"{API}recommendations/", {"user": customers[1].email, "k": 3}).json()
    assert body["source"] == "personal" and len(body["results"]) == 3
    assert_error(api_client.get(f"{API}recommendations/", {"user": "nobody@example.com"}), 404)


# -- trending -------------------------------------------------------------------------------------


def test_trending_in_a_category(shop, api_client):
    body = api_client.get(f"{API}trending/", {"k": 5, "category": "columns"}).json()
    assert body["source"] == "trending" and len(body["results"]) == 5
    assert {shelf_of(pk) for pk in ids_of(body)} == {"Columns"}


# -- search -----------------------------------------------------------------------------------------


def test_search_is_hybrid_and_pages(shop, api_client):
    body = api_client.get(f"{API}search/", {"q": "rings artcle 11", "k": 3}).json()  # with a typo
    assert body["source"] == "hybrid" and body["query"] == "rings artcle 11" and not body["fallback"]
    assert ids_of(body)[0] == "A-0011"
    assert body["next"] and "offset=3" in body["next"]
    page_two = api_client.get(body["next"]).json()
    assert len(page_two["results"]) == 3 and not set(ids_of(page_two)) & set(ids_of(body))


def test_search_with_filters(shop, api_client):
    body = api_client.get(f"{API}search/", {"q": "article", "k": 8, "category": "Stripes", "max_price": "30"}).json()
    assert body["results"] and {shelf_of(pk) for pk in ids_of(body)} == {"Stripes"}
    assert all(item["price"] <= 30 for item in body["results"])


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"q": "shoe", "offset": -1}, "offset"),
        ({"q": "shoe", "offset": 100}, "offset"),
    ],
)
def test_search_rejects_bad_queries_with_a_message(db, api_client, params, field):
    assert_error(api_client.get(f"{API}search/", params), 400, field)


def test_search_is_throttled(db, api_client, settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "THROTTLE_RATES": {"search": "3/minute"}}
    make_articles(3, with_images=False)
    codes = [api_client.get(f"{API}search/", {"q": "article"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert "throttled" in api_client.get(f"{API}search/", {"q": "article"}).json()["detail"].lower()


# -- search by image --------------------------------------------------------------------------------


def upload(data: bytes, name: str = "photo.png"):
    file = io.BytesIO(data)
    file.name = name
    return file


def test_search_by_image_finds_the_same_pattern(shop, api_client):
    response = api_client.post(
        f"{API}search/image/", {"image": upload(pattern_png(2, seed=4242)), "k": 5}, format="multipart"
    )
    body = response.json()
    assert response.status_code == 200 and body["source"] == "image-search" and len(body["results"]) == 5
    # A ring pattern the model never saw: its nearest products are mostly rings.
    assert shelf_of(ids_of(body)[0]) == "Rings" and sum(shelf_of(pk) == "Rings" for pk in ids_of(body)) >= 3
    assert all(item["reason"] == "looks like your photo" for item in body["results"])


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"this is not an image at all", "not a recognised image"),
        (pattern_png(0, seed=1)[:300], "unreadable"),  # truncated
        (b"", "empty"),
        (_png((12000, 12000)), "too large"),  # ~144 megapixels in a few KB: a decompression bomb
    ],
)
def test_bad_uploads_get_400_with_a_message(shop, api_client, data, message):
    response = api_client.post(f"{API}search/image/", {"image": upload(data)}, format="multipart")
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["image"]).lower()


def test_oversized_upload_and_missing_field_are_refused(db, api_client, settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "MAX_UPLOAD_BYTES": 1000}
    response = api_client.post(
        f"{API}search/image/", {"image": upload(pattern_png(0, seed=1, size=200))}, format="multipart"
    )
    assert_error(response, 400, "image")
    assert "limit" in response.json()["image"][0]
    assert_error(api_client.post(f"{API}search/image/", {}, format="multipart"), 400, "image")
    assert api_client.post(f"{API}search/image/", {"image": "x"}, format="json").status_code == 415


# -- profiles -----------------------------------------------------------------------------------------


def test_customer_sees_their_profile(shop, api_client):
    _, customers = shop
    customer = customers[2]  # shops Rings
    segment = Segment.objects.create(name="Ring lovers", slug="ring-lovers")
    SegmentMember.objects.create(segment=segment, user=customer)
    api_client.force_authenticate(customer)
    body = api_client.get(f"{API}profiles/me/").json()
    assert body["username"] == customer.email and body["has_vector"]
    assert body["category_affinities"][0] == {"category": "Rings", "share": 1.0}
    assert body["event_counts"]["view"] == 6 and body["event_counts"]["purchase"] == 3
    assert {"slug": "ring-lovers", "name": "Ring lovers", "probability": None, "labelled": True} in body["segments"]
    assert len(body["recent"]) == 9 and body["recent"][0]["product"]["id"].startswith("A-")


def test_profiles_are_private_to_their_customer_and_staff(shop, api_client):
    _, customers = shop
    assert api_client.get(f"{API}profiles/me/").status_code in (401, 403)
    assert api_client.get(f"{API}profiles/{customers[0].email}/").status_code in (401, 403)
    api_client.force_authenticate(customers[0])
    assert_error(api_client.get(f"{API}profiles/{customers[1].email}/"), 403)
    assert api_client.get(f"{API}profiles/{customers[0].email}/").status_code == 200
    api_client.force_authenticate(Customer.objects.create_user("staff@example.com", is_staff=True))
    assert_error(api_client.get(f"{API}profiles/{customers[1].email}/"), 403)  # staff alone is not enough
    api_client.force_authenticate(Customer.objects.create_superuser("boss@example.com"))
    assert api_client.get(f"{API}profiles/{customers[1].email}/").json()["username"] == customers[1].email
    assert_error(api_client.get(f"{API}profiles/ghost@example.com/"), 404)


# -- schema and docs ------------------------------------------------------------------------------------


def test_schema_lists_every_endpoint_and_docs_need_no_cdn(db, api_client):
    schema = api_client.get(f"{API}schema/", {"format": "json"}).json()
    expected = {
        "products/{id}/related/",
        "recommendations/",
        "trending/",
        "search/",
        "search/image/",
        "profiles/me/",
        "profiles/{username}/",
        "events/",
    }
    assert {path.removeprefix(API) for path in schema["paths"]} >= expected
    html = api_client.get(f"{API}docs/").content.decode()
    assert "swagger" in html.lower() and "cdn." not in html and "//unpkg" not in html


def test_blank_typed_parameters_are_client_errors(db, api_client):
    # (NUL bytes in Basic credentials: tests/test_hostile.py, with Basic authentication turned on.)
    make_articles(2, with_images=False)
    assert_error(api_client.get(f"{API}trending/", {"k": ""}), 400, "k")
    assert_error(api_client.get(f"{API}search/", {"q": "a", "max_price": ""}), 400, "max_price")
