"""Injected failures with ground truth: when a fault starts (onset), when the part fails, and how the
damage grows in between. Severity is 0 before onset, 1 from the failure on, and 0 again once the part
is replaced (`repaired`: the customer had it towed in)."""

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
    repaired: datetime | None = None

    def severity(self, when: datetime) -> float:
        if when <= self.onset or (self.repaired is not None and when >= self.repaired):
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


# How long each kind of part takes from first symptom to failure (days): batteries sulphate over
# months, a coil cracks in weeks, a thermostat sticks within days to weeks.
DURATION_DAYS: dict[FailureMode, tuple[float, float]] = {
    FailureMode.BATTERY: (20, 120),
    FailureMode.CHARGING_SYSTEM: (14, 90),
    FailureMode.THERMOSTAT: (7, 60),
    FailureMode.OVERHEATING: (10, 90),
    FailureMode.FUEL_LEAN: (14, 90),
    FailureMode.MISFIRE: (10, 60),
    FailureMode.CATALYST: (30, 150),
}


def random_fault(
    rng: random.Random, mode: FailureMode, *, start: datetime, days: int, cylinders: int = 4, settle_days: int = 10
) -> InjectedFault:
    """Draw a fault of `mode` that fails inside the simulated period, developing over days to months.

    Onset comes after `settle_days` of healthy history (the dongle's first days); how long the part
    takes to fail is log-uniform in the mode's typical range (`DURATION_DAYS`, capped by the period);
    the part is replaced 1-3 days after it fails."""
    room = max(2.0, days - settle_days - 2.0)
    shortest, longest = DURATION_DAYS[mode]
    duration = timedelta(days=min(room, math.exp(rng.uniform(math.log(shortest), math.log(longest)))))
    earliest_onset = start + timedelta(days=settle_days)
    slack = max(timedelta(0), start + timedelta(days=days - 2) - earliest_onset - duration)
    onset = earliest_onset + slack * rng.random()
    progression = rng.choice(list(Progression))
    cylinder = rng.randrange(1, cylinders + 1) if mode is FailureMode.MISFIRE else None
    repaired = onset + duration + timedelta(days=rng.uniform(1, 3))
    return InjectedFault(mode, onset, onset + duration, progression, cylinder, repaired)
