"""postmortem.toml: validation naming table and field, secret references, environment overrides."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from connectors.config import ConfigError, load_config, parse_duration
from tests.connectors import sample_connector as sample

TYPES = {"sample": sample.CONNECTOR}
TOKEN = "tok-planted-0123456789"

GOOD = """
[collect]
before = "2h"
after = "15m"

[connectors.vendor]
type = "sample"
url = "https://vendor.example/"
token = { env = "VENDOR_TOKEN" }

[topology.services]
checkout = ["payments"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "postmortem.toml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv("VENDOR_TOKEN", TOKEN)


def problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), types=TYPES)
    return str(err.value)


def test_a_good_file_loads_with_secrets_resolved_and_hidden(tmp_path):
    config = load_config(write(tmp_path, GOOD), types=TYPES)
    vendor = config.connectors["vendor"]
    assert vendor.type == "sample" and vendor.settings.url == "https://vendor.example"
    assert vendor.settings.token.get_secret_value() == TOKEN
    assert config.collect.before == timedelta(hours=2) and config.collect.after == timedelta(minutes=15)
    assert config.topology.services == {"checkout": ["payments"]}
    connector = vendor.build()
    assert TOKEN not in repr(config) and TOKEN not in repr(connector) and TOKEN not in str(vendor.settings)


def test_collect_defaults_are_6h_before_and_30m_after(tmp_path):
    config = load_config(write(tmp_path, ""), types=TYPES)
    assert (config.collect.before, config.collect.after) == (timedelta(hours=6), timedelta(minutes=30))
    assert config.connectors == {} and config.topology is None


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTMORTEM_CONNECTORS__VENDOR__URL", "http://override.example")
    monkeypatch.setenv("POSTMORTEM_CONNECTORS__VENDOR__TOKEN__ENV", "OTHER_TOKEN")
    monkeypatch.setenv("OTHER_TOKEN", "other-secret-value")
    monkeypatch.setenv("POSTMORTEM_COLLECT__BEFORE", "1h30m")
    config = load_config(write(tmp_path, GOOD), types=TYPES)
    vendor = config.connectors["vendor"].settings
    assert vendor.url == "http://override.example"
    assert vendor.token.get_secret_value() == "other-secret-value"
    assert config.collect.before == timedelta(hours=1, minutes=30)


def test_missing_field_names_table_and_field(tmp_path):
    text = '[connectors.prom]\ntype = "sample"\ntoken = { env = "VENDOR_TOKEN" }\n'
    assert problem(tmp_path, text) == "postmortem.toml [connectors.prom] field 'url': Field required"


def test_wrong_value_names_table_and_field(tmp_path):
    text = GOOD.replace('url = "https://vendor.example/"', 'url = "ftp://x"\nretries = "many"')
    message = problem(tmp_path, text)
    assert message.startswith(
        "postmortem.toml [connectors.vendor] field 'url': 'ftp://x' is not an http(s) URL"
    )
    assert "field 'retries': Input should be a valid integer" in message


def test_unknown_field_is_rejected_with_the_known_ones(tmp_path):
    message = problem(tmp_path, GOOD.replace("url =", "urll ="))
    assert "[connectors.vendor] field 'urll': unknown field for type 'sample' (known: type, url," in message


def test_unknown_or_missing_type_names_the_known_types(tmp_path):
    message = problem(tmp_path, GOOD.replace('type = "sample"', 'type = "prometheus2"'))
    assert message == (
        "postmortem.toml [connectors.vendor] field 'type': "
        "unknown connector type 'prometheus2' (known: sample)"
    )
    assert "field 'type': Field required" in problem(tmp_path, GOOD.replace('type = "sample"', ""))


def test_inline_secret_is_rejected(tmp_path):
    message = problem(tmp_path, GOOD.replace('{ env = "VENDOR_TOKEN" }', f'"{TOKEN}"'))
    assert message.startswith(
        "postmortem.toml [connectors.vendor] field 'token': inline secrets are not allowed"
    )
    assert TOKEN not in message
    url = GOOD.replace("https://vendor.example/", f"https://vendor.example/?access_token={TOKEN}")
    assert "field 'url': inline secrets are not allowed in the URL" in problem(tmp_path, url)


def test_secret_references(tmp_path, monkeypatch):
    assert "field 'token': environment variable NOPE is not set" in problem(
        tmp_path, GOOD.replace("VENDOR_TOKEN", "NOPE")
    )
    string_form = load_config(
        write(tmp_path, GOOD.replace('{ env = "VENDOR_TOKEN" }', '"env:VENDOR_TOKEN"')), types=TYPES
    )
    assert string_form.connectors["vendor"].settings.token.get_secret_value() == TOKEN
    both = GOOD.replace('{ env = "VENDOR_TOKEN" }', '{ env = "VENDOR_TOKEN", prefect_secret = "x" }')
    assert "field 'token': a secret reference is" in problem(tmp_path, both)


def test_file_level_errors(tmp_path):
    assert "not valid TOML" in problem(tmp_path, "[connectors.vendor\n")
    assert "postmortem.toml [conectors]: unknown table" in problem(
        tmp_path, "[conectors.x]\ntype = 'sample'\n"
    )
    assert "[collect] field 'before': 'soon' is not a duration" in problem(
        tmp_path, '[collect]\nbefore = "soon"\n'
    )
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "absent.toml", types=TYPES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6h", timedelta(hours=6)),
        ("1h30m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        ("2d", timedelta(days=2)),
        ("PT30M", timedelta(minutes=30)),
        (90, timedelta(seconds=90)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected
