"""Alembic environment of the store.

`Store.upgrade()` passes its own connection in `config.attributes["connection"]` (inside a transaction that it
commits). For a new revision, run against a scratch database::

    python -c "from alembic import command; from postmortem.store.engine import alembic_config; \
command.revision(alembic_config('sqlite:////tmp/pm.db'), 'message', autogenerate=True)"

after `command.upgrade(..., 'head')` on the same URL, then review the generated file by hand.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from postmortem.store.tables import Base

config = context.config


def _run(connection: Connection) -> None:
    """Run the migrations on one connection (batch mode on SQLite, whose ALTER TABLE is limited)."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    """Emit the migrations as SQL text (`alembic upgrade --sql`)."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
