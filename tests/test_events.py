import pytest
from django.test import Client

from shopguide.models import Interaction
from shopguide.services.events import VISITOR_COOKIE, record_event
from tests.factories import make_articles
from tests.testapp.models import Customer

EVENTS = "/api/shopguide/events/"


@pytest.fixture
def articles(db):
    return make_articles(3, with_images=False)


def test_guest_event_is_recorded_under_a_visitor_id(api_client, articles):
    response = api_client.post(EVENTS, {"type": "cart", "product": articles[0].pk}, format="json")
    assert response.status_code == 201, response.content
    event = Interaction.objects.get()
    assert event.type == "cart" and event.product_id == articles[0].pk
    assert event.user is None and len(event.visitor) == 32


def test_event_by_sku_for_a_logged_in_customer(api_client, articles):
    customer = Customer.objects.create_user("ann@example.com", "pw")
    api_client.force_authenticate(customer)
    response = api_client.post(EVENTS, {"type": "view", "sku": articles[1].code}, format="json")
    assert response.status_code == 201
    assert Interaction.objects.get().user == customer


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"product": "A-0000"}, "type"),
        ({"type": "teleport", "product": "A-0000"}, "type"),
        ({"type": "view"}, "product"),
        ({"type": "view", "product": "NO-SUCH"}, "product"),
        ({"type": "view", "sku": "NO-SUCH"}, "sku"),
        ({"type": "search", "query": "  "}, "query"),
        ({"type": "click", "product": "A-0000", "model_version": 999}, "model_version"),
        ({"type": "click", "product": "A-0000", "model_version": "x"}, "model_version"),
    ],
)
def test_malformed_event_gives_400_naming_the_field(api_client, articles, payload, field):
    response = api_client.post(EVENTS, payload, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert Interaction.objects.count() == 0


def test_body_that_is_not_json_gives_400(api_client, articles):
    response = api_client.post(EVENTS, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_search_event_needs_no_product(api_client, articles):
    response = api_client.post(EVENTS, {"type": "search", "query": "stripes"}, format="json")
    assert response.status_code == 201
    assert Interaction.objects.get().query == "stripes"


def test_product_page_records_a_view_and_history_joins_the_account_at_login(articles):
    from django.contrib.sessions.models import Session

    client = Client()
    assert client.get(f"/articles/{articles[0].pk}/").status_code == 200
    assert client.get(f"/articles/{articles[1].pk}/").status_code == 200
    visitor = Interaction.objects.get(product=articles[0]).visitor
    assert Interaction.objects.filter(visitor=visitor, user=None).count() == 2
    assert not Session.objects.exists()  # guests are tracked by a signed cookie, not a session row

    customer = Customer.objects.create_user("bob@example.com", "pw", is_staff=True)
    response = client.post("/admin/login/", {"username": "bob@example.com", "password": "pw"})  # a real login view
    assert response.status_code == 302
    assert Interaction.objects.filter(user=customer, visitor="").count() == 2
    assert not Interaction.objects.filter(user=None).exists()
    assert client.cookies[VISITOR_COOKIE].value == ""  # dropped: after logout they are a new guest


def test_record_event_refuses_an_event_without_actor(articles):
    with pytest.raises(ValueError, match="user or an anonymous visitor"):
        record_event(type="view", product=articles[0])
    with pytest.raises(ValueError, match="Unknown event type"):
        record_event(type="like", product=articles[0], visitor="v1")


@pytest.mark.parametrize("value", ["A\x00B", "x" * 5000, "' OR 1=1 --", "😀"])
def test_hostile_product_values_give_4xx_not_500(api_client, articles, value):
    response = api_client.post(EVENTS, {"type": "view", "product": value}, format="json")
    assert response.status_code == 400
    response = api_client.get(f"/api/shopguide/products/{value}/related/")
    assert response.status_code == 404
