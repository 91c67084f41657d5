"""Training through a real Celery worker process on a real broker."""

import pytest
from django.core.management import call_command

from shopguide.conf import shopguide_settings
from shopguide.models import ProductVector, TrainingRun
from shopguide.selectors.versions import active_version
from shopguide.tasks import enqueue_training, train
from tests.conftest import wait_for
from tests.factories import make_articles

pytestmark = pytest.mark.worker
TRAINING_TIMEOUT = 180


def test_worker_trains_and_vectors_appear(celery_worker_process, api_client, capsys):
    make_articles(24)
    call_command("shopguide_train", timeout=TRAINING_TIMEOUT)  # queues, then follows the run's row
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.task_id and run.worker
    assert "succeeded" in capsys.readouterr().out
    version = active_version()
    assert ProductVector.objects.filter(version=version, space="image").count() == 24
    assert ProductVector.objects.filter(version=version, space="text").count() == 24
    body = api_client.get("/api/shopguide/products/A-0000/related/", {"k": 4}).json()
    assert body["source"] == "related" and body["model_version"] == version.pk and len(body["results"]) == 4


def test_redelivered_task_is_idempotent(celery_worker_process):
    make_articles(12)
    run = enqueue_training()
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).is_finished, timeout=TRAINING_TIMEOUT, message="training")
    first_version = active_version()
    # The broker delivers the same task again (e.g. after a lost ack): nothing is trained twice.
    train.apply_async((run.pk,), queue=shopguide_settings.GPU_QUEUE)
    wait_for(
        lambda: celery_worker_process.log_path.read_bytes().count(b"] succeeded in") >= 2,
        timeout=60,
        message="the second delivery to be handled",
    )
    assert active_version() == first_version
    assert TrainingRun.objects.count() == 1
    assert ProductVector.objects.count() == 24  # image + text, written once


def test_saved_product_is_embedded_and_related_without_a_retrain(celery_worker_process, api_client):
    from django.core.files.base import ContentFile

    from tests.factories import pattern_png
    from tests.testapp.models import Article, ArticleImage, ArticleShelf, Shelf

    make_articles(12)
    from shopguide.services.training import request_training, run_training

    assert run_training(request_training().pk).status == "succeeded"
    version = active_version()
    article = Article.objects.create(code="NEW-1", name="Stripes article new", summary="A stripes pattern.", cost=5)
    ArticleShelf.objects.create(article=article, shelf=Shelf.objects.get(label="Stripes"))
    image = ArticleImage(article=article)
    image.file.save(
        "new.png", ContentFile(pattern_png(0, seed=999)), save=True
    )  # saving the image queues the embedding
    wait_for(
        lambda: ProductVector.objects.filter(product=article, version=version).count() == len(version.dimensions),
        timeout=60,
        message="the new product's vectors in every space",
    )
    stripes = [f"A-{i:04d}" for i in range(0, 12, 3)]
    found_in = [
        pk
        for pk in stripes
        if "NEW-1"
        in [r["id"] for r in api_client.get(f"/api/shopguide/products/{pk}/related/", {"k": 5}).json()["results"]]
    ]
    assert found_in, "the new striped product is related to no striped product"
    from shopguide.selectors import search_products

    assert "NEW-1" in [i.product.pk for i in search_products(query="stripes article new", k=3).items]
    assert active_version() == version  # no retrain happened


def test_new_events_refresh_the_customers_vector_without_a_retrain(celery_worker_process):
    from shopguide.models import UserVector
    from shopguide.services.events import record_event
    from shopguide.services.training import request_training, run_training
    from tests.factories import make_history

    articles = make_articles(30)
    customer = make_history(articles, n_users=9)[0]  # shops stripes
    assert run_training(request_training().pk).status == "succeeded"
    version = active_version()
    before = UserVector.objects.get(version=version, user=customer)
    for article in articles[1:12:3]:  # now buys columns
        record_event(type="purchase", product=article, user=customer)
    wait_for(
        lambda: UserVector.objects.get(version=version, user=customer).updated_at > before.updated_at,
        timeout=60,
        message="the refreshed user vector",
    )
    after = UserVector.objects.get(version=version, user=customer)
    assert list(after.embedding) != list(before.embedding)
    assert active_version() == version
