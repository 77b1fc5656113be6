"""Injected failures with ground truth: when a fault starts (onset), when the part fails, and how the
damage grows in between. Severity is 0 before onset, 1 from the failure on."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from predict.catalog import FailureMode


class Progression(StrEnum):
    LINEAR = "linear"  # steady wear
    ACCELERATING = "accelerating"  # slow at first, then faster (most wear-out)
    LATE = "late"  # quiet for most of the time, then a sharp rise (a coil cracking)
    STEPPED = "stepped"  # damage in steps (coolant lost in episodes)


@dataclass(frozen=True, slots=True)
class InjectedFault:
    mode: FailureMode
    onset: datetime
    failure: datetime
    progression: Progression
    cylinder: int | None = None  # misfire only

    def severity(self, when: datetime) -> float:
        if when <= self.onset:
            return 0.0
        if when >= self.failure:
            return 1.0
        x = (when - self.onset) / (self.failure - self.onset)
        if self.progression is Progression.LINEAR:
            return x
        if self.progression is Progression.ACCELERATING:
            return (math.exp(3.0 * x) - 1.0) / (math.exp(3.0) - 1.0)
        if self.progression is Progression.LATE:
            return x**4
        return math.floor(x * 4.0) / 4.0


def random_fault(
    rng: random.Random, mode: FailureMode, *, start: datetime, days: int, cylinders: int = 4
) -> InjectedFault:
    """Draw a fault of `mode` that fails inside the simulated period, developing over days to months."""
    duration = timedelta(days=rng.uniform(5, min(120, max(6, days * 0.8))))
    latest_failure = start + timedelta(days=days)
    failure = start + duration + (latest_failure - start - duration) * rng.uniform(0.3, 1.0)
    progression = rng.choice(list(Progression))
    cylinder = rng.randrange(1, cylinders + 1) if mode is FailureMode.MISFIRE else None
    return InjectedFault(mode, failure - duration, failure, progression, cylinder)
