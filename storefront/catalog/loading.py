"""Loading a catalogue from JSON Lines (format in DESIGN.md) into the demo shop's models."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import slugify
from PIL import Image, UnidentifiedImageError

from shopguide.validators import LineError, json_line_object
from storefront.catalog.models import Category, Product

BATCH_SIZE = 500


@dataclass
class LoadReport:
    lines: int = 0
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class CatalogLine:
    line_no: int
    sku: str
    title: str
    description: str
    category: str
    price: Decimal
    image: Path | None
    in_stock: bool


def parse_line(line_no: int, text: str, images_root: Path | None) -> CatalogLine | None:
    data = json_line_object(text)
    if data is None:
        return None
    for key in ("sku", "title", "category", "price"):
        if data.get(key) in (None, ""):
            raise LineError(f"missing '{key}'")
    for key in ("sku", "title", "category"):
        if not isinstance(data[key], str):
            raise LineError(f"'{key}' must be a string")
    if len(data["sku"]) > 64 or len(data["title"]) > 200 or len(data["category"]) > 100:
        raise LineError("'sku', 'title' or 'category' is too long (64/200/100 characters at most)")
    try:
        if isinstance(data["price"], bool):
            raise InvalidOperation
        price = Decimal(str(data["price"])).quantize(Decimal("0.01"))
        if price < 0 or price >= Decimal("1e8"):
            raise InvalidOperation
    except InvalidOperation as exc:
        raise LineError(f"'price' must be a non-negative number, got {data['price']!r}") from exc
    in_stock = data.get("in_stock", True)
    if not isinstance(in_stock, bool):
        raise LineError("'in_stock' must be true or false")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise LineError("'description' must be a string")
    return CatalogLine(
        line_no=line_no,
        sku=data["sku"].strip(),
        title=data["title"].strip(),
        description=description,
        category=data["category"].strip(),
        price=price,
        image=_image_path(data.get("image"), images_root),
        in_stock=in_stock,
    )


def _image_path(value, images_root: Path | None) -> Path | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise LineError("'image' must be a relative path")
    if images_root is None:
        raise LineError("'image' given but no --images-root")
    root = images_root.resolve()
    path = (root / value).resolve()
    if not path.is_relative_to(root):
        raise LineError(f"'image' {value!r} points outside the images root")
    if not path.is_file():
        raise LineError(f"image file not found: {value}")
    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise LineError(f"'image' {value!r} is not a readable image ({exc})") from exc
    return path


def load_catalog(
    lines: Iterable[str], *, images_root: Path | None, progress: Callable[[int], None] | None = None
) -> LoadReport:
    """Create or update products by SKU (idempotent). Bad lines are reported, good ones kept."""
    report = LoadReport()
    batch: list[CatalogLine] = []
    for line_no, text in enumerate(lines, start=1):
        report.lines = line_no
        try:
            parsed = parse_line(line_no, text, images_root)
        except LineError as exc:
            report.errors.append((line_no, str(exc)))
            parsed = None
        if parsed:
            batch.append(parsed)
        if len(batch) >= BATCH_SIZE:
            _save_batch(batch, report)
            batch = []
        if progress:
            progress(1)
    if batch:
        _save_batch(batch, report)
    return report


def _save_batch(batch: list[CatalogLine], report: LoadReport) -> None:
    with transaction.atomic():
        categories = _categories({line.category for line in batch})
        existing = Product.objects.in_bulk([line.sku for line in batch], field_name="sku")
        for line in batch:
            product = existing.get(line.sku) or Product(sku=line.sku)
            created = product.pk is None
            product.title = line.title
            product.description = line.description
            product.category = categories[line.category]
            product.price = line.price
            product.in_stock = line.in_stock
            if line.image is not None:
                _attach_image(product, line.image)
            product.save()
            existing[line.sku] = product  # a SKU repeated later in the file updates this row
            if created:
                report.created += 1
            else:
                report.updated += 1


def _attach_image(product: Product, path: Path) -> None:
    name = f"products/{slugify(product.sku) or 'product'}{path.suffix.lower()}"
    if product.image and product.image.name == name and default_storage.exists(name):
        return  # same file as last time: keep it
    if default_storage.exists(name):
        default_storage.delete(name)
    with path.open("rb") as handle:
        product.image.save(name.split("/", 1)[1], File(handle), save=False)


def _categories(names: set[str]) -> dict[str, Category]:
    found = {c.name: c for c in Category.objects.filter(name__in=names)}
    for name in names - set(found):
        slug = slugify(name) or "category"
        base, n = slug, 1
        while Category.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        found[name] = Category.objects.create(name=name, slug=slug)
    return found
