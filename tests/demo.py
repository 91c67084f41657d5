"""The demo shop in subprocesses, shared by the test modules that need it (fixtures in conftest):
its own database on the test PostgreSQL server, set up once per session by `rundemo --setup-only`
with a small catalogue, and `manage.py` runs or a real server (runserver, or gunicorn with the
production settings) against it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
from django.conf import settings
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "shopguide_demo_smoke"
SETUP_ARGS = ("rundemo", "--setup-only", "--products", "90", "--shoppers", "12", "--epochs", "2")
SERVER_START_TIMEOUT = 60


def server_url(name: str) -> str:
    """A psycopg URL for database ``name`` on the server the tests use."""
    db = settings.DATABASES["default"]
    host = db["HOST"]
    port = db.get("PORT") or 5432
    if host.startswith("/"):
        return f"postgresql://{db['USER']}@/{name}?host={host}&port={port}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgresql://{db['USER']}{password}@{host}:{port}/{name}"


def recreate_database(name: str) -> None:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def demo_environment(name: str, var_dir: Path) -> dict[str, str]:
    """Environment variables that point the storefront's settings at database ``name``."""
    url = server_url(name)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "storefront.settings",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": "sqla+" + url.replace("postgresql://", "postgresql+psycopg://", 1),
        "SHOPGUIDE_VAR_DIR": str(var_dir),
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "DJANGO_DEBUG": "1",  # runserver serves the static and media files
    }


def manage(env, *args, timeout=300, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def shell_json(env, code: str, *, timeout=120):
    """Run ``code`` in the demo's `manage.py shell`; it prints one JSON line last, returned parsed."""
    return json.loads(manage(env, "shell", "-c", code, timeout=timeout).stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A server subprocess of a test: its log, and a stop that never leaves it running."""

    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class DemoServer(ServerProcess):
    """`manage.py runserver` on a free port, as a real process; stop() ends it."""

    def __init__(self, env, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_it_answers()

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=10) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the demo server did not answer:\n{self.log()[-3000:]}")
            time.sleep(0.2)


def production_environment(env: dict[str, str], **overrides: str) -> dict[str, str]:
    """``env`` with the demo's production settings, as a shop runs them (DEBUG off, a real secret
    key), on plain HTTP on loopback (no TLS to redirect to)."""
    return {
        **env,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "live-test-" + "k" * 50,
        "DJANGO_HTTPS": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        **overrides,
    }


class GunicornServer(ServerProcess):
    """The demo shop under gunicorn (sync workers) on a free port, as a real process; stop() ends
    it. ``access_log``: a file with one line per request, "METHOD PATH STATUS"."""

    def __init__(
        self,
        env,
        log_path: Path,
        *,
        workers: int = 2,
        access_log: Path | None = None,
        ready_path: str = "/api/shopguide/trending/",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        access = ["--access-logfile", str(access_log), "--access-logformat", "%(m)s %(U)s %(s)s"] if access_log else []
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "storefront.wsgi",
                    "-w",
                    str(workers),
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "--timeout",
                    "60",
                    *access,
                    *extra_args,
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_answering(self.url + ready_path)
        except AssertionError:
            self.stop()
            raise AssertionError(f"gunicorn did not answer:\n{self.log()[-3000:]}") from None


def wait_until_answering(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=20)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout:.0f}s")
