"""Runtime settings, resolved once from the environment (`POSTMORTEM_*`) and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where postmortem keeps its data and how it analyses evidence."""

    model_config = SettingsConfigDict(env_prefix="POSTMORTEM_", env_file=".env", extra="ignore")

    data_dir: Path = Path(".postmortem")
    database_url: str | None = None
    lookback_hours: float = 6.0
    after_minutes: float = 30.0
    ticket_prefix: str = "PM"
    config_file: Path = Path("postmortem.toml")
    validation_worker: bool = False  # defer validation to `postmortem validation-worker`
    validation_timeout: float = 300.0  # seconds to wait for it before validating in-process

    @property
    def db_url(self) -> str:
        """The store URL: `database_url`, else an SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'postmortem.db').resolve()}"

    @property
    def reports_dir(self) -> Path:
        """Root folder of the versioned reports."""
        return (self.data_dir / "reports").resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings."""
    return Settings()
