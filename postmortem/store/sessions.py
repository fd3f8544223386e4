"""What the store's method groups share: the session factories they run on and the clock."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class StoreSessions:
    """Base of the `Store` mixins: the read and write session factories that `Store.__init__` sets."""

    _reader: sessionmaker[Session]
    _writer: sessionmaker[Session]
