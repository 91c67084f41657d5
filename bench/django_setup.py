"""Django for the benches that go through PostgreSQL: the demo shop's settings on a bench database
of the embedded PostgreSQL (or of DATABASE_URL's server when that is set)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(db_name: str, *, fresh: bool = False) -> None:
    """Point Django at database ``db_name`` (dropped first when ``fresh``), migrated, and set it up."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "storefront.settings"
    # Model files of each bench database apart (bench "v1" must not overwrite another's "v1").
    os.environ.setdefault("SHOPGUIDE_VAR_DIR", str(ROOT / "var" / "bench" / db_name))
    if not os.environ.get("DATABASE_URL"):
        from storefront import embedded_db

        server = embedded_db.start(ROOT / "var" / "pgdata")
        if fresh:
            import psycopg

            with psycopg.connect(server.database_url("postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        embedded_db.create_database(server, db_name)
        os.environ["DATABASE_URL"] = server.database_url(db_name)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
