"""The scratch CNN on bench.small_shop's catalogue, with and without centring its embeddings.

    .venv/bin/python -m bench.scratch_centring [N_PRODUCTS]   (default 300; 1 torch thread)

Trains the scratch CNN once (as IMAGE_MODEL["backbone"] = "scratch" would), then scores the same
network's TEST images by leaf precision@8 with the stored centre removed and without it, and
prints the spread of pairwise cosine similarities (5th, 50th, 95th percentile) of each.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from bench.shop_images import make_catalogue
from bench.small_shop import IMAGE_SALT, IMAGE_TEST, IMAGE_VALID, K
from shopguide.ml.holdout import TEST, split_by_key
from shopguide.ml.image_selection import candidate_configs, choose_image_encoder, held_out_scores
from shopguide.ml.images import prepare_images
from shopguide.ml.metrics import estimate, format_estimate


def cos(v):
    s = v @ v.T
    iu = np.triu_indices(len(v), 1)
    return np.quantile(s[iu], [0.05, 0.5, 0.95])


def main() -> None:
    torch.set_num_threads(1)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    _leaves, product_leaf, photos = make_catalogue(n, seed=0)
    labels = np.array(product_leaf)
    cands, _ = candidate_configs({"backbone": "scratch"}, n_images=n, pretrained_available=False)
    cfg = cands["scratch"]
    images = prepare_images(photos, size=cfg.image_size, channels=3).array
    split = split_by_key([f"P{i}" for i in range(n)], valid=IMAGE_VALID, test=IMAGE_TEST, salt=IMAGE_SALT)
    choice = choose_image_encoder(images, labels, split, candidates=cands, k=K, device="cpu")
    enc = choice.encoder
    test = np.flatnonzero(split == TEST)
    after = enc.embed(images)
    enc.center = None
    before = enc.embed(images)

    print("products", n)
    print(
        "without centring: leaf P@8",
        format_estimate(estimate(held_out_scores(before, labels, test, k=K, supervised=True))),
        "pairwise cosine 5/50/95%",
        cos(before).round(4),
    )
    print(
        "with centring:    leaf P@8",
        format_estimate(estimate(held_out_scores(after, labels, test, k=K, supervised=True))),
        "pairwise cosine 5/50/95%",
        cos(after).round(4),
    )
    print("raw pixels (choose_image_encoder):", format_estimate(choice.report["raw_pixels"]["test"]))


if __name__ == "__main__":
    main()
