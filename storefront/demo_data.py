"""Demo data for the storefront: a product catalogue with images, and shopper histories.

Pure Python (numpy + Pillow), no Django: the management commands that load the demo shop call
:func:`build_demo_dataset` and then import the two JSON Lines files it writes, in the formats of
DESIGN.md ("Data the shop feeds in"):

* ``catalog.jsonl`` -- ``{"sku", "title", "description", "category", "price", "image", "in_stock"}``
* ``events.jsonl`` -- ``{"user", "sku", "type", "ts", "query"?}``, sorted by ``ts``

Images are the real Fashion-MNIST product photos (inverted to dark-on-white and upscaled) when
the data set is on disk, otherwise simple drawn silhouettes. Everything is deterministic for a
given seed, including the event timestamps, which end at a fixed reference date rather than today.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "CATEGORIES",
    "DEFAULT_FASHION_MNIST_DIR",
    "EVENTS_END",
    "IMAGE_SIZE",
    "CategorySpec",
    "DemoDataset",
    "build_demo_dataset",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]

DEFAULT_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
IMAGE_SIZE = 112
# Fixed end of the simulated history, so the same seed gives the same timestamps on any day.
EVENTS_END = datetime(2026, 11, 1, tzinfo=UTC)
EVENTS_WINDOW = timedelta(days=120)
SKU_PREFIX = "FM-"
IN_STOCK_RATE = 0.92

# Separate random streams per stage: changing how titles are written does not reshuffle events.
_STREAM_PLAN, _STREAM_IMAGES, _STREAM_TEXT, _STREAM_EVENTS = 1, 2, 3, 4


# --------------------------------------------------------------------------------------------
# Public result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoDataset:
    """What :func:`build_demo_dataset` wrote. ``image`` paths in the catalogue are relative to
    ``images_root``."""

    catalog_path: Path
    events_path: Path
    images_root: Path
    n_products: int
    n_events: int
    image_source: str  # "fashion-mnist" or "generated"


# --------------------------------------------------------------------------------------------
# Categories: everything the text, price and shopper simulation need to know about each one
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategorySpec:
    name: str  # shop category name, written to the catalogue
    slug: str  # image folder name
    nouns: tuple[str, ...]  # the last words of a title
    styles: tuple[str, ...]  # title adjectives
    materials: tuple[str, ...]
    fits: tuple[str, ...]  # noun phrases used as "... with <fit>"
    seasons: dict[str, float]  # season word -> relative weight
    occasions: tuple[str, ...]
    features: tuple[str, ...]  # one of these may end the description
    price_range: tuple[float, float]
    search_words: tuple[str, ...]  # what a shopper types when searching the category
    complements: tuple[str, ...]  # categories often bought together with this one


_GARMENT_FITS = ("a regular fit", "a relaxed fit", "a slim fit", "an oversized fit")
_SHOE_FITS = ("a true-to-size fit", "a wide fit", "a narrow fit", "a snug fit")

# Order = Fashion-MNIST label order (0 T-shirt/top ... 9 Ankle boot).
CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        name="T-shirts & Tops",
        slug="t-shirts-tops",
        nouns=("T-Shirt", "Tee", "Top", "Tank Top"),
        styles=(
            "Relaxed",
            "Classic",
            "Essential",
            "Oversized",
            "Boxy",
            "Vintage",
            "Everyday",
            "Cropped",
        ),
        materials=("Cotton", "Organic Cotton", "Jersey", "Linen", "Modal", "Bamboo"),
        fits=_GARMENT_FITS,
        seasons={"summer": 4, "spring": 3, "all-season": 3, "autumn": 1},
        occasions=("casual", "weekend", "sport", "beach", "travel"),
        features=(
            "Crew neck with a ribbed collar that keeps its shape.",
            "Soft to the touch and easy to layer under a jacket.",
            "Garment-dyed for a lived-in look.",
            "Breathable fabric that stays cool on warm days.",
            "Machine washable and quick to dry.",
        ),
        price_range=(9.0, 45.0),
        search_words=("t-shirt", "tee", "top", "tshirt", "t-shirts"),
        complements=("Sneakers", "Trousers"),
    ),
    CategorySpec(
        name="Trousers",
        slug="trousers",
        nouns=("Trousers", "Chinos", "Jeans", "Joggers", "Slacks"),
        styles=(
            "Tailored",
            "Slim",
            "Wide-Leg",
            "Straight",
            "Tapered",
            "Pleated",
            "Cargo",
            "Relaxed",
        ),
        materials=("Cotton Twill", "Denim", "Wool Blend", "Linen", "Corduroy", "Stretch Cotton"),
        fits=("a slim fit", "a straight fit", "a relaxed fit", "a tapered fit", "a wide fit"),
        seasons={"all-season": 4, "autumn": 2, "spring": 2, "winter": 1, "summer": 1},
        occasions=("office", "casual", "weekend", "travel", "evening"),
        features=(
            "Belt loops, a zip fly and two deep side pockets.",
            "Finished with a clean hem that works with trainers or boots.",
            "A touch of stretch for comfort through the day.",
            "Sits at the natural waist.",
            "Back welt pockets with button closure.",
        ),
        price_range=(29.0, 129.0),
        search_words=("trousers", "pants", "jeans", "chinos"),
        complements=("Shirts", "T-shirts & Tops"),
    ),
    CategorySpec(
        name="Pullovers",
        slug="pullovers",
        nouns=("Pullover", "Jumper", "Sweater", "Sweatshirt", "Hoodie"),
        styles=(
            "Chunky",
            "Cable-Knit",
            "Fine-Knit",
            "Cosy",
            "Ribbed",
            "Classic",
            "Oversized",
            "Fisherman",
        ),
        materials=(
            "Merino Wool",
            "Cashmere Blend",
            "Lambswool",
            "Cotton Knit",
            "Fleece",
            "Alpaca Blend",
        ),
        fits=_GARMENT_FITS,
        seasons={"winter": 4, "autumn": 4, "spring": 1},
        occasions=("casual", "weekend", "office", "outdoor", "travel"),
        features=(
            "Ribbed cuffs and hem hold their shape wash after wash.",
            "Warm without bulk, so it layers neatly under a coat.",
            "Crew neckline with dropped shoulders.",
            "Soft brushed inside for extra warmth.",
            "Knitted in a dense gauge that resists pilling.",
        ),
        price_range=(29.0, 149.0),
        search_words=("pullover", "jumper", "sweater", "knitwear", "hoodie"),
        complements=("Coats", "Trousers"),
    ),
    CategorySpec(
        name="Dresses",
        slug="dresses",
        nouns=("Dress", "Midi Dress", "Maxi Dress", "Wrap Dress", "Shift Dress", "Slip Dress"),
        styles=(
            "Floral",
            "Elegant",
            "Flowing",
            "Pleated",
            "Tiered",
            "Belted",
            "Minimal",
            "Sleeveless",
        ),
        materials=("Viscose", "Silk", "Chiffon", "Linen", "Cotton Poplin", "Satin", "Crepe"),
        fits=("a fitted waist", "a flowing skirt", "a relaxed fit", "an A-line shape"),
        seasons={"summer": 4, "spring": 3, "all-season": 1, "autumn": 1},
        occasions=("evening", "party", "wedding", "office", "casual", "beach"),
        features=(
            "Falls just below the knee with a gentle A-line skirt.",
            "Adjustable straps and a concealed back zip.",
            "Fully lined so it drapes cleanly.",
            "A defined waist with a self-tie belt.",
            "Light enough to pack for a city break.",
        ),
        price_range=(29.0, 199.0),
        search_words=("dress", "dresses", "gown", "sundress"),
        complements=("Bags", "Sandals"),
    ),
    CategorySpec(
        name="Coats",
        slug="coats",
        nouns=("Coat", "Parka", "Trench Coat", "Overcoat", "Peacoat", "Jacket"),
        styles=(
            "Tailored",
            "Quilted",
            "Double-Breasted",
            "Hooded",
            "Belted",
            "Longline",
            "Padded",
            "Classic",
        ),
        materials=(
            "Wool",
            "Wool Blend",
            "Recycled Down",
            "Gabardine",
            "Waxed Cotton",
            "Cashmere Blend",
        ),
        fits=("a regular fit", "a relaxed fit", "a tailored fit", "an oversized fit"),
        seasons={"winter": 5, "autumn": 4, "spring": 1},
        occasions=("office", "outdoor", "travel", "casual", "evening"),
        features=(
            "Water-repellent finish for wet commutes.",
            "Two deep flap pockets and an inside zip pocket.",
            "Warm lining that traps heat without weight.",
            "Storm flap and a collar that stands up against the wind.",
            "Long enough to cover a blazer.",
        ),
        price_range=(79.0, 349.0),
        search_words=("coat", "jacket", "parka", "outerwear", "trench"),
        complements=("Pullovers", "Ankle Boots"),
    ),
    CategorySpec(
        name="Sandals",
        slug="sandals",
        nouns=("Sandals", "Sliders", "Flip-Flops", "Espadrilles", "Slingbacks"),
        styles=(
            "Strappy",
            "Flat",
            "Platform",
            "Cushioned",
            "Woven",
            "Minimal",
            "Sporty",
            "Buckled",
        ),
        materials=("Leather", "Suede", "Rubber", "Cork", "Woven Raffia", "Vegan Leather"),
        fits=_SHOE_FITS + ("adjustable straps",),
        seasons={"summer": 6, "spring": 2},
        occasions=("beach", "casual", "holiday", "weekend", "travel"),
        features=(
            "Contoured footbed for all-day comfort.",
            "Adjustable buckle straps.",
            "Grippy rubber outsole for poolside walks.",
            "Lightweight and easy to pack.",
            "Padded straps that will not rub.",
        ),
        price_range=(19.0, 109.0),
        search_words=("sandals", "sandal", "sliders", "flip flops", "summer shoes"),
        complements=("Dresses", "T-shirts & Tops"),
    ),
    CategorySpec(
        name="Shirts",
        slug="shirts",
        nouns=("Shirt", "Oxford Shirt", "Overshirt", "Blouse", "Flannel Shirt"),
        styles=(
            "Tailored",
            "Button-Down",
            "Relaxed",
            "Slim",
            "Striped",
            "Checked",
            "Classic",
            "Band-Collar",
        ),
        materials=("Cotton Poplin", "Oxford Cotton", "Linen", "Flannel", "Chambray", "Silk"),
        fits=("a slim fit", "a regular fit", "a relaxed fit", "a tailored fit"),
        seasons={"all-season": 3, "spring": 3, "summer": 2, "autumn": 2},
        occasions=("office", "evening", "casual", "wedding", "weekend"),
        features=(
            "Button-down collar and a curved hem that looks good tucked or untucked.",
            "Crisp enough for the office, soft enough for the weekend.",
            "Pearl-effect buttons and a single chest pocket.",
            "Easy-iron finish.",
            "Long sleeves with adjustable button cuffs.",
        ),
        price_range=(24.0, 109.0),
        search_words=("shirt", "shirts", "blouse", "button-down"),
        complements=("Trousers",),
    ),
    CategorySpec(
        name="Sneakers",
        slug="sneakers",
        nouns=("Sneakers", "Trainers", "Running Shoes", "Low-Top Sneakers", "Skate Shoes"),
        styles=(
            "Retro",
            "Lightweight",
            "Chunky",
            "Minimal",
            "Court",
            "Everyday",
            "Performance",
            "Slip-On",
        ),
        materials=("Canvas", "Leather", "Mesh", "Suede", "Knit", "Recycled Mesh"),
        fits=_SHOE_FITS,
        seasons={"all-season": 4, "spring": 2, "summer": 2, "autumn": 1},
        occasions=("sport", "casual", "weekend", "travel", "gym"),
        features=(
            "Cushioned midsole that softens every step.",
            "Rubber cupsole with a grippy tread.",
            "Padded collar and a removable insole.",
            "Breathable upper that keeps feet cool.",
            "Classic lace-up front.",
        ),
        price_range=(39.0, 179.0),
        search_words=("sneakers", "trainers", "running shoes", "sneaker", "shoes"),
        complements=("T-shirts & Tops",),
    ),
    CategorySpec(
        name="Bags",
        slug="bags",
        nouns=(
            "Tote Bag",
            "Shoulder Bag",
            "Backpack",
            "Crossbody Bag",
            "Clutch",
            "Handbag",
            "Weekender",
        ),
        styles=(
            "Structured",
            "Slouchy",
            "Mini",
            "Quilted",
            "Everyday",
            "Classic",
            "Oversized",
            "Convertible",
        ),
        materials=("Leather", "Canvas", "Nylon", "Vegan Leather", "Suede", "Recycled Polyester"),
        fits=("a compact size", "a roomy main compartment", "a mid-size body", "a generous size"),
        seasons={"all-season": 6, "summer": 1},
        occasions=("office", "evening", "travel", "casual", "party"),
        features=(
            "Zip-top closure and an inside slip pocket.",
            "Adjustable strap that can be worn across the body.",
            "Fits a laptop up to 13 inches.",
            "Gold-tone hardware and a magnetic clasp.",
            "Lined interior with a key clip.",
        ),
        price_range=(19.0, 249.0),
        search_words=("bag", "bags", "handbag", "tote", "backpack"),
        complements=("Dresses",),
    ),
    CategorySpec(
        name="Ankle Boots",
        slug="ankle-boots",
        nouns=("Ankle Boots", "Chelsea Boots", "Booties", "Lace-Up Boots", "Combat Boots"),
        styles=(
            "Heeled",
            "Chunky",
            "Classic",
            "Lug-Sole",
            "Pointed",
            "Block-Heel",
            "Lace-Up",
            "Sleek",
        ),
        materials=(
            "Leather",
            "Suede",
            "Waxed Leather",
            "Nubuck",
            "Vegan Leather",
            "Shearling-Lined Suede",
        ),
        fits=_SHOE_FITS,
        seasons={"autumn": 4, "winter": 4, "spring": 1},
        occasions=("evening", "office", "casual", "outdoor", "party"),
        features=(
            "Elastic side panels make them easy to pull on.",
            "Block heel stable enough to walk in all day.",
            "Lug sole with a firm grip on wet pavements.",
            "Side zip and a padded insole.",
            "Water-resistant finish.",
        ),
        price_range=(59.0, 229.0),
        search_words=("boots", "ankle boots", "chelsea boots", "booties", "boot"),
        complements=("Coats",),
    ),
)

_CATEGORY_INDEX = {spec.name: i for i, spec in enumerate(CATEGORIES)}

BRANDS: tuple[str, ...] = (
    "Nordlys",
    "Halden",
    "Marlowe",
    "Ostra",
    "Vellum",
    "Tidewater",
    "Bramble & Co",
    "Kestrel",
    "Lumen",
    "Saltmarsh",
    "Fjell",
    "Corvo",
    "Arden",
    "Willowby",
    "Northgate",
    "Solace",
    "Ember Lane",
    "Quill",
    "Rivermoor",
    "Aster",
    "Juniper",
    "Calder",
    "Maison Rive",
    "Outpost",
)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def build_demo_dataset(
    out_dir: Path,
    *,
    n_products: int = 3000,
    n_shoppers: int = 400,
    seed: int = 0,
    fashion_mnist_dir: Path = DEFAULT_FASHION_MNIST_DIR,
    progress: ProgressCallback | None = None,
) -> DemoDataset:
    """Write a demo catalogue (with PNG images) and shopper events under ``out_dir``.

    Layout: ``out_dir/catalog.jsonl``, ``out_dir/events.jsonl`` and
    ``out_dir/images/<category-slug>/<sku>.png`` (112x112 RGB, product on white).
    ``progress(done, total, "images")`` is called while images are written.
    The same arguments always give byte-identical files.
    """
    if n_products < 1:
        raise ValueError("n_products must be at least 1")
    if n_shoppers < 0:
        raise ValueError("n_shoppers must not be negative")
    out_dir = Path(out_dir)
    images_root = out_dir / "images"
    images_root.mkdir(parents=True, exist_ok=True)

    categories = _plan_categories(n_products, np.random.default_rng([seed, _STREAM_PLAN]))
    fashion_mnist = _load_fashion_mnist(Path(fashion_mnist_dir))
    if fashion_mnist is None:
        logger.warning(
            "Fashion-MNIST not found in %s; drawing generated product images instead.",
            fashion_mnist_dir,
        )
        image_source = "generated"
    else:
        image_source = "fashion-mnist"

    skus = [f"{SKU_PREFIX}{i + 1:06d}" for i in range(n_products)]
    image_paths, colours = _write_images(skus, categories, images_root, fashion_mnist, seed=seed, progress=progress)
    products = _make_products(skus, categories, image_paths, colours, np.random.default_rng([seed, _STREAM_TEXT]))
    events = _simulate_events(products, n_shoppers, np.random.default_rng([seed, _STREAM_EVENTS]))

    catalog_path = out_dir / "catalog.jsonl"
    events_path = out_dir / "events.jsonl"
    # Events first: once catalog.jsonl is in place, the whole data set is.
    _write_jsonl_atomic(events_path, events)
    _write_jsonl_atomic(catalog_path, (p.to_json() for p in products))
    logger.info(
        "Demo data set in %s: %d products (%s images), %d events from %d shoppers.",
        out_dir,
        n_products,
        image_source,
        len(events),
        n_shoppers,
    )
    return DemoDataset(
        catalog_path=catalog_path,
        events_path=events_path,
        images_root=images_root,
        n_products=n_products,
        n_events=len(events),
        image_source=image_source,
    )


def _plan_categories(n_products: int, rng: np.random.Generator) -> np.ndarray:
    """Category index of each product: as even as possible across categories, shuffled so that
    SKU order says nothing about the category."""
    per_category = np.full(len(CATEGORIES), n_products // len(CATEGORIES))
    per_category[: n_products % len(CATEGORIES)] += 1
    categories = np.repeat(np.arange(len(CATEGORIES)), per_category)
    return rng.permutation(categories)


def _write_jsonl_atomic(path: Path, rows: Iterable[dict]) -> None:
    """Write to a temporary name and rename, so an interrupted run never leaves a truncated file
    under the final name."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False))
                fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Images: Fashion-MNIST
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FashionMnist:
    images: np.ndarray  # uint8 [N, 28, 28], white product on black, as published
    labels: np.ndarray  # uint8 [N]


