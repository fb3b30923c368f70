"""Summaries of measured samples."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(samples: Iterable[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in [0, 1]); NaN when there are no samples.

    Nearest rank rather than interpolation: the figure is always a delay that really
    happened, and a p99 of a few hundred samples is not flattered by its neighbours.
    """
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
