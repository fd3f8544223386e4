"""`postmortem.toml`: connector instances, collection defaults and topology, with environment overrides.

Read with pydantic-settings (TOML file, then `POSTMORTEM_*` environment variables with `__` between
levels win). Every problem is reported at start-up naming the file, the table and the field.
Secrets are references (`{ env = "VAR" }` or `{ prefect_secret = "block" }`), resolved once here.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Self, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource
from requests.auth import AuthBase

from connectors.http import BasicAuth, BearerAuth, HttpClient
from connectors.redact import is_secret_param
from connectors.registry import ConnectorType, connector_types
from postmortem.model import Topology

DEFAULT_FILE = "postmortem.toml"


class ConfigError(ValueError):
    """A configuration problem; the message names the file, the table and the field."""

    def __init__(self, problems: list[str], table: str | None = None, field: str | None = None):
        self.problems, self.table, self.field = problems, table, field
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)


# ---------------------------------------------------------------- secrets


class SecretReference(BaseModel):
    """Where a secret lives: an environment variable or a Prefect Secret block (exactly one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    prefect_secret: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretReference:
        if (self.env is None) == (self.prefect_secret is None):
            raise ValueError('a secret reference is { env = "VAR" } or { prefect_secret = "block-name" }')
        return self

    def resolve(self) -> SecretStr:
        """The secret value (Prefect is imported only for a prefect_secret reference)."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ValueError(f"environment variable {self.env} is not set")
            return SecretStr(value)
        return SecretStr(_load_prefect_secret(str(self.prefect_secret)))


def _load_prefect_secret(name: str) -> str:
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name).get()
    except Exception as exc:  # prefect raises ValueError, httpx or its own errors; report them all the same
        raise ValueError(
            f"Prefect Secret block {name!r} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(value, str) or not value:
        raise ValueError(f"Prefect Secret block {name!r} does not hold a non-empty string")
    return value


_REF_RE = re.compile(r"^(env|prefect_secret):(\S+)$")


def resolve_secret(value: Any) -> SecretStr:
    """Resolve a secret reference (table, model, `env:VAR` or `prefect_secret:name`) to a SecretStr."""
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, SecretReference):
        return value.resolve()
    if isinstance(value, Mapping):
        return SecretReference.model_validate(dict(value)).resolve()
    if isinstance(value, str) and (match := _REF_RE.match(value)):
        return SecretReference.model_validate({match[1]: match[2]}).resolve()
    raise ValueError(
        'inline secrets are not allowed: write { env = "VAR" } or { prefect_secret = "block-name" }'
    )


class _SecretMarker:
    """Annotation marker: the field is a secret reference (for `postmortem connectors list`)."""

    def __repr__(self) -> str:
        return "secret"


SECRET = _SecretMarker()
SecretRef = Annotated[SecretStr, BeforeValidator(resolve_secret), SECRET]
"""A secret field: configured as a reference, resolved at start-up, held as SecretStr."""


def is_secret(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> bool:
    """Whether a field annotation (with its pydantic metadata) is or contains a secret."""
    if annotation is SecretStr or SECRET in metadata:
        return True
    return any(is_secret(arg, getattr(arg, "__metadata__", ())) for arg in get_args(annotation))


# ---------------------------------------------------------------- shared field types


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: str | float | timedelta) -> timedelta:
    """`6h`, `30m`, `1h30m`, `90s`, `2d`, a number of seconds or ISO 8601 (`PT6H`) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    text = str(value).strip().lower()
    if text.startswith("p"):
        from pydantic import TypeAdapter

        return TypeAdapter(timedelta).validate_python(text.upper())
    if text and _DURATION_RE.sub("", text).strip() == "":
        return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in _DURATION_RE.findall(text)))
    raise ValueError(f"{value!r} is not a duration (examples: 6h, 30m, 1h30m, 90s, PT6H)")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class HttpConfig(BaseModel):
    """Fields every HTTP connector shares; vendor configs subclass it (their secrets typed SecretRef)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="base URL of the API")
    connect_timeout: float = Field(5.0, gt=0, description="seconds to connect")
    read_timeout: float = Field(30.0, gt=0, description="seconds to wait for a response")
    retries: int = Field(4, ge=0, le=10, description="retries on connection errors, 429 and 5xx")
    backoff: float = Field(0.5, ge=0, description="exponential backoff factor in seconds")
    max_wait: float = Field(60.0, ge=0, description="longest wait for Retry-After or a rate-limit reset")
    max_pages: int = Field(100, ge=1, description="pagination cap per query")
    verify_tls: bool | str = Field(True, description="verify TLS certificates (or a CA bundle path)")
    headers: dict[str, str] = Field(default_factory=dict, description="extra non-secret request headers")

    @field_validator("url")
    @classmethod
    def _plain_url(cls, url: str) -> str:
        from urllib.parse import parse_qsl, urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} is not an http(s) URL")
        if "@" in parts.netloc or any(is_secret_param(k) for k, _ in parse_qsl(parts.query)):
            raise ValueError("inline secrets are not allowed in the URL: use the connector's secret fields")
        return url.rstrip("/")

    def client(self, source: str, auth: AuthBase | None = None, **overrides: Any) -> HttpClient:
        """An HttpClient configured from these fields (`source` names the connector instance)."""
        options: dict[str, Any] = {
            "source": source,
            "auth": auth,
            "headers": self.headers,
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "retries": self.retries,
            "backoff": self.backoff,
            "max_wait": self.max_wait,
            "max_pages": self.max_pages,
            "verify": self.verify_tls,
        }
        return HttpClient(self.url, **{**options, **overrides})


class BearerOrBasicAuthConfig(HttpConfig):
    """HttpConfig plus optional bearer-token or basic authentication (Prometheus, Loki, Alertmanager)."""

    bearer_token: SecretRef | None = Field(None, description="bearer token (secret reference)")
    username: str | None = Field(None, description="basic auth user")
    password: SecretRef | None = Field(None, description="basic auth password (secret reference)")

    @model_validator(mode="after")
    def _check_auth(self) -> Self:
        if self.bearer_token is not None and (self.username or self.password):
            raise ValueError("configure either bearer_token or username/password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        return self

    def auth(self) -> AuthBase | None:
        """The request authentication these settings describe."""
        if self.bearer_token is not None:
            return BearerAuth(self.bearer_token)
        if self.username is not None and self.password is not None:
            return BasicAuth(self.username, self.password)
        return None


# ---------------------------------------------------------------- the file


class CollectSettings(BaseModel):
    """`[collect]`: the default evidence window around the incident and the concurrency of collection."""

    model_config = ConfigDict(extra="forbid")

    before: Duration = Field(timedelta(hours=6), description="window start before impact start")
    after: Duration = Field(timedelta(minutes=30), description="window end after resolution")
    max_workers: int = Field(8, ge=1, description="sources pulled at the same time")


@dataclass(frozen=True)
class ConnectorConfig:
    """One validated `[connectors.<name>]` table."""

    name: str
    type: str
    settings: BaseModel
    connector_type: ConnectorType = field(repr=False)

    def build(self) -> object:
        """Create the connector object."""
        return self.connector_type.create(self.settings, self.name)


@dataclass(frozen=True)
class PostmortemConfig:
    """The whole validated configuration."""

    connectors: dict[str, ConnectorConfig] = field(default_factory=dict)
    collect: CollectSettings = field(default_factory=CollectSettings)
    topology: Topology | None = None
    source: str = DEFAULT_FILE


class _Sources(BaseSettings):
    """The raw tables, merged from the TOML file and POSTMORTEM_* environment variables (env wins)."""

    model_config = SettingsConfigDict(env_prefix="POSTMORTEM_", env_nested_delimiter="__", extra="forbid")

    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    collect: dict[str, Any] = Field(default_factory=dict)
    topology: dict[str, Any] | None = None
    quality: dict[str, Any] = Field(default_factory=dict)  # validated by tasks.quality.config

    @classmethod
    def settings_customise_sources(  # type: ignore[override]
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        """Environment first, then the file's tables passed as init arguments."""
        return (env_settings, init_settings)