def _load_fashion_mnist(directory: Path) -> _FashionMnist | None:
    """The training split, or None when its files are not there. Malformed files raise."""
    images_file = directory / "train-images-idx3-ubyte.gz"
    labels_file = directory / "train-labels-idx1-ubyte.gz"
    if not (images_file.is_file() and labels_file.is_file()):
        return None
    images = _read_idx(images_file, magic=2051)
    labels = _read_idx(labels_file, magic=2049)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"Fashion-MNIST files in {directory} do not match each other")
    return _FashionMnist(images=images, labels=labels)


def _read_idx(path: Path, *, magic: int) -> np.ndarray:
    """Parse an IDX file (big-endian header: magic, one uint32 per dimension, then uint8 data)."""
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    header = np.frombuffer(data, dtype=">u4", count=1)
    if int(header[0]) != magic:
        raise ValueError(f"{path}: not an IDX file with magic {magic}")
    n_dims = magic & 0xFF
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=n_dims, offset=4))
    offset = 4 + 4 * n_dims
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _pick_fashion_mnist(fm: _FashionMnist, categories: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each product, the index of a distinct Fashion-MNIST image of its category."""
    picks = np.empty(len(categories), dtype=np.int64)
    for label in range(len(CATEGORIES)):
        slots = np.flatnonzero(categories == label)
        pool = np.flatnonzero(fm.labels == label)
        if len(slots) > len(pool):
            raise ValueError(f"Asked for {len(slots)} {CATEGORIES[label].name}; Fashion-MNIST has {len(pool)}")
        picks[slots] = rng.choice(pool, size=len(slots), replace=False)
    return picks


def _fashion_mnist_image(raw: np.ndarray) -> tuple[Image.Image, str]:
    """Shop-style photo from one Fashion-MNIST image, plus the colour word its tone suggests.

    Fashion-MNIST stores negated photos (product bright on black); negating again gives back
    a dark-on-white product shot whose grey level follows the garment's real lightness.
    """
    photo = 255 - raw
    small = Image.fromarray(photo, mode="L")
    big = small.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    return big.convert("RGB"), _tone_word(raw)


def _tone_word(raw: np.ndarray) -> str:
    product = raw > 30  # background pixels are (near) zero in the published data
    if not product.any():
        return "grey"
    lightness = 255.0 - float(raw[product].mean())
    for limit, word in ((70, "black"), (110, "charcoal"), (150, "grey"), (195, "light grey")):
        if lightness < limit:
            return word
    return "off-white"


# --------------------------------------------------------------------------------------------
# Images: generated silhouettes (used when Fashion-MNIST is not on disk)
# --------------------------------------------------------------------------------------------

_PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("black", (28, 28, 30)),
    ("charcoal", (62, 64, 68)),
    ("navy", (32, 44, 88)),
    ("grey", (128, 128, 132)),
    ("stone", (188, 178, 160)),
    ("camel", (176, 130, 80)),
    ("olive", (96, 104, 60)),
    ("burgundy", (110, 30, 45)),
    ("red", (190, 40, 40)),
    ("blue", (50, 100, 170)),
    ("green", (40, 120, 80)),
    ("brown", (100, 66, 40)),
    ("pink", (222, 140, 160)),
    ("mustard", (205, 160, 40)),
)

_CANVAS = 224  # drawn at twice the final size, then downsampled for smooth edges


class _Canvas:
    """Three masks drawn in unit coordinates: the product body, dark details (seams, laces,
    heels) and light details (soles). A per-item scale and aspect jitter is applied on the way
    in; rotation, shift and flip are applied to the finished masks."""

    def __init__(self, scale: float, aspect: float) -> None:
        self.body = Image.new("L", (_CANVAS, _CANVAS), 0)
        self.dark = Image.new("L", (_CANVAS, _CANVAS), 0)
        self.light = Image.new("L", (_CANVAS, _CANVAS), 0)
        self._sx = scale * aspect * _CANVAS
        self._sy = scale / aspect * _CANVAS

    def _xy(self, points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        half = _CANVAS / 2
        return [(half + (x - 0.5) * self._sx, half + (y - 0.5) * self._sy) for x, y in points]

    def _box(self, x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
        return self._xy([(x0, y0), (x1, y1)])

    def _width(self, w: float) -> int:
        return max(1, round(w * self._sx))

    def polygon(self, layer: str, points: Sequence[tuple[float, float]]) -> None:
        ImageDraw.Draw(getattr(self, layer)).polygon(self._xy(points), fill=255)

    def line(self, layer: str, points: Sequence[tuple[float, float]], width: float) -> None:
        ImageDraw.Draw(getattr(self, layer)).line(self._xy(points), fill=255, width=self._width(width), joint="curve")

    def ellipse(self, layer: str, x0: float, y0: float, x1: float, y1: float) -> None:
        ImageDraw.Draw(getattr(self, layer)).ellipse(self._box(x0, y0, x1, y1), fill=255)

    def arc(self, layer: str, box: tuple[float, float, float, float], start: float, end: float, width: float) -> None:
        ImageDraw.Draw(getattr(self, layer)).arc(self._box(*box), start, end, fill=255, width=self._width(width))


def _draw_tshirt(c: _Canvas, rng: np.random.Generator) -> None:
    sleeve = rng.uniform(0.30, 0.40)
    hem = rng.uniform(0.80, 0.90)
    c.polygon(
        "body",
        [
            (0.38, 0.15),
            (0.44, 0.20),
            (0.50, 0.215),
            (0.56, 0.20),
            (0.62, 0.15),
            (0.74, 0.19),
            (0.90, sleeve),
            (0.80, sleeve + 0.09),
            (0.70, 0.34),
            (0.70, hem),
            (0.30, hem),
            (0.30, 0.34),
            (0.20, sleeve + 0.09),
            (0.10, sleeve),
            (0.26, 0.19),
        ],
    )
    c.line("dark", [(0.38, 0.15), (0.44, 0.20), (0.50, 0.215), (0.56, 0.20), (0.62, 0.15)], 0.015)


def _draw_long_sleeved(c: _Canvas, rng: np.random.Generator, *, hem: float, flare: float) -> None:
    """Shared body of pullovers, shirts and coats: long sleeves, body widening by ``flare``."""
    cuff = rng.uniform(0.74, 0.84)
    c.polygon(
        "body",
        [
            (0.39, 0.14),
            (0.50, 0.20),
            (0.61, 0.14),
            (0.73, 0.17),
            (0.92, cuff),
            (0.81, cuff + 0.03),
            (0.70, 0.38),
            (0.70 + flare, hem),
            (0.30 - flare, hem),
            (0.30, 0.38),
            (0.19, cuff + 0.03),
            (0.08, cuff),
        ],
    )


def _draw_pullover(c: _Canvas, rng: np.random.Generator) -> None:
    hem = rng.uniform(0.80, 0.88)
    _draw_long_sleeved(c, rng, hem=hem, flare=0.0)
    c.line("dark", [(0.31, hem - 0.04), (0.69, hem - 0.04)], 0.012)  # ribbed hem
    c.line("dark", [(0.39, 0.14), (0.50, 0.20), (0.61, 0.14)], 0.02)  # ribbed neck
    if rng.random() < 0.5:  # cable knit
        for x in (0.42, 0.50, 0.58):
            c.line("dark", [(x, 0.26), (x, hem - 0.07)], 0.006)


def _draw_shirt(c: _Canvas, rng: np.random.Generator) -> None:
    hem = rng.uniform(0.82, 0.90)
    _draw_long_sleeved(c, rng, hem=hem, flare=0.0)
    c.polygon("dark", [(0.39, 0.14), (0.50, 0.22), (0.44, 0.25)])  # collar points
    c.polygon("dark", [(0.61, 0.14), (0.50, 0.22), (0.56, 0.25)])
    c.line("dark", [(0.50, 0.22), (0.50, hem)], 0.008)  # placket
    for y in np.linspace(0.28, hem - 0.05, 5):
        c.ellipse("light", 0.485, y - 0.012, 0.515, y + 0.012)
    if rng.random() < 0.6:
        pocket = [(0.56, 0.30), (0.64, 0.30), (0.64, 0.38), (0.56, 0.38), (0.56, 0.30)]
        c.line("dark", pocket, 0.006)


def _draw_coat(c: _Canvas, rng: np.random.Generator) -> None:
    hem = rng.uniform(0.90, 0.97)
    _draw_long_sleeved(c, rng, hem=hem, flare=rng.uniform(0.02, 0.06))
    c.line("dark", [(0.39, 0.14), (0.47, 0.42), (0.50, 0.46)], 0.012)  # lapels
    c.line("dark", [(0.61, 0.14), (0.53, 0.42), (0.50, 0.46)], 0.012)
    c.line("dark", [(0.50, 0.46), (0.50, hem)], 0.008)
    for y in np.linspace(0.50, 0.72, 3):
        c.ellipse("dark", 0.43, y - 0.014, 0.46, y + 0.014)
        c.ellipse("dark", 0.54, y - 0.014, 0.57, y + 0.014)
    if rng.random() < 0.4:  # belt
        c.polygon("dark", [(0.30, 0.56), (0.70, 0.56), (0.70, 0.60), (0.30, 0.60)])


def _draw_dress(c: _Canvas, rng: np.random.Generator) -> None:
    hem_half = rng.uniform(0.18, 0.32)
    waist = rng.uniform(0.38, 0.46)
    c.polygon(
        "body",
        [
            (0.39, 0.08),
            (0.42, 0.08),
            (0.44, 0.20),
            (0.56, 0.20),
            (0.58, 0.08),
            (0.61, 0.08),
            (0.63, 0.24),
            (0.59, waist),
            (0.5 + hem_half, 0.93),
            (0.5 - hem_half, 0.93),
            (0.41, waist),
            (0.37, 0.24),
        ],
    )
    c.line("dark", [(0.41, waist), (0.59, waist)], 0.015)
    if rng.random() < 0.5:  # pleats / tiers
        for k in range(1, 4):
            y = waist + k * (0.93 - waist) / 4
            half = 0.09 + (hem_half - 0.09) * (y - waist) / (0.93 - waist)
            c.line("dark", [(0.5 - half, y), (0.5 + half, y)], 0.006)


def _draw_trousers(c: _Canvas, rng: np.random.Generator) -> None:
    flare = rng.uniform(-0.03, 0.05)
    crotch = rng.uniform(0.32, 0.40)
    c.polygon(
        "body",
        [
            (0.32, 0.08),
            (0.68, 0.08),
            (0.70 + flare, 0.94),
            (0.54, 0.94),
            (0.50, crotch),
            (0.46, 0.94),
            (0.30 - flare, 0.94),
        ],
    )
    c.line("dark", [(0.32, 0.13), (0.68, 0.13)], 0.01)  # waistband
    c.line("dark", [(0.50, 0.13), (0.50, crotch - 0.06)], 0.008)  # fly
    c.arc("dark", (0.26, 0.06, 0.42, 0.26), 0, 90, 0.008)  # pockets
    c.arc("dark", (0.58, 0.06, 0.74, 0.26), 90, 180, 0.008)


def _draw_sandal(c: _Canvas, rng: np.random.Generator) -> None:
    sole = rng.uniform(0.03, 0.10)  # flat to platform
    c.polygon("body", [(0.08, 0.62), (0.92, 0.60), (0.93, 0.64 + sole), (0.07, 0.66 + sole)])
    c.line("light", [(0.09, 0.63), (0.91, 0.61)], 0.012)  # footbed edge
    for x0 in (0.22, 0.45) if rng.random() < 0.6 else (0.20, 0.38, 0.56):
        c.arc("body", (x0, 0.42, x0 + 0.24, 0.82), 190, 350, 0.035)  # straps over the foot
    c.arc("body", (0.70, 0.40, 0.92, 0.78), 200, 330, 0.03)  # heel strap
    c.ellipse("dark", 0.78, 0.45, 0.81, 0.48)  # buckle


def _draw_sneaker(c: _Canvas, rng: np.random.Generator) -> None:
    top = rng.uniform(0.26, 0.36)
    c.polygon(
        "body",
        [
            (0.10, 0.62),
            (0.12, 0.46),
            (0.34, 0.41),
            (0.50, top),
            (0.64, top),
            (0.70, 0.44),
            (0.88, 0.52),
            (0.92, 0.62),
        ],
    )
    c.polygon("light", [(0.08, 0.62), (0.93, 0.62), (0.92, 0.71), (0.09, 0.71)])  # sole
    c.line("dark", [(0.09, 0.71), (0.92, 0.71)], 0.012)
    for k in range(4):  # laces
        x = 0.40 + 0.05 * k
        c.line("dark", [(x, 0.40 - 0.02 * k), (x + 0.05, 0.46 - 0.02 * k)], 0.012)
    c.arc("dark", (0.30, 0.40, 0.80, 0.80), 200, 300, 0.02)  # side stripe


def _draw_bag(c: _Canvas, rng: np.random.Generator) -> None:
    top = rng.uniform(0.36, 0.46)
    half_top = rng.uniform(0.24, 0.30)
    handle = rng.uniform(0.08, 0.20)
    c.polygon("body", [(0.5 - half_top, top), (0.5 + half_top, top), (0.85, 0.88), (0.15, 0.88)])
    c.arc("body", (0.34, handle, 0.66, 2 * top - handle), 180, 360, 0.035)
    c.line("dark", [(0.5 - half_top, top + 0.12), (0.5 + half_top + 0.02, top + 0.12)], 0.01)
    c.ellipse("light", 0.47, top + 0.10, 0.53, top + 0.16)  # clasp


def _draw_ankle_boot(c: _Canvas, rng: np.random.Generator) -> None:
    shaft = rng.uniform(0.10, 0.22)
    heel = rng.uniform(0.06, 0.14)
    c.polygon(
        "body",
        [
            (0.20, shaft),
            (0.46, shaft),
            (0.48, 0.44),
            (0.70, 0.52),
            (0.87, 0.58),
            (0.90, 0.66),
            (0.90, 0.72),
            (0.30, 0.72),
            (0.28, 0.72 + heel),
            (0.15, 0.72 + heel),
            (0.14, 0.55),
        ],
    )
    c.polygon("dark", [(0.15, 0.72), (0.28, 0.72), (0.28, 0.72 + heel), (0.15, 0.72 + heel)])
    c.line("dark", [(0.30, 0.72), (0.90, 0.72)], 0.02)  # sole
    c.polygon("dark", [(0.26, shaft + 0.04), (0.38, shaft + 0.04), (0.36, 0.42), (0.28, 0.42)])
    c.line("dark", [(0.20, shaft), (0.46, shaft)], 0.015)


_DRAWERS: tuple[Callable[[_Canvas, np.random.Generator], None], ...] = (
    _draw_tshirt,
    _draw_trousers,
    _draw_pullover,
    _draw_dress,
    _draw_coat,
    _draw_sandal,
    _draw_shirt,
    _draw_sneaker,
    _draw_bag,
    _draw_ankle_boot,
)
_SHOE_CATEGORIES = frozenset({5, 7, 9})


def _generated_image(category: int, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """A flat-shaded silhouette of the category on white, with random size, pose and colour."""
    canvas = _Canvas(scale=rng.uniform(0.80, 0.96), aspect=rng.uniform(0.92, 1.08))
    _DRAWERS[category](canvas, rng)
    angle = rng.uniform(-7.0, 7.0)
    shift = (int(rng.integers(-8, 9)), int(rng.integers(-8, 9)))
    # Shoes face either way, like real catalogue shots.
    flip = category in _SHOE_CATEGORIES and rng.random() < 0.5
    masks = _pose(canvas, angle, shift, flip)
    name, rgb = _PALETTE[int(rng.integers(len(_PALETTE)))]
    colour = np.clip(np.array(rgb) + rng.normal(0, 8, 3), 0, 255).astype(np.float32)
    striped = category not in _SHOE_CATEGORIES and rng.random() < 0.2
    image = _compose(masks, colour, striped=striped)
    return image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS), name


def _pose(canvas: _Canvas, angle: float, shift: tuple[int, int], flip: bool) -> np.ndarray:
    """The three masks as one float array [H, W, 3] in 0..1, rotated/shifted/flipped together
    (one transform of a 3-band image is cheaper than three of single bands)."""
    stacked = Image.merge("RGB", (canvas.body, canvas.dark, canvas.light))
    if flip:
        stacked = stacked.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    posed = stacked.rotate(angle, resample=Image.Resampling.BILINEAR, translate=shift, fillcolor=0)
    return np.asarray(posed, dtype=np.float32) / np.float32(255.0)


def _compose(masks: np.ndarray, colour: np.ndarray, *, striped: bool) -> Image.Image:
    body, dark, light = (masks[..., k : k + 1] for k in range(3))
    # A soft top-to-bottom shading and optional stripes keep the flat shapes from looking clip-art.
    shade = np.linspace(1.06, 0.90, _CANVAS, dtype=np.float32)
    if striped:
        shade = shade * (1.0 - 0.25 * (np.arange(_CANVAS) // 10 % 2)).astype(np.float32)
    fill = shade[:, None, None] * colour  # [H, 1, 3], broadcast along each row
    image = 255.0 + body * (fill - 255.0)
    image += dark * (colour * 0.45 - image)
    light_colour = colour * 0.25 + np.array([176.0, 174.0, 169.0], dtype=np.float32)  # 75% white
    image += light * (light_colour - image)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), mode="RGB")


# --------------------------------------------------------------------------------------------
# Images: writing
# --------------------------------------------------------------------------------------------


def _write_images(
    skus: Sequence[str],
    categories: np.ndarray,
    images_root: Path,
    fashion_mnist: _FashionMnist | None,
    *,
    seed: int,
    progress: ProgressCallback | None,
) -> tuple[list[str], list[str]]:
    """Write one PNG per product; return each image's path relative to ``images_root`` and the
    colour word that describes it (used in the product description)."""
    rng = np.random.default_rng([seed, _STREAM_IMAGES])
    picks = None if fashion_mnist is None else _pick_fashion_mnist(fashion_mnist, categories, rng)
    for spec in CATEGORIES:
        (images_root / spec.slug).mkdir(parents=True, exist_ok=True)

    total = len(skus)
    report_every = max(1, total // 100)
    if progress is not None:
        progress(0, total, "images")
    paths: list[str] = []
    colours: list[str] = []
    for i, (sku, category) in enumerate(zip(skus, categories.tolist())):
        if fashion_mnist is not None and picks is not None:
            image, colour = _fashion_mnist_image(fashion_mnist.images[picks[i]])
        else:
            image, colour = _generated_image(category, rng)
        relative = f"{CATEGORIES[category].slug}/{sku}.png"
        image.save(images_root / relative, format="PNG")
        paths.append(relative)
        colours.append(colour)
        if progress is not None and ((i + 1) % report_every == 0 or i + 1 == total):
            progress(i + 1, total, "images")
    return paths, colours


# --------------------------------------------------------------------------------------------
# Catalogue text and prices
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Product:
    sku: str
    category: int
    title: str
    description: str
    price: float
    image: str
    in_stock: bool

    def to_json(self) -> dict:
        return {
            "sku": self.sku,
            "title": self.title,
            "description": self.description,
            "category": CATEGORIES[self.category].name,
            "price": self.price,
            "image": self.image,
            "in_stock": self.in_stock,
        }


def _make_products(
    skus: Sequence[str],
    categories: np.ndarray,
    image_paths: Sequence[str],
    colours: Sequence[str],
    rng: np.random.Generator,
) -> list[_Product]:
    # Each brand sits at its own price level, so price carries a little brand signal.
    brand_price_level = {brand: float(rng.uniform(0.8, 1.3)) for brand in BRANDS}
    products = []
    for sku, category, image, colour in zip(skus, categories.tolist(), image_paths, colours):
        spec = CATEGORIES[category]
        brand = _pick(rng, BRANDS)
        style = _pick(rng, spec.styles)
        material = _pick(rng, spec.materials)
        noun = _pick(rng, spec.nouns)
        products.append(
            _Product(
                sku=sku,
                category=category,
                title=f"{brand} {style} {material} {noun}",
                description=_describe(spec, rng, brand, style, material, noun, colour),
                price=_price(spec, rng, brand_price_level[brand]),
                image=image,
                in_stock=bool(rng.random() < IN_STOCK_RATE),
            )
        )
    return products


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _pick_weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _article(phrase: str) -> str:
    return "an" if phrase[:1].lower() in "aeiou" else "a"


def _is_plural(noun: str) -> bool:
    return noun.endswith("s") and not noun.endswith("ss")


# The season word is always written literally (so a search for "winter" or "all-season" finds
# every such product); the sentence around it varies.
_SEASON_PHRASES = {
    "spring": "in spring",
    "summer": "in summer",
    "autumn": "in autumn",
    "winter": "in winter",
    "all-season": "as an all-season piece",
}


def _describe(
    spec: CategorySpec,
    rng: np.random.Generator,
    brand: str,
    style: str,
    material: str,
    noun: str,
    colour: str,
) -> str:
    """Two or three sentences: what it is (style, material, fit, colour), when to wear it
    (occasion, season), and sometimes one category-specific detail."""
    noun_l, style_l, material_l = noun.lower(), style.lower(), material.lower()
    fit = _fit_for(spec, style, rng)
    plural = _is_plural(noun)
    styled_noun = f"{style_l} {noun_l}" if plural else f"{_article(style_l)} {style_l} {noun_l}"
    what = _pick(
        rng,
        (
            f"{style} {noun_l} in {colour}, made from {material_l} with {fit}.",
            f"{'These' if plural else 'This'} {material_l} {noun_l} {'come' if plural else 'comes'} "
            f"in {colour} and {'have' if plural else 'has'} {fit}.",
            f"From {brand}, {styled_noun} cut from {material_l}, finished in {colour} with {fit}.",
        ),
    )

    season = _pick_weighted(rng, spec.seasons)
    occasion = _pick(rng, spec.occasions)
    when = _SEASON_PHRASES[season]
    wear = _pick(
        rng,
        (
            f"Made for {occasion} wear {when}.",
            f"{_article(season).capitalize()} {season} pick for {occasion} days.",
            f"Just right for {occasion} plans {when}.",
            f"Works for {occasion} outfits {when}.",
        ),
    )

    sentences = [what, wear]
    if rng.random() < 0.6:
        sentences.append(_pick(rng, spec.features))
    return " ".join(sentences)


def _fit_for(spec: CategorySpec, style: str, rng: np.random.Generator) -> str:
    """The fit the style implies ("Slim" -> "a slim fit"), so a description never contradicts
    its title; a random fit otherwise."""
    keyword = style.lower().split("-")[0]
    implied = [fit for fit in spec.fits if keyword in fit.split()]
    return implied[0] if implied else _pick(rng, spec.fits)


def _price(spec: CategorySpec, rng: np.random.Generator, brand_level: float) -> float:
    """Log-uniform within the category's range, shifted by the brand, with shop-like endings."""
    low, high = spec.price_range
    raw = math.exp(rng.uniform(math.log(low), math.log(high))) * brand_level
    raw = min(max(raw, low), high)
    ending = float(rng.choice([0.99, 0.95, 0.50, 0.00], p=[0.5, 0.25, 0.1, 0.15]))
    return round(max(math.floor(raw) - 1 + ending, low - 0.01), 2)


# --------------------------------------------------------------------------------------------
# Shopper simulation
# --------------------------------------------------------------------------------------------

# Session shape. Starts are drawn up to _LAST_START before the end; with at most _MAX_SESSIONS
# sessions of at most ~55 events spaced <= 5 minutes (< 5 h each), every timestamp stays before
# EVENTS_END.
_MAX_SESSIONS = 30
_LAST_START = timedelta(days=7)
_MAX_VIEWS = 12
_SEARCH_RATE = 0.3  # sessions that start with a search
_MAIN_CATEGORY_RATE = 0.7  # views that stay in the session's category
_REVISIT_RATE = 0.08  # views of something seen in an earlier session
_CART_RATE_FAVOURITE, _CART_RATE_OTHER = 0.18, 0.06
_COMPLEMENT_RATE = 0.5  # carts that lead to looking at a matching item
_PARTNER_RATE = 0.6  # ... that is the item's own "goes with" partner
_COMPLEMENT_CART_RATE = 0.55
_CHECKOUT_RATE = 0.7  # sessions with a cart that check out
_BUY_RATE = 0.85  # cart lines bought at checkout
_ZIPF_EXPONENT = 1.0


class _Catalogue:
    """Products as the simulation sees them: by category, with Zipf popularity inside each
    category and, for categories with complements, a fixed "goes with" partner per product in
    each complementary category (that is what makes "customers also bought" learnable)."""

    def __init__(self, products: Sequence[_Product], rng: np.random.Generator) -> None:
        self.products = products
        self.by_category: list[np.ndarray] = []
        self._cdf: list[np.ndarray] = []
        categories = np.array([p.category for p in products])
        for c in range(len(CATEGORIES)):
            members = rng.permutation(np.flatnonzero(categories == c))  # order = popularity rank
            weights = 1.0 / np.arange(1, len(members) + 1) ** _ZIPF_EXPONENT
            self.by_category.append(members)
            self._cdf.append(np.cumsum(weights))
        self.partners: dict[tuple[int, int], int] = {}
        for i, product in enumerate(products):
            for comp_name in CATEGORIES[product.category].complements:
                comp = _CATEGORY_INDEX[comp_name]
                if len(self.by_category[comp]):
                    self.partners[(i, comp)] = self.popular(comp, rng)

    def has(self, category: int) -> bool:
        return len(self.by_category[category]) > 0

    def popular(self, category: int, rng: np.random.Generator) -> int:
        cdf = self._cdf[category]
        k = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
        return int(self.by_category[category][min(k, len(cdf) - 1)])


@dataclass(frozen=True)
class _Shopper:
    name: str
    favourites: frozenset[int]
    preference: np.ndarray  # probability of each category as a session's focus
    n_sessions: int


def _make_shopper(name: str, catalogue: _Catalogue, rng: np.random.Generator) -> _Shopper:
    available = [c for c in range(len(CATEGORIES)) if catalogue.has(c)]
    k = min(len(available), int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25])))
    favourites = rng.choice(available, size=k, replace=False)
    # Most attention goes to the favourites (Dirichlet-weighted), a little wanders anywhere.
    explore = rng.uniform(0.05, 0.25)
    preference = np.zeros(len(CATEGORIES))
    preference[available] = explore / len(available)
    preference[favourites] += (1.0 - explore) * rng.dirichlet(np.full(k, 2.0))
    n_sessions = int(np.clip(round(rng.lognormal(math.log(5.0), 0.6)), 1, _MAX_SESSIONS))
    return _Shopper(name, frozenset(int(f) for f in favourites), preference, n_sessions)


