"""Small server-side charts for the admin, drawn with Pillow (no plotting dependency):
training-loss curves and a 2-D map of an embedding space coloured by category."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

PALETTE = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]
WIDTH, HEIGHT, MARGIN = 560, 300, 40


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def loss_chart(series: dict[str, list[float]]) -> bytes:
    """One line per model: its training loss per epoch, each scaled to its own first value
    (models have losses of different sizes; the shape is what matters)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([MARGIN, 10, WIDTH - 10, HEIGHT - MARGIN], outline=(180, 180, 180))
    draw.text((MARGIN, HEIGHT - MARGIN + 8), "epoch →   (loss relative to epoch 1)", fill=(90, 90, 90))
    plot_w, plot_h = WIDTH - MARGIN - 20, HEIGHT - MARGIN - 20
    for i, (name, losses) in enumerate(s for s in series.items() if len(s[1]) >= 1):
        colour = PALETTE[i % len(PALETTE)]
        relative = np.asarray(losses, dtype=float) / (losses[0] or 1.0)
        n = max(len(relative) - 1, 1)
        points = [
            (MARGIN + 5 + plot_w * j / n, 15 + plot_h * (1 - min(max(v, 0.0), 1.2) / 1.2))
            for j, v in enumerate(relative)
        ]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        draw.text((WIDTH - 170, 15 + 14 * i), f"— {name} ({losses[-1]:.3f})", fill=colour)
    return _png(image)


def embedding_map(vectors: np.ndarray, labels: list[str]) -> bytes:
    """The first two principal components of ``vectors``, one dot per product, coloured by label."""
    image = Image.new("RGB", (WIDTH, HEIGHT + 60), "white")
    draw = ImageDraw.Draw(image)
    if len(vectors) >= 2:
        centred = vectors - vectors.mean(axis=0)
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        xy = centred @ components[:2].T
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        xy = (xy - lo) / np.maximum(hi - lo, 1e-9)
        names = sorted(set(labels))
        colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
        for (x, y), label in zip(xy, labels):
            cx, cy = 10 + x * (WIDTH - 20), 10 + y * (HEIGHT - 20)
            draw.ellipse([cx - 2, cy - 2, cx + 2, cy + 2], fill=colour[label])
        for i, name in enumerate(names[:20]):
            draw.text((10 + (i % 4) * 140, HEIGHT + 2 + (i // 4) * 12), f"● {name[:20]}", fill=colour[name])
    return _png(image)
