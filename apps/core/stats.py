def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (fraction 0.5 = median); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]
