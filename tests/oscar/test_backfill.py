"""The backfill imports Oscar's own history once: views, orders (guests too), basket lines,
searches; children count for their parents; what the receivers recorded live is not doubled."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from shopguide.contrib.oscar.history import guest_visitor
from shopguide.models import Interaction


@pytest.fixture
def history(catalogue, customer):
    """A year of Oscar history from before shopguide was installed, plus one live page view."""
    from oscar.apps.partner.strategy import Default
    from oscar.core.loading import get_model
    from oscar.test.factories import create_order

    UserProductView = get_model("analytics", "UserProductView")
    UserSearch = get_model("analytics", "UserSearch")
    Basket = get_model("basket", "Basket")
    past = timezone.now() - dt.timedelta(days=200)
    for i, product in enumerate(catalogue.standalone[:4]):
        view = UserProductView.objects.create(user=customer, product=product)
        UserProductView.objects.filter(pk=view.pk).update(date_created=past + dt.timedelta(hours=i))
    UserProductView.objects.create(user=customer, product=catalogue.children[0])  # a child: counts for its parent
    search = UserSearch.objects.create(user=customer, query="striped shirt")
    UserSearch.objects.filter(pk=search.pk).update(date_created=past)
    basket = Basket.objects.create(owner=customer)
    basket.strategy = Default()
    basket.add_product(catalogue.standalone[6])
    for buyer, email, product in [
        (customer, "", catalogue.standalone[1]),
        (None, "Guest@Example.com", catalogue.children[1]),
        (None, "guest@example.com ", catalogue.standalone[2]),
    ]:
        order_basket = Basket.objects.create()
        order_basket.strategy = Default()
        order_basket.add_product(product)
        create_order(basket=order_basket, user=buyer, **({"guest_email": email} if email else {}))
    return catalogue


def run_backfill() -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("shopguide_oscar_backfill", stdout=out, stderr=err)
    return out.getvalue()


def test_backfill_imports_oscars_history_once(client, history, customer):
    catalogue = history
    client.force_login(customer)
    assert client.get(catalogue.standalone[9].get_absolute_url()).status_code == 200  # recorded live (and by Oscar)
    live = Interaction.objects.count()
    assert live == 2  # the view, and the customer's order (order_placed) — never guests' orders here

    output = run_backfill()
    assert "views: 5 events imported, 1 already present" in output
    assert "orders: 2 events imported, 1 already present" in output
    assert "baskets: 1 events imported" in output and "searches: 1 events imported" in output
    mine = set(Interaction.objects.filter(user=customer).values_list("type", "product_id"))
    assert {("view", p.pk) for p in catalogue.standalone[:4]} <= mine
    assert ("view", catalogue.parent.pk) in mine and ("cart", catalogue.standalone[6].pk) in mine
    assert Interaction.objects.filter(user=customer, type="search", query="striped shirt").exists()
    # Both guest orders of one address form one guest history, under a hash, not the address.
    guest = guest_visitor("guest@example.com")
    assert set(Interaction.objects.filter(visitor=guest).values_list("type", "product_id")) == {
        ("purchase", catalogue.parent.pk),
        ("purchase", catalogue.standalone[2].pk),
    }
    assert "example" not in guest
    total = Interaction.objects.count()
    assert total == live + 9

    again = run_backfill()
    assert "0 events imported in all" in again
    assert Interaction.objects.count() == total
