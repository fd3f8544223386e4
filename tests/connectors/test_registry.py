"""Connector registry: built-ins by dotted path, third-party types through a real entry point."""

from __future__ import annotations

import logging
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

from connectors import registry
from connectors.base import Window
from connectors.commands import list_main
from connectors.registry import ConnectorType, build, builtin_types, connector_types, entry_point_types

PLUGIN = '''
from pydantic import BaseModel, Field
from connectors.base import Collected
from connectors.registry import ConnectorType
from postmortem.model import ChatMessage


class EchoConfig(BaseModel):
    """Config of the echo connector."""

    greeting: str = Field("hello", description="what to say")


class Echo:
    def __init__(self, config, name):
        self.name, self.config = name, config

    def fetch_chat(self, window):
        return Collected("chat", [ChatMessage(ts=window.start, text=self.config.greeting)], [])


CONNECTOR = ConnectorType("echo", EchoConfig, Echo, ("chat",), "says hello in the incident channel")
'''


def make_dist(root: Path, package: str, source: str, entry_points: str) -> None:
    """An installed-looking distribution: a package plus a .dist-info with entry_points.txt."""
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text(source)
    info = root / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A third-party dist registering the `echo` type, plus a broken one, on sys.path."""
    make_dist(tmp_path, "pm_echo", PLUGIN, "[postmortem.connectors]\necho = pm_echo:CONNECTOR\n")
    make_dist(
        tmp_path,
        "pm_broken",
        "raise ImportError('needs libfoo')\n",
        "[postmortem.connectors]\nbroken = pm_broken:X\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_third_party_type_is_found_through_its_entry_point(plugin_path, caplog):
    with caplog.at_level(logging.WARNING):
        types = connector_types()
    assert types["echo"].summary == "says hello in the incident channel"
    assert "broken" not in types and "entry point broken = pm_broken:X cannot be loaded" in caplog.text
    connector = build("hello", {"type": "echo", "greeting": "hi"})
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert connector.fetch_chat(Window(start, start + timedelta(hours=1))).records[0].text == "hi"


def test_connectors_list_shows_the_third_party_type(plugin_path, capsys):
    assert list_main([]) == 0
    out = capsys.readouterr().out
    assert "echo  [chat]  says hello in the incident channel" in out
    assert "greeting: str (default 'hello')" in out


def test_missing_builtin_modules_are_skipped_with_a_warning(plugin_path, monkeypatch, caplog):
    monkeypatch.setattr(
        registry, "BUILTIN_PATHS", ("connectors.no_such_vendor:CONNECTOR", "pm_echo:CONNECTOR")
    )
    builtin_types.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):
            assert list(builtin_types()) == ["echo"]
            assert list(registry.BUILTIN) == ["echo"]
    finally:
        builtin_types.cache_clear()
    assert "connectors.no_such_vendor:CONNECTOR is not available" in caplog.text


def test_an_entry_point_cannot_shadow_a_builtin(plugin_path, monkeypatch, caplog):
    monkeypatch.setattr(registry, "builtin_types", lambda: {"echo": ECHO_BUILTIN})
    with caplog.at_level(logging.WARNING):
        assert connector_types()["echo"] is ECHO_BUILTIN
    assert "entry point connector type 'echo' ignored" in caplog.text
    assert "echo" in entry_point_types()


class NoConfig(BaseModel):
    """An empty config."""


class Nameless:
    def __init__(self, config: BaseModel, name: str):
        self.config = config

    def fetch_chat(self, window: Window) -> None:
        return None


ECHO_BUILTIN = ConnectorType("echo", NoConfig, Nameless, ("chat",), "built-in echo")


def test_connector_type_checks_its_capabilities_and_objects():
    with pytest.raises(ValueError, match="unknown capabilities \\['weather'\\]"):
        ConnectorType("x", NoConfig, Nameless, ("weather",), "")
    with pytest.raises(ValueError, match="lower case"):
        ConnectorType("Bad Name", NoConfig, Nameless, (), "")
    with pytest.raises(TypeError, match=r"must set connector\.name = 'n'"):
        ECHO_BUILTIN.create(NoConfig(), "n")
    lying = ConnectorType("liar", NoConfig, lambda c, n: type("L", (), {"name": n})(), ("metrics",), "")
    with pytest.raises(TypeError, match="declares \\['metrics'\\] but its object lacks the methods"):
        lying.create(NoConfig(), "n")


def test_runtime_registration():
    registry.register(ECHO_BUILTIN)
    try:
        with pytest.raises(ValueError, match="already registered"):
            registry.register(ECHO_BUILTIN)
        assert connector_types()["echo"] is ECHO_BUILTIN
    finally:
        registry.unregister("echo")
    assert "echo" not in registry._REGISTERED
