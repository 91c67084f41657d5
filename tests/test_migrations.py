import pytest
from django.core.management import call_command
from django.db import connection

from shopguide.migration_operations import MissingExtension, RequireExtension


@pytest.mark.django_db
def test_migrations_enable_pgvector_and_trigram():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension")
        installed = {row[0] for row in cursor.fetchall()}
    assert {"vector", "pg_trgm"} <= installed


@pytest.mark.django_db
def test_models_and_migrations_do_not_drift():
    # Exits non-zero (SystemExit) when a model change has no migration.
    call_command("makemigrations", "shopguide", "testapp", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_shopguide_migrations_unapply_and_reapply():
    call_command("migrate", "shopguide", "zero", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('shopguide_productvector')")
        assert cursor.fetchone()[0] is None
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('shopguide_productvector')")
        assert cursor.fetchone()[0] == "shopguide_productvector"


@pytest.mark.django_db
def test_missing_extension_fails_with_instructions():
    operation = RequireExtension("no_such_extension_here")
    with connection.schema_editor() as editor, pytest.raises(MissingExtension, match="no_such_extension_here"):
        operation.database_forwards("shopguide", editor, None, None)


def test_migrations_point_at_the_configured_product_model_not_the_demos():
    from pathlib import Path

    import shopguide

    for path in (Path(shopguide.__file__).parent / "migrations").glob("0*.py"):
        text = path.read_text()
        assert "'catalog" not in text and '"catalog' not in text, path.name
