"""Migration operations that fail with instructions instead of a bare SQL error."""

from __future__ import annotations

from django.contrib.postgres.operations import CreateExtension

from shopguide.checks import VECTOR_HINT

HINTS = {
    "vector": VECTOR_HINT,
    "pg_trgm": "pg_trgm ships with PostgreSQL's contrib package (Debian: postgresql-contrib).",
}


class MissingExtension(RuntimeError):
    pass


class RequireExtension(CreateExtension):
    """CREATE EXTENSION IF NOT EXISTS, after checking the server has it, with a hint if not."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            raise MissingExtension(
                f"shopguide needs PostgreSQL with pgvector; this database is "
                f"{schema_editor.connection.vendor}. {VECTOR_HINT}"
            )
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", [self.name])
            if cursor.fetchone() is None:
                raise MissingExtension(
                    f"The PostgreSQL server has no {self.name!r} extension. {HINTS.get(self.name, '')}"
                )
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        # Other apps may use the extensions too: leave them installed.
        pass
