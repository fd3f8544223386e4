"""Signature schemes: valid, tampered, rotated secrets, malformed headers, timestamps; cross-checked."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook

from postmortem.webhook.verify import (
    SignatureError,
    TimestampError,
    check_timestamp,
    sign_generic,
    sign_pagerduty,
    verify_generic,
    verify_pagerduty,
    verify_standard,
)
from tests.webhook.vendor import (
    GENERIC_SECRET,
    INCIDENTIO_NEXT_SECRET,
    INCIDENTIO_SECRET,
    PAGERDUTY_NEXT_SECRET,
    PAGERDUTY_SECRET,
    standard_signature,
)

BODY = b'{"event":{"id":"01DEN7QH0N6R7T9AQD4GQ4NZKE","event_type":"incident.resolved","note":"caf\xc3\xa9"}}'


def _secrets(*values: str) -> list[SecretStr]:
    return [SecretStr(v) for v in values]


def test_pagerduty_signature_from_the_docs_example_algorithm() -> None:
    header = sign_pagerduty(BODY, [PAGERDUTY_SECRET])
    assert header.startswith("v1=") and len(header) == 3 + 64
    verify_pagerduty(BODY, header, _secrets(PAGERDUTY_SECRET))


def test_pagerduty_accepts_any_of_several_signatures_and_secrets_during_rotation() -> None:
    # PagerDuty signs with the old and the new secret while it rotates: "v1=<old>,v1=<new>"
    both = sign_pagerduty(BODY, [PAGERDUTY_SECRET, PAGERDUTY_NEXT_SECRET])
    verify_pagerduty(BODY, both, _secrets(PAGERDUTY_NEXT_SECRET))
    verify_pagerduty(BODY, both, _secrets(PAGERDUTY_SECRET))
    # and we may hold both while PagerDuty already signs with the new one only
    verify_pagerduty(
        BODY, sign_pagerduty(BODY, [PAGERDUTY_NEXT_SECRET]), _secrets("retired", PAGERDUTY_NEXT_SECRET)
    )
    with_spaces = both.replace(",", ", ")
    verify_pagerduty(BODY, with_spaces, _secrets(PAGERDUTY_NEXT_SECRET))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v0=" + "00" * 32,
        "v1=not-hex",
        "v1=",
        sign_pagerduty(BODY, ["another secret"]),
        sign_pagerduty(BODY + b" ", [PAGERDUTY_SECRET]),
    ],
    ids=["missing", "empty", "other-version", "not-hex", "no-value", "wrong-secret", "other-body"],
)
def test_pagerduty_refuses_unsigned_or_mis_signed(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_pagerduty(BODY, header, _secrets(PAGERDUTY_SECRET))


def test_pagerduty_refuses_a_tampered_body() -> None:
    header = sign_pagerduty(BODY, [PAGERDUTY_SECRET])
    with pytest.raises(SignatureError):
        verify_pagerduty(BODY.replace(b"resolved", b"resolvee"), header, _secrets(PAGERDUTY_SECRET))


def test_standard_webhooks_signatures_agree_with_the_reference_library() -> None:
    now = int(time.time())
    reference = Webhook(INCIDENTIO_SECRET).sign(
        "msg_2Lh9KRb0pzN4LePd3XiA0", datetime.fromtimestamp(now, UTC), BODY.decode()
    )
    assert reference == standard_signature(INCIDENTIO_SECRET, "msg_2Lh9KRb0pzN4LePd3XiA0", now, BODY)
    verify_standard(
        BODY, "msg_2Lh9KRb0pzN4LePd3XiA0", str(now), reference, _secrets(INCIDENTIO_SECRET), now, 300
    )


def test_standard_webhooks_rotation_and_several_signatures() -> None:
    now = int(time.time())
    old = standard_signature(INCIDENTIO_SECRET, "m1", now, BODY)
    new = standard_signature(INCIDENTIO_NEXT_SECRET, "m1", now, BODY)
    verify_standard(BODY, "m1", str(now), f"{old} {new}", _secrets(INCIDENTIO_NEXT_SECRET), now, 300)
    verify_standard(BODY, "m1", str(now), new, _secrets(INCIDENTIO_SECRET, INCIDENTIO_NEXT_SECRET), now, 300)
    with pytest.raises(SignatureError):
        verify_standard(BODY, "m1", str(now), old, _secrets(INCIDENTIO_NEXT_SECRET), now, 300)


@pytest.mark.parametrize("change", ["msg_id", "timestamp", "body", "version", "base64"])
def test_standard_webhooks_signature_covers_id_timestamp_and_body(change: str) -> None:
    now = int(time.time())
    msg_id, ts, body = "msg_1", now, BODY
    signature = standard_signature(INCIDENTIO_SECRET, msg_id, ts, body)
    if change == "msg_id":
        msg_id = "msg_2"
    elif change == "timestamp":
        ts = now - 1
    elif change == "body":
        body = BODY + b"\n"
    elif change == "version":
        signature = signature.replace("v1,", "v2,")
    else:
        signature = "v1,%%%not-base64"
    with pytest.raises(SignatureError):
        verify_standard(body, msg_id, str(ts), signature, _secrets(INCIDENTIO_SECRET), now, 300)


def test_standard_webhooks_timestamp_is_checked_before_the_signature() -> None:
    now = int(time.time())
    stale = now - 301
    good = standard_signature(INCIDENTIO_SECRET, "m", stale, BODY)
    with pytest.raises(TimestampError, match="tolerance 300s"):
        verify_standard(BODY, "m", str(stale), good, _secrets(INCIDENTIO_SECRET), now, 300)
    future = now + 301
    with pytest.raises(TimestampError):
        verify_standard(BODY, "m", str(future), "v1,AAAA", _secrets(INCIDENTIO_SECRET), now, 300)
    edge = now - 300
    verify_standard(
        BODY,
        "m",
        str(edge),
        standard_signature(INCIDENTIO_SECRET, "m", edge, BODY),
        _secrets(INCIDENTIO_SECRET),
        now,
        300,
    )


@pytest.mark.parametrize("value", [None, "", "soon", "1.5e9", "12:00"])
def test_timestamps_must_be_unix_seconds(value: str | None) -> None:
    with pytest.raises(TimestampError):
        check_timestamp(value, time.time(), 300)


def test_generic_scheme_signs_timestamp_and_body() -> None:
    now = int(time.time())
    header = sign_generic(BODY, now, GENERIC_SECRET)
    verify_generic(BODY, str(now), header, _secrets("old", GENERIC_SECRET), now, 300)
    verify_generic(BODY, str(now), f"v1={'ab' * 32},{header}", _secrets(GENERIC_SECRET), now, 300)
    with pytest.raises(SignatureError):
        verify_generic(
            BODY, str(now - 1), sign_generic(BODY, now, GENERIC_SECRET), _secrets(GENERIC_SECRET), now, 300
        )
    with pytest.raises(SignatureError):
        verify_generic(BODY, str(now), sign_generic(BODY, now, "other"), _secrets(GENERIC_SECRET), now, 300)
    with pytest.raises(TimestampError):
        verify_generic(
            BODY,
            str(now - 3600),
            sign_generic(BODY, now - 3600, GENERIC_SECRET),
            _secrets(GENERIC_SECRET),
            now,
            300,
        )
