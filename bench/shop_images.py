"""Product photos of a made-up shop, rendered with Pillow: a category tree drawn into the pixels.

The top category sets the background's colour family; the leaf sets the object's shape and
texture (stripes, dots, checks, plain). Colour shades, object size, position, rotation, lighting
and sensor noise vary per photo, so neighbours must be found by what the categories share, not by
copies. Used by bench.small_shop (and small enough for tests to call).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

TOPS = {  # name -> background hue family (RGB centre)
    "Kitchen": (236, 214, 170),
    "Garden": (178, 222, 176),
    "Bath": (172, 204, 236),
    "Toys": (236, 180, 206),
}
SHAPES = ("disc", "square", "triangle", "ring", "bar")
TEXTURES = ("plain", "stripes", "dots", "checks")


@dataclass(frozen=True)
class Leaf:
    top: str
    name: str
    shape: str
    texture: str


def category_tree(leaves_per_top: int = 4, *, seed: int = 0) -> list[Leaf]:
    """Leaves of each top category: distinct (shape, texture) pairs within a top."""
    rng = np.random.default_rng(seed)
    combos = [(s, t) for s in SHAPES for t in TEXTURES]
    leaves = []
    for top in TOPS:
        picks = rng.choice(len(combos), size=leaves_per_top, replace=False)
        for i in picks:
            shape, texture = combos[i]
            leaves.append(Leaf(top=top, name=f"{top} / {texture} {shape}", shape=shape, texture=texture))
    return leaves


def render(leaf: Leaf, rng: np.random.Generator, *, size: int = 160) -> Image.Image:
    """One product photo of ``leaf``."""
    base = np.array(TOPS[leaf.top], dtype=float)
    background = tuple(int(v) for v in np.clip(base + rng.normal(0, 10, 3), 0, 255))
    image = Image.new("RGB", (size, size), background)
    colour = tuple(int(v) for v in rng.integers(20, 200, 3))
    fill = _texture(leaf.texture, colour, size, rng)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    r = size * rng.uniform(0.22, 0.36)
    cx, cy = size / 2 + rng.uniform(-0.12, 0.12, 2) * size
    if leaf.shape == "disc":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif leaf.shape == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        inner = r * 0.55
        draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill=0)
    elif leaf.shape == "square":
        draw.rectangle([cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy + r * 0.85], fill=255)
    elif leaf.shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r * 0.8), (cx + r, cy + r * 0.8)], fill=255)
    else:  # bar
        draw.rectangle([cx - r * 1.2, cy - r * 0.35, cx + r * 1.2, cy + r * 0.35], fill=255)
    mask = mask.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BILINEAR, center=(cx, cy))
    image.paste(fill, (0, 0), mask)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    pixels = np.asarray(image, dtype=float) * rng.uniform(0.85, 1.1)  # lighting
    pixels += rng.normal(0, 6, pixels.shape)  # sensor noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _texture(texture: str, colour: tuple[int, int, int], size: int, rng: np.random.Generator) -> Image.Image:
    fill = Image.new("RGB", (size, size), colour)
    if texture == "plain":
        return fill
    draw = ImageDraw.Draw(fill)
    light = tuple(min(255, c + 110) for c in colour)
    step = int(rng.integers(10, 16))
    offset = int(rng.integers(0, step))
    if texture == "stripes":
        for x in range(-size, size * 2, step):
            draw.line([(x + offset, 0), (x + offset + size, size)], fill=light, width=step // 3)
    elif texture == "dots":
        for y in range(offset, size, step):
            for x in range(offset, size, step):
                draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=light)
    else:  # checks
        for y in range(0, size, step):
            for x in range(0, size, step):
                if ((x + y) // step) % 2:
                    draw.rectangle([x, y, x + step - 1, y + step - 1], fill=light)
    return fill


def make_catalogue(
    n_products: int, *, leaves_per_top: int = 4, seed: int = 0, size: int = 160
) -> tuple[list[Leaf], list[int], list[Image.Image]]:
    """(leaves, leaf index of each product, one photo per product), products spread over leaves."""
    rng = np.random.default_rng(seed)
    leaves = category_tree(leaves_per_top, seed=seed)
    product_leaf = [i % len(leaves) for i in range(n_products)]
    rng.shuffle(product_leaf)
    return leaves, product_leaf, [render(leaves[i], rng, size=size) for i in product_leaf]
