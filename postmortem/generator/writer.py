"""Fast writers for the two large bundle files (the DESIGN 6.1 formats, byte for byte)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

METRICS_HEADER = b"ts,service,metric,value\n"


def write_lines(path: Path, chunks: Iterable[pa.Array]) -> int:
    """Write string arrays whose values already end in a newline; returns the number of lines."""
    count = 0
    with path.open("wb") as fh:
        for chunk in chunks:
            if chunk.null_count:
                raise ValueError("lines must not be null")
            arr = chunk.cast(pa.large_string())
            offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
            fh.write(memoryview(arr.buffers()[2])[int(offsets[0]) : int(offsets[-1])])
            count += len(arr)
    return count


def write_metrics_csv(path: Path, table: pa.Table) -> None:
    """Write the long-format metrics table as `ts,service,metric,value` CSV without quoting."""
    with path.open("wb") as fh:
        fh.write(METRICS_HEADER)
        pa_csv.write_csv(
            table.select(["ts", "service", "metric", "value"]),
            fh,
            write_options=pa_csv.WriteOptions(include_header=False, quoting_style="none"),
        )
