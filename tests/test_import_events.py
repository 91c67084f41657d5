import json

import pytest
from django.core.management import CommandError, call_command

from shopguide.models import Interaction
from tests.factories import make_articles
from tests.testapp.models import Customer


@pytest.fixture
def articles(db):
    return make_articles(3, with_images=False)


def write_lines(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_bad_lines_are_reported_by_number_and_good_lines_kept(tmp_path, articles, capsys):
    Customer.objects.create_user("ann@example.com")
    path = write_lines(
        tmp_path / "events.jsonl",
        [
            {"user": "ann@example.com", "sku": "A-0000", "type": "view", "ts": "2026-01-02T10:00:00Z"},
            "{this is not json",
            {"user": "ann@example.com", "sku": "A-0001", "type": "purchase", "ts": 1767350000},
            {"user": "ann@example.com", "sku": "NOPE", "type": "view", "ts": "2026-01-02T10:00:00Z"},
            {"user": "ghost@example.com", "sku": "A-0000", "type": "view", "ts": "2026-01-02T10:00:00Z"},
            {"user": "ann@example.com", "sku": "A-0000", "type": "view", "ts": "yesterday"},
            {"user": "ann@example.com", "type": "view", "ts": "2026-01-02T10:00:00Z"},
            {
                "user": "ann@example.com",
                "sku": "A-0002",
                "type": "search",
                "query": "rings",
                "ts": "2026-01-03T10:00:00",
            },
            {"user": "ann@example.com", "sku": "A-\u00000", "type": "view", "ts": "2026-01-02T10:00:00Z"},
        ],
    )
    with pytest.raises(CommandError, match="6 bad line"):
        call_command("shopguide_import_events", str(path), verbosity=0)
    err = capsys.readouterr().err
    assert "events.jsonl:2: not valid JSON" in err
    assert "events.jsonl:4: unknown sku 'NOPE'" in err
    assert "events.jsonl:5: unknown user 'ghost@example.com'" in err
    assert "events.jsonl:6: 'ts' is not ISO-8601" in err
    assert "events.jsonl:7: missing 'sku'" in err
    assert "events.jsonl:9: contains a NUL character" in err
    assert sorted(Interaction.objects.values_list("type", flat=True)) == ["purchase", "search", "view"]


def test_import_is_idempotent_and_can_create_users(tmp_path, articles, capsys):
    lines = [
        {"user": f"u{i}@example.com", "sku": f"A-000{i % 3}", "type": "view", "ts": f"2026-01-0{i + 1}T00:00:00Z"}
        for i in range(5)
    ]
    path = write_lines(tmp_path / "events.jsonl", lines + [lines[0]])  # a repeated line inside the file
    call_command("shopguide_import_events", str(path), create_users=True, verbosity=0)
    assert Interaction.objects.count() == 5
    assert Customer.objects.filter(email__startswith="u").count() == 5
    call_command("shopguide_import_events", str(path), create_users=True, verbosity=0)
    assert Interaction.objects.count() == 5
    assert "0 events imported, 6 already present" in capsys.readouterr().out


def test_missing_file_is_a_clear_command_error(tmp_path, db):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("shopguide_import_events", str(tmp_path / "missing.jsonl"), verbosity=0)
