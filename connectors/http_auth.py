"""Authentication for the shared HTTP client: secrets kept as SecretStr, listed for redaction."""

from __future__ import annotations

import base64

import requests
from pydantic import SecretStr
from requests.auth import AuthBase


def _secret(value: SecretStr | str) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(value)


def _basic(username: str, password: SecretStr) -> str:
    return base64.b64encode(f"{username}:{password.get_secret_value()}".encode()).decode("ascii")


class BearerAuth(AuthBase):
    """`Authorization: <scheme> <token>` (scheme `Bearer` by default, `token` for some APIs)."""

    def __init__(self, token: SecretStr | str, scheme: str = "Bearer"):
        self.token, self.scheme = _secret(token), scheme

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the header to an outgoing request."""
        request.headers["Authorization"] = f"{self.scheme} {self.token.get_secret_value()}"
        return request

    def secrets(self) -> list[str]:
        """The literal secret values, for redaction."""
        return [self.token.get_secret_value()]

    def __repr__(self) -> str:
        return f"BearerAuth(scheme={self.scheme!r}, token={self.token!r})"


class BasicAuth(AuthBase):
    """HTTP basic authentication."""

    def __init__(self, username: str, password: SecretStr | str):
        self.username, self.password = username, _secret(password)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the header to an outgoing request."""
        request.headers["Authorization"] = f"Basic {_basic(self.username, self.password)}"
        return request

    def secrets(self) -> list[str]:
        """The literal secret values (the password and the encoded header), for redaction."""
        return [self.password.get_secret_value(), _basic(self.username, self.password)]

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password={self.password!r})"


class HeaderAuth(AuthBase):
    """A custom header carrying the secret, e.g. `PRIVATE-TOKEN: <token>` (value = prefix + secret)."""

    def __init__(self, header: str, value: SecretStr | str, prefix: str = ""):
        self.header, self.value, self.prefix = header, _secret(value), prefix

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the header to an outgoing request."""
        request.headers[self.header] = f"{self.prefix}{self.value.get_secret_value()}"
        return request

    def secrets(self) -> list[str]:
        """The literal secret values, for redaction."""
        return [self.value.get_secret_value()]

    def __repr__(self) -> str:
        return f"HeaderAuth(header={self.header!r}, value={self.value!r})"
