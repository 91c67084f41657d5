"""A real (small) training run on the Oscar catalogue: Oscar's product page then shows
shopguide's lists and Oscar's own "Recommended items" (ProductRecommendation rows written on
activation), the home page its partial, and /search/ shopguide's hybrid search in Oscar's template."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from shopguide.services.events import PastEvent, store_past_events
from shopguide.services.training import request_training, run_training


@pytest.fixture
def trained(catalogue, django_capture_on_commit_callbacks):
    """12 shoppers who each stay in one top-level category (Clothing or Books), then a training run."""
    from django.contrib.auth import get_user_model

    clothing = [p for i, p in enumerate(catalogue.standalone) if i % 4 < 2] + [catalogue.parent]
    books = [p for i, p in enumerate(catalogue.standalone) if i % 4 >= 2]
    start = timezone.now() - dt.timedelta(days=30)
    past = []
    for u in range(12):
        user = get_user_model().objects.create_user(username=f"s{u}", email=f"s{u}@example.com")
        pool = clothing if u % 2 == 0 else books
        for step in range(6):
            product = pool[(u * 5 + step * 3) % len(pool)]
            kind = "purchase" if step % 3 == 2 else "view"
            past.append(
                PastEvent(
                    type=kind,
                    ts=start + dt.timedelta(days=u, minutes=step),
                    user_id=user.pk,
                    product_id=product.pk,
                    dedupe_key=f"t:{u}:{step}",
                )
            )
    store_past_events(past)
    with django_capture_on_commit_callbacks(execute=True):  # version_activated fires after commit
        run = run_training(request_training().pk)
    assert run.status == "succeeded", run.error
    return catalogue


def test_oscars_recommended_items_and_shopguides_lists_show_on_the_product_page(client, trained):
    from oscar.core.loading import get_model

    ProductRecommendation = get_model("catalogue", "ProductRecommendation")
    product = trained.standalone[0]
    rows = list(ProductRecommendation.objects.filter(primary=product).order_by("-ranking"))
    assert 1 <= len(rows) <= 6  # SHOPGUIDE["OSCAR_RECOMMENDATIONS"] = 6 in the host's settings
    recommended = {row.recommendation_id for row in rows}
    assert product.pk not in recommended and trained.hidden.pk not in recommended
    assert not recommended & {c.pk for c in trained.children}
    # Every primary with a stored list got rows, and nothing else was touched.
    assert ProductRecommendation.objects.values("primary").distinct().count() == 26  # 24 standalone + parent + sold out

    page = client.get(product.get_absolute_url()).content.decode()
    assert "Recommended items" in page  # Oscar's own block, no template change
    first = get_model("catalogue", "Product").objects.get(pk=rows[0].recommendation_id)
    assert first.get_title() in page
    assert "Looks similar" in page and 'class="shopguide' in page  # the partial's widgets


def test_home_page_partial_and_hybrid_search_in_oscars_template(client, trained):
    home = client.get("/catalogue/")
    assert home.status_code == 200 and "Trending now" in home.content.decode()
    response = client.get("/search/", {"q": "strped shrt"})  # typos: the text model and trigrams still find it
    assert response.status_code == 200
    assert [r.object.pk for r in response.context["page"].object_list][:3].count(trained.parent.pk) == 1
    assert "Striped shirt" in response.content.decode()
    empty = client.get("/search/", {"q": ""})
    assert empty.status_code == 200 and not empty.context["page"].object_list
    odd = client.get("/search/", {"q": "shirt\x00" + "x" * 5000, "page": "nope"})  # bad input: still a page
    assert odd.status_code == 200


def test_the_api_serves_oscars_visible_products_with_their_currency(client, trained):
    related = client.get(f"/api/shopguide/products/{trained.standalone[0].pk}/related/", {"k": 5})
    assert related.status_code == 200, related.content
    items = related.json()["results"]
    assert items and all(isinstance(item["id"], int) and item["currency"] == "EUR" for item in items)
    assert not {item["id"] for item in items} & {trained.hidden.pk, *(c.pk for c in trained.children)}
    for hidden in (trained.hidden, trained.children[0]):  # not public; a child is shown as its parent
        assert client.get(f"/api/shopguide/products/{hidden.pk}/related/").status_code == 404
