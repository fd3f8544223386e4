"""Render the engineering report (markdown and HTML) from one view model with two Jinja2 templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from postmortem.model import Analysis
from reports.markdown import FILTERS
from reports.view_model import build_view_model

TEMPLATES = {"engineering.md": "engineering.md.j2", "engineering.html": "engineering.html.j2"}


@cache
def environment() -> Environment:
    """The shared template environment: strict undefined, autoescape for HTML templates only."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def render_view_model(view: Mapping[str, Any]) -> dict[str, str]:
    """Render every report file from a view model; a field a template names but the model lacks raises."""
    env = environment()
    return {name: env.get_template(template).render(view) for name, template in TEMPLATES.items()}


def render_reports(
    analysis: Analysis,
    *,
    tickets: Sequence[Mapping[str, Any]] = (),
    version: int | None = None,
    generated_at: datetime | None = None,
    definitions: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """{"engineering.md": ..., "engineering.html": ...}; the same inputs always give the same bytes."""
    view = build_view_model(
        analysis, tickets=tickets, version=version, generated_at=generated_at, definitions=definitions
    )
    return render_view_model(view)
