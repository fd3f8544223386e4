"""Removal of secrets from URLs and text before they reach logs, exceptions, raw payloads or manifests."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"

# query parameter names (lower case, '-' read as '_') whose values are secrets
SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "private_token",
        "api_key",
        "apikey",
        "key",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "signature",
        "sig",
        "auth",
        "x_amz_signature",
        "x_amz_security_token",
        "x_goog_signature",
    }
)

_PARAM_RE = re.compile(r"(?<![A-Za-z0-9_.\-])(?P<name>[A-Za-z0-9_.\-]+)=(?P<value>[^&;#\s'\"<>]*)")
_USERINFO_RE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I)


def is_secret_param(name: str) -> bool:
    """Whether a query parameter of that name carries a secret."""
    return name.lower().replace("-", "_") in SECRET_PARAMS


def redact_url(url: str) -> str:
    """The URL with secret query parameters and the userinfo password replaced by REDACTED."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}:{REDACTED}@{host}" if ":" in userinfo else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_param(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if is_secret_param(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text with secret `name=value` pairs, URL passwords and the given literal secrets removed."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _USERINFO_RE.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    return _PARAM_RE.sub(_redact_pair, text)


def _redact_pair(match: re.Match[str]) -> str:
    """`name=REDACTED` for a secret parameter, keeping punctuation that ends the sentence, not the value."""
    if not is_secret_param(match["name"]):
        return match[0]
    value = match["value"]
    core = value.rstrip(".,:)]}")
    return f"{match['name']}={REDACTED}{value[len(core) :]}"


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secret query parameters from a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message in place; never drops a record."""
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = RedactingFilter()
# loggers of the HTTP stack that print request URLs (with their query strings)
HTTP_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "requests")


def install_log_redaction() -> None:
    """Attach the redacting filter to the HTTP stack's loggers (idempotent)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
