"""Image similarity benchmark on Fashion-MNIST: trained image embeddings vs raw pixels.

Trains what the shop's default image setting (IMAGE_MODEL["backbone"] = "auto") trains for this
many images, supervised by category, on Fashion-MNIST training images, then scores precision@10
of same-category neighbours among the 10,000 held-out test images (leave-self-out cosine kNN),
next to the same score for raw pixels. With the 60,000 training images "auto" trains the scratch
CNN only (more than auto_max_images = 20,000); with --train 20000 or fewer it also fine-tunes the
pretrained EfficientNet-Lite0 and picks by precision@10 on a validation tenth of the training
images (never the test images).

    .venv/bin/python -m bench.image_similarity [--train 60000] [--epochs 5] [--backbone auto]

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
from shopguide.ml.image_selection import candidate_configs
from shopguide.ml.images import prepare_images
from shopguide.ml.metrics import estimate, format_estimate, precision_at_k_same_label, precision_per_query
from shopguide.ml.packages import missing_pretrained_packages


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
    parser.add_argument("--backbone", default="auto", choices=("auto", "efficientnet_lite0", "scratch"))
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default: torch's choice; 1 is faster on a busy machine)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    # Only epochs and seed differ from the configuration a shop gets by default.
    candidates, notes = candidate_configs(
        {"backbone": args.backbone, "epochs": args.epochs, "seed": args.seed, "pretrained": {"seed": args.seed}},
        n_images=args.train,
        pretrained_available=not missing_pretrained_packages(),
    )
    print(f"backbone {args.backbone!r} trains: {', '.join(candidates)}" + (f" ({'; '.join(notes)})" if notes else ""))
    train_images, train_labels = load_fashion_mnist("train")
    test_images, test_labels = load_fashion_mnist("test")
    order = np.random.default_rng(args.seed).permutation(len(train_images))[: args.train]
    train_images, train_labels = train_images[order], train_labels[order].astype(np.int64)
    # A validation tenth of the training images chooses between candidates (only when there are two).
    n_valid = len(train_images) // 10 if len(candidates) > 1 else 0

    results = {}
    for name, config in candidates.items():
        started = time.perf_counter()
        train_array, test_array = _prepare(train_images, config), _prepare(test_images, config)
        print(
            f"{name}: prepared {len(train_array)} train + {len(test_array)} test images to {train_array.shape[1:]} "
            f"in {time.perf_counter() - started:.1f}s; torch threads: {torch.get_num_threads()}"
        )
        encoder = ImageEncoder(config, device=args.device)
        with tqdm(total=config.epochs, desc=f"{name} on {encoder.device}", unit="epoch") as bar:

            def progress(fraction: float, message: str) -> None:
                bar.n = round(fraction * config.epochs)  # noqa: B023 - called by this iteration's fit only
                bar.set_postfix_str(message)
                bar.refresh()

            valid = (train_array[:n_valid], train_labels[:n_valid]) if n_valid else None
            fit = encoder.fit(train_array[n_valid:], train_labels[n_valid:], valid=valid, progress=progress)
        valid_p = (
            precision_at_k_same_label(encoder.embed(train_array[:n_valid]), train_labels[:n_valid], k=args.k)
            if n_valid
            else None
        )
        started = time.perf_counter()
        embeddings = encoder.embed(test_array)
        embed_ms = (time.perf_counter() - started) * 1000 / len(test_array)
        per_query = precision_per_query(embeddings, test_labels, np.arange(len(test_labels)), k=args.k)
        results[name] = (config, fit, embed_ms, estimate(per_query), valid_p)
    auto = max(results, key=lambda n: results[n][4] if results[n][4] is not None else 0.0)

    pixels = test_images.reshape(len(test_images), -1).astype(np.float32)
    pixel_p = estimate(precision_per_query(pixels, test_labels, np.arange(len(test_labels)), k=args.k))

    print()
    print(
        f"Fashion-MNIST, {len(test_images)} held-out images, same-category precision@{args.k} "
        "(leave-self-out cosine kNN)"
    )
    print(f"{'method':<40} {f'P@{args.k} [95% CI] n':<32} {'train s':>9} {'embed ms/image':>15}")
    for name, (config, fit, embed_ms, figure, _) in results.items():
        label = f"{name} {config.image_size}x{config.image_size}x{config.channels}, {fit.mode}" + (
            " <- auto" if name == auto else ""
        )
        print(f"{label:<40} {format_estimate(figure, digits=4):<32} {fit.seconds:>9.1f} {embed_ms:>15.3f}")
    print(f"{'raw pixels 28x28 grey':<40} {format_estimate(pixel_p, digits=4):<32} {'-':>9}")
    for name, (config, fit, _, _, valid_p) in results.items():
        print(
            f"\n{name}: {fit.num_images} images x {len(fit.losses)} epochs (best {fit.best_epoch}), "
            f"{fit.samples_per_second:.0f} images/s, loss {fit.losses[0]:.3f} -> {fit.losses[-1]:.3f}"
            + (f", validation P@{args.k} {valid_p:.4f}" if valid_p is not None else "")
        )
        print(f"config: {dataclasses.asdict(config)}")


if __name__ == "__main__":
    main()
