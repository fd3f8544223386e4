"""Migrations: every table on both backends, at head, no drift from the ORM tables, downgrade and back."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from postmortem.store import Store, head_revision, open_store
from postmortem.store.engine import MIGRATIONS_DIR, alembic_config, normalise_url
from postmortem.store.tables import Base

TABLES = {
    "incidents",
    "raw_payloads",
    "quarantine",
    "events",
    "changes",
    "signals",
    "actions",
    "tickets",
    "report_versions",
    "quality_results",
    "quality_runs",
    "audit_log",
    "webhook_deliveries",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_opening_creates_every_table_at_head(store: Store) -> None:
    assert _tables(store.url.render_as_string(hide_password=False)) == TABLES | {"alembic_version"}
    assert store.current_revision() == head_revision() == "0004"
    assert store.upgrade() == head_revision()  # a second upgrade is a no-op


def test_migrations_match_the_orm_tables(store: Store) -> None:
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert diff == []


def test_migration_waits_for_explicit_upgrade_then_downgrades_cleanly(store_url: str) -> None:
    with Store(store_url, auto_upgrade=False) as store:
        assert store.current_revision() is None
        assert _tables(store_url) == set()
        assert store.upgrade() == head_revision()
        assert _tables(store_url) >= TABLES
    command.downgrade(alembic_config(store_url), "base")
    assert _tables(store_url) == {"alembic_version"}
    with Store(store_url) as store:
        assert store.current_revision() == head_revision()


def test_plain_postgresql_urls_get_the_psycopg_driver() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"
    with pytest.raises(ValueError, match="unsupported store URL"):
        normalise_url("mysql://u@h/db")


def test_open_store_uses_the_data_directory(data_dir: Path) -> None:
    assert not data_dir.exists()
    with open_store() as store:
        assert store.current_revision() == head_revision()
    assert (data_dir / "postmortem.db").is_file()


def test_migrations_live_inside_the_package() -> None:
    assert MIGRATIONS_DIR.parent == Path(__file__).resolve().parents[2] / "postmortem" / "store"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()


def test_concurrent_first_opens_migrate_once(store_url: str) -> None:
    barrier = threading.Barrier(4)

    def open_and_close(_: int) -> str | None:
        barrier.wait()
        with Store(store_url) as store:
            return store.current_revision()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_and_close, range(4))) == [head_revision()] * 4
