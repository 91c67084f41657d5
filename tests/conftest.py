from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tests.celery_app  # noqa: F401  (binds shopguide's shared tasks to the test app)

ROOT = Path(__file__).resolve().parent.parent
# The django-oscar suite (tests/oscar/) needs its own settings, so it runs in its own pytest
# process: `pytest tests/oscar --ds=tests.oscar.settings` (make test runs both).
collect_ignore = [] if os.environ.get("DJANGO_SETTINGS_MODULE") == "tests.oscar.settings" else ["oscar"]
WORKER_READY_TIMEOUT = 60


@pytest.fixture(scope="session", autouse=True)
def purge_test_queues():
    """Leave no messages behind in this session's queues on a shared broker."""
    yield
    from shopguide.conf import shopguide_settings
    from tests.celery_app import app

    try:
        with app.connection_for_write() as conn:
            for queue in (shopguide_settings.QUEUE, shopguide_settings.GPU_QUEUE):
                conn.default_channel.queue_purge(queue)
    except Exception:  # a queue that was never declared, or no broker: nothing to purge
        pass


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: cached rankings and throttle counters of one test's
    data must not leak into the next."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real Celery worker process (solo pool) on the real broker, consuming the test queues; it runs
    shopguide's own app (`celery -A shopguide`), as a shop without a Celery app of its own does."""
    yield from _worker(tmp_path, ["--pool", "solo"])


@pytest.fixture
def celery_worker_process_prefork(transactional_db, tmp_path):
    """A real prefork Celery worker with one pool process (which tests may kill)."""
    yield from _worker(tmp_path, ["--pool", "prefork", "--concurrency", "1"])


def _worker(tmp_path, pool_args):
    from shopguide.conf import shopguide_settings

    log_path = tmp_path / "worker.log"
    env = {**os.environ, "SHOPGUIDE_TESTS_IN_WORKER": "1", "DJANGO_SETTINGS_MODULE": "tests.settings"}
    queues = f"{shopguide_settings.QUEUE},{shopguide_settings.GPU_QUEUE}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "shopguide",
                "worker",
                "-Q",
                queues,
                *pool_args,
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + WORKER_READY_TIMEOUT
    while b" ready." not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Celery worker did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    process.log_path = log_path
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def demo_env(tmp_path_factory):
    """Environment for the demo shop's subprocesses, on its own database (dropped at the end)."""
    from tests.demo import DB_NAME, demo_environment, drop_database, recreate_database

    recreate_database(DB_NAME)
    yield demo_environment(DB_NAME, tmp_path_factory.mktemp("demo-var"))
    drop_database(DB_NAME)


@pytest.fixture(scope="session")
def demo_ready(demo_env):
    """The demo shop set up once per session as `make demo` does (small catalogue, trained models);
    the finished `rundemo` process, for its output."""
    from tests.demo import SETUP_ARGS, manage

    return manage(demo_env, *SETUP_ARGS)


def wait_for(predicate, *, timeout: float, interval: float = 0.25, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
