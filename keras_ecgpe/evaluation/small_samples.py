"""Small samples said out loud: warnings when a class is too small for its interval.

An interval for sensitivity rests on the positives alone and one for specificity on the
negatives alone; with fewer than about 10 of either, interval methods disagree and the
percentile bootstrap under-covers badly (docs/statistics.md has the measured coverage).
"""

from __future__ import annotations

from keras_ecgpe.errors import ConfigError

MIN_CLASS_COUNT = 10
# Below this many positives (negatives) the percentile bootstrap interval of sensitivity
# (specificity) covered the truth in 42-88 % of simulations instead of 95 %.
BOOTSTRAP_MIN_CLASS_COUNT = 30


def small_sample_warnings(
    n_positive: int, n_negative: int, *, minimum: int = MIN_CLASS_COUNT, label: str = ""
) -> list[str]:
    """Warnings for a class with fewer than `minimum` positives or negatives.

    Args:
        n_positive: positive records (or patients) the interval rests on.
        n_negative: negative records (or patients).
        minimum: the smallest count that is not flagged.
        label: optional class name put at the start of each warning.

    Returns:
        A list of human-readable warnings, empty when both counts reach `minimum`.

    Example:
    >>> small_sample_warnings(4, 120)
    ['only 4 positives (< 10): the sensitivity and PPV intervals are unreliable']
    """
    if int(minimum) != minimum or minimum < 1:
        raise ConfigError(f"`minimum` must be a positive integer. Received: minimum={minimum}")
    prefix = f"{label}: " if label else ""
    out = []
    if n_positive < minimum:
        out.append(
            f"{prefix}only {int(n_positive)} positives (< {minimum}): the sensitivity "
            "and PPV intervals are unreliable"
        )
    if n_negative < minimum:
        out.append(
            f"{prefix}only {int(n_negative)} negatives (< {minimum}): the specificity "
            "and NPV intervals are unreliable"
        )
    return out


def skipped_resample_warning(n_skipped: int, n_boot: int) -> list[str]:
    """A warning when bootstrap resamples had to be skipped (no positive or no negative).

    Example:
    >>> skipped_resample_warning(37, 1000)
    ['37 of 1000 bootstrap resamples skipped (no positive or no negative drawn)']
    """
    if n_skipped <= 0:
        return []
    return [
        f"{int(n_skipped)} of {int(n_boot)} bootstrap resamples skipped (no positive or "
        "no negative drawn)"
    ]


def bootstrap_interval_warnings(
    n_positive: int, n_negative: int, *, minimum: int = BOOTSTRAP_MIN_CLASS_COUNT
) -> list[str]:
    """Flags percentile bootstrap intervals of sensitivity/specificity that under-cover.

    Example:
    >>> bootstrap_interval_warnings(12, 300)
    ['bootstrap interval of sensitivity unreliable with 12 positives (< 30): it under-covers; \
use the exact interval']
    """
    out = []
    for name, count, what in (
        ("sensitivity", n_positive, "positives"),
        ("specificity", n_negative, "negatives"),
    ):
        if count < minimum:
            out.append(
                f"bootstrap interval of {name} unreliable with {int(count)} {what} "
                f"(< {minimum}): it under-covers; use the exact interval"
            )
    return out
