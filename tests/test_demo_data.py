"""The demo data generator (storefront.demo_data): pure Python, no database.

Run alone with: .venv/bin/python -m pytest tests/test_demo_data.py -q -p no:django
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from storefront import demo_data
from storefront.demo_data import (
    CATEGORIES,
    EVENTS_END,
    EVENTS_WINDOW,
    IMAGE_SIZE,
    build_demo_dataset,
)

N_PRODUCTS = 60
N_SHOPPERS = 10
CATALOG_KEYS = {"sku", "title", "description", "category", "price", "image", "in_stock"}
EVENT_TYPES = {"view", "cart", "purchase", "search", "click"}
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
FASHION_MNIST_PRESENT = (demo_data.DEFAULT_FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file()
MISSING_DIR = Path("/nonexistent/fashion-mnist")


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _build(out_dir: Path, **kwargs) -> demo_data.DemoDataset:
    return build_demo_dataset(out_dir, n_products=N_PRODUCTS, n_shoppers=N_SHOPPERS, **kwargs)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> demo_data.DemoDataset:
    return _build(tmp_path_factory.mktemp("demo"), seed=7)


@pytest.fixture(scope="module")
def catalog(dataset: demo_data.DemoDataset) -> list[dict]:
    return _read_jsonl(dataset.catalog_path)


@pytest.fixture(scope="module")
def events(dataset: demo_data.DemoDataset) -> list[dict]:
    return _read_jsonl(dataset.events_path)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> demo_data.DemoDataset:
    return _build(tmp_path_factory.mktemp("generated"), seed=7, fashion_mnist_dir=MISSING_DIR)


# --- catalogue ------------------------------------------------------------------------------


def test_result_describes_what_was_written(dataset: demo_data.DemoDataset, catalog, events) -> None:
    assert dataset.catalog_path == dataset.catalog_path.parent / "catalog.jsonl"
    assert dataset.events_path == dataset.catalog_path.parent / "events.jsonl"
    assert dataset.images_root == dataset.catalog_path.parent / "images"
    assert dataset.n_products == len(catalog) == N_PRODUCTS
    assert dataset.n_events == len(events)
    expected_source = "fashion-mnist" if FASHION_MNIST_PRESENT else "generated"
    assert dataset.image_source == expected_source


def test_catalog_lines_match_design_format(catalog: list[dict]) -> None:
    names = {spec.name for spec in CATEGORIES}
    for line in catalog:
        assert set(line) == CATALOG_KEYS
        assert re.fullmatch(r"FM-\d{6}", line["sku"])
        assert isinstance(line["title"], str) and len(line["title"].split()) >= 3
        assert isinstance(line["description"], str)
        assert 1 <= line["description"].count(".") <= 3  # 1-3 sentences
        assert line["category"] in names
        assert isinstance(line["price"], float) and line["price"] > 0
        assert round(line["price"], 2) == line["price"]
        assert isinstance(line["image"], str) and not Path(line["image"]).is_absolute()
        assert isinstance(line["in_stock"], bool)
    assert len({line["sku"] for line in catalog}) == len(catalog)


def test_categories_are_sampled_evenly_and_prices_fit_them(catalog: list[dict]) -> None:
    counts = Counter(line["category"] for line in catalog)
    assert set(counts.values()) == {N_PRODUCTS // len(CATEGORIES)}
    ranges = {spec.name: spec.price_range for spec in CATEGORIES}
    for line in catalog:
        low, high = ranges[line["category"]]
        assert low - 0.01 <= line["price"] <= high


def test_text_fits_the_category(catalog: list[dict]) -> None:
    specs = {spec.name: spec for spec in CATEGORIES}
    seasons = ("spring", "summer", "autumn", "winter", "all-season")
    for line in catalog:
        spec = specs[line["category"]]
        assert line["title"].endswith(spec.nouns), line["title"]
        assert any(material in line["title"] for material in spec.materials)
        # Attribute words are always present, so "winter coat" style queries have something to hit.
        assert any(season in line["description"] for season in seasons), line["description"]
        assert any(occasion in line["description"] for occasion in spec.occasions)


def test_every_image_exists_and_is_a_112px_product_on_white(dataset, catalog) -> None:
    for line in catalog:
        path = dataset.images_root / line["image"]
        slug = path.parent.name
        assert slug == next(s.slug for s in CATEGORIES if s.name == line["category"])
        assert path.name == f"{line['sku']}.png"
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == (IMAGE_SIZE, IMAGE_SIZE)
            rgb = image.convert("RGB")
        corners = [rgb.getpixel(xy) for xy in ((0, 0), (IMAGE_SIZE - 1, 0), (0, IMAGE_SIZE - 1))]
        assert sum(min(c) >= 200 for c in corners) >= 2, f"{path}: background is not white"
        assert rgb.convert("L").getextrema()[0] < 150, f"{path}: no product drawn"


# --- events ---------------------------------------------------------------------------------


def test_events_reference_catalog_and_have_valid_types(catalog, events) -> None:
    skus = {line["sku"] for line in catalog}
    assert events
    for event in events:
        assert event["type"] in EVENT_TYPES
        assert event["sku"] in skus
        assert re.fullmatch(r"shopper\d{3,}", event["user"])
        assert ISO_UTC.match(event["ts"])
        if event["type"] == "search":
            assert set(event) == {"user", "sku", "type", "ts", "query"}
            assert isinstance(event["query"], str) and event["query"].strip()
        else:
            assert set(event) == {"user", "sku", "type", "ts"}
    assert {e["type"] for e in events} >= {"view", "cart", "purchase", "search"}


def test_search_queries_come_from_titles_or_category_words(catalog, events) -> None:
    titles = {line["sku"]: line["title"].lower() for line in catalog}
    words = {w for spec in CATEGORIES for w in spec.search_words}
    searches = [e for e in events if e["type"] == "search"]
    assert searches
    for event in searches:
        assert event["query"] in titles[event["sku"]] or event["query"] in words, event


def test_searches_are_followed_by_a_view_of_the_clicked_product(events) -> None:
    by_user = defaultdict(list)
    for event in events:
        by_user[event["user"]].append(event)
    for history in by_user.values():
        for before, after in itertools.pairwise(history):
            if before["type"] == "search":
                assert (after["type"], after["sku"]) == ("view", before["sku"])


def test_timestamps_sorted_strictly_increasing_per_user_and_in_window(events) -> None:
    def parse(ts: str) -> datetime:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    stamps = [parse(e["ts"]) for e in events]
    assert stamps == sorted(stamps)
    assert stamps[0] >= EVENTS_END - EVENTS_WINDOW and stamps[-1] < EVENTS_END
    last: dict[str, datetime] = {}
    for event, ts in zip(events, stamps):
        assert ts > last.get(event["user"], datetime.min.replace(tzinfo=UTC))
        last[event["user"]] = ts


def test_funnel_purchases_follow_carts(events) -> None:
    carted: set[tuple[str, str]] = set()
    for event in events:
        key = (event["user"], event["sku"])
        if event["type"] == "cart":
            carted.add(key)
        elif event["type"] == "purchase":
            assert key in carted


def test_shoppers_have_category_tastes(catalog, events) -> None:
    category = {line["sku"]: line["category"] for line in catalog}
    by_user: dict[str, list[str]] = defaultdict(list)
    for event in events:
        by_user[event["user"]].append(category[event["sku"]])
    assert len(by_user) == N_SHOPPERS
    shares = [Counter(cats).most_common(1)[0][1] / len(cats) for cats in by_user.values()]
    # Ten categories: a shopper without tastes would sit near 0.1-0.2.
    assert sum(shares) / len(shares) > 0.4


def test_purchases_concentrate_in_most_viewed_categories(tmp_path: Path) -> None:
    ds = build_demo_dataset(tmp_path, n_products=100, n_shoppers=60, seed=3)
    category = {line["sku"]: line["category"] for line in _read_jsonl(ds.catalog_path)}
    views: dict[str, Counter] = defaultdict(Counter)
    bought: dict[str, list[str]] = defaultdict(list)
    events = _read_jsonl(ds.events_path)
    assert 20 <= len(events) / 60 <= 60  # events per shopper, on average
    for event in events:
        if event["type"] == "view":
            views[event["user"]][category[event["sku"]]] += 1
        elif event["type"] == "purchase":
            bought[event["user"]].append(category[event["sku"]])
    shares = []
    for user, purchases in bought.items():
        top3 = {c for c, _ in views[user].most_common(3)}
        shares.append(sum(c in top3 for c in purchases) / len(purchases))
    assert len(shares) >= 30
    assert sum(shares) / len(shares) > 0.7  # 3 of 10 categories by chance: 0.3


# --- determinism, fallback, progress, atomic writes -----------------------------------------


def test_same_seed_gives_identical_files(dataset, tmp_path: Path) -> None:
    again = _build(tmp_path / "again", seed=7)
    assert again.catalog_path.read_bytes() == dataset.catalog_path.read_bytes()
    assert again.events_path.read_bytes() == dataset.events_path.read_bytes()
    for line in _read_jsonl(again.catalog_path):
        image = line["image"]
        ours, theirs = again.images_root / image, dataset.images_root / image
        assert ours.read_bytes() == theirs.read_bytes()


def test_other_seed_gives_other_data(dataset, tmp_path: Path) -> None:
    other = _build(tmp_path / "other", seed=8)
    assert other.catalog_path.read_bytes() != dataset.catalog_path.read_bytes()
    assert other.events_path.read_bytes() != dataset.events_path.read_bytes()


def test_generated_images_when_fashion_mnist_is_absent(generated, tmp_path, caplog) -> None:
    assert generated.image_source == "generated"
    catalog = _read_jsonl(generated.catalog_path)
    assert len(catalog) == N_PRODUCTS
    for line in catalog:
        with Image.open(generated.images_root / line["image"]) as image:
            assert image.size == (IMAGE_SIZE, IMAGE_SIZE)
            assert image.getpixel((0, 0)) == (255, 255, 255)
    # Per-item variation: no two generated images are the same.
    pngs = {(generated.images_root / line["image"]).read_bytes() for line in catalog}
    assert len(pngs) == N_PRODUCTS
    with caplog.at_level(logging.WARNING, logger="storefront.demo_data"):
        _build(tmp_path, seed=1, fashion_mnist_dir=tmp_path / "missing")
    assert any("Fashion-MNIST not found" in r.getMessage() for r in caplog.records)


def test_generated_mode_is_deterministic_too(generated, tmp_path: Path) -> None:
    again = _build(tmp_path, seed=7, fashion_mnist_dir=MISSING_DIR)
    assert again.catalog_path.read_bytes() == generated.catalog_path.read_bytes()
    assert again.events_path.read_bytes() == generated.events_path.read_bytes()
    first = _read_jsonl(again.catalog_path)[0]["image"]
    assert (again.images_root / first).read_bytes() == (generated.images_root / first).read_bytes()


def test_progress_reports_the_image_stage(tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    build_demo_dataset(
        tmp_path,
        n_products=25,
        n_shoppers=2,
        fashion_mnist_dir=tmp_path / "none",
        progress=lambda done, total, stage: calls.append((done, total, stage)),
    )
    assert calls and all(stage == "images" and total == 25 for _, total, stage in calls)
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and done[-1] == 25


def test_interrupted_write_leaves_no_file_that_looks_complete(tmp_path: Path) -> None:
    def rows():
        yield {"sku": "FM-000001"}
        raise KeyboardInterrupt

    target = tmp_path / "catalog.jsonl"
    with pytest.raises(KeyboardInterrupt):
        demo_data._write_jsonl_atomic(target, rows())
    assert list(tmp_path.iterdir()) == []


def test_failure_before_the_end_writes_no_catalog(tmp_path: Path, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(demo_data, "_simulate_events", boom)
    with pytest.raises(RuntimeError):
        _build(tmp_path, fashion_mnist_dir=tmp_path / "none")
    assert not (tmp_path / "catalog.jsonl").exists()
    assert not (tmp_path / "events.jsonl").exists()


@pytest.mark.skipif(not FASHION_MNIST_PRESENT, reason="Fashion-MNIST is not on this machine")
def test_fashion_mnist_images_are_inverted_to_a_white_background(dataset) -> None:
    assert dataset.image_source == "fashion-mnist"
    whites = 0
    paths = sorted(dataset.images_root.glob("*/*.png"))
    for path in paths:
        with Image.open(path) as image:
            grey = image.convert("L")
        corners = (grey.getpixel((0, 0)), grey.getpixel((IMAGE_SIZE - 1, IMAGE_SIZE - 1)))
        whites += min(corners) >= 240
    assert whites >= 0.9 * len(paths)
