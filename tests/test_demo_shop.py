"""The demo shop end to end, as `make demo` sets it up, in subprocesses with storefront settings:
demo data → load_catalog → event import → training → product pages with related products; then a
retrain through a worker on the embedded broker (kombu's SQLAlchemy transport on PostgreSQL).
The demo (fixtures demo_env, demo_ready) is set up once per session, shared with other modules."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.demo import ROOT, manage

PAGE_CHECK = """
import json, re
from django.test import Client
from storefront.catalog.models import Product
c = Client()
out = {}
for p in Product.objects.order_by('pk')[:5]:
    html = c.get(p.get_absolute_url()).content.decode()
    widgets = re.findall(r'data-shopguide-widget="([^"]+)"(.*?)</section>', html, re.S)
    out[p.pk] = {name: re.findall(r'data-product-id="([^"]+)"', body) for name, body in widgets}
out['home'] = c.get('/').status_code
out['search'] = c.get('/search/', {'q': 'sneakers'}).status_code
first = Product.objects.order_by('pk').first()
out['api_product'] = c.get(f'/api/products/{first.pk}/').json()['sku'] == first.sku
item = c.get(f'/api/shopguide/products/{first.pk}/related/').json()['results'][0]
out['api_item_id'] = [type(item['id']).__name__, item['currency']]
out['admin_login'] = c.login(username='admin', password='shopguide-demo')
print(json.dumps(out))
"""


def test_first_run_sets_up_catalogue_history_and_model(demo_env, demo_ready):
    assert "90 products created" in demo_ready.stdout
    assert "events imported" in demo_ready.stdout
    assert "Run 1 succeeded" in demo_ready.stdout
    pages = json.loads(manage(demo_env, "shell", "-c", PAGE_CHECK).stdout.strip().splitlines()[-1])
    assert pages.pop("home") == 200 and pages.pop("search") == 200 and pages.pop("admin_login") is True
    assert pages.pop("api_product") is True  # the plain DRF endpoint (bench/serving.py's baseline)
    assert pages.pop("api_item_id") == ["int", "EUR"]  # an integer key stays a JSON number
    for pk, widgets in pages.items():
        assert set(widgets) == {"looks_similar", "customers_also_bought"}
        for related in widgets.values():
            assert len(related) == 8 and pk not in related


def test_second_run_reuses_data_and_model(demo_env, demo_ready):
    started = time.monotonic()
    result = manage(demo_env, "rundemo", "--setup-only")
    assert time.monotonic() - started < 60
    assert "Building the demo catalogue" not in result.stdout and "Training" not in result.stdout


def test_load_catalog_reports_bad_lines_and_keeps_good_ones(demo_env, demo_ready, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "bad.png").write_bytes(b"not a png")
    lines = [
        {"sku": "NEW-1", "title": "New tee", "description": "Soft.", "category": "T-shirts & Tops", "price": 12.5},
        {"sku": "NEW-2", "title": "Broken", "category": "Bags", "price": "cheap"},
        "{nope",
        {"sku": "NEW-3", "title": "Bad image", "category": "Bags", "price": 3, "image": "bad.png"},
        {"sku": "NEW-4", "title": "Escape", "category": "Bags", "price": 3, "image": "../../etc/passwd"},
        {"sku": "NEW-5", "title": "New bag", "category": "Bags", "price": 30, "in_stock": False},
    ]
    path = tmp_path / "catalog.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    result = manage(demo_env, "load_catalog", str(path), "--images-root", str(images), check=False)
    assert result.returncode == 1
    assert "2 products created" in result.stdout
    assert f"{path}:2: 'price' must be a non-negative number" in result.stderr
    assert f"{path}:3: not valid JSON" in result.stderr
    assert f"{path}:4: 'image' 'bad.png' is not a readable image" in result.stderr
    assert f"{path}:5: 'image' '../../etc/passwd' points outside the images root" in result.stderr
    assert "Traceback" not in result.stderr
    # loading again changes nothing new
    again = manage(demo_env, "load_catalog", str(path), "--images-root", str(images), check=False)
    assert "0 products created, 2 updated" in again.stdout


@pytest.mark.worker
def test_retrain_through_a_worker_on_the_embedded_broker(demo_env, demo_ready, tmp_path):
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "storefront",
            "worker",
            "-Q",
            "shopguide,shopguide.gpu",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "info",
        ],
        cwd=ROOT,
        env=demo_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log_path = tmp_path / "worker.log"
    try:
        # Wait until the worker consumes: kombu's SQLAlchemy transport creates its tables on first
        # use, and two processes doing that at the same moment can leave the worker without a queue.
        deadline = time.monotonic() + 120
        while b"ready." not in log_path.read_bytes() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
        assert b"ready." in log_path.read_bytes(), log_path.read_text(errors="replace")[-3000:]
        result = manage(
            demo_env, "shopguide_train", "--epochs", "1", "--force", "--timeout", "240", timeout=300, check=False
        )
        assert "Run 2 succeeded: activated v2" in result.stdout, (
            result.stdout[-2000:] + result.stderr[-2000:] + log_path.read_text(errors="replace")[-3000:]
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
