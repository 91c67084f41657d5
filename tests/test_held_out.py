"""No reported figure uses training data: every space's figures come from the held-out rows the
pipeline kept out of training (images of held-out products, held-out logged searches, each
shopper's last event, co-interaction pairs not used to choose the fusion weights)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from shopguide.ml.holdout import TEST, VALID
from shopguide.models import Interaction
from shopguide.services.training import request_training, run_training
from shopguide.snapshot import take_catalog_snapshot
from shopguide.spaces import image as image_space
from shopguide.spaces import text as text_space
from tests.factories import make_articles, make_history


def test_every_reported_figure_is_measured_on_held_out_data(db):
    articles = make_articles(60)
    customers = make_history(articles, n_users=15)
    start = datetime(2026, 2, 1, tzinfo=UTC)
    searches = [
        Interaction(
            user=customers[i % len(customers)],
            product=article,
            type="search",
            query=f"{article.name.split()[0]} {i}",
            ts=start + timedelta(minutes=i),
        )
        for i, article in enumerate(articles)
    ]
    Interaction.objects.bulk_create(searches)
    run = run_training(request_training().pk)
    assert run.status == "succeeded", run.error
    metrics = run.version.metrics

    # Image: the reported figures are over exactly the TEST products, the choice over VALID ones.
    snapshot = take_catalog_snapshot(image_size=32, channels=3, progress=lambda *a: None)
    split = image_space.split(snapshot)
    image = metrics["image"]
    assert image["held_out"]["model"]["n"] == image["held_out"]["raw_pixels"]["n"] == int((split == TEST).sum()) > 0
    assert image["choice"]["candidates"]["scratch"]["valid"]["n"] == int((split == VALID).sum())
    assert image["training"]["epochs_run"] >= 1

    # Text: the held-out logged searches were not trained on, and the counts say so.
    pairs = text_space.logged_pairs(snapshot)
    trained_on, held_out = text_space.split_logged_pairs(pairs, snapshot)
    assert len(pairs) == 60 and held_out and not set(trained_on) & set(held_out)
    text = metrics["text"]
    assert text["training"]["logged_pairs"] == len(trained_on)
    assert text["held_out"]["mrr@10 logged searches"]["n"] == len(held_out)
    assert text["held_out"]["mrr@10"]["n"] == len(held_out) + text["held_out"]["mrr@10 generated queries"]["n"]

    # Behaviour: one held-out last event per shopper with 3+ products, the same users for every model.
    evaluation = metrics["behaviour"]["evaluation"]
    assert {m["ndcg@10_ci"]["n"] for m in evaluation.values()} == {15}
    assert metrics["behaviour"]["baseline_check"]["difference"]["n"] == 15

    # Related: the fused figure is over pairs that did not choose the weights.
    related = metrics["related"]["hit_rate_at_10"]
    assert related["pairs_reported_on"] == 15 and related["folds"] == 5  # k-fold: each pair reported out-of-fold
    assert related["fused"]["n"] == related["pairs_reported_on"]
    weights = metrics["related"]["weights"]
    # 15 pairs to choose on: shrunk almost all the way to equal weights.
    assert max(weights.values()) - min(weights.values()) < 0.1 and np.isclose(sum(weights.values()), 1.0, atol=1e-3)
