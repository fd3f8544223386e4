"""A scoped speed-up for GX 1.x validations: each expectation's configuration is built once per run.

GX's `Expectation.configuration` property rebuilds an `ExpectationConfiguration` (a pydantic `dict()`
and a regex on the class name) on every read, and one validation reads it about 60 times per
expectation: 40% of GX's time on a typical incident. Inside `memoised_configuration()`, reads from the
entering thread return the first object built for each expectation instance; other threads, and
everything after the block, get GX's own property. The memo dies with the block, because GX mutates
the configurations it hands out (suite parameters are substituted into them), so a memo kept across
runs would carry one incident's window into the next. Results are the same with and without it
(tests/tasks/test_quality_gx_speedup.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def memoised_configuration() -> Iterator[None]:
    """Within the block, memoise `Expectation.configuration` per instance for the calling thread."""
    from great_expectations.expectations.expectation import Expectation

    original = Expectation.__dict__.get("configuration")
    if not isinstance(original, property) or original.fget is None:  # GX changed: run as is
        yield
        return
    build = original.fget
    owner = threading.get_ident()
    memo: dict[int, tuple[Any, Any]] = {}  # id(instance) -> (instance, configuration); keeps ids unique

    def configuration(self: Any) -> Any:
        if threading.get_ident() != owner:
            return build(self)
        hit = memo.get(id(self))
        if hit is None or hit[0] is not self:
            hit = memo[id(self)] = (self, build(self))
        return hit[1]

    Expectation.configuration = property(configuration, doc=original.__doc__)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Expectation.configuration = original  # type: ignore[method-assign]
        memo.clear()
