"""Similar past incidents: shared services, shared deviating signals, similar log templates and wording.

Four signals, each in 0..1, compared with every past incident the store remembers:

    services   Jaccard of the service names (the incident's own and its top-ranked services)
    signals    Jaccard of the deviating metric series (`service/metric`)
    templates  TF-IDF cosine of the words of the log templates (mask tokens such as <NUM> left out),
               so that templates mined slightly differently in two incidents still match
    text       TF-IDF cosine of the title and summary words

TF-IDF (smoothed idf, sublinear tf, L2 norm) is fitted on the history plus this incident.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from postmortem.model import Incident, PastIncident, SimilarIncident

# Weights of the four signals (provisional until the evaluation harness calibrates them).
# A signal counts only when both incidents have data for it (an old incident stored without log
# templates is not "dissimilar" in its logs, just unknown); the weighted mean over the signals
# available is then scaled by COVERAGE_FLOOR + (1 - COVERAGE_FLOOR) * (share of weight available),
# so a match on services alone cannot score as high as a match on all four.
WEIGHTS = {"services": 0.25, "signals": 0.20, "templates": 0.30, "text": 0.25}
COVERAGE_FLOOR = 0.6
SCORE_FLOOR = 0.2  # past incidents scoring below this are not reported

_TOKEN = re.compile(r"[a-z0-9]+")
_MASK_TOKEN = re.compile(r"<[A-Z*]+>")  # typed mask tokens and Drain wildcards in templates
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by for from has have in into is it its of on or that the this to was were "
        "with after before during when while which our we",
    )
)


def _tokens(text: str) -> list[str]:
    """Lower-case word tokens of at least two characters, without stop words."""
    return [t for t in _TOKEN.findall(text.lower()) if len(t) > 1 and t not in _STOPWORDS]


def _template_tokens(templates: Iterable[str]) -> list[str]:
    """Word tokens of log templates without their mask tokens."""
    return _tokens(" ".join(_MASK_TOKEN.sub(" ", t) for t in templates))


def _jaccard(a: set[str], b: set[str]) -> float:
    """Shared share of two sets (0 when either is empty)."""
    return len(a & b) / len(a | b) if a and b else 0.0


def _tfidf(docs: Sequence[list[str]]) -> list[dict[str, float]]:
    """L2-normalised TF-IDF vectors (smoothed idf, sublinear tf) as sparse dicts."""
    df = Counter(term for doc in docs for term in set(doc))
    n = len(docs)
    vectors = []
    for doc in docs:
        weights = {
            term: (1 + math.log(tf)) * (math.log((1 + n) / (1 + df[term])) + 1)
            for term, tf in Counter(doc).items()
        }
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        vectors.append({term: w / norm for term, w in weights.items()})
    return vectors


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Dot product of two L2-normalised sparse vectors."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return sum(w * large.get(term, 0.0) for term, w in small.items())


def _names(values: Iterable[str]) -> set[str]:
    """Lower-cased, stripped, non-empty names."""
    return {v.strip().lower() for v in values if v and v.strip()}


def find_similar(
    incident: Incident,
    services: Sequence[str],
    templates: Sequence[str],
    history: Sequence[PastIncident],
    *,
    signals: Sequence[str] = (),
    limit: int = 5,
) -> list[SimilarIncident]:
    """Rank past incidents by weighted service, signal, log-template and text similarity (best first)."""
    past = [p for p in history if p.id != incident.id]
    if not past:
        return []
    own_services = _names([*services, *incident.services])
    own_signals = _names(signals)
    text = _tfidf(
        [_tokens(f"{p.title} {p.summary}") for p in past] + [_tokens(f"{incident.title} {incident.summary}")]
    )
    words = _tfidf([_template_tokens(p.templates) for p in past] + [_template_tokens(templates)])
    scored: list[tuple[float, str, PastIncident]] = []
    for p, their_text, their_words in zip(past, text[:-1], words[:-1], strict=True):
        parts: dict[str, float] = {}
        their_services, their_signals = _names(p.services), _names(p.signals)
        if own_services and their_services:
            parts["services"] = _jaccard(own_services, their_services)
        if own_signals and their_signals:
            parts["signals"] = _jaccard(own_signals, their_signals)
        if words[-1] and their_words:
            parts["templates"] = _cosine(words[-1], their_words)
        if text[-1] and their_text:
            parts["text"] = _cosine(text[-1], their_text)
        available = sum(WEIGHTS[k] for k in parts)
        if not available:
            continue
        mean = sum(WEIGHTS[k] * v for k, v in parts.items()) / available
        score = round(mean * (COVERAGE_FLOOR + (1 - COVERAGE_FLOOR) * available), 4)
        if score >= SCORE_FLOOR:
            scored.append((score, p.id, p))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [
        SimilarIncident(id=p.id, score=score, title=p.title, root_cause=p.root_cause, resolution=p.resolution)
        for score, _, p in scored[:limit]
    ]
