"""Severity policy: each check's default severity, overridden per check or per dataset in `[quality]`.

`critical` — the evidence cannot be trusted to place or order events (milestones out of order, a source
whose clock is shifted, a check GX could not compute): any such failure puts the postmortem under human
review. `warn` — records are kept or quarantined and the analysis goes on. `info` — notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from postmortem.model import QualitySeverity
from tasks.quality.checks import Check
from tasks.quality.config import QualityConfigError, QualitySettings


class Policy:
    """Severities and `mostly` shares of every known check, with the `[quality]` overrides applied."""

    def __init__(
        self,
        defaults: Mapping[str, QualitySeverity],
        settings: QualitySettings,
        tolerant: Iterable[str] = (),
        source: str = "postmortem.toml",
    ) -> None:
        """`defaults` by `dataset.check`; `tolerant` names the checks that accept a `mostly` share."""
        self._defaults = dict(defaults)
        self._severity = dict(settings.severity)
        self._mostly = dict(settings.mostly)
        names = {key.split(".", 1)[1] for key in self._defaults}
        tolerant = set(tolerant)
        for table, keys, known in (
            ("severity", self._severity, set(self._defaults) | names),
            ("mostly", self._mostly, tolerant | {key.split(".", 1)[1] for key in tolerant}),
        ):
            for key in keys:
                if key not in known:
                    raise QualityConfigError(
                        f"{source} [quality.{table}] field '{key}': unknown check "
                        f'(give "check" or "dataset.check"; known: {", ".join(sorted(known))})'
                    )
        for key, share in self._mostly.items():
            if not 0 < share <= 1:
                raise QualityConfigError(
                    f"{source} [quality.mostly] field '{key}': {share} is not a share in (0, 1]"
                )

    def severity(self, dataset: str, check: str) -> QualitySeverity:
        """The check's severity: `dataset.check` override, else `check` override, else its default."""
        key = f"{dataset}.{check}"
        return self._severity.get(key) or self._severity.get(check) or self._defaults[key]

    def mostly(self, dataset: str, check: str) -> float | None:
        """The share of rows that must pass (None: all of them)."""
        return self._mostly.get(f"{dataset}.{check}", self._mostly.get(check))

    def apply(self, dataset: str, check: Check) -> Check:
        """The check with this policy's severity and `mostly`."""
        return check.with_policy(self.severity(dataset, check.name), self.mostly(dataset, check.name))
