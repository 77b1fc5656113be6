"""The ECU's on-board monitors: what one trip's signals say about each trouble code.

`TripStats` accumulates what a trip showed (the simulator feeds it every physics step);
`verdicts(...)` turns it into a pass / fail per code for `simulators.dtc_logic`. A monitor that needs
conditions the trip did not meet (too short, too cold, catalyst not lit) returns nothing for its code:
the ECU's "not run". Thresholds are the usual manufacturer-style limits, not pitcall's detectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulators.dtc_logic import Verdict

THERMOSTAT_MIN_C = 75.0  # P0128: coolant below the regulating temperature after a long enough drive
OVERHEAT_C = 112.0  # P0217
LEAN_TRIM_PCT = 24.0  # P0171: total fuel trim at its limit
LOW_SYSTEM_V = 12.6  # P0562: system voltage low while the alternator should charge
MISFIRE_PER_1000 = 20.0  # P030n: misfires per 1,000 revolutions of one cylinder
CATALYST_RATIO = 0.55  # P0420: rear O2 swings more than this share of the front one


@dataclass
class _Spread:
    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.squares += value * value

    def std(self) -> float:
        if self.n < 2:
            return 0.0
        mean = self.total / self.n
        return math.sqrt(max(0.0, self.squares / self.n - mean * mean))


@dataclass
class TripStats:
    start_coolant_c: float
    minutes: float = 0.0
    max_coolant_c: float = -50.0
    min_charging_v: float = 20.0
    max_total_trim_pct: float = -100.0
    front_o2: _Spread = field(default_factory=_Spread)
    rear_o2: _Spread = field(default_factory=_Spread)
    misfires_per_1000: dict[int, float] = field(default_factory=dict)
    last_volts: float = 0.0  # the system voltage of the latest step (the trip's mean charges the battery)

    def step(
        self, *, minutes: float, coolant_c: float, rpm: float, volts: float, total_trim_pct: float | None = None
    ) -> None:
        self.minutes = minutes
        self.last_volts = volts
        self.max_coolant_c = max(self.max_coolant_c, coolant_c)
        if rpm > 1200:
            self.min_charging_v = min(self.min_charging_v, volts)
        if total_trim_pct is not None and minutes > 3:
            self.max_total_trim_pct = max(self.max_total_trim_pct, total_trim_pct)

    def o2(self, front: float, rear: float, catalyst_c: float) -> None:
        if catalyst_c >= 350.0:
            self.front_o2.add(front)
            self.rear_o2.add(rear)


def verdicts(stats: TripStats) -> dict[str, Verdict]:
    """Return the monitors' results for one trip, by trouble code."""
    results: dict[str, Verdict] = {}
    if stats.minutes >= 15 and stats.start_coolant_c < 50:
        results["P0128"] = _fail_if(stats.max_coolant_c < THERMOSTAT_MIN_C)
    if stats.minutes >= 5:
        results["P0217"] = _fail_if(stats.max_coolant_c > OVERHEAT_C)
        results["P0562"] = _fail_if(stats.min_charging_v < LOW_SYSTEM_V)
        results["P0171"] = _fail_if(stats.max_total_trim_pct >= LEAN_TRIM_PCT)
    if stats.front_o2.n >= 20:
        ratio = stats.rear_o2.std() / max(stats.front_o2.std(), 1e-6)
        results["P0420"] = _fail_if(ratio > CATALYST_RATIO)
    failing = [c for c, rate in stats.misfires_per_1000.items() if rate > MISFIRE_PER_1000]
    if stats.misfires_per_1000:
        for cylinder in stats.misfires_per_1000:
            results[f"P030{cylinder}"] = _fail_if(cylinder in failing)
        results["P0300"] = _fail_if(len(failing) >= 2)
    return results


def _fail_if(failed: bool) -> Verdict:
    return Verdict.FAIL if failed else Verdict.PASS
