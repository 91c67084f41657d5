"""Test data made on the fly: synthetic product images whose look depends on the shelf."""

from __future__ import annotations

import io
from datetime import UTC

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


def make_history(articles: list[Article], *, n_users: int = 12, per_user: int = 6, seed: int = 0) -> list:
    """Customers who each shop one shelf (customer u likes shelf u % 3), viewing then buying."""
    from datetime import datetime, timedelta

    from shopguide.models import Interaction
    from tests.testapp.models import Customer

    rng = np.random.default_rng(seed)
    by_shelf = [[a for i, a in enumerate(articles) if i % len(SHELVES) == s] for s in range(len(SHELVES))]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    customers, events = [], []
    for u in range(n_users):
        customer = Customer.objects.create_user(f"shopper{u}@example.com")
        customers.append(customer)
        shelf = by_shelf[u % len(SHELVES)]
        picks = rng.choice(len(shelf), size=min(per_user, len(shelf)), replace=False)
        for step, index in enumerate(picks):
            ts = start + timedelta(days=u, minutes=10 * step)
            events.append(Interaction(user=customer, product=shelf[index], type="view", ts=ts))
            if step % 2:
                events.append(
                    Interaction(user=customer, product=shelf[index], type="purchase", ts=ts + timedelta(minutes=1))
                )
    Interaction.objects.bulk_create(events)
    return customers