def _message(err: Mapping[str, Any], model: type[BaseModel] | None) -> str:
    if err["type"] == "extra_forbidden" and model is not None and len(err["loc"]) == 1:
        return f"unknown field (known: {', '.join(model.model_fields)})"
    return str(err["msg"]).removeprefix("Value error, ")


def _problems(exc: ValidationError, where: str, model: type[BaseModel] | None = None) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        out.append(
            f"{where} field '{loc}': {_message(err, model)}" if loc else f"{where}: {_message(err, model)}"
        )
    return out


def _first_field(exc: ValidationError) -> str | None:
    loc = exc.errors()[0]["loc"]
    return str(loc[0]) if loc else None


def connector_config(
    name: str,
    table: Mapping[str, Any],
    *,
    types: Mapping[str, ConnectorType] | None = None,
    source: str = DEFAULT_FILE,
) -> ConnectorConfig:
    """Validate one `[connectors.<name>]` table against its type's config model (resolving secrets)."""
    where = f"{source} [connectors.{name}]"
    if not isinstance(table, Mapping):
        raise ConfigError([f"{where}: expected a table, got {table!r}"], f"connectors.{name}")
    known = connector_types() if types is None else types
    fields = dict(table)
    kind = fields.pop("type", None)
    if kind is None:
        raise ConfigError([f"{where} field 'type': Field required"], f"connectors.{name}", "type")
    if kind not in known:
        raise ConfigError(
            [
                f"{where} field 'type': unknown connector type {kind!r} "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            ],
            f"connectors.{name}",
            "type",
        )
    ct = known[kind]
    accepted = set(ct.config.model_fields) | {
        f.alias for f in ct.config.model_fields.values() if isinstance(f.alias, str)
    }
    unknown = sorted(set(fields) - accepted)
    if unknown:
        raise ConfigError(
            [
                f"{where} field '{key}': unknown field for type {kind!r} (known: type, "
                f"{', '.join(ct.config.model_fields)})"
                for key in unknown
            ],
            f"connectors.{name}",
            unknown[0],
        )
    try:
        settings = ct.config.model_validate(fields)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, where, ct.config), f"connectors.{name}", _first_field(exc)) from None
    return ConnectorConfig(name, kind, settings, ct)


