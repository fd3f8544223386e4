"""Jinja2 filters that make dynamic text safe in GitHub-flavoured markdown (paragraphs and table cells)."""

from __future__ import annotations

import re
from urllib.parse import quote

_NEWLINES = re.compile(r"\r\n|\r|\n")
# a start that would open a heading, a list item, a thematic break or a link reference definition
_BLOCK_START = re.compile(
    r"^(\s*)(#{1,6}(?=\s|$)|[-+*](?=\s|$)|[-*_](?=(?:\s*[-*_]){2,}\s*$)|\[(?=[^\]]*\]:))|^(\s*\d{1,9})([.)])(?=\s|$)"
)
_LINK = re.compile(r"\](?=[(\[])")  # `](` and `][` would close an inline or reference link (or image)
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|"})
_BACKTICKS = re.compile(r"`+")
_BRACKET = re.compile(r"(?<!\\)[\[\]]")  # a bracket not escaped yet
_URL_SAFE = (
    "/:?&=#%@+,;~!$*'.-_[]"  # kept; spaces, parentheses, pipes, backslashes and angle brackets are encoded
)


def md(text: object) -> str:
    """Inline text: `&<>` as entities, `|` escaped, newlines as `<br>`, no link and no block opened."""
    value = _LINK.sub("]\\\\", str(text).translate(_HTML))
    value = _BLOCK_START.sub(lambda m: "\\".join(part for part in m.groups() if part is not None), value)
    return _NEWLINES.sub("<br>", value)


def md_code(text: object) -> str:
    """A code span that holds any text: fence longer than its backtick runs, `|` escaped, one line."""
    value = _NEWLINES.sub(" ", str(text)).replace("|", "\\|")
    if not value:
        return ""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or value.startswith(" ") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def md_link(text: object, url: str | None) -> str:
    """`[text](url)` with the URL's spaces, parentheses, pipes and angle brackets encoded; else the text."""
    if not url:
        return md(text)
    label = _BRACKET.sub(r"\\\g<0>", md(text))
    return f"[{label}]({quote(url, safe=_URL_SAFE)})"


FILTERS = {"md": md, "md_code": md_code, "md_link": md_link}
