"""Never serve worse than the simple baseline: when item-kNN (or popularity, Markov) beats the LSTM
on held-out last events beyond the paired interval, the version serves personal recommendations
from that baseline (stored lists and the live path), and the admin says so; otherwise the LSTM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from django.urls import reverse

from shopguide.models import Interaction, ShopperList
from shopguide.selectors import recommended_for
from shopguide.services.training import request_training, run_training
from shopguide.spaces import behaviour as behaviour_space
from tests.factories import make_articles
from tests.testapp.models import Customer

GROUP = 5


def _shop(articles, *, structured: bool, n_users: int = 48, per_user: int = 4, seed: int = 0):
    """Customers who each view ``per_user`` products: of one group of 5 neighbouring articles
    (``structured``: what one views predicts the rest, the co-occurrence item-kNN reads) or
    anywhere at random."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    groups = len(articles) // GROUP
    customers, events = [], []
    for u in range(n_users):
        customer = Customer.objects.create_user(f"group{u}@example.com")
        customers.append(customer)
        pool = articles[(u % groups) * GROUP : (u % groups + 1) * GROUP] if structured else articles
        for step, index in enumerate(rng.choice(len(pool), size=per_user, replace=False)):
            events.append(
                Interaction(user=customer, product=pool[index], type="view", ts=start + timedelta(days=u, minutes=step))
            )
    Interaction.objects.bulk_create(events)
    return customers


def _version_page(client, version) -> str:
    admin = Customer.objects.create_superuser("admin@example.com", "pw")
    client.force_login(admin)
    return client.get(reverse("admin:shopguide_modelversion_change", args=[version.pk])).content.decode()


def test_item_knn_clearly_better_serves_the_recommendations_and_the_admin_says_so(db, client):
    articles = make_articles(40, with_images=False)
    customers = _shop(articles, structured=True)
    # An LSTM that barely trains: item-kNN, which reads the groups off co-occurrence, is far ahead.
    run = run_training(request_training(options={"behaviour_model": {"lr": 1e-7}}).pk)
    assert run.status == "succeeded", run.error
    version = run.version
    behaviour = version.metrics["behaviour"]
    assert behaviour["baseline_check"]["prefer"] == "item_knn"
    assert (
        behaviour["baseline_check"]["difference"]["high"] < 0 and behaviour["baseline_check"]["difference"]["n"] == 48
    )
    assert behaviour["serving"]["personal"] == "item_knn" and behaviour_space.served_by(version) == "item_knn"
    assert behaviour_space.BASELINE_ARTIFACT in version.artifacts
    # The gate compares what serves: the candidate's scores are item-kNN's.
    assert behaviour["evaluation"]["item_knn"]["ndcg@10"] > 0.5

    # Stored list: each customer's one unseen product of their group comes first.
    group_of = {str(a.pk): i // GROUP for i, a in enumerate(articles)}
    for u in (0, 1, 2, 9):
        stored = ShopperList.objects.get(version=version, user=customers[u])
        seen = {str(pk) for pk in Interaction.objects.filter(user=customers[u]).values_list("product_id", flat=True)}
        assert stored.product_ids and not set(stored.product_ids) & seen
        assert group_of[stored.product_ids[0]] == u % (len(articles) // GROUP)
        result = recommended_for(user=customers[u], k=4)
        assert result.source == "personal" and result.version == version.pk
        assert str(result.items[0].product.pk) == stored.product_ids[0]

    # Live (a guest's session): one product viewed, the rest of its group follows, explained.
    Interaction.objects.create(visitor="guest-1", product=articles[7], type="view")
    live = recommended_for(visitor="guest-1", k=4)
    assert live.source == "personal" and not live.fallback and live.version == version.pk
    assert {item.product.pk for item in live.items} == {a.pk for a in articles[5:10]} - {articles[7].pk}
    assert all(item.reason == f"because you viewed {articles[7].name}" for item in live.items)

    # The light queue's refresh stores the guest's list from the baseline too.
    from shopguide.services.incremental import refresh_visitor_list

    assert refresh_visitor_list("guest-1")
    stored = ShopperList.objects.get(version=version, visitor="guest-1")
    assert set(stored.product_ids[:4]) == {str(a.pk) for a in articles[5:10]} - {str(articles[7].pk)}
    assert stored.reasons[0] == f"because you viewed {articles[7].name}"

    page = _version_page(client, version)
    assert "item_knn serves personal recommendations for this version, not the LSTM" in page
    assert "item_knn beats the LSTM on held-out last events" in page


def test_the_lstm_serves_when_no_baseline_beats_it_beyond_the_interval(db, client):
    articles = make_articles(40, with_images=False)
    _shop(articles, structured=False)
    run = run_training(request_training().pk)
    assert run.status == "succeeded", run.error
    version = run.version
    behaviour = version.metrics["behaviour"]
    assert behaviour["baseline_check"]["difference"]["high"] >= 0
    assert behaviour["serving"]["personal"] == "lstm" and behaviour_space.served_by(version) == "lstm"
    assert behaviour_space.BASELINE_ARTIFACT not in version.artifacts
    assert "the LSTM serves personal recommendations: the LSTM is not worse than" in _version_page(client, version)


def test_a_related_space_its_baseline_beats_leaves_the_fused_list_and_the_admin_says_why(db, client):
    from tests.factories import make_history

    make_history(make_articles(40, with_images=False))
    # A text network that barely trains: PostgreSQL full-text search finds the probe queries'
    # products far better, on the same held-out queries.
    run = run_training(request_training(options={"text_model": {"lr": 1e-7, "piece_lr": 1e-7}}).pk)
    assert run.status == "succeeded", run.error
    version = run.version
    check = version.metrics["text"]["baseline_check"]
    assert check["serve"] == "baseline" and check["difference"]["high"] < 0 and check["difference"]["n"] >= 30
    related = version.metrics["related"]
    assert related["baselines"]["text"].startswith(
        "dropped from the fused related list for this version: full-text search beats the text model"
    )
    assert set(version.dimensions) == {"text", "behaviour"} and version.config["related_weights"] == {"behaviour": 1.0}
    assert (
        "dropped from the fused related list for this version: full-text search beats the text model"
        in _version_page(client, version)
    )


def test_fulltext_scores_rank_the_snapshot_documents_like_the_search(db):
    from shopguide.snapshot import take_catalog_snapshot
    from shopguide.spaces import text as text_space

    make_articles(12, with_images=False)
    snapshot = take_catalog_snapshot(image_size=32, channels=3, progress=lambda *a: None)
    target = 5
    title = snapshot.documents[target].split("\n")[0]  # "<shelf> article 5": the title names one product
    scores = text_space.fulltext_scores(snapshot, {"logged": [(title, target)], "generated": [("zzzz", 0), (title, 4)]})
    assert scores[0] == 1.0 and scores[1] == 0.0 and scores[2] < 1.0