@dataclass
class _Session:
    """Collects one shopper's events with a clock that only moves forward."""

    rng: np.random.Generator
    clock: int
    events: list[tuple[int, str, int, str | None]]  # (ts, type, product index, query)

    def emit(self, kind: str, product: int, *, gap: tuple[int, int], query: str | None = None) -> None:
        self.clock += int(self.rng.integers(gap[0], gap[1] + 1))
        self.events.append((self.clock, kind, product, query))


def _simulate_events(products: Sequence[_Product], n_shoppers: int, rng: np.random.Generator) -> list[dict]:
    catalogue = _Catalogue(products, rng)
    width = max(3, len(str(n_shoppers)))
    rows: list[tuple[int, int, int, dict]] = []
    for u in range(n_shoppers):
        shopper = _make_shopper(f"shopper{u + 1:0{width}d}", catalogue, rng)
        history = _simulate_shopper(shopper, catalogue, rng)
        for seq, (ts, kind, product, query) in enumerate(history):
            row = {"user": shopper.name, "sku": products[product].sku, "type": kind, "ts": _iso(ts)}
            if query is not None:
                row["query"] = query
            rows.append((ts, u, seq, row))
    rows.sort(key=lambda r: r[:3])
    return [row for *_, row in rows]


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _simulate_shopper(
    shopper: _Shopper, catalogue: _Catalogue, rng: np.random.Generator
) -> list[tuple[int, str, int, str | None]]:
    end = int(EVENTS_END.timestamp())
    first = int((EVENTS_END - EVENTS_WINDOW).timestamp())
    last = int((EVENTS_END - _LAST_START).timestamp())
    starts = np.sort(rng.integers(first, last, size=shopper.n_sessions))
    session = _Session(rng=rng, clock=first, events=[])
    for start in starts.tolist():
        # Sessions never overlap: a new one starts at least ten minutes after the last event.
        session.clock = max(int(start), session.clock + 600)
        _shop_one_session(session, shopper, catalogue)
    assert session.clock < end, "session bounds keep every event before EVENTS_END"
    return session.events


