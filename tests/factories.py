"""Test data made on the fly: synthetic product images whose look depends on the shelf."""

from __future__ import annotations

import io

import numpy as np
from django.core.files.base import ContentFile
from PIL import Image

from tests.testapp.models import Article, ArticleImage, ArticleShelf, Shelf

SHELVES = ["Stripes", "Columns", "Rings"]


def pattern_png(shelf: int, seed: int, size: int = 48) -> bytes:
    """A PNG whose pattern is set by ``shelf`` (stripes / columns / rings) with per-item noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    period = rng.uniform(6, 10)
    phase = rng.uniform(0, 6)
    if shelf == 0:
        base = np.sin((y + phase) * 2 * np.pi / period)
    elif shelf == 1:
        base = np.sin((x + phase) * 2 * np.pi / period)
    else:
        r = np.hypot(x - size / 2, y - size / 2)
        base = np.sin((r + phase) * 2 * np.pi / period)
    pixels = (127 + 100 * base + rng.normal(0, 20, base.shape)).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def make_articles(n: int, *, with_images: bool = True, prefix: str = "A", available=lambda i: True) -> list[Article]:
    """n articles spread over the three shelves (article i is on shelf i % 3)."""
    shelves = [Shelf.objects.get_or_create(label=label)[0] for label in SHELVES]
    articles = []
    for i in range(n):
        shelf = i % len(SHELVES)
        article = Article.objects.create(
            code=f"{prefix}-{i:04d}",
            name=f"{SHELVES[shelf]} article {i}",
            summary=f"A {SHELVES[shelf].lower()} pattern.",
            cost=10 + i,
            available=available(i),
        )
        ArticleShelf.objects.create(article=article, shelf=shelves[shelf])
        if with_images:
            image = ArticleImage(article=article, position=0)
            image.file.save(f"{article.code}.png", ContentFile(pattern_png(shelf, seed=i)), save=True)
        articles.append(article)
    return articles
