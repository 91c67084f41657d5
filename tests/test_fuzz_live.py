"""The outside probe as part of the project: schemathesis's command line, in its own process,
against the demo shop under gunicorn with the demo's production settings, over real sockets,
anonymous and with a customer's and a staff member's session; every phase (examples, coverage,
fuzzing, stateful). Not a 5xx anywhere, counted from the server's own access log.

Run by `make fuzz` (FUZZ_LIVE=1; FUZZ_LIVE_EXAMPLES cases per operation and phase, default 300),
skipped by `make test`. The server runs ``bench.serving_settings``: the demo's production
settings with the throttles raised, so generated requests reach the views instead of stopping
at a 429 (throttling itself is tested in tests/test_hostile_live.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from tests.demo import ROOT, GunicornServer, production_environment, shell_json
from tests.test_hostile_live import session_for

CONFIG = ROOT / "tests" / "schemathesis.toml"
EXAMPLES = int(os.environ.get("FUZZ_LIVE_EXAMPLES", "300"))
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.skipif(not os.environ.get("FUZZ_LIVE"), reason="the outside fuzz runs with `make fuzz` (FUZZ_LIVE=1)"),
]


@pytest.fixture(scope="module")
def fuzz_server(demo_env, demo_ready, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-live")
    env = production_environment(demo_env, DJANGO_SETTINGS_MODULE="bench.serving_settings")
    # No request-line limit: every generated query string reaches Django (the default limit of
    # 4,094 bytes refuses a third of them with a 414 before shopguide sees them).
    server = GunicornServer(
        env, folder / "gunicorn.log", access_log=folder / "access.log", extra_args=("--limit-request-line", "0")
    )
    server.access_log = folder / "access.log"
    server.folder = folder
    yield server
    server.stop()


def statuses_since(access_log, offset: int) -> tuple[Counter, int]:
    """Status codes of the requests logged after byte ``offset`` (the schema's own fetch left out)."""
    text = access_log.read_text(errors="replace")
    counts: Counter = Counter()
    for line in text[offset:].splitlines():
        _method, path, status = line.rsplit(" ", 2) if line.count(" ") >= 2 else ("", "", "")
        if status.isdigit() and not path.endswith("/schema/"):
            counts[int(status)] += 1
    return counts, len(text)


def staff_with_view_customer(env) -> dict[str, str]:
    headers = session_for(env, "fuzz-staff", staff=True)
    shell_json(
        production_environment(env),
        """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
user = get_user_model().objects.get(username="fuzz-staff")
user.user_permissions.add(Permission.objects.get(content_type__app_label="shopguide", codename="view_customer"))
print(json.dumps(True))
""",
    )
    return headers


@pytest.mark.parametrize("who", ["anonymous", "customer", "staff with view_customer"])
def test_the_api_holds_against_schemathesis_from_outside(fuzz_server, demo_env, who, capsys):
    headers = {
        "anonymous": dict,
        "customer": lambda: session_for(demo_env, "fuzz-customer"),
        "staff with view_customer": lambda: staff_with_view_customer(demo_env),
    }[who]()
    _, offset = statuses_since(fuzz_server.access_log, 0)
    har = fuzz_server.folder / f"{who.replace(' ', '-')}.har"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{fuzz_server.url}/api/shopguide/schema/?format=json",
        # shopguide's operations; not the schema view itself (drf-spectacular's) nor the demo's own /api/products/.
        "--url",
        fuzz_server.url,
        "--include-path-regex",
        "^/api/shopguide/",
        "--exclude-path-regex",
        "/schema/$",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "15",
        "--workers",
        "2",
        "--request-timeout",
        "60",
        "--generation-database",
        "none",
        "--continue-on-failure",
        "--no-color",
        "--output-truncate",
        "true",
        "--report",
        "har",
        "--report-har-path",
        str(har),
        # The session comes as headers (-H), which schemathesis cannot leave out: it must not
        # generate "without the cookie" cases that still carry it.
        "--generation-with-security-parameters",
        "false",
        *[arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")],
    ]
    result = subprocess.run(command, cwd=fuzz_server.folder, capture_output=True, text=True, timeout=3000)
    (fuzz_server.folder / f"schemathesis-{who.replace(' ', '-')}.txt").write_text(result.stdout + result.stderr)
    # Every answer the client got (the HAR report), and every request Django answered (the access
    # log: gunicorn logs no request it refuses itself, such as a 414).
    answers = (
        Counter(entry["response"]["status"] for entry in json.loads(har.read_text())["log"]["entries"])
        if har.exists()
        else Counter()
    )
    served, _ = statuses_since(fuzz_server.access_log, offset)
    cases = re.search(r"([0-9,]+) generated", result.stdout)
    with capsys.disabled():
        print(
            f"\n[outside fuzz, {who}] {cases.group(1) if cases else '?'} test cases, "
            f"{sum(answers.values()):,} requests: "
            f"{dict(sorted(answers.items()))}; served by Django {sum(served.values()):,}: "
            f"{dict(sorted(served.items()))}; "
            f"output in {fuzz_server.folder}"
        )
    server_errors = {status: n for status, n in (answers + served).items() if status >= 500 or status == 0}
    assert not server_errors, f"{server_errors}\n{result.stdout[-6000:]}\n{fuzz_server.log()[-3000:]}"
    assert result.returncode == 0, result.stdout[-8000:]
    assert sum(answers.values()) >= min(1000, 3 * EXAMPLES), answers
