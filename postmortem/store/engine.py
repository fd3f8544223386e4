"""Connecting to the store's database and locating its migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def normalise_url(url: str) -> URL:
    """Parse a store URL; plain `postgresql://` (or `postgres://`) URLs get the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported store URL {parsed!r}: use sqlite:///PATH or postgresql://...")
    return parsed


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration pointing at the packaged migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        rendered = normalise_url(url).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The latest migration revision shipped with the package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration found in {MIGRATIONS_DIR}")
    return head


def sqlite_file(url: URL) -> Path | None:
    """The database file of an SQLite URL (None for in-memory and non-SQLite URLs)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _json_text(value: Any) -> str:
    """JSON column text: JSON has no NaN/Infinity (PostgreSQL refuses them), so they are stored as null."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: URL) -> Engine:
    """An engine; on SQLite: WAL, foreign keys, a busy timeout and BEGIN [IMMEDIATE] issued by us."""
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, json_serializer=_json_text)
    engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=_json_text)
    on_file = sqlite_file(url) is not None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the "begin" hook below emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if on_file:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def dialect_insert(session: Session, entity: type[Any]) -> Any:
    """The dialect's INSERT (for ON CONFLICT) on the session's backend."""
    is_pg = session.get_bind().dialect.name == "postgresql"
    return pg_insert(entity) if is_pg else sqlite_insert(entity)
