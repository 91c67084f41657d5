"""Hostile clients (issue 15): each hole an outside probe found, sent as the probe sent it, through
real HTTP handling (DRF's test client) on the test host shop. tests/test_hostile_live.py sends
the same requests to the demo shop under gunicorn with its production settings."""

from __future__ import annotations

import pytest

from shopguide.training import request_training, run_training
from tests.factories import make_articles, make_history

API = "/api/shopguide/"


def assert_json_error(response, status: int, field: str | None = None) -> dict:
    """A client error with a JSON body that says what is wrong (``field`` named, or ``detail``)."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert (body.get(field) if field else body.get("detail")), body
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
        response = api_client.get(f"{API}products/A-0001/related/", {"category": "nosuch", **({"space": space} if space else {})})
        assert response.status_code == 200, (space, response.content[:300])
        assert response.json()["results"] == [], space
    for path, params in (("search/", {"q": "a", "category": "nosuch"}), ("trending/", {"category": "nosuch"}),
                         ("recommendations/", {"category": "nosuch"})):  # fmt: skip
        response = api_client.get(API + path, params)
        assert response.status_code == 200 and response.json()["results"] == [], (path, response.content[:300])
