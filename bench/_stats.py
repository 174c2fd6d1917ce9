"""The figures the benchmarks print: a median with its spread over repeats, and percentiles."""

from __future__ import annotations

import statistics

__all__ = ["spread", "fmt_spread", "percentile"]


def spread(values: list[float], digits: int = 3) -> dict[str, float]:
    """Median, least and most of ``values``, rounded to ``digits``."""
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits)}


def fmt_spread(s: dict[str, float], digits: int = 2) -> str:
    """A :func:`spread` as ``median [min-max]``."""
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}-{s['max']:.{digits}f}]"


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values``, the nearest one; None for no values."""
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]
