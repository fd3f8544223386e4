"""Secret redaction: every kind of secret goes, key names stay, ordinary engineering text is untouched."""

from __future__ import annotations

import pytest

from reports.redact import REDACTED, redact, redact_obj

GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijKLMNOPqrstuvwxyz0123"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # 40 characters


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (
            "curl -H 'Authorization: Bearer abc123def456ghi789' https://x",
            "abc123def456ghi789",
            "Authorization: Bearer",
        ),
        (
            '{"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}',
            "dXNlcjpwYXNzd29yZA==",
            '"Authorization": "Basic',
        ),
        ("retrying with bearer tok3nValue9876 now", "tok3nValue9876", "bearer"),
        ("GET /cb?code=1&token=s3cr3tT0ken&user=bob", "s3cr3tT0ken", "token="),
        ("db_password=hunter2 host=db", "hunter2", "db_password="),
        ("passwd: correcthorse", "correcthorse", "passwd:"),
        ('{"password": "p4ss w0rd", "user": "x"}', "p4ss w0rd", '"password": "'),
        ("client_secret='abcDEF123'", "abcDEF123", "client_secret='"),
        ("X-Api-Key: 9f8e7d6c5b4a", "9f8e7d6c5b4a", "X-Api-Key:"),
        ("aws_secret_access_key = " + AWS_SECRET, AWS_SECRET, "aws_secret_access_key"),
        ("creds AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE", "creds"),
        ("found " + AWS_SECRET + " in env dump", AWS_SECRET, "in env dump"),
        ("push with " + GITHUB, GITHUB, "push with"),
        ("clone using " + PAT, PAT, "clone using"),
        ("slack xoxb-123456789012-abcdefghijkl posted", "xoxb-123456789012-abcdefghijkl", "slack"),
        (
            "hook https://hooks.slack.com/services/T000/B000/XXXXsecret",
            "T000/B000/XXXXsecret",
            "hooks.slack.com",
        ),
        ("session " + JWT + " expired", JWT, "expired"),
        ("postgres://admin:S3cretPw@db.internal:5432/app", "S3cretPw", "postgres://admin:"),
        ("the api key is Zx8Qp2Lm9Rt4Vb7Nc1Kd5Wy3 for prod", "Zx8Qp2Lm9Rt4Vb7Nc1Kd5Wy3", "api key is"),
    ],
)
def test_secret_is_replaced_and_its_key_kept(text: str, secret: str, kept: str) -> None:
    clean = redact(text)
    assert secret not in clean
    assert REDACTED in clean
    assert kept in clean


def test_private_key_block_is_removed_whole_even_when_truncated() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nq9Zp\n-----END RSA PRIVATE KEY-----"
    assert redact(f"before\n{block}\nafter") == f"before\n{REDACTED}\nafter"
    cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA"
    assert redact("key: " + cut) == "key: " + REDACTED


@pytest.mark.parametrize(
    "text",
    [
        "deployed 3f2a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708 to payments",  # a 40-hex git sha
        "the bearer token expired; rotate the secret soon",
        "tokenizer=fast, contact alice@example.com",  # emails are kept on purpose
        "timeout_ms 800 -> 1200, p99 > 800 ms within 2 min",
        "GET /api/v1/orders?page=2&limit=50 returned 503",
        "card authorisation timeout after <*> ms",
        "https://ci.example.com/deploys/41?tab=logs",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact(text) == text


def test_redaction_is_idempotent() -> None:
    text = f"Authorization: Bearer abc123def456 token=xyz9 {GITHUB} https://u:pw1@h {JWT}"
    once = redact(text)
    assert redact(once) == once
    assert once.count(REDACTED) == 5


def test_redact_obj_walks_containers_and_hides_values_under_secret_keys() -> None:
    obj = {
        "password": "hunter2",
        "db_api_key": "plain",
        "token_count": 3,
        "key": "PM-1",
        "nested": [{"note": f"use {GITHUB}"}, ("x", "password=abc")],
        "enabled": True,
    }
    clean = redact_obj(obj)
    assert clean["password"] == REDACTED and clean["db_api_key"] == REDACTED
    assert clean["token_count"] == 3 and clean["key"] == "PM-1" and clean["enabled"] is True
    assert clean["nested"][0]["note"] == f"use {REDACTED}"
    assert clean["nested"][1] == ("x", f"password={REDACTED}")
    assert obj["password"] == "hunter2"  # the input is not modified


def test_long_text_is_scanned_in_one_pass() -> None:
    filler = "INFO request handled in 12 ms for user 42 on checkout\n" * 20_000
    text = filler + "password=tail-secret\n" + filler
    clean = redact(text)
    assert "tail-secret" not in clean
    assert len(clean) == len(text) - len("tail-secret") + len(REDACTED)
