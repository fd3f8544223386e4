"""Receiver settings from the environment (`POSTMORTEM_WEBHOOK_*`) and `.env`; secrets stay `SecretStr`."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Secrets = Annotated[list[SecretStr], NoDecode]

STANDARD_SECRET_PREFIX = "whsec_"


def _split(value: Any) -> Any:
    """Comma- or whitespace-separated secrets in one variable, so two can be live during a rotation."""
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    return value


def standard_key(secret: SecretStr) -> bytes:
    """The HMAC key of a Standard Webhooks (Svix) secret `whsec_<base64>`; ValueError names no secret."""
    text = secret.get_secret_value()
    if not text.startswith(STANDARD_SECRET_PREFIX):
        raise ValueError(f"an incident.io signing secret starts with {STANDARD_SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(text.removeprefix(STANDARD_SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("an incident.io signing secret is whsec_ followed by base64") from None
    if not key:
        raise ValueError("an incident.io signing secret is empty")
    return key


class WebhookSettings(BaseSettings):
    """Where the receiver listens, which secrets each source signs with, and how it retries emission."""

    model_config = SettingsConfigDict(
        env_prefix="POSTMORTEM_WEBHOOK_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    host: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)
    pagerduty_secrets: Secrets = Field(default_factory=list)
    incidentio_secrets: Secrets = Field(default_factory=list)
    generic_secrets: Secrets = Field(default_factory=list)
    tolerance_seconds: float = Field(300.0, gt=0)
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    poll_seconds: float = Field(2.0, gt=0)
    retry_min_seconds: float = Field(1.0, gt=0)
    retry_max_seconds: float = Field(300.0, gt=0)
    batch_size: int = Field(200, gt=0)
    sqlite_synchronous: Literal["full", "normal"] = "full"

    _split_secrets = field_validator(
        "pagerduty_secrets", "incidentio_secrets", "generic_secrets", mode="before"
    )(_split)

    @field_validator("incidentio_secrets")
    @classmethod
    def _standard_secrets(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        for secret in secrets:
            standard_key(secret)
        return secrets

    def sources(self) -> list[str]:
        """The endpoints that have at least one secret, hence are enabled."""
        configured = {
            "pagerduty": self.pagerduty_secrets,
            "incidentio": self.incidentio_secrets,
            "generic": self.generic_secrets,
        }
        return [name for name, secrets in configured.items() if secrets]