def parse_config(
    data: Mapping[str, Any],
    *,
    types: Mapping[str, ConnectorType] | None = None,
    source: str = DEFAULT_FILE,
) -> PostmortemConfig:
    """Validate already-merged tables (what the file and the environment give) into a PostmortemConfig."""
    known = connector_types() if types is None else types
    connectors = data.get("connectors") or {}
    built = {
        name: connector_config(name, table, types=known, source=source) for name, table in connectors.items()
    }
    try:
        collect = CollectSettings.model_validate(data.get("collect") or {})
    except ValidationError as exc:
        raise ConfigError(
            _problems(exc, f"{source} [collect]", CollectSettings), "collect", _first_field(exc)
        ) from None
    topology = None
    if data.get("topology") is not None:
        try:
            topology = Topology.model_validate(data["topology"])
        except ValidationError as exc:
            raise ConfigError(_problems(exc, f"{source} [topology]"), "topology", _first_field(exc)) from None
    return PostmortemConfig(built, collect, topology, source)


def load_config(
    path: str | Path = DEFAULT_FILE, *, types: Mapping[str, ConnectorType] | None = None
) -> PostmortemConfig:
    """Read `postmortem.toml` plus POSTMORTEM_* overrides, validate every table and resolve secrets."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError([f"{file}: configuration file not found"])
    try:
        tables = TomlConfigSettingsSource(_Sources, toml_file=file)()
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{file.name}: not valid TOML: {exc}"]) from None
    try:
        merged = _Sources(**tables)
    except ValidationError as exc:
        raise ConfigError(
            [
                f"{file.name} [{'.'.join(str(p) for p in e['loc'])}]: "
                + (
                    "unknown table (known: connectors, collect, topology, quality)"
                    if e["type"] == "extra_forbidden"
                    else e["msg"]
                )
                for e in exc.errors()
            ],
            _first_field(exc),
        ) from None
    return parse_config(merged.model_dump(), types=types, source=file.name)
