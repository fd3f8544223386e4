"""The HTML report as a reader sees it: rendered by a real headless Chromium (Debian `chromium`)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports.render import render_reports
from reports.view_model import SECTIONS
from tests.reports import sample

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs the Debian package chromium (.ci/install-packages.sh installs it)"
)


class _Headings(HTMLParser):
    """Collects the ids of the <h2> elements of a DOM dump, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self.ids.append(dict(attrs).get("id") or "")

    def handle_data(self, data: str) -> None:
        self.text += data


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    html = render_reports(sample.analysis(), tickets=sample.tickets(), version=1)["engineering.html"]
    path = folder / "engineering.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_browser_renders_every_section_in_sre_order(report_file: Path, tmp_path: Path) -> None:
    dom = _chromium(tmp_path, "--dump-dom", report_file.as_uri()).stdout
    parser = _Headings()
    parser.feed(dom)
    assert [i for i in parser.ids if i in SECTIONS] == list(SECTIONS)
    assert sample.incident().title in parser.text


def test_browser_screenshot_is_a_real_page(report_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", report_file.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
