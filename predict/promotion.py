"""Model promotion: a candidate replaces the live model only if the stress profile says it is no worse (pure).

`pitcall predict train` writes a candidate (`predict/models/candidates/`); `pitcall predict promote` backtests
the live model and the candidate on the kept features of stress-profile fleets (`pitcall eval --profile
stress`, fleets never used for tuning or training), compares their tables mode by mode, and refuses the
candidate when it is worse beyond a tolerance. A promoted model records its stress table and takes each
mode's stress precision as the prior of the confidence its alerts state (`predict.outcomes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from predict.catalog import FailureMode
from predict.evaluation import ModeScore

RECALL_TOLERANCE = 0.1  # fewer failures caught, as a share of the failures
FALSE_TOLERANCE = 1.0  # more false alerts per 1,000 vehicle-months
PRECISION_TOLERANCE = 0.05  # of all modes together


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How much worse than the live model a candidate may be on the stress profile, per mode."""

    recall: float = RECALL_TOLERANCE
    false_per_1000_vm: float = FALSE_TOLERANCE
    precision: float = PRECISION_TOLERANCE


@dataclass(frozen=True, slots=True)
class Row:
    """One mode's figures on the stress fleets, pooled."""

    alerts: int
    true_alerts: int
    faults: int
    caught: int
    false_alerts: int
    vehicle_months: float

    @property
    def recall(self) -> float | None:
        return self.caught / self.faults if self.faults else None

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    @property
    def false_per_1000_vm(self) -> float:
        return 1000.0 * self.false_alerts / self.vehicle_months if self.vehicle_months else 0.0

    @property
    def prior_precision(self) -> float:
        """The share of alerts that were real as a Beta(1, 1) posterior mean: the confidence prior."""
        return (self.true_alerts + 1) / (self.alerts + 2)


Table = dict[FailureMode | None, Row]  # None: all modes


def pooled(tables: Sequence[Mapping[FailureMode | None, ModeScore]]) -> Table:
    """The scores of several fleets as one table (counts added, vehicle-months added)."""
    out: Table = {}
    for mode in [*FailureMode, None]:
        scores = [t[mode] for t in tables]
        out[mode] = Row(
            alerts=sum(s.alerts for s in scores),
            true_alerts=sum(s.true_alerts for s in scores),
            faults=sum(s.faults for s in scores),
            caught=sum(s.caught for s in scores),
            false_alerts=sum(s.false_alerts for s in scores),
            vehicle_months=sum(s.vehicle_months for s in scores),
        )
    return out


def refusals(live: Table, candidate: Table, tolerance: Tolerance = Tolerance()) -> list[str]:
    """Why the candidate is worse than the live model beyond the tolerance (empty: it may be promoted)."""
    reasons = []
    for mode in FailureMode:
        was, now = live[mode], candidate[mode]
        if was.recall is not None and now.recall is not None and now.recall < was.recall - tolerance.recall:
            reasons.append(f"{mode.value}: recall {now.recall:.2f} < live {was.recall:.2f} - {tolerance.recall}")
        if now.false_per_1000_vm > was.false_per_1000_vm + tolerance.false_per_1000_vm:
            reasons.append(f"{mode.value}: {now.false_per_1000_vm:.1f} false alerts per 1,000 vehicle-months > "
                           f"live {was.false_per_1000_vm:.1f} + {tolerance.false_per_1000_vm}")  # fmt: skip
    was_p, now_p = live[None].precision, candidate[None].precision
    if was_p is not None and now_p is not None and now_p < was_p - tolerance.precision:
        reasons.append(f"all modes: precision {now_p:.2f} < live {was_p:.2f} - {tolerance.precision}")
    return reasons
