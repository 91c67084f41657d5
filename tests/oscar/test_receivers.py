"""Oscar's own views record shopguide events through the integration's receivers: product page,
basket, checkout (as a guest and as a customer), search, and the guest → customer merge at login."""

from __future__ import annotations

from django.urls import reverse

from shopguide.models import Interaction


def events(**filters) -> list[tuple]:
    return list(
        Interaction.objects.filter(**filters).order_by("pk").values_list("type", "product_id", "user_id", "visitor")
    )


def add_to_basket(client, product, child=None):
    data = {"quantity": 1, **({"child_id": child.pk} if child else {})}
    response = client.post(reverse("basket:add", kwargs={"pk": product.pk}), data)
    assert response.status_code == 302, response.content[:500]


def check_out(client, *, guest_email: str | None = None):
    if guest_email:
        response = client.post(reverse("checkout:index"), {"username": guest_email, "options": "anonymous"})
        assert response.status_code == 302, response.content[:2000]
    address = {
        "first_name": "Ann",
        "last_name": "Lee",
        "line1": "1 High Street",
        "line4": "London",
        "postcode": "N1 9GU",
        "country": "GB",
        "phone_number": "",
    }
    response = client.post(reverse("checkout:shipping-address"), address)
    assert response.status_code == 302, response.content[:3000]
    # Oscar's steps as a browser walks them: the only shipping method, no payment method, then place the order.
    response = client.get(reverse("checkout:shipping-method"), follow=True)
    assert response.status_code == 200 and response.redirect_chain[-1][0].endswith("/checkout/payment-details/"), (
        response.redirect_chain
    )
    response = client.post(reverse("checkout:preview"), {"action": "place_order"})
    assert response.status_code == 302 and "thank-you" in response["Location"], response.content[:3000]


def test_a_guests_views_basket_and_order_form_one_history_that_joins_their_account(
    client, catalogue, customer, shipping_country
):
    from oscar.core.loading import get_model

    product, parent, child = catalogue.standalone[0], catalogue.parent, catalogue.children[1]
    assert client.get(product.get_absolute_url()).status_code == 200
    assert client.get(parent.get_absolute_url()).status_code == 200
    add_to_basket(client, parent, child)
    check_out(client, guest_email="guest@example.com")

    order = get_model("order", "Order").objects.get()
    assert order.user is None and order.guest_email == "guest@example.com"
    history = events()
    visitors = {visitor for *_, visitor in history}
    assert len(visitors) == 1 and "" not in visitors  # one guest, one history
    # The child's basket line and order line count for its parent.
    assert [(t, p) for t, p, _, _ in history] == [
        ("view", product.pk),
        ("view", parent.pk),
        ("cart", parent.pk),
        ("purchase", parent.pk),
    ]

    response = client.post(
        reverse("customer:login"),
        {
            "login-username": "ann@example.com",
            "login-password": "secret-pass-1",
            "login_submit": "Log in",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert events(user=customer) and not events(user__isnull=True)  # the guest's history is Ann's now


def test_a_customers_order_and_search_are_recorded_for_them(client, catalogue, customer, shipping_country):
    from oscar.core.loading import get_model

    client.force_login(customer)
    product = catalogue.standalone[5]
    add_to_basket(client, product)
    check_out(client)
    response = client.get("/search/", {"q": "  trousers  item "})
    assert response.status_code == 200
    recorded = list(Interaction.objects.filter(user=customer).order_by("pk").values_list("type", "product_id", "query"))
    assert recorded == [("cart", product.pk, ""), ("purchase", product.pk, ""), ("search", None, "trousers item")]
    line = get_model("order", "Line").objects.get()
    assert Interaction.objects.get(type="purchase").dedupe_key == f"oscar:order-line:{line.pk}"
    # Oscar's own analytics still see the search: the view sends Oscar's signal.
    assert get_model("analytics", "UserSearch").objects.filter(user=customer, query="trousers item").exists()


def test_a_hidden_product_records_nothing(client, catalogue):
    assert client.get(catalogue.hidden.get_absolute_url()).status_code == 404  # Oscar's own answer
    assert not Interaction.objects.exists()
