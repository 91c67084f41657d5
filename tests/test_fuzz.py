"""Fuzzing every endpoint from the OpenAPI schema with schemathesis, in-process through WSGI.

Each operation gets FUZZ_EXAMPLES generated requests (valid and invalid): no 5xx, and every
response (status code, content type, body) must match what the schema documents. `make fuzz`
runs many more examples than `make test`.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.factories import make_articles

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))


@pytest.fixture
def shop_data(db, settings):
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    # Throttling is tested on its own; here it would only turn generated requests into 429s.
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "THROTTLE_RATES": {}}
    make_articles(6)
    # As Django's test client does: requests must not close the test's connection (and with it
    # the transaction that holds the test data).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _load_schema():
    from django.core.wsgi import get_wsgi_application

    return schemathesis.openapi.from_wsgi("/api/shopguide/schema/?format=json", get_wsgi_application())


schema = _load_schema()


@pytest.mark.fuzz
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_holds_against_generated_requests(case, shop_data):
    # Every check but "schema-valid data is accepted": some rules are beyond what OpenAPI can
    # say (an upload must really be an image; a view event needs a product or a sku), so a
    # 400 for such input is right. Server errors, undocumented status codes, bodies that break
    # the schema and accepted schema-violating input all fail.
    case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])
