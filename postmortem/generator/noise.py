"""Vectorised random building blocks: hex ids, IPs, numbers as text, and signal noise."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ALNUM = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)


def _chars(rng: np.random.Generator, n: int, width: int, alphabet: np.ndarray) -> pa.Array:
    """`n` random strings of `width` characters drawn from `alphabet`."""
    if n == 0:
        return pa.array([], pa.string())
    picks = rng.integers(0, len(alphabet), size=(n, width), dtype=np.uint8)
    raw = np.ascontiguousarray(alphabet[picks]).view(f"S{width}").ravel()
    return pa.array(raw, pa.binary(width)).cast(pa.string())


def hex_strings(rng: np.random.Generator, n: int, width: int) -> pa.Array:
    """`n` random lowercase hex strings of `width` digits."""
    return _chars(rng, n, width, _HEX)


def alnum_strings(rng: np.random.Generator, n: int, width: int) -> pa.Array:
    """`n` random lowercase alphanumeric strings (pod suffixes, short ids)."""
    return _chars(rng, n, width, _ALNUM)


def hex_list(rng: np.random.Generator, n: int, width: int, exclude: Iterable[str] = ()) -> list[str]:
    """`n` distinct random hex strings as a Python list (ids, shas), none of them in `exclude`."""
    out: list[str] = []
    seen: set[str] = set(exclude)
    while len(out) < n:
        for value in hex_strings(rng, n - len(out), width).to_pylist():
            if value not in seen:
                seen.add(value)
                out.append(value)
    return out


def ints_text(values: np.ndarray) -> pa.Array:
    """Integers rendered as decimal text."""
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def floats_text(values: np.ndarray, decimals: int) -> pa.Array:
    """Floats rounded to `decimals` and rendered as the shortest text."""
    return pc.cast(pa.array(np.round(np.asarray(values, dtype=np.float64), decimals)), pa.string())


def ip_strings(rng: np.random.Generator, n: int, private: bool = True) -> pa.Array:
    """`n` random IPv4 addresses (10.x by default, else public-looking)."""
    first = np.full(n, 10) if private else rng.choice([34, 52, 81, 93, 104, 151, 185, 203], size=n)
    octets = [ints_text(first)] + [ints_text(rng.integers(0, 256, n)) for _ in range(2)]
    octets.append(ints_text(rng.integers(1, 255, n)))
    return pc.binary_join_element_wise(*octets, ".")


def uuid_strings(rng: np.random.Generator, n: int) -> pa.Array:
    """`n` random UUID-shaped strings."""
    parts = [hex_strings(rng, n, w) for w in (8, 4, 4, 4, 12)]
    return pc.binary_join_element_wise(*parts, "-")


def smooth_noise(rng: np.random.Generator, n: int, width: int = 9) -> np.ndarray:
    """Unit-variance, autocorrelated noise: white noise smoothed by a moving average."""
    width = max(1, min(width, n))
    white = rng.standard_normal(n + width - 1)
    kernel = np.ones(width) / np.sqrt(width)
    return np.convolve(white, kernel, mode="valid")


def spikes(rng: np.random.Generator, n: int, rate: float, size: float) -> np.ndarray:
    """Sparse one-point outliers: multiplicative factors of 1 with rare `1 + size*U(0.5, 1.5)`."""
    hit = rng.random(n) < rate
    return 1.0 + hit * size * rng.uniform(0.5, 1.5, n)
