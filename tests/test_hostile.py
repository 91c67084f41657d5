"""Hostile clients (issue 15): each hole an outside probe found, sent as the probe sent it, through
real HTTP handling (DRF's test client) on the test host shop. tests/test_hostile_live.py sends
the same requests to the demo shop under gunicorn with its production settings."""

from __future__ import annotations

import pytest

from shopguide.services.training import request_training, run_training
from tests.factories import make_articles, make_history
from tests.testapp.adapter import ArticleAdapter

API = "/api/shopguide/"


def assert_json_error(response, status: int, field: str | None = None) -> dict:
    """A client error with a JSON body that says what is wrong (``field`` named, or ``detail``)."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body.get(field) if field else body.get("detail"), body
    return body


@pytest.fixture
def trained(db):
    articles = make_articles(12)
    customers = make_history(articles, n_users=4, per_user=3)
    run = run_training(request_training().pk)
    assert run.status == "succeeded", run.error
    return articles, customers


# -- 1. an unknown category ---------------------------------------------------------------------------


def test_a_category_that_matches_nothing_is_an_empty_list_in_every_space(trained, api_client, settings):
    # The default adapter on a shop without categories narrows to .none(): a queryset with no SQL
    # (as the demo's category relation narrows to pk__in=[] for an unknown name).
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "ADAPTER": "shopguide.adapter.CatalogAdapter"}
    for space in ("", "image", "text", "behaviour"):
        response = api_client.get(
            f"{API}products/A-0001/related/", {"category": "nosuch", **({"space": space} if space else {})}
        )
        assert response.status_code == 200, (space, response.content[:300])
        assert response.json()["results"] == [], space
    for path, params in (
        ("search/", {"q": "a", "category": "nosuch"}),
        ("trending/", {"category": "nosuch"}),
        ("recommendations/", {"category": "nosuch"}),
    ):
        response = api_client.get(API + path, params)
        assert response.status_code == 200 and response.json()["results"] == [], (path, response.content[:300])


# -- 5. crafted bodies and values: 4xx with a JSON message ---------------------------------------------


def test_deeply_nested_json_is_a_400_not_a_recursion_error(db, api_client):
    make_articles(1, with_images=False)
    body = "[" * 10_000 + "]" * 10_000  # 20 kB
    response = api_client.post(f"{API}events/", body, content_type="application/json")
    assert "nested" in assert_json_error(response, 400)["detail"]
    # Within the bound, a real event still goes through.
    ok = api_client.post(f"{API}events/", {"type": "view", "product": "A-0000"}, format="json")
    assert ok.status_code == 201, ok.content


def test_oversized_bodies_and_too_many_fields_are_json_400s(db, api_client):
    make_articles(1, with_images=False)
    big = b'{"type": "view", "query": "' + b"x" * 3_000_000 + b'"}'
    assert_json_error(api_client.post(f"{API}events/", big, content_type="application/json"), 400)
    form = api_client.post(
        f"{API}events/", "type=view&query=" + "x" * 3_000_000, content_type="application/x-www-form-urlencoded"
    )
    assert_json_error(form, 400)
    fields = {f"f{i}": "x" for i in range(1_001)}
    assert_json_error(api_client.post(f"{API}events/", fields, format="multipart"), 400)
    assert_json_error(api_client.post(f"{API}search/image/", fields, format="multipart"), 400)


def test_errors_outside_the_views_under_the_api_prefix_are_json(db, client):
    assert_json_error(client.get(f"{API}no/such/endpoint/"), 404)
    # Outside the API a host's pages keep their own (HTML) errors.
    assert not client.get("/no/such/page/")["Content-Type"].startswith("application/json")


class BrokenAdapter(ArticleAdapter):
    """A host adapter whose price filter fails: stands for any bug in host code under a view."""

    def in_price_range(self, queryset, low=None, high=None):
        raise RuntimeError("host bug")


def test_an_unexpected_failure_in_a_view_is_a_json_500(db, api_client, settings, caplog):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "ADAPTER": "tests.test_hostile.BrokenAdapter"}
    make_articles(2, with_images=False)
    api_client.raise_request_exception = False
    response = api_client.get(f"{API}trending/", {"max_price": "50"})
    assert_json_error(response, 500)
    assert "host bug" not in response.content.decode()  # no internals to the client ...
    assert any("host bug" in str(record.exc_info) for record in caplog.records)  # ... but logged


def test_the_search_selector_refuses_nul_whoever_calls_it(db):
    from shopguide.selectors import InvalidQuery, search_products
    from shopguide.services.events import record_event

    make_articles(2, with_images=False)
    with pytest.raises(InvalidQuery, match="NUL"):
        search_products(query="\x00")
    with pytest.raises(ValueError, match="NUL"):
        record_event(type="search", visitor="v1", query="a\x00b")


# -- 6. is_staff alone reads no customer ------------------------------------------------------------


def test_staff_without_the_view_customer_permission_reads_no_customer(trained, api_client):
    from django.contrib.auth.models import Permission

    from tests.testapp.models import Customer

    _, customers = trained
    target = customers[0].email
    staff = Customer.objects.create_user("staff@example.com", "pw", is_staff=True)
    api_client.force_authenticate(staff)
    for path, params in ((f"profiles/{target}/", {}), ("recommendations/", {"user": target})):
        body = assert_json_error(api_client.get(API + path, params), 403)
        assert "shopguide.view_customer" in body["detail"] and target not in str(body)
    staff.user_permissions.add(Permission.objects.get(content_type__app_label="shopguide", codename="view_customer"))
    api_client.force_authenticate(Customer.objects.get(pk=staff.pk))
    assert api_client.get(f"{API}profiles/{target}/").json()["username"] == target
    assert api_client.get(f"{API}recommendations/", {"user": target}).status_code == 200


# -- 2. a spoofed X-Forwarded-For lifts no throttle -----------------------------------------------


def test_a_rotating_x_forwarded_for_lifts_no_throttle(db, api_client, settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "THROTTLE_RATES": {"events": "4/minute", "search": "3/minute"}}
    make_articles(2, with_images=False)
    searches = [
        api_client.get(f"{API}search/", {"q": "article"}, HTTP_X_FORWARDED_FOR=f"10.0.{i}.1").status_code
        for i in range(6)
    ]
    assert searches == [200] * 3 + [429] * 3
    events = [
        api_client.post(
            f"{API}events/", {"type": "search", "query": "a"}, format="json", HTTP_X_FORWARDED_FOR=f"10.1.{i}.1"
        ).status_code
        for i in range(6)
    ]
    assert events == [201] * 4 + [429] * 2


def test_behind_declared_proxies_the_address_they_saw_counts(db, api_client, settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "THROTTLE_RATES": {"search": "2/minute"}, "TRUSTED_PROXIES": 1}
    make_articles(2, with_images=False)

    def search(forwarded: str) -> int:
        return api_client.get(f"{API}search/", {"q": "article"}, HTTP_X_FORWARDED_FOR=forwarded).status_code

    # Our one proxy appends the address it saw; whatever the client wrote to its left is ignored.
    assert [search(f"6.6.6.{i}, 198.51.100.7") for i in range(3)] == [200, 200, 429]
    assert search("198.51.100.8") == 200  # another client behind the same proxy
    # One client's IPv6 /64 is one client, however many addresses it uses.
    assert [search(f"2001:db8:0:1::{i}") for i in range(1, 4)] == [200, 200, 429]


def test_client_address_reads_forwarding_headers_only_behind_declared_proxies(rf, settings):
    from shopguide.clients import client_address

    request = rf.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.2")
    assert client_address(request) == "192.0.2.1"
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "TRUSTED_PROXIES": 1}
    assert client_address(request) == "198.51.100.2"
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "TRUSTED_PROXIES": 2}
    assert client_address(request) == "203.0.113.9"
    garbage = rf.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert client_address(garbage) == "192.0.2.1"


# -- 4. password guessing ---------------------------------------------------------------------------


def basic(username: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def basic_auth_on(settings):
    """A host that turned on DRF's own Basic authentication (off in the test host, as in the demo)."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework.authentication.SessionAuthentication",
            "rest_framework.authentication.BasicAuthentication",
        ],
    }


