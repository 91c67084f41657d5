import json

import pytest
from django.core.management import CommandError, call_command

from shopguide.services.training import request_training, run_training
from tests.factories import make_articles, make_history


def test_evaluate_prints_the_model_beside_the_baselines(db, capsys):
    make_history(make_articles(30), n_users=24)
    assert run_training(request_training().pk).status == "succeeded"
    call_command("shopguide_evaluate")
    out = capsys.readouterr().out
    for name in ("lstm", "popularity", "item_knn", "markov", "hr@10", "ndcg@10", "mrr@10", "coverage@10"):
        assert name in out
    call_command("shopguide_evaluate", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["users"] == 24 and report["n_items"] == 30
    assert set(report["results"]) == {"lstm", "popularity", "item_knn", "markov"}


def test_evaluate_explains_why_it_cannot(db):
    with pytest.raises(CommandError, match="No model version is active"):
        call_command("shopguide_evaluate")
    make_articles(6)
    assert run_training(request_training().pk).status == "succeeded"
    with pytest.raises(CommandError, match="no behaviour model"):
        call_command("shopguide_evaluate")
    with pytest.raises(CommandError, match="no model version 999"):
        call_command("shopguide_evaluate", "--model-version", "999")
