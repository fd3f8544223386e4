"""Store fixtures: every store test runs on SQLite (a temp file) and on PostgreSQL (a throwaway schema)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from postmortem.store import Store

PG_URL_VAR = "POSTMORTEM_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database created for this test run and dropped (WITH FORCE) at its end."""
    admin = os.environ.get(PG_URL_VAR, DEFAULT_PG_URL)
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        need = (
            f"a PostgreSQL server at {admin} (trust auth, an existing database to connect to; "
            f"another URL can be given in {PG_URL_VAR})"
        )
        if os.environ.get("POSTMORTEM_ALLOW_NO_PG") == "1":
            pytest.skip(f"needs {need}: {exc}")
        pytest.fail(f"needs {need}: {exc}\nset POSTMORTEM_ALLOW_NO_PG=1 to skip these tests", pytrace=False)
    name = f"pm_test_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL: an SQLite file, or a fresh schema in the run's PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    database = request.getfixturevalue("pg_database")
    schema = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield (
        make_url(database)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    with Store(store_url) as opened:
        yield opened


def run_sql(store: Store, *statements: str) -> None:
    """Execute raw SQL on the store's database from a separate connection (as an intruder would)."""
    engine = create_engine(store.url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def count_rows(store: Store, table: str) -> int:
    """Number of rows in one table, counted with raw SQL."""
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()