def test_a_failed_basic_login_burst_gets_429_even_for_the_right_password(db, api_client, basic_auth_on):
    from tests.testapp.models import Customer

    Customer.objects.create_user("admin@example.com", "right")
    codes = [
        api_client.get(f"{API}profiles/me/", HTTP_AUTHORIZATION=basic("admin@example.com", f"wrong{i}")).status_code
        for i in range(32)
    ]
    assert set(codes[:10]) <= {401, 403} and set(codes[10:]) == {429}, codes
    locked = api_client.get(f"{API}profiles/me/", HTTP_AUTHORIZATION=basic("admin@example.com", "right"))
    assert_json_error(locked, 429)
    assert int(locked["Retry-After"]) > 0
    # Another customer, from another address, is not locked out by it.
    Customer.objects.create_user("ann@example.com", "pw")
    other = api_client.get(
        f"{API}profiles/me/", HTTP_AUTHORIZATION=basic("ann@example.com", "pw"), REMOTE_ADDR="192.0.2.50"
    )
    assert other.status_code == 200, other.content


def test_one_address_guessing_many_usernames_gets_429(db, api_client, basic_auth_on):
    codes = [
        api_client.get(
            f"{API}profiles/me/",
            HTTP_AUTHORIZATION=basic(f"user{i}@example.com", "pw"),
            HTTP_X_FORWARDED_FOR=f"10.9.{i}.1",
        ).status_code
        for i in range(32)
    ]
    assert set(codes[:30]) <= {401, 403} and set(codes[30:]) == {429}, codes


