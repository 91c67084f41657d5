"""The training pipeline in-process: snapshot → train → embed → index → activate, and serving."""

import re

import numpy as np
import pytest
from django.db import connection
from django.test import Client

from shopguide.models import ModelVersion, ProductVector, TrainingRun
from shopguide.selectors.versions import active_version
from shopguide.services.training import request_training, run_training
from shopguide.services.versions import ActivationError, rollback
from shopguide.vectors import index_name
from tests.factories import make_articles
from tests.testapp.models import Article, ArticleImage

RELATED = "/api/shopguide/products/{}/related/"


def train() -> TrainingRun:
    run = run_training(request_training().pk)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    return run


@pytest.fixture
def trained(db):
    articles = make_articles(30, available=lambda i: i != 3)
    return articles, train()


def test_training_writes_vectors_builds_the_index_and_activates(trained):
    _articles, run = trained
    version = active_version()
    assert run.version == version and version.status == "ready"
    assert ProductVector.objects.filter(version=version, space="image").count() == 30
    assert ProductVector.objects.filter(version=version, space="text").count() == 30
    assert version.dimensions == {"image": 16, "text": 16}  # no events yet: no behaviour model
    assert "behaviour" in version.metrics["skipped"]
    assert version.artifacts["image"].endswith(f"v{version.pk}/image.pt")
    metrics = version.metrics["image"]
    assert metrics["backbone"] == "scratch" and metrics["metric"] == "precision@8"
    held_out = metrics["held_out"]["model"]
    assert 0 < held_out["n"] < 30 and held_out["low"] <= held_out["value"] <= held_out["high"]
    assert run.percent == 100 and set(run.timings) >= {"snapshot", "train", "total"}
    with connection.cursor() as cursor:
        for space in ("image", "text"):
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index_name(version.pk, space)])
            (definition,) = cursor.fetchone()
            assert (
                "hnsw" in definition and "vector_cosine_ops" in definition and "(embedding)::vector(16)" in definition
            )
    assert version.vector_index_type == "vector"  # the default SHOPGUIDE["VECTOR_INDEX_TYPE"], recorded


def test_embedding_fans_out_in_chunks(db, settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "EMBED_CHUNK_SIZE": 7}
    make_articles(30)
    run = train()
    assert run.chunks_total == 5
    assert list(run.chunks.order_by("index").values_list("index", flat=True)) == [0, 1, 2, 3, 4]
    assert not run.chunks.filter(done_at__isnull=True).exists()
    assert ProductVector.objects.filter(version=run.version).count() == 60  # image + text


def test_stored_vectors_are_what_embedding_a_product_gives(trained):
    # Training stores the vectors it computed (the chunks skip those products): they must be the
    # very vectors the embedding path gives each product with the saved models.
    from shopguide.spaces import get_space

    _articles, run = trained
    version = run.version
    products = list(Article.objects.order_by("pk"))
    for space in ("image", "text"):
        ids, vectors, _ = get_space(space).embed_products(version, products)
        stored = dict(ProductVector.objects.filter(version=version, space=space).values_list("product_id", "embedding"))
        assert sorted(stored) == sorted(ids)
        np.testing.assert_allclose(np.array([stored[pk] for pk in ids]), vectors, atol=1e-5)


def test_related_products_look_alike_and_skip_self_and_out_of_stock(trained, api_client):
    response = api_client.get(RELATED.format("A-0000"), {"k": 6})
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "related" and body["fallback"] is False
    assert body["model_version"] == active_version().pk
    ids = [item["id"] for item in body["results"]]
    assert len(ids) == 6 and "A-0000" not in ids and "A-0003" not in ids
    assert set(body["results"][0]) == {
        "id",
        "sku",
        "title",
        "url",
        "image",
        "category",
        "price",
        "currency",
        "score",
        "reason",
    }
    scores = [item["score"] for item in body["results"]]
    assert scores == sorted(scores, reverse=True)
    # Article i is on shelf i % 3; a trained model should find mostly same-pattern neighbours.
    same_shelf = sum(Article.objects.get(pk=pk).name.split()[0] == "Stripes" for pk in ids)
    assert same_shelf >= 4, ids


def test_template_tag_and_api_return_the_same_list(trained, api_client):
    html = Client().get("/articles/A-0005/").content.decode()
    from_widget = re.findall(r'data-product-id="([^"]+)"', html)
    from_api = [item["id"] for item in api_client.get(RELATED.format("A-0005"), {"k": 5}).json()["results"]]
    assert from_widget and from_widget == from_api
    assert f'data-shopguide-version="{active_version().pk}"' in html


def test_without_a_model_related_falls_back_to_popular(db, api_client):
    make_articles(6, with_images=False)
    body = api_client.get(RELATED.format("A-0000"), {"k": 3}).json()
    assert body["fallback"] is True and body["source"] == "popular" and body["model_version"] is None
    ids = [item["id"] for item in body["results"]]
    assert len(ids) == 3 and "A-0000" not in ids
    assert ids[0] == "A-0003"  # same shelf first


@pytest.mark.parametrize("query, status", [({"k": 0}, 400), ({"k": 101}, 400), ({"k": "many"}, 400)])
def test_bad_k_gives_400_with_a_message(trained, api_client, query, status):
    response = api_client.get(RELATED.format("A-0000"), query)
    assert response.status_code == status
    assert "k" in response.json()


