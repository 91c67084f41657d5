"""Related lists of a catalogue above SHOPGUIDE["EXACT_LISTS_BELOW"]: built approximately (IVF),
their recall logged, and served like exact ones."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from shopguide.models import RelatedList
from shopguide.selectors import related_products
from shopguide.selectors.versions import active_version
from shopguide.services.stored_lists import build_related_lists, load_space_matrices, related_list_kinds
from shopguide.services.training import request_training, run_training
from tests.factories import make_articles, make_history
from tests.testapp.models import Article


@pytest.fixture
def trained(db, settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "LIST_DEPTH": 10}
    articles = make_articles(40)
    make_history(articles, n_users=8, per_user=5)
    run = run_training(request_training().pk)
    assert run.status == "succeeded", run.error
    return active_version()


def test_above_the_threshold_lists_are_approximate_logged_and_served(trained, settings, caplog):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "EXACT_LISTS_BELOW": 10, "DEVICE": "cpu"}
    version = trained
    steps = []
    with caplog.at_level(logging.INFO, logger="shopguide.services.stored_lists"):
        written = build_related_lists(version, progress=lambda f, m: steps.append((f, m)))
    messages = [r.getMessage() for r in caplog.records]
    assert any("approximate (IVF)" in m and "40 products" in m for m in messages), messages
    per_kind = [m for m in messages if m.startswith("related lists '") and "recall@10" in m]
    assert len(per_kind) == len(related_list_kinds(version))
    assert any("approximate neighbours (IVF)" in m for _, m in steps)
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 0.8

    kinds = related_list_kinds(version)
    assert written == 40 * len(kinds)
    product_ids, spaces = load_space_matrices(version, list(version.dimensions))
    unit = {name: m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12) for name, m in spaces.items()}
    row_of = {str(pk): i for i, pk in enumerate(product_ids)}
    for stored in RelatedList.objects.filter(version=version):
        assert len(stored.product_ids) == 10 and str(stored.product_id) not in stored.product_ids
        assert stored.scores == sorted(stored.scores, reverse=True)
        me = row_of[str(stored.product_id)]
        weights = kinds[stored.space]
        for pk, score in zip(stored.product_ids, stored.scores):  # exact fused similarities
            fused = sum(w * float(unit[name][me] @ unit[name][row_of[pk]]) for name, w in weights.items())
            assert score == pytest.approx(fused, abs=1e-4)

    product = Article.objects.get(pk="A-0000")
    served = related_products(product=product, k=5)
    stored = RelatedList.objects.get(version=version, product_id=product.pk, space="")
    assert served.source == "related" and [str(i.product.pk) for i in served.items] == stored.product_ids[:5]


def test_below_the_threshold_lists_stay_exact(trained, settings, caplog):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "EXACT_LISTS_BELOW": 41, "DEVICE": "cpu"}
    with caplog.at_level(logging.INFO, logger="shopguide.services.stored_lists"):
        build_related_lists(trained)
    assert any("exact on cpu" in r.getMessage() for r in caplog.records)
    assert not any("recall@10" in r.getMessage() for r in caplog.records)
