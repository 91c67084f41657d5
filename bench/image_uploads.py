"""Memory of image search under hostile uploads: peak RSS of the web workers for one and for four
uploads at once, through gunicorn with the demo shop's production settings.

    .venv/bin/python -m bench.image_uploads [--fresh]

Uploads: the probe's image bomb (a ~340 KB PNG of 9,400 x 9,400 RGBA pixels, under Pillow's own
bomb warning), a PNG at the pixel limit (4,000 x 4,000 RGBA, SHOPGUIDE["MAX_IMAGE_PIXELS"] = 16
million: the largest image that is decoded in full) and a 6,000 x 4,000 JPEG photo (24 million
pixels, decoded reduced 8x per side). Each case starts a fresh gunicorn (4 sync workers: four
uploads at once run in four processes) and reads each worker's peak resident memory (VmHWM)
before and after; the table gives the largest growth of one worker and the sum over workers. The
bench database (a few products, no model: the upload is decoded and checked all the same) is
``shopguide_bench_uploads`` on the embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import signal
import struct
import threading
import time
import zlib
from dataclasses import dataclass

import psutil

from bench.django_setup import ROOT, setup_django
from bench.events_load import start_gunicorn, wait_until_answering
from bench.serving import free_port

DB_NAME = "shopguide_bench_uploads"
WORKERS = 4
MB = 1024 * 1024


def blank_png(width: int, height: int) -> bytes:
    """A transparent RGBA PNG of width x height, streamed row by row: a few hundred KB for a picture
    that decodes to width * height * 4 bytes (the whole image is never held here)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * (width * 4)  # filter byte, then transparent pixels
    chunks = [compressor.compress(row) for _ in range(height)]
    data = b"".join(chunks) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def photo_jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def upload(port: int, data: bytes, filename: str, results: list) -> None:
    boundary = "benchboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request(
        "POST",
        "/api/shopguide/search/image/",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    response = conn.getresponse()
    response.read()
    results.append((response.status, time.perf_counter() - started))


def worker_peaks(master: int) -> dict[int, int]:
    """Peak resident bytes (VmHWM) of each gunicorn worker."""
    peaks = {}
    for child in psutil.Process(master).children():
        with open(f"/proc/{child.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peaks[child.pid] = int(line.split()[1]) * 1024
    return peaks


@dataclass
class Row:
    case: str
    uploads: int
    statuses: str
    seconds: float
    worst_worker_mb: float
    total_mb: float


def run_case(name: str, data: bytes, filename: str, uploads: int) -> Row:
    port = free_port()
    server = start_gunicorn(port, WORKERS, ROOT / "var" / "bench" / DB_NAME / "gunicorn.log")
    try:
        wait_until_answering(port)
        # Warm every worker up with a small upload, so imports and first-request costs are in the baseline.
        small = blank_png(64, 64)
        for _ in range(WORKERS * 3):
            upload(port, small, "warm.png", [])
        before = worker_peaks(server.pid)
        results: list = []
        threads = [threading.Thread(target=upload, args=(port, data, filename, results)) for _ in range(uploads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = worker_peaks(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    growth = [after[pid] - before.get(pid, after[pid]) for pid in after]
    statuses = ", ".join(f"{s}" for s, _ in sorted(results))
    return Row(name, uploads, statuses, max(t for _, t in results), max(growth) / MB, sum(growth) / MB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the bench database")
    args = parser.parse_args()
    setup_django(DB_NAME, fresh=args.fresh)
    from shopguide.conf import shopguide_settings
    from storefront.catalog.models import Category, Product

    if not Product.objects.exists():
        category, _ = Category.objects.get_or_create(name="Bench", slug="bench")
        Product.objects.bulk_create(
            [Product(sku=f"U-{i}", title=f"Upload bench product {i}", category=category, price=1) for i in range(8)]
        )
    cases = [
        ("bomb PNG 9,400 x 9,400 RGBA", blank_png(9400, 9400), "bomb.png"),
        ("PNG at the limit 4,000 x 4,000 RGBA", blank_png(4000, 4000), "limit.png"),
        ("JPEG photo 6,000 x 4,000", photo_jpeg(6000, 4000), "photo.jpg"),
    ]
    rows = [run_case(name, data, filename, n) for name, data, filename in cases for n in (1, 4)]
    limit = shopguide_settings.MAX_IMAGE_PIXELS
    print(
        f"\nImage search uploads: gunicorn, {WORKERS} sync workers, MAX_IMAGE_PIXELS = {limit:,}; "
        f"peak RSS growth (VmHWM) over a warmed-up worker"
    )
    header = (
        f"{'upload':<38} {'at once':>7} {'answers':<20} {'slowest s':>9} {'worst worker MB':>15} {'all workers MB':>14}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.case:<38} {row.uploads:>7} {row.statuses:<20} {row.seconds:>9.2f} "
            f"{row.worst_worker_mb:>15.0f} {row.total_mb:>14.0f}"
        )
    print(
        f"\nsizes: bomb {len(cases[0][1]):,} bytes, limit PNG {len(cases[1][1]):,} bytes, JPEG "
        f"{len(cases[2][1]):,} bytes"
    )
    print(
        f"documented bound: about 8 bytes x MAX_IMAGE_PIXELS = {8 * limit / MB:.0f} MB per upload being decoded "
        "(RGBA pixels and one working copy)"
    )


if __name__ == "__main__":
    main()
