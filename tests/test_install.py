"""`pip install shopguide` as a new shop would, following the README: the built wheel into a fresh
virtualenv (no system site-packages, nothing of the project's own environment), torch's CPU build
installed first, then a minimal host project (its own settings, Celery app, product model and
URLs; nothing of this repository) runs `check`, `makemigrations`, `migrate` and real HTTP requests
on a database of its own on the test PostgreSQL server.

torch==2.13.0 installs from this machine's disk (pip's configured find-links), so nothing big is
downloaded; the small dependencies come from pip's cache or the package index. It takes 2-5
minutes (torch's wheel is unpacked), so `make test` leaves it out and `make test-install` (run by
.ci/run) runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from tests.demo import drop_database, free_port, recreate_database

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "shopguide_install_smoke"
TORCH = "torch==2.13.0"  # the README's CPU build, on this machine's disk

SETTINGS = """
import os
SECRET_KEY = "install-test"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
ROOT_URLCONF = "host.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": os.environ["HOST_DB_NAME"],
                         "USER": os.environ["HOST_DB_USER"], "PASSWORD": os.environ.get("HOST_DB_PASSWORD", ""),
                         "HOST": os.environ["HOST_DB_HOST"], "PORT": os.environ["HOST_DB_PORT"]}}
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                  "django.contrib.staticfiles", "catalog"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",
              "django.contrib.auth.middleware.AuthenticationMiddleware"]

# -- the README's lines, as a shop copies them ----------------------------------------------------
README_LINES
"""

PRODUCT_MODEL = """
from django.db import models


class Product(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True)
    image = models.ImageField(upload_to="products/", blank=True)
    price = models.DecimalField(max_digits=9, decimal_places=2)
    in_stock = models.BooleanField(default=True)
    sku = models.CharField(max_length=40, unique=True)

    def get_absolute_url(self):
        return f"/products/{self.pk}/"
"""

URLS = """
from django.urls import include, path

urlpatterns = [path("api/shopguide/", include("shopguide.api.urls"))]
"""


def readme_block(start: str) -> str:
    """The first fenced python block of the README that starts with ``start`` (the README is
    the installation guide the test follows, so it is read, not copied)."""
    text = (ROOT / "README.md").read_text()
    for block in text.split("```python\n")[1:]:
        body = block.split("```", 1)[0]
        if body.lstrip().startswith(start):
            return body
    raise AssertionError(f"no python block starting with {start!r} in README.md")


def run(args, *, cwd, env, timeout=600) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture
def host_database(django_db_setup):
    from django.conf import settings

    recreate_database(DB_NAME)
    yield settings.DATABASES["default"]
    drop_database(DB_NAME)


def test_the_wheel_installs_into_a_fresh_virtualenv_and_serves(tmp_path, host_database):
    venv = tmp_path / "venv"
    try:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("VIRTUAL_ENV", "PYTHONPATH", "DJANGO_SETTINGS_MODULE")
        }
        dist = tmp_path / "dist"
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-w",
                str(dist),
                str(ROOT),
            ],
            cwd=tmp_path,
            env=env,
        )
        wheel = next(dist.glob("shopguide-*.whl"))
        run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env)  # no system site-packages
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]
        run([*pip, TORCH], cwd=tmp_path, env=env)  # the README's torch step first
        run([*pip, str(wheel)], cwd=tmp_path, env=env)  # no extra yet: the README's Redis broker lacks its client
        installed = run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"], cwd=tmp_path, env=env)
        names = {p["name"].lower(): p["version"] for p in json.loads(installed.stdout)}
        assert names["torch"].endswith("+cpu")  # the CPU build stayed: no CUDA build was pulled in
        assert not [name for name in names if name.startswith("nvidia")]
        assert "drf-spectacular-sidecar" in names and "redis" not in names

        project = make_host_project(tmp_path / "project")
        db = host_database
        env |= {
            "DJANGO_SETTINGS_MODULE": "host.settings",
            "HOST_DB_NAME": DB_NAME,
            "HOST_DB_USER": db["USER"],
            "HOST_DB_PASSWORD": db.get("PASSWORD") or "",
            "HOST_DB_HOST": db["HOST"],
            "HOST_DB_PORT": str(db.get("PORT") or 5432),
        }
        python = str(venv / "bin" / "python")
        missing = subprocess.run(
            [python, "manage.py", "check"], cwd=project, env=env, capture_output=True, text=True, timeout=300
        )
        assert (
            missing.returncode != 0 and "shopguide.E008" in missing.stderr and "shopguide[redis]" in missing.stderr
        ), missing.stderr
        run([*pip, f"{wheel}[redis]"], cwd=tmp_path, env=env)
        check = run(
            [python, "manage.py", "check", "--database", "default", "--fail-level", "WARNING"], cwd=project, env=env
        )
        assert "no issues" in check.stdout
        run([python, "manage.py", "makemigrations", "catalog"], cwd=project, env=env)
        run([python, "manage.py", "migrate"], cwd=project, env=env)
        # (A bulk load as the README says: no embedding tasks queued, so no broker is needed here.)
        run(
            [
                python,
                "manage.py",
                "shell",
                "-c",
                "from catalog.models import Product\n"
                "from shopguide.services.incremental import suspend_incremental_updates\n"
                "with suspend_incremental_updates():\n"
                "    Product.objects.create(title='Red shoe', price='19.90', sku='S1')\n"
                "    Product.objects.create(title='Blue shoe', price='24.00', sku='S2')",
            ],
            cwd=project,
            env=env,
        )
        assert_serves(python, project, env)
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # ~900 MB: not left for pytest's tmp retention


def make_host_project(project: Path) -> Path:
    readme = readme_block("INSTALLED_APPS")
    settings = SETTINGS.replace("README_LINES", readme)
    files = {
        "manage.py": "import sys\nfrom django.core.management import "
        "execute_from_command_line\nexecute_from_command_line(sys.argv)\n",
        "host/__init__.py": "",  # no Celery app of the shop's own: shopguide brings one
        "host/settings.py": settings,
        "host/urls.py": URLS,
        "catalog/__init__.py": "",
        "catalog/models.py": PRODUCT_MODEL,
        "catalog/migrations/__init__.py": "",
    }
    for name, text in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return project


def assert_serves(python: str, project: Path, env: dict) -> None:
    """Real HTTP to the host's runserver: related products of a product (the popular fallback
    before any training), and the OpenAPI schema."""
    port = free_port()
    server = subprocess.Popen(
        [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/shopguide/"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "products/1/related/?k=3", timeout=10) as response:
                    body = json.loads(response.read())
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read().decode()[-3000:]
                time.sleep(0.3)
        assert body["fallback"] and body["model_version"] is None
        assert [item["id"] for item in body["results"]] == [2]  # an integer key is a JSON number
        assert body["results"][0]["price"] == 24.0 and body["results"][0]["currency"] == "EUR"
        with urllib.request.urlopen(base + "schema/?format=json", timeout=30) as response:
            schema = json.loads(response.read())
        assert "/api/shopguide/products/{id}/related/" in schema["paths"]
        item = schema["components"]["schemas"]["RecommendedItem"]["properties"]
        assert item["id"]["type"] == "integer" and "currency" in item  # the schema says what comes back
    finally:
        server.terminate()
        server.wait(timeout=20)