def _shop_one_session(session: _Session, shopper: _Shopper, catalogue: _Catalogue) -> None:
    rng = session.rng
    focus = int(rng.choice(len(CATEGORIES), p=shopper.preference))
    history = [product for _, _, product, _ in session.events]
    cart: list[int] = []

    if rng.random() < _SEARCH_RATE:
        target, query = _search(catalogue, focus, rng)
        session.emit("search", target, gap=(1, 30), query=query)
        session.emit("view", target, gap=(3, 20))
        _maybe_cart(session, shopper, catalogue, target, cart)

    n_views = min(_MAX_VIEWS, 2 + int(rng.poisson(3.0)))
    for _ in range(n_views):
        if history and rng.random() < _REVISIT_RATE:
            product = history[-1 - int(rng.integers(min(len(history), 20)))]
        else:
            category = (
                focus if rng.random() < _MAIN_CATEGORY_RATE else int(rng.choice(len(CATEGORIES), p=shopper.preference))
            )
            product = catalogue.popular(category, rng)
        session.emit("view", product, gap=(15, 240))
        _maybe_cart(session, shopper, catalogue, product, cart)

    if cart and rng.random() < _CHECKOUT_RATE:
        first = True
        for product in dict.fromkeys(cart):  # each cart line once, in cart order
            if rng.random() < _BUY_RATE:
                session.emit("purchase", product, gap=(60, 300) if first else (2, 10))
                first = False


