"""Signature schemes of the three endpoints, compared in constant time.

- PagerDuty v3: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256(secret, body)>[,v1=...]`.
- Standard Webhooks (incident.io, via Svix): `webhook-id`, `webhook-timestamp` (Unix seconds) and
  `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>[ v1,...]`.
- Generic: `X-Postmortem-Timestamp` (Unix seconds) and
  `X-Postmortem-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>[,v1=...]`.

Every received signature is compared with every configured secret, so old and new secrets both pass
while a rotation is under way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence

from pydantic import SecretStr

from postmortem.webhook.config import standard_key


class SignatureError(Exception):
    """The request is not signed by any configured secret (HTTP 401)."""


class TimestampError(Exception):
    """The signed timestamp is missing, malformed or outside the tolerance (HTTP 400)."""


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _matches(expected: Iterable[bytes], received: Sequence[bytes]) -> bool:
    """True when any received signature equals any expected one; every pair is compared in constant time."""
    found = False
    for want in expected:
        for got in received:
            found |= hmac.compare_digest(want, got)
    return found


def _require_match(header_name: str, received: Sequence[bytes], expected: Iterable[bytes]) -> None:
    """Raise SignatureError unless the header carries a v1 signature equal to an expected one."""
    if not received:
        raise SignatureError(f"{header_name} has no v1 signature")
    if not _matches(expected, received):
        raise SignatureError(f"no {header_name} matches a configured secret")


def _hex_signatures(header: str | None, separator: str = ",") -> list[bytes]:
    """The `v1=<hex>` values of a header, decoded (other versions and malformed entries are skipped)."""
    decoded = []
    for item in (header or "").split(separator):
        version, _, value = item.strip().partition("=")
        if version == "v1" and value:
            try:
                decoded.append(bytes.fromhex(value))
            except ValueError:
                continue
    return decoded


def check_timestamp(value: str | None, now: float, tolerance: float) -> int:
    """The Unix timestamp of a header, refused when missing, not an integer or off by more than tolerance."""
    if not value:
        raise TimestampError("the signed timestamp header is missing")
    try:
        ts = int(value.strip())
    except ValueError:
        raise TimestampError("the signed timestamp is not Unix seconds") from None
    if abs(now - ts) > tolerance:
        raise TimestampError(
            f"the signed timestamp is {now - ts:+.0f}s from now (tolerance {tolerance:.0f}s)"
        )
    return ts


def verify_pagerduty(body: bytes, header: str | None, secrets: Sequence[SecretStr]) -> None:
    """Accept a PagerDuty v3 webhook signed by any of `secrets`, else raise SignatureError."""
    expected = (_hmac(s.get_secret_value().encode(), body) for s in secrets)
    _require_match("X-PagerDuty-Signature", _hex_signatures(header), expected)


def verify_standard(
    body: bytes,
    msg_id: str | None,
    timestamp: str | None,
    header: str | None,
    secrets: Sequence[SecretStr],
    now: float,
    tolerance: float,
) -> None:
    """Accept a Standard Webhooks (incident.io) request; TimestampError first, then SignatureError."""
    ts = check_timestamp(timestamp, now, tolerance)
    if not msg_id:
        raise SignatureError("webhook-id is missing")
    received = []
    for item in (header or "").split():
        version, _, value = item.partition(",")
        if version == "v1" and value:
            try:
                received.append(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                continue
    message = f"{msg_id}.{ts}.".encode() + body
    _require_match("webhook-signature", received, (_hmac(standard_key(s), message) for s in secrets))


def verify_generic(
    body: bytes,
    timestamp: str | None,
    header: str | None,
    secrets: Sequence[SecretStr],
    now: float,
    tolerance: float,
) -> None:
    """Accept a generic signed request; TimestampError first, then SignatureError."""
    ts = check_timestamp(timestamp, now, tolerance)
    message = f"{ts}.".encode() + body
    expected = (_hmac(s.get_secret_value().encode(), message) for s in secrets)
    _require_match("X-Postmortem-Signature", _hex_signatures(header), expected)


def sign_pagerduty(body: bytes, secrets: Sequence[str]) -> str:
    """The X-PagerDuty-Signature header PagerDuty would send (one v1 per secret), for tests and tools."""
    return ",".join(f"v1={hmac.new(s.encode(), body, hashlib.sha256).hexdigest()}" for s in secrets)


def sign_generic(body: bytes, timestamp: int, secret: str) -> str:
    """The X-Postmortem-Signature header of a generic request, for senders, tests and tools."""
    return "v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