def test_unknown_product_gives_404_with_a_message(db, api_client):
    response = api_client.get(RELATED.format("NO-SUCH"))
    assert response.status_code == 404
    assert "NO-SUCH" in response.json()["detail"]


def test_failed_run_leaves_the_active_version_serving(trained, api_client):
    _, first = trained

    def ranking():
        body = api_client.get(RELATED.format("A-0001")).json()
        return body["model_version"], body["source"], [(i["id"], i["score"]) for i in body["results"]]

    before = ranking()
    run = run_training(request_training(options={"image_model": {"channels": 5}}).pk)  # a bad config
    assert run.status == "failed" and "channels" in run.error
    assert active_version() == first.version
    assert ranking() == before and before[1] == "related"


def test_a_model_without_data_is_skipped_and_the_rest_trains(trained):
    ArticleImage.objects.all().delete()
    run = train()
    assert run.version.dimensions == {"text": 16}
    assert "image" in run.version.metrics["skipped"]
    assert any("image model skipped" in w for w in run.warnings)


def test_corrupt_image_is_skipped_and_reported(db):
    make_articles(12)
    broken = ArticleImage.objects.get(article_id="A-0007")
    broken.file.open("wb")
    broken.file.write(b"\x89PNG\r\n\x1a\n truncated")
    broken.file.close()
    run = train()
    assert any(w.startswith("product A-0007:") for w in run.warnings)
    assert not ProductVector.objects.filter(product_id="A-0007", space="image").exists()
    assert ProductVector.objects.filter(product_id="A-0007", space="text").exists()  # still searchable
    assert ProductVector.objects.filter(version=run.version, space="image").count() == 11


def test_behaviour_model_trains_on_history_and_is_evaluated_against_baselines(db):
    from shopguide.models import UserVector
    from tests.factories import make_history

    articles = make_articles(30)
    customers = make_history(articles)
    run = train()
    version = run.version
    assert set(version.dimensions) == {"image", "text", "behaviour"}
    assert ProductVector.objects.filter(version=version, space="behaviour").count() == 30
    assert UserVector.objects.filter(version=version).count() == len(customers)
    evaluation = version.metrics["behaviour"]["evaluation"]
    assert set(evaluation) == {"lstm", "popularity", "item_knn", "markov"}
    assert all(0 <= evaluation[m]["hr@10"] <= 1 and evaluation[m]["users"] == len(customers) for m in evaluation)
    weights = version.config["related_weights"]
    assert set(weights) == {"image", "text", "behaviour"} and abs(sum(weights.values()) - 1) < 1e-6
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE %s", [f"shopguide_pv_hnsw_v{version.pk}_behaviour%"]
        )
        assert {row[0] for row in cursor.fetchall()} == {
            index_name(version.pk, "behaviour"),
            index_name(version.pk, "behaviour", "ip"),
        }


def test_empty_catalogue_refuses_to_train(db):
    run = run_training(request_training().pk)
    assert run.status == "failed" and "catalogue is empty" in run.error
    assert not ModelVersion.objects.exists()


def test_rollback_reactivates_the_previous_version(trained):
    _, first = trained
    second = train()
    assert active_version() == second.version
    assert rollback() == first.version
    assert active_version() == first.version
    # both versions keep their own vectors; serving reads only the active one
    assert ProductVector.objects.filter(version=second.version, space="image").count() == 30


def test_rollback_without_an_earlier_version_is_refused(trained):
    with pytest.raises(ActivationError):
        rollback()


def test_rerunning_a_finished_run_changes_nothing(trained):
    _, run = trained
    again = run_training(run.pk)
    assert again.status == "succeeded" and ModelVersion.objects.count() == 1


def test_segments_are_predicted_for_every_customer(db):
    from shopguide.models import Segment, SegmentMember, SegmentScore
    from tests.factories import make_history

    articles = make_articles(30)
    customers = make_history(articles, n_users=48)  # customer u shops shelf u % 3
    stripes = Segment.objects.create(name="Stripe fans", slug="stripe-fans")
    # Staff labelled the first half; the model should rank the other stripe shoppers higher.
    labelled, unlabelled = customers[:24], customers[24:]
    for i, customer in enumerate(labelled):
        SegmentMember.objects.create(segment=stripes, user=customer, is_member=i % 3 == 0)
    ruled = Segment.objects.create(
        name="Ring buyers", slug="ring-buyers", rule={"min_purchases": 1, "category": "Rings"}
    )
    run = train()
    report = run.version.metrics["segments"]
    assert report["stripe-fans"]["positives"] == 8 and report["stripe-fans"]["negatives"] == 16
    assert report["ring-buyers"]["positives"] == 16 and report["ring-buyers"]["negatives"] == 32
    assert SegmentMember.objects.filter(segment=ruled, source="rule", is_member=True).count() == 16
    scores = dict(
        SegmentScore.objects.filter(segment=stripes, version=run.version).values_list("user_id", "probability")
    )
    assert len(scores) == len(customers)
    fans = [scores[c.pk] for i, c in enumerate(unlabelled) if (24 + i) % 3 == 0]
    others = [scores[c.pk] for i, c in enumerate(unlabelled) if (24 + i) % 3]
    assert np.mean(fans) > np.mean(others) + 0.2, (fans, others)
