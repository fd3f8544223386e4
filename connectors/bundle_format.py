"""Incident bundle v1 format (DESIGN 6.1): evidence datasets, the row-line column, the structural error."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pydantic import BaseModel

from postmortem.model import Alert, Change, ChatMessage, Commit, LogRecord, MetricPoint, Ticket

LINE = "_line"


class BundleError(ValueError):
    """A structural error in a bundle: names the file, the line and the field."""

    def __init__(self, file: str, line: int | None, field: str | None, problem: str):
        self.file, self.line, self.field, self.problem = file, line, field, problem
        where = f"{file}:{line}" if line is not None else file
        what = f" field '{field}':" if field else ""
        super().__init__(f"{where}:{what} {problem}")


@dataclass(frozen=True)
class DatasetSpec:
    """How one evidence file of the bundle maps to a frame."""

    name: str
    file: str
    model: type[BaseModel]
    required: tuple[str, ...]
    timestamps: tuple[str, ...]
    key: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        """Columns the model declares, in declaration order."""
        return list(self.model.model_fields)


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec("alerts", "alerts.jsonl", Alert, ("id", "ts"), ("ts", "ends_at"), ("id",)),
        DatasetSpec(
            "metrics",
            "metrics.csv",
            MetricPoint,
            ("ts", "service", "metric", "value"),
            ("ts",),
            ("ts", "service", "metric"),
        ),
        DatasetSpec("logs", "logs.jsonl", LogRecord, ("ts",), ("ts",)),
        DatasetSpec("commits", "commits.jsonl", Commit, ("sha", "ts"), ("ts",), ("sha",)),
        DatasetSpec("deploys", "deploys.jsonl", Change, ("id", "ts"), ("ts",), ("id",)),
        DatasetSpec("chat", "chat.jsonl", ChatMessage, ("ts",), ("ts",)),
        DatasetSpec("tickets", "tickets.jsonl", Ticket, ("key", "ts"), ("ts",), ("key",)),
    )
}


def empty_frame(spec: DatasetSpec) -> pd.DataFrame:
    """A frame with the dataset's columns and no rows."""
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in spec.columns})
    for col in spec.timestamps:
        frame[col] = pd.Series(dtype="datetime64[ns, UTC]")
    if spec.name == "metrics":
        frame["value"] = pd.Series(dtype="float64")
    frame[LINE] = pd.Series(dtype="int64")
    return frame
