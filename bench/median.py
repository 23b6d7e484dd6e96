"""The statistic every benchmark here reports."""

import math
import statistics


def median_ci(values, z=1.96):
    """The median and its distribution-free ~95% confidence interval (order statistics)."""
    ordered = sorted(values)
    n = len(ordered)
    half_width = z * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half_width) - 1)
    high = min(n - 1, math.ceil(n / 2 + half_width))
    return statistics.median(ordered), ordered[low], ordered[high]
