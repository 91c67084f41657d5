"""Image similarity benchmark on Fashion-MNIST: trained CNN embeddings vs raw pixels.

Trains the shop's default image encoder (RGB, 32x32, supervised by category) on Fashion-MNIST
training images, then scores precision@10 of same-category neighbours among the 10,000 held-out
test images (leave-self-out cosine kNN), next to the same score for raw pixels.

    .venv/bin/python -m bench.image_similarity [--train 60000] [--epochs 5]

The defaults (all 60,000 training images, 5 epochs: 300k training images at ~1,400 images/s)
take about four minutes on two idle CPU cores. On a busy machine pass --threads 1: two OpenMP
threads fighting other processes for two cores run several times slower than one.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from bench.fashion_mnist import load_fashion_mnist
from shopguide.ml.image_encoder import ImageEncoder, ImageEncoderConfig
from shopguide.ml.images import prepare_images
from shopguide.ml.metrics import precision_at_k_same_label


def _prepare(greyscale: np.ndarray, config: ImageEncoderConfig) -> np.ndarray:
    """Send the arrays through the same path as shop uploads (PIL image -> prepare_images)."""
    prepared = prepare_images(
        [Image.fromarray(image) for image in greyscale], size=config.image_size, channels=config.channels
    )
    if prepared.errors:
        raise RuntimeError(f"{len(prepared.errors)} images failed to prepare: {list(prepared.errors.items())[:3]}")
    return prepared.array


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=60_000, help="training images to use (max 60000)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice; 1 is faster on a busy machine)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    # Only epochs and seed differ from the configuration a shop gets by default.
    config = dataclasses.replace(ImageEncoderConfig(), epochs=args.epochs, seed=args.seed)
    train_images, train_labels = load_fashion_mnist("train")
    test_images, test_labels = load_fashion_mnist("test")
    order = np.random.default_rng(args.seed).permutation(len(train_images))[: args.train]
    train_images, train_labels = train_images[order], train_labels[order].astype(np.int64)

    started = time.perf_counter()
    train_array, test_array = _prepare(train_images, config), _prepare(test_images, config)
    prepare_seconds = time.perf_counter() - started
    print(f"prepared {len(train_array)} train + {len(test_array)} test images "
          f"to {train_array.shape[1:]} in {prepare_seconds:.1f}s; torch threads: {torch.get_num_threads()}")

    encoder = ImageEncoder(config, device=args.device)
    with tqdm(total=config.epochs, desc=f"training on {encoder.device}", unit="epoch") as bar:
        def progress(fraction: float, message: str) -> None:
            bar.n = round(fraction * config.epochs)
            bar.set_postfix_str(message)
            bar.refresh()

        fit = encoder.fit(train_array, train_labels, progress=progress)

    started = time.perf_counter()
    embeddings = encoder.embed(test_array)
    embed_ms = (time.perf_counter() - started) * 1000 / len(test_array)
    cnn_p = precision_at_k_same_label(embeddings, test_labels, k=args.k)

    started = time.perf_counter()
    pixels = test_images.reshape(len(test_images), -1).astype(np.float32)
    pixel_ms = (time.perf_counter() - started) * 1000 / len(test_images)
    pixel_p = precision_at_k_same_label(pixels, test_labels, k=args.k)

    print()
    print(f"Fashion-MNIST, {len(test_array)} held-out images, same-category precision@{args.k} (leave-self-out cosine kNN)")
    print(f"{'method':<36} {f'P@{args.k}':>7} {'train s':>9} {'embed ms/image':>15}")
    cnn_name = f"CNN {config.image_size}x{config.image_size}x{config.channels}, {fit.mode}"
    print(f"{cnn_name:<36} {cnn_p:>7.4f} {fit.seconds:>9.1f} {embed_ms:>15.3f}")
    print(f"{'raw pixels 28x28 grey':<36} {pixel_p:>7.4f} {'-':>9} {pixel_ms:>15.3f}")
    print()
    print(f"training: {fit.num_images} images x {config.epochs} epochs, {fit.samples_per_second:.0f} images/s, "
          f"loss {fit.losses[0]:.3f} -> {fit.losses[-1]:.3f}")
    print(f"config: {dataclasses.asdict(config)}")


if __name__ == "__main__":
    main()
