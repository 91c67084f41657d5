"""Import of event history from JSON Lines (format in DESIGN.md).

Good lines are imported in batches while bad lines are collected with their line numbers, so one
broken line never loses the rest. Every line gets a content hash (``dedupe_key``): importing the
same file again adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from shopguide.adapter import get_adapter
from shopguide.models import Interaction, InteractionType
from shopguide.services.events import DEFAULT_WEIGHTS
from shopguide.validators import LineError, json_line_object

BATCH_SIZE = 2000


@dataclass
class ImportReport:
    lines: int = 0
    imported: int = 0
    duplicates: int = 0
    users_created: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class EventLine:
    line_no: int
    user: str
    sku: str
    type: str
    ts: dt.datetime
    query: str

    @property
    def dedupe_key(self) -> str:
        canonical = json.dumps([self.user, self.sku, self.type, self.ts.isoformat(), self.query], ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:64]


def parse_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, bool):
        raise LineError("'ts' must be ISO-8601 text or epoch seconds")
    if isinstance(value, (int, float)):
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise LineError(f"'ts' epoch seconds out of range: {value}") from exc
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise LineError(f"'ts' is not ISO-8601: {value!r}") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise LineError("'ts' must be ISO-8601 text or epoch seconds")


def parse_line(line_no: int, text: str) -> EventLine | None:
    """Parse one line; None for a blank line. Raises LineError naming the problem."""
    data = json_line_object(text)
    if data is None:
        return None
    for key in ("user", "type", "ts"):
        if key not in data:
            raise LineError(f"missing '{key}'")
    event_type = data["type"]
    if event_type not in InteractionType.values:
        raise LineError(f"'type' must be one of {', '.join(InteractionType.values)}, got {event_type!r}")
    user = data["user"]
    if not isinstance(user, (str, int)) or isinstance(user, bool) or str(user).strip() == "":
        raise LineError("'user' must be a non-empty string")
    sku = data.get("sku")
    if sku is None or sku == "":
        if event_type != InteractionType.SEARCH:
            raise LineError("missing 'sku'")
        sku = ""
    elif not isinstance(sku, (str, int)) or isinstance(sku, bool):
        raise LineError("'sku' must be a string")
    query = data.get("query") or ""
    if not isinstance(query, str):
        raise LineError("'query' must be a string")
    if event_type == InteractionType.SEARCH and not query.strip():
        raise LineError("a 'search' event needs a non-empty 'query'")
    return EventLine(
        line_no=line_no,
        user=str(user).strip(),
        sku=str(sku),
        type=event_type,
        ts=parse_timestamp(data["ts"]),
        query=query[:500],
    )


def import_events(
    lines: Iterable[str],
    *,
    create_users: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import events from JSON Lines text; returns counts and the bad lines with their numbers.

    ``progress(n)`` is called with the number of lines handled since the last call.
    """
    report = ImportReport()
    batch: list[EventLine] = []
    for line_no, text in enumerate(lines, start=1):
        report.lines = line_no
        try:
            parsed = parse_line(line_no, text)
        except LineError as exc:
            report.errors.append((line_no, str(exc)))
            parsed = None
        if parsed is not None:
            batch.append(parsed)
        if len(batch) >= BATCH_SIZE:
            _import_batch(batch, report, create_users=create_users)
            batch = []
        if progress:
            progress(1)
    if batch:
        _import_batch(batch, report, create_users=create_users)
    report.errors.sort()
    return report


def _import_batch(batch: list[EventLine], report: ImportReport, *, create_users: bool) -> None:
    users = _resolve_users({e.user for e in batch}, create=create_users, report=report)
    products = get_adapter().products_by_sku(e.sku for e in batch if e.sku)
    rows = []
    for event in batch:
        if event.user not in users:
            report.errors.append((event.line_no, f"unknown user {event.user!r} (pass --create-users to create it)"))
            continue
        if event.sku and event.sku not in products:
            report.errors.append((event.line_no, f"unknown sku {event.sku!r}"))
            continue
        rows.append(
            Interaction(
                user_id=users[event.user],
                product_id=products.get(event.sku),
                type=event.type,
                ts=event.ts,
                query=event.query,
                weight=DEFAULT_WEIGHTS[InteractionType(event.type)],
                dedupe_key=event.dedupe_key,
            )
        )
    if not rows:
        return
    keys = [row.dedupe_key for row in rows]
    with transaction.atomic():
        existing = set(Interaction.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
        fresh, seen = [], set(existing)
        for row in rows:
            if row.dedupe_key not in seen:  # also drops repeats inside one file
                seen.add(row.dedupe_key)
                fresh.append(row)
        # ignore_conflicts: a concurrent import of the same file must not fail the batch.
        Interaction.objects.bulk_create(fresh, ignore_conflicts=True)
    report.imported += len(fresh)
    report.duplicates += len(rows) - len(fresh)


def _resolve_users(names: set[str], *, create: bool, report: ImportReport) -> dict[str, Any]:
    User = get_user_model()
    field_name = User.USERNAME_FIELD
    found = dict(User._default_manager.filter(**{f"{field_name}__in": names}).values_list(field_name, "pk"))
    missing = names - set(found)
    if create and missing:
        new_users = []
        for name in sorted(missing):
            user = User(**{field_name: name})
            user.set_unusable_password()
            new_users.append(user)
        User._default_manager.bulk_create(new_users, ignore_conflicts=True)
        found.update(User._default_manager.filter(**{f"{field_name}__in": missing}).values_list(field_name, "pk"))
        report.users_created += len(missing)
    return {str(k): v for k, v in found.items()}