def test_a_locked_out_username_cannot_log_in_anywhere_until_the_window_ends(db, client):
    from tests.testapp.models import Customer

    Customer.objects.create_superuser("boss@example.com", "right")
    for i in range(10):
        client.post("/admin/login/", {"username": "boss@example.com", "password": f"wrong{i}"})
    # The right password from another address: refused without being checked.
    client.post("/admin/login/", {"username": "boss@example.com", "password": "right"}, REMOTE_ADDR="192.0.2.77")
    assert "_auth_user_id" not in client.session
    from django.core.cache import cache

    cache.clear()  # the window ended
    client.post("/admin/login/", {"username": "boss@example.com", "password": "right"})
    assert "_auth_user_id" in client.session


def test_nul_in_basic_credentials_is_a_client_error(db, api_client, basic_auth_on):
    response = api_client.get(f"{API}profiles/me/", HTTP_AUTHORIZATION=basic("ann\x00@example.com", "pw"))
    assert response.status_code in (401, 403) and response.json()["detail"]  # not a 500 from PostgreSQL


# -- 3. an image bomb -------------------------------------------------------------------------------


def test_an_image_bomb_is_refused_from_its_header_and_a_big_jpeg_is_decoded_reduced(db, api_client):
    import io
    import time

    from PIL import Image

    from bench.image_uploads import blank_png

    make_articles(3, with_images=False)
    bomb = io.BytesIO(blank_png(9400, 9400))  # the probe's: ~340 KB, 88 million RGBA pixels
    bomb.name = "bomb.png"
    started = time.perf_counter()
    response = api_client.post(f"{API}search/image/", {"image": bomb}, format="multipart")
    body = assert_json_error(response, 400, "image")
    assert "9,400 x 9,400 pixels" in body["image"][0] and "limit" in body["image"][0]
    assert time.perf_counter() - started < 2  # refused from the header: decoding it takes ~5 s
    # A 24-megapixel JPEG is over the pixel limit at full size, but JPEG decodes reduced (1/8 per side).
    photo = io.BytesIO()
    Image.linear_gradient("L").resize((6000, 4000)).convert("RGB").save(photo, "JPEG", quality=70)
    photo.seek(0)
    photo.name = "photo.jpg"
    assert api_client.post(f"{API}search/image/", {"image": photo}, format="multipart").status_code == 200