def _maybe_cart(session: _Session, shopper: _Shopper, catalogue: _Catalogue, product: int, cart: list[int]) -> None:
    """After a view: maybe add to cart, and after a cart, maybe look at (and cart) something
    that goes with it."""
    rng = session.rng
    info = catalogue.products[product]
    rate = _CART_RATE_FAVOURITE if info.category in shopper.favourites else _CART_RATE_OTHER
    if not info.in_stock or rng.random() >= rate:
        return
    session.emit("cart", product, gap=(5, 60))
    cart.append(product)

    complements = [_CATEGORY_INDEX[n] for n in CATEGORIES[info.category].complements]
    complements = [c for c in complements if catalogue.has(c)]
    if not complements or rng.random() >= _COMPLEMENT_RATE:
        return
    comp = complements[int(rng.integers(len(complements)))]
    if rng.random() < _PARTNER_RATE:
        match = catalogue.partners[(product, comp)]
    else:
        match = catalogue.popular(comp, rng)
    session.emit("view", match, gap=(15, 120))
    if catalogue.products[match].in_stock and rng.random() < _COMPLEMENT_CART_RATE:
        session.emit("cart", match, gap=(5, 60))
        cart.append(match)


def _search(catalogue: _Catalogue, category: int, rng: np.random.Generator) -> tuple[int, str]:
    """A query and the product clicked from its results: either a category word, or a
    fragment (one to three consecutive words) of the clicked product's title."""
    target = catalogue.popular(category, rng)
    if rng.random() < 0.5:
        return target, _pick(rng, CATEGORIES[category].search_words)
    words = catalogue.products[target].title.lower().split()
    length = int(rng.integers(1, min(3, len(words)) + 1))
    start = int(rng.integers(len(words) - length + 1))
    return target, " ".join(words[start : start + length])


# --------------------------------------------------------------------------------------------
# Command line: python -m storefront.demo_data OUT_DIR
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--products", type=int, default=3000)
    parser.add_argument("--shoppers", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fashion-mnist-dir", type=Path, default=DEFAULT_FASHION_MNIST_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    started = time.perf_counter()
    dataset = build_demo_dataset(
        args.out_dir,
        n_products=args.products,
        n_shoppers=args.shoppers,
        seed=args.seed,
        fashion_mnist_dir=args.fashion_mnist_dir,
    )
    logger.info("Done in %.1f s: %s", time.perf_counter() - started, dataset)


if __name__ == "__main__":
    main()
