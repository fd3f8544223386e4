"""Removal of secrets from everything a report prints (one precompiled regex, one pass per string).

What is replaced by `[REDACTED]` (the key name, header name, auth scheme or URL user is kept):
- private key blocks (`-----BEGIN ... PRIVATE KEY-----` to its END line, or to the end of a truncated text);
- `Authorization`/`Proxy-Authorization`/`Cookie` header values (`Authorization: Bearer [REDACTED]`);
- bearer tokens anywhere (`Bearer <token with a digit>`);
- values after key-like names joined by `=` or `:` — query strings, key=value, YAML, JSON `"password": "..."`:
  password, passwd, passphrase, pwd, secret (client_secret, aws_secret_access_key ...), token, api_key,
  apikey, access_key, private_key, credential(s); a prefix such as `db_` or `x-` is kept as it is;
- AWS access key ids (`AKIA...`, `ASIA...`) and standalone 40-character AWS secret keys (mixed case and
  digits, so that 40-hex-digit git shas are kept);
- GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), Slack tokens (`xox[abprs]-`) and
  Slack webhook paths, JWTs (`eyJ...` with three segments);
- the password of credentials in URLs (`https://user:[REDACTED]@host`);
- high-entropy strings (20+ characters) after a key-like word without a separator ("my token is ...").

Email addresses are kept on purpose: the engineering report names the people and mailboxes involved.
`redact_obj` also redacts any scalar value whose dict key is itself key-like (`{"password": "hunter2"}`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

REDACTED = "[REDACTED]"

_KEYWORD = (
    r"(?:pass(?:word|wd|phrase)|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credentials?)"
)
_KEY = _KEYWORD + r"s?(?:[_.-][A-Za-z0-9]+){0,4}"
_SECRET_KEY_NAME = re.compile(
    r"(?i)(?:^|[_.-])" + _KEYWORD + r"s?(?:[_.-][A-Za-z0-9]+){0,4}$|^authorization$"
)

# Every alternative names the span to replace `v<name>`; the rest of the match is kept as it is.
# A `(?=[...])` guard on the case-insensitive rules rejects most positions on their first character.
_ANYWHERE = {
    "pem": r"(?P<vpem>-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z))",
    "kv": r"(?=[PpSsTtAaCc])(?i:" + _KEY + r")[\"']?\s*[:=]\s*"
    r"(?:\"(?P<vkvd>[^\"\r\n]+)\"|'(?P<vkvs>[^'\r\n]+)'|(?P<vkv>[^\s&;,\"'<>]+))",
}
# these start a word: tried only where the previous character is not a letter or digit
_WORD_START = {
    "header": r"(?=[AaPpCcSs])(?i:\b(?:proxy-)?authorization|\b(?:set-)?cookie)[\"']?\s*[:=]\s*[\"']?"
    r"(?i:(?:bearer|basic|token|digest|negotiate|apikey)\s+)?(?P<vheader>[^\s\"',;]+)",
    "bearer": r"(?=[Bb])(?i:\bbearer)\s+(?P<vbearer>(?=[A-Za-z0-9\-._~+/]*[0-9])[A-Za-z0-9\-._~+/]{8,}=*)",
    "url": r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@\"'<>]+:(?P<vurl>[^\s@/\"'<>]+)@",
    "aws_id": r"\b(?P<vaws_id>(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[0-9A-Z]{16})\b",
    "aws_secret": r"(?<![/+=])(?P<vaws_secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
    "github": r"\b(?P<vgithub>gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})",
    "slack": r"\b(?P<vslack>xox[abprs]-[A-Za-z0-9-]{10,})",
    "slack_hook": r"hooks\.slack\.com/services/(?P<vslack_hook>[A-Za-z0-9/_-]+)",
    "jwt": r"\b(?P<vjwt>eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)",
    "entropy": r"(?=[KkTtSsPpCcAa])(?i:\b(?:key|token|secret|password|passwd|credential|api key)s?)"
    r"(?:\s+(?:is|was|of|for|now))?\s+(?P<ventropy>[A-Za-z0-9+/_\-.=]{20,})",
}
_PATTERN = re.compile(
    "|".join(f"(?:{rule})" for rule in _ANYWHERE.values())
    + "|(?<![A-Za-z0-9])(?:"
    + "|".join(f"(?:{rule})" for rule in _WORD_START.values())
    + ")"
)


def _aws_secret(value: str) -> bool:
    """A 40-character candidate is an AWS secret key when it mixes upper, lower case and digits."""
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(c.isdigit() for c in value)
    )


def _high_entropy(value: str) -> bool:
    """Random-looking: letters and digits mixed, Shannon entropy of at least 3.5 bits per character."""
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.5


_VERIFY = {"aws_secret": _aws_secret, "entropy": _high_entropy}


def _replace(match: re.Match[str]) -> str:
    """The match with its secret span replaced (or unchanged when a verified rule does not hold)."""
    name = next(n for n, v in match.groupdict().items() if v is not None)
    check = _VERIFY.get(name[1:])
    if match[name] == REDACTED or (check is not None and not check(match[name])):
        return match[0]
    start, end = match.start(name) - match.start(), match.end(name) - match.start()
    return match[0][:start] + REDACTED + match[0][end:]


def redact(text: str) -> str:
    """The text with every recognised secret replaced by `[REDACTED]`."""
    return _PATTERN.sub(_replace, text) if text else text


def redact_obj(obj: Any) -> Any:
    """A copy of dicts/lists/tuples with every string redacted; values under key-like dict keys are hidden."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and _SECRET_KEY_NAME.search(key) and _is_scalar_secret(value)
            else redact_obj(value)
            for key, value in obj.items()
        }
    if isinstance(obj, list | tuple):
        return type(obj)(redact_obj(item) for item in obj)
    return obj


def _is_scalar_secret(value: Any) -> bool:
    """A non-empty string under a secret-looking key (numbers, null, bools and containers are kept)."""
    return isinstance(value, str) and value != ""
